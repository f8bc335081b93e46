#include "net/codec.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace chorus;
using json = nlohmann::json;

namespace {

std::optional<net::decode_error> decode(const std::string& text, pb::Frame* f) {
  return net::decode_json(text, f);
}

} // namespace

TEST_CASE("a JSON send decodes into the Send payload with content as JSON text", "[net]") {
  pb::Frame f;
  auto err = decode(R"({"type":"message.send","req_id":"r1","payload":{"client_msg_id":"c1",
    "to":"bob","msg_type":1,"content":{"text":"hi","n":[1,2]}}})",
                    &f);
  REQUIRE_FALSE(err);
  CHECK(f.type() == "message.send");
  CHECK(f.req_id() == "r1");
  CHECK(f.send().to() == "bob");
  CHECK(f.send().msg_type() == 1);
  CHECK(json::parse(f.send().content()) == json{{"text", "hi"}, {"n", {1, 2}}});
}

TEST_CASE("malformed frames and fields are bad_request with a message naming them", "[net]") {
  struct row {
    const char* text;
    const char* message_part;
  };
  row rows[] = {
      {"{nope", "not valid JSON"},
      {"[1,2]", "JSON object"},
      {R"({"payload":{}})", "'type'"},
      {R"({"type":7})", "'type'"},
      {R"({"type":"ping","req_id":5})", "'req_id'"},
      {R"({"type":"no.such"})", "unknown type"},
      {R"({"type":"auth","payload":{"user_id":"a"}})", "'token'"},
      {R"({"type":"message.send","payload":{"client_msg_id":"c","to":"b","msg_type":"1","content":1}})",
       "'msg_type'"},
      {R"({"type":"message.send","payload":{"client_msg_id":"c","to":"b","msg_type":1}})",
       "'content'"},
      {R"({"type":"message.send","payload":{"client_msg_id":"c","to":"b","msg_type":1,"content":null}})",
       "'content'"},
      {R"({"type":"message.send","payload":{"client_msg_id":"c","msg_type":1,"content":1}})",
       "'conversation_id' or 'to'"},
      {R"({"type":"message.send","payload":{"client_msg_id":"c","to":"b","msg_type":1,"content":1,"sender":"x"}})",
       "'sender'"},
      {R"({"type":"message.ack","payload":{"conversation_id":"d:a:b","seq":-1}})", "'seq'"},
      {R"({"type":"message.ack","payload":{"conversation_id":"d:a:b","seq":1.5}})", "'seq'"},
      {R"({"type":"message.ack","payload":{"conversation_id":"d:a:b","seq":"3"}})", "'seq'"},
      {R"({"type":"history","payload":{"conversation_id":"g:x","limit":true}})", "'limit'"},
      {R"({"type":"sync","payload":{"cursors":{"g:x":"1"}}})", "cursor"},
      {R"({"type":"group.create","payload":{"members":"bob"}})", "'members'"},
      {R"({"type":"ping","payload":[]})", "payload"},
  };
  for (const auto& r : rows) {
    INFO(r.text);
    pb::Frame f;
    auto err = decode(r.text, &f);
    REQUIRE(err);
    CHECK(err->code == errc::bad_request);
    CHECK_THAT(err->message, Catch::Contains(r.message_part));
  }
}

TEST_CASE("decode errors echo the req_id when the frame got that far", "[net]") {
  pb::Frame f;
  auto err = decode(R"({"type":"message.ack","req_id":"r9","payload":{}})", &f);
  REQUIRE(err);
  CHECK(err->req_id == "r9");
}

TEST_CASE("replies and pushes encode with the protocol's field names and JSON numbers", "[net]") {
  pb::Frame f;
  f.set_type("message.new");
  auto* m = f.mutable_message();
  m->set_conversation_id("d:a:b");
  m->set_seq(7);
  m->set_message_id("mid");
  m->set_sender("a");
  m->set_client_msg_id("c7");
  m->set_msg_type(1);
  m->set_content(R"({"type":"text","text":"hi"})");
  m->set_timestamp(1700000000000);
  auto j = json::parse(net::encode_json(f));
  CHECK(j["type"] == "message.new");
  CHECK_FALSE(j.contains("req_id"));
  auto& p = j["payload"];
  CHECK(p["seq"].is_number_unsigned());
  CHECK(p["seq"] == 7);
  CHECK(p["timestamp"] == 1700000000000);
  CHECK(p["content"]["text"] == "hi");
  CHECK(p["edited"] == false);
  CHECK(p["recalled"] == false);

  pb::Frame e;
  e.set_type("error");
  e.set_req_id("r1");
  e.mutable_error()->set_code("forbidden");
  e.mutable_error()->set_message("no");
  auto ej = json::parse(net::encode_json(e));
  CHECK(ej == json{{"type", "error"},
                   {"req_id", "r1"},
                   {"payload", {{"code", "forbidden"}, {"message", "no"}}}});
}

TEST_CASE("binary frames must carry the payload that belongs to their type", "[net]") {
  pb::Frame f;
  f.set_type("message.ack");
  f.mutable_send()->set_to("x");
  pb::Frame out;
  auto err = net::decode_binary(f.SerializeAsString(), &out);
  REQUIRE(err);
  CHECK(err->code == errc::bad_request);

  pb::Frame ok;
  ok.set_type("message.ack");
  ok.mutable_ack()->set_conversation_id("d:a:b");
  ok.mutable_ack()->set_seq(3);
  REQUIRE_FALSE(net::decode_binary(ok.SerializeAsString(), &out));
  CHECK(out.ack().seq() == 3);

  CHECK(net::decode_binary("\xff\xff\xff garbage", &out));
}
