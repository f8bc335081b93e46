// Bad input of every kind gets the protocol's error reply; the connection and
// the node keep working (each case ends with a ping on the same connection).
#include "node_process.hpp"
#include "proto/chorus.pb.h"

#include <catch2/catch.hpp>

#include <random>
#include <set>
#include <thread>

using namespace chorus::test;
using chorus::client::json;
using chorus::client::transport;
using namespace std::chrono_literals;

namespace {

void still_works(chorus::client::client& c) {
  CHECK(c.request("ping")["type"] == "ping.ok");
}

std::string code_of(const json& reply) {
  REQUIRE(reply["type"] == "error");
  return reply["payload"]["code"];
}

} // namespace

TEST_CASE("frames before auth get unauthenticated and bad tokens are refused", "[integration]") {
  node_process node;
  auto c = node.connect("");
  CHECK(code_of(c->request("ping")) == "unauthenticated");
  CHECK(code_of(c->request("message.send", text_message("x", "y"))) == "bad_request");
  CHECK(code_of(c->request("sync")) == "unauthenticated");
  CHECK(code_of(c->request("auth", {{"user_id", "alice"}, {"token", "alice.0.00"}})) ==
        "unauthenticated");
  CHECK(code_of(c->request("auth", {{"user_id", "bob"}, {"token", token_for("alice")}})) ==
        "unauthenticated");
  CHECK(code_of(c->request("auth", {{"user_id", "bad:id"}, {"token", "x"}})) == "bad_request");
  c->auth("alice", token_for("alice"));
  CHECK(code_of(c->request("auth", {{"user_id", "alice"}, {"token", token_for("alice")}})) ==
        "conflict");
  still_works(*c);
}

TEST_CASE("a connection that never authenticates is closed after the auth timeout",
          "[integration]") {
  node_process node{{"--auth.timeout=300ms"}};
  auto c = node.connect("");
  CHECK(c->wait_closed(3s));
}

TEST_CASE("malformed JSON, wrong types, unknown types and bad ids are bad_request",
          "[integration]") {
  node_process node;
  auto c = node.connect("alice");
  c->send_raw_text("{this is not json");
  auto r = c->next();
  REQUIRE(r);
  CHECK((*r)["payload"]["code"] == "bad_request");
  c->send_raw_text("\"just a string\"");
  CHECK((*c->next())["payload"]["code"] == "bad_request");
  CHECK(code_of(c->request("no.such.type")) == "bad_request");
  CHECK(code_of(c->request("message.ack", {{"conversation_id", "d:alice:bob"}, {"seq", "1"}})) ==
        "bad_request");
  CHECK(code_of(c->request("history", {{"conversation_id", "x:y"}})) == "bad_request");
  CHECK(code_of(c->request("history", {{"conversation_id", "d:bob:alice"}})) == "bad_request");
  CHECK(code_of(c->request("history", {{"conversation_id", "d:alice:bob"}, {"limit", 0}})) ==
        "bad_request");
  auto missing = text_message("m", "x");
  CHECK(code_of(c->request("message.send", missing)) == "bad_request"); // no to/conversation_id
  auto bad_cmid = text_message("", "x");
  bad_cmid["to"] = "bob";
  CHECK(code_of(c->request("message.send", bad_cmid)) == "bad_request");
  auto quote = text_message("q", "x");
  quote["to"] = "bob";
  quote["content"]["quote_message_seq"] = 5;
  CHECK(code_of(c->request("message.send", quote)) == "bad_request");
  still_works(*c);
}

TEST_CASE("content with a NUL byte is bad_request and never reaches a JSON client",
          "[integration]") {
  // Over protobuf, content is any bytes. A JSON parser that stops at a NUL
  // would take "0<NUL>..." for 0, and the bytes after it would be written into
  // the recipient's JSON frames.
  node_process node;
  auto alice = node.connect("alice", transport::tcp);
  auto bob = node.connect("bob");
  chorus::pb::Frame f;
  f.set_type("message.send");
  f.set_req_id("nul");
  auto* send = f.mutable_send();
  send->set_client_msg_id("n1");
  send->set_to("bob");
  send->set_msg_type(1);
  send->set_content(std::string{"0\0,\"sender\":\"mallory\"", 22});
  alice->send_raw_binary(f.SerializeAsString());
  auto r = alice->next();
  REQUIRE(r);
  CHECK((*r)["req_id"] == "nul");
  CHECK(code_of(*r) == "bad_request");
  CHECK_FALSE(bob->wait_for("message.new", 300ms));
  auto ok = text_message("n2", "fine");
  ok["to"] = "bob";
  CHECK(alice->request("message.send", ok)["type"] == "message.send.ok");
  auto pushed = bob->wait_for("message.new");
  REQUIRE(pushed);
  CHECK((*pushed)["payload"]["seq"] == 1);
  CHECK((*pushed)["payload"]["content"]["text"] == "fine");
  still_works(*alice);
}

TEST_CASE("protobuf frames with invalid UTF-8 are bad_request and leave no line in the log",
          "[integration]") {
  node_process node;
  auto alice = node.connect("alice", transport::tcp);
  chorus::pb::Frame f;
  f.set_type("history");
  f.set_req_id("h");
  f.mutable_history()->set_conversation_id("d:alice:bob");
  auto bytes = f.SerializeAsString();
  auto at = bytes.find("d:alice:bob");
  REQUIRE(at != std::string::npos);
  bytes[at + 2] = '\xC3'; // "d:\xC3lice:bob": a lead byte without its continuation
  for (int i = 0; i < 50; ++i) {
    alice->send_raw_binary(bytes);
    auto r = alice->next();
    REQUIRE(r);
    CHECK(code_of(*r) == "bad_request");
  }
  still_works(*alice);
  // Protobuf reports each such frame; the node keeps that at debug level,
  // or any client could make it write a line per frame.
  CHECK(node.log().find("protobuf") == std::string::npos);
}

TEST_CASE("sending to oneself and a client-supplied sender are rejected", "[integration]") {
  node_process node;
  auto c = node.connect("alice");
  auto self = text_message("s", "me");
  self["to"] = "alice";
  CHECK(code_of(c->request("message.send", self)) == "bad_request");
  auto spoof = text_message("s2", "it was bob");
  spoof["to"] = "carol";
  spoof["sender"] = "bob";
  CHECK(code_of(c->request("message.send", spoof)) == "bad_request");
  auto from = text_message("s3", "it was bob");
  from["to"] = "carol";
  from["from"] = "bob";
  CHECK(code_of(c->request("message.send", from)) == "bad_request");
  // Nothing was stored by any of them.
  CHECK(c->request("sync")["payload"]["conversations"].empty());
  still_works(*c);
}

TEST_CASE("content over the limit is too_large and the connection stays", "[integration]") {
  node_process node{{"--limits.max-content-bytes=1000"}};
  auto c = node.connect("alice");
  auto big = text_message("big", std::string(2000, 'x'));
  big["to"] = "bob";
  CHECK(code_of(c->request("message.send", big)) == "too_large");
  still_works(*c);
}

TEST_CASE("an oversized WebSocket frame closes that socket only (1009)", "[integration]") {
  node_process node{{"--net.max-frame-bytes=4096", "--limits.max-content-bytes=1024"}};
  auto c = node.connect("alice");
  c->send_raw_text(std::string(10000, ' '));
  CHECK(c->wait_closed(3s));
  auto other = node.connect("alice");
  still_works(*other);
}

TEST_CASE("an oversized TCP frame is dropped with too_large and the stream continues",
          "[integration]") {
  node_process node{{"--net.max-frame-bytes=4096", "--limits.max-content-bytes=1024"}};
  auto c = node.connect("alice", transport::tcp);
  c->send_raw_binary(std::string(20000, 'z'));
  auto r = c->next();
  REQUIRE(r);
  CHECK((*r)["payload"]["code"] == "too_large");
  c->send_raw_binary("\x01\x02garbage");
  auto g = c->next();
  REQUIRE(g);
  CHECK((*g)["payload"]["code"] == "bad_request");
  still_works(*c);
}

TEST_CASE("TCP frames split anywhere, oversized ones among them, are each answered once",
          "[integration]") {
  // The session's reader keeps partial frames, skips oversized ones across
  // reads and grows and shrinks its buffer: a stream of pings, too-large
  // frames and frames just under the limit, cut into random pieces.
  node_process node{{"--net.max-frame-bytes=4096", "--limits.max-content-bytes=1024"}};
  auto c = node.connect("alice", transport::tcp);
  std::mt19937 rng{7};
  auto be32 = [](size_t n) {
    std::string h(4, '\0');
    for (int i = 0; i < 4; ++i)
      h[i] = static_cast<char>((n >> (24 - 8 * i)) & 0xff);
    return h;
  };
  std::string stream;
  std::vector<std::string> expected; // the req_id of a ping, or "too_large"
  for (int i = 0; i < 200; ++i) {
    auto kind = rng() % 4;
    if (kind == 0) { // oversized: its length, then that many bytes
      auto n = 4097 + rng() % 20000;
      stream += be32(n) + std::string(n, static_cast<char>(rng()));
      expected.push_back("too_large");
    } else {
      chorus::pb::Frame f;
      f.set_type("ping");
      f.set_req_id("p" + std::to_string(i));
      auto bytes = f.SerializeAsString();
      if (kind == 1) // padded to just under the limit: field 999, 4,000 bytes
        bytes += std::string{"\xba\x3e\xa0\x1f"} + std::string(4000, 'u');
      REQUIRE(bytes.size() <= 4096);
      stream += be32(bytes.size()) + bytes;
      expected.push_back(f.req_id());
    }
  }
  for (size_t at = 0; at < stream.size();) {
    auto n = std::min<size_t>(stream.size() - at, 1 + rng() % 3000);
    c->send_raw_bytes(stream.substr(at, n));
    at += n;
    if (rng() % 8 == 0)
      std::this_thread::sleep_for(1ms); // let the node read a partial frame
  }
  // Replies are matched by req_id, not by order: decode errors are written
  // by the session at once, pings answered by the connection actor.
  std::multiset<std::string> want(expected.begin(), expected.end()), got;
  for (size_t i = 0; i < expected.size(); ++i) {
    auto r = c->next();
    REQUIRE(r);
    INFO(r->dump());
    if ((*r)["type"] == "ping.ok")
      got.insert((*r)["req_id"].get<std::string>());
    else
      got.insert(code_of(*r));
  }
  CHECK(got == want);
  CHECK_FALSE(c->next(200ms)); // nothing answered twice
  still_works(*c);
}

TEST_CASE("sends beyond the per-connection rate get rate_limited", "[integration]") {
  node_process node{{"--limits.sends-per-second=5"}};
  auto c = node.connect("alice");
  int limited = 0;
  for (int i = 0; i < 20; ++i) {
    auto p = text_message("r" + std::to_string(i), "x");
    p["to"] = "bob";
    auto reply = c->request("message.send", p);
    if (reply["type"] == "error" && reply["payload"]["code"] == "rate_limited")
      ++limited;
  }
  CHECK(limited >= 5);
  still_works(*c);
}

TEST_CASE("a client that stops reading is disconnected while the node keeps serving others",
          "[integration]") {
  node_process node{{"--net.max-outgoing-bytes=65536", "--limits.sends-per-second=0"}};
  auto slow = node.connect("bob");
  slow->pause_reading();
  auto alice = node.connect("alice");
  std::string text(30000, 'y');
  bool dropped = false;
  for (int i = 0; i < 400 && !dropped; ++i) {
    auto p = text_message("f" + std::to_string(i), text);
    p["to"] = "bob";
    REQUIRE(alice->request("message.send", p)["type"] == "message.send.ok");
    if (i % 20 == 19) {
      auto [status, body] = http(node.ws_port(), "GET", "/metrics", "");
      dropped = body.find("chorus_slow_consumer_disconnects_total 1") != std::string::npos;
    }
  }
  CHECK(dropped);
  still_works(*alice);
  // Bob reconnects and finds everything with sync: nothing was lost.
  auto bob = node.connect("bob");
  auto s = bob->request("sync", {{"limit", 1000}});
  CHECK(s["payload"]["conversations"][0]["messages"].size() ==
        s["payload"]["conversations"][0]["last_seq"]);
}
