#include "net/http_api.hpp"

#include "node/token.hpp"

#include <catch2/catch.hpp>

using namespace chorus;
using namespace chorus::net;

TEST_CASE("HTTP API paths map onto protocol frames", "[net]") {
  api_request r;
  REQUIRE_FALSE(parse_api_request("POST", "/v1/messages",
                                  R"({"client_msg_id":"c","to":"bob","msg_type":1,"content":"x"})",
                                  &r));
  CHECK(r.frame.type() == "message.send");
  CHECK(r.frame.send().to() == "bob");

  api_request h;
  REQUIRE_FALSE(parse_api_request(
      "GET", "/v1/conversations/d%3Aalice%3Abob/messages?after_seq=3&limit=10", "", &h));
  CHECK(h.frame.type() == "history");
  CHECK(h.frame.history().conversation_id() == "d:alice:bob");
  CHECK(h.frame.history().after_seq() == 3);
  CHECK_FALSE(h.frame.history().has_before_seq());
  CHECK(h.frame.history().limit() == 10);

  api_request s;
  REQUIRE_FALSE(parse_api_request("GET", "/v1/sync?limit=5", "", &s));
  CHECK(s.frame.type() == "sync");
  CHECK(s.frame.sync().limit() == 5);

  api_request bad;
  auto err = parse_api_request("GET", "/v1/sync?limit=x", "", &bad);
  REQUIRE(err);
  CHECK(err->code == errc::bad_request);
  auto missing = parse_api_request("GET", "/v1/nothing", "", &bad);
  REQUIRE(missing);
  CHECK(missing->code == errc::not_found);
  auto body = parse_api_request("POST", "/v1/messages", "not json", &bad);
  REQUIRE(body);
  CHECK(body->code == errc::bad_request);
  auto nul = parse_api_request("POST", "/v1/messages", std::string{"{}\0{", 4}, &bad);
  REQUIRE(nul);
  CHECK(nul->code == errc::bad_request);
}

TEST_CASE("bearer tokens name their user only with a valid MAC", "[net]") {
  actor_settings cfg;
  cfg.secret = "s3cret";
  auto token = node::make_token("s3cret", "alice", 0);
  CHECK(api_user("Bearer " + token, cfg) == std::optional<std::string>{"alice"});
  CHECK_FALSE(api_user("Bearer " + node::make_token("other", "alice", 0), cfg));
  CHECK_FALSE(api_user(token, cfg));
  CHECK(http_status(pb::Frame{}) == 200);
  pb::Frame e;
  e.mutable_error()->set_code("rate_limited");
  CHECK(http_status(e) == 429);
}
