// Crash recovery: kill -9 after acked sends, restart, and everything acked is
// there with its seq, its dedup entry and the users' cursors.
#include "node_process.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

using namespace chorus::test;
using chorus::client::json;

TEST_CASE("after kill -9 every acked message, seq, dedup entry and cursor is back",
          "[integration]") {
  node_process node;
  std::vector<json> acked;
  {
    auto alice = node.connect("alice");
    auto bob = node.connect("bob");
    REQUIRE(alice->request("group.create", {{"group_id", "g1"}, {"members", {"bob"}}})["type"] ==
            "group.create.ok");
    for (int i = 1; i <= 30; ++i) {
      auto p = text_message("k" + std::to_string(i), "durable " + std::to_string(i));
      if (i % 2)
        p["to"] = "bob";
      else
        p["conversation_id"] = "g:g1";
      auto ok = alice->request("message.send", p);
      REQUIRE(ok["type"] == "message.send.ok");
      acked.push_back(ok["payload"]);
    }
    REQUIRE(bob->request("message.ack", {{"conversation_id", "d:alice:bob"},
                                         {"seq", 10}})["type"] == "message.ack.ok");
    REQUIRE(bob->request("message.read", {{"conversation_id", "g:g1"}, {"read_seq", 5}})["type"] ==
            "message.read.ok");
    node.kill9();
  }
  node.start();
  auto alice = node.connect("alice");
  auto bob = node.connect("bob");
  for (const auto& a : acked) {
    auto h = bob->request("history", {{"conversation_id", a["conversation_id"]},
                                      {"after_seq", a["seq"].get<uint64_t>() - 1},
                                      {"limit", 1}});
    REQUIRE(h["payload"]["messages"].size() == 1);
    auto& m = h["payload"]["messages"][0];
    CHECK(m["seq"] == a["seq"]);
    CHECK(m["message_id"] == a["message_id"]);
    CHECK(m["client_msg_id"] == a["client_msg_id"]);
  }
  // Resending any acked message answers the first result: the dedup survived.
  auto resend = text_message("k7", "durable 7");
  resend["to"] = "bob";
  auto again = alice->request("message.send", resend);
  CHECK(again["payload"] == acked[6]);
  // New messages continue the log without a gap.
  auto next = text_message("k31", "after the crash");
  next["to"] = "bob";
  CHECK(alice->request("message.send", next)["payload"]["seq"] == 16);
  // Bob's cursors: delivered 10 of d:alice:bob, read 5 of g:g1.
  auto s = bob->request("sync", {{"limit", 100}});
  for (auto& c : s["payload"]["conversations"]) {
    if (c["conversation_id"] == "d:alice:bob") {
      CHECK(c["messages"][0]["seq"] == 11);
    } else {
      CHECK(c["conversation_id"] == "g:g1");
      CHECK(c["read_seq"] == 5);
      CHECK(c["unread"] == 10);
    }
  }
}

TEST_CASE("a clean stop flushes and a restart serves the same data", "[integration]") {
  node_process node;
  {
    auto alice = node.connect("alice");
    auto p = text_message("c1", "kept");
    p["to"] = "bob";
    REQUIRE(alice->request("message.send", p)["payload"]["seq"] == 1);
  }
  REQUIRE(node.stop());
  node.start();
  auto bob = node.connect("bob");
  auto s = bob->request("sync");
  REQUIRE(s["payload"]["conversations"].size() == 1);
  CHECK(s["payload"]["conversations"][0]["messages"][0]["content"]["text"] == "kept");
}

TEST_CASE("a node stops cleanly with clients still connected and requests in flight",
          "[integration]") {
  // Sockets, actors and their threads stop in order: open WebSocket and TCP
  // connections, a device whose connection actor stopped for quiet, and sends
  // not yet answered must neither hang the stop nor fail it.
  node_process node{{"--actors.connection-idle=50ms"}};
  auto quiet = node.connect("carol", chorus::client::transport::tcp);
  auto ws = node.connect("alice");
  auto tcp = node.connect("bob", chorus::client::transport::tcp);
  REQUIRE(ws->request("message.send", [] {
    auto p = text_message("c0", "before");
    p["to"] = "bob";
    return p;
  }())["payload"]["seq"] == 1);
  std::this_thread::sleep_for(std::chrono::milliseconds{300}); // carol goes quiet
  for (int i = 0; i < 50; ++i) {
    auto p = text_message("w" + std::to_string(i), "in flight");
    p["to"] = "bob";
    ws->send({{"type", "message.send"}, {"req_id", "w" + std::to_string(i)}, {"payload", p}});
    auto q = text_message("t" + std::to_string(i), "in flight");
    q["to"] = "alice";
    tcp->send({{"type", "message.send"}, {"req_id", "t" + std::to_string(i)}, {"payload", q}});
  }
  CHECK(node.stop());
  // What was acked before the stop is there after a restart.
  node.start();
  auto bob = node.connect("bob");
  auto h = bob->request("history", {{"conversation_id", "d:alice:bob"}, {"after_seq", 0}});
  REQUIRE(!h["payload"]["messages"].empty());
  CHECK(h["payload"]["messages"][0]["content"]["text"] == "before");
}
