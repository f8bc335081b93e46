// Direct chat between real clients of a real node, over every transport.
#include "node_process.hpp"

#include "bench/load/node_metrics.hpp"

#include <catch2/catch.hpp>

#include <thread>
#include <vector>

using namespace chorus::test;
using chorus::client::json;
using chorus::client::transport;
using namespace std::chrono_literals;

TEST_CASE("two users chat directly: ack after durable, push to the recipient, history",
          "[integration]") {
  node_process node;
  auto alice = node.connect("alice");
  auto bob = node.connect("bob");

  auto p = text_message("a1", "hello bob");
  p["to"] = "bob";
  auto ok = alice->request("message.send", p);
  REQUIRE(ok["type"] == "message.send.ok");
  CHECK(ok["payload"]["conversation_id"] == "d:alice:bob");
  CHECK(ok["payload"]["seq"] == 1);
  CHECK(ok["payload"]["client_msg_id"] == "a1");
  CHECK(ok["payload"]["message_id"].is_string());
  CHECK(ok["payload"]["timestamp"].is_number_integer());

  auto pushed = bob->wait_for("message.new");
  REQUIRE(pushed);
  CHECK_FALSE(pushed->contains("req_id"));
  auto& m = (*pushed)["payload"];
  CHECK(m["sender"] == "alice");
  CHECK(m["seq"] == 1);
  CHECK(m["content"]["text"] == "hello bob");
  CHECK(m["message_id"] == ok["payload"]["message_id"]);

  // The reply goes the other way by conversation_id.
  auto r = text_message("b1", "hi alice");
  r["conversation_id"] = "d:alice:bob";
  CHECK(bob->request("message.send", r)["payload"]["seq"] == 2);
  auto back = alice->wait_for("message.new");
  REQUIRE(back);
  CHECK((*back)["payload"]["sender"] == "bob");

  auto h = alice->request("history", {{"conversation_id", "d:alice:bob"}});
  REQUIRE(h["type"] == "history.ok");
  REQUIRE(h["payload"]["messages"].size() == 2);
  CHECK(h["payload"]["messages"][0]["seq"] == 1);
  CHECK(h["payload"]["messages"][1]["seq"] == 2);
  CHECK(h["payload"]["has_more"] == false);

  CHECK(bob->request("message.ack", {{"conversation_id", "d:alice:bob"}, {"seq", 2}})["type"] ==
        "message.ack.ok");
  // Acked: nothing left to sync for bob.
  auto s = bob->request("sync");
  CHECK(s["payload"]["conversations"].empty());
  CHECK(bob->request("ping")["type"] == "ping.ok");
}

TEST_CASE("every device of a user gets a message, except the one that sent it", "[integration]") {
  node_process node;
  auto phone = node.connect("alice");
  auto laptop = node.connect("alice");
  auto bob1 = node.connect("bob");
  auto bob2 = node.connect("bob", transport::tcp);

  auto p = text_message("m1", "from the phone");
  p["to"] = "bob";
  REQUIRE(phone->request("message.send", p)["type"] == "message.send.ok");
  for (auto* c : {laptop.get(), bob1.get(), bob2.get()}) {
    auto got = c->wait_for("message.new");
    REQUIRE(got);
    CHECK((*got)["payload"]["client_msg_id"] == "m1");
  }
  CHECK_FALSE(phone->wait_for("message.new", 300ms));
}

TEST_CASE("a resend with the same client_msg_id returns the first result and stores nothing",
          "[integration]") {
  node_process node;
  auto alice = node.connect("alice");
  auto bob = node.connect("bob");
  auto p = text_message("same", "once");
  p["to"] = "bob";
  auto first = alice->request("message.send", p);
  auto again = alice->request("message.send", p);
  CHECK(again["payload"] == first["payload"]);
  // Also when the first is still in flight: two sends back to back.
  auto q = text_message("pipelined", "twice");
  q["to"] = "bob";
  alice->send({{"type", "message.send"}, {"req_id", "x1"}, {"payload", q}});
  alice->send({{"type", "message.send"}, {"req_id", "x2"}, {"payload", q}});
  auto x1 = alice->next();
  auto x2 = alice->next();
  REQUIRE(x1);
  REQUIRE(x2);
  CHECK((*x1)["payload"]["seq"] == (*x2)["payload"]["seq"]);
  auto h = bob->request("history", {{"conversation_id", "d:alice:bob"}});
  CHECK(h["payload"]["messages"].size() == 2);
  bob->wait_for("message.new");
  bob->wait_for("message.new");
  CHECK_FALSE(bob->wait_for("message.new", 300ms)); // exactly two pushes
}

TEST_CASE("both users have a new direct conversation as soon as its first message is acked",
          "[integration]") {
  node_process node;
  auto alice = node.connect("alice");
  auto bob = node.connect("bob");
  REQUIRE(send_text(*alice, "bob", "first", "hello")["payload"]["seq"] == 1);
  // The sender's very next request already finds the conversation in its
  // inbox, and so does the recipient's once the push arrives.
  CHECK(alice->request("message.ack", {{"conversation_id", "d:alice:bob"}, {"seq", 1}})["type"] ==
        "message.ack.ok");
  REQUIRE(bob->wait_for("message.new"));
  CHECK(bob->request("message.ack", {{"conversation_id", "d:alice:bob"}, {"seq", 1}})["type"] ==
        "message.ack.ok");
  for (auto* c : {&alice, &bob}) {
    auto list = (*c)->request("conversations.list");
    REQUIRE(list["payload"]["conversations"].size() == 1);
    CHECK(list["payload"]["conversations"][0]["conversation_id"] == "d:alice:bob");
  }
}

TEST_CASE("a resend older than the sends a conversation remembers is found in storage",
          "[integration]") {
  // A conversation remembers its last 256 sends; older ones are answered from
  // the dedup records, while the conversation stays active.
  node_process node{{"--limits.sends-per-second=0"}};
  auto alice = node.connect("alice");
  auto send = [&](int i) {
    return send_text(*alice, "bob", "k" + std::to_string(i), "n" + std::to_string(i));
  };
  std::vector<json> first;
  for (int i = 0; i < 300; ++i) {
    first.push_back(send(i)["payload"]);
    REQUIRE(first.back()["seq"] == i + 1);
  }
  // The oldest (forgotten), one at the edge, and the newest (remembered):
  // each gets its first reply, and nothing is stored again.
  for (int i : {0, 1, 43, 44, 150, 299}) {
    auto again = send(i);
    CHECK(again["payload"] == first[static_cast<size_t>(i)]);
  }
  auto h = alice->request("history", {{"conversation_id", "d:alice:bob"}, {"limit", 5}});
  REQUIRE(h["payload"]["messages"].size() == 5);
  CHECK(h["payload"]["messages"][4]["seq"] == 300);
  CHECK(send(300)["payload"]["seq"] == 301);
}

TEST_CASE("above max-conversations idle conversations passivate early and lose nothing",
          "[integration]") {
  // The idle timeout (60 s) never passes here: only the capacity sweep acts.
  node_process node{{"--actors.max-conversations=10"}};
  auto alice = node.connect("alice");
  auto send = [&](int i) {
    auto n = std::to_string(i);
    return send_text(*alice, "user" + n, "c" + n, "hello " + n);
  };
  for (int i = 0; i < 40; ++i)
    REQUIRE(send(i)["payload"]["seq"] == 1);
  // Checked every second; a conversation not routed to since the previous
  // check passivates, so within about two seconds.
  for (int i = 0; i < 50 && metric(node, "chorus_active_conversations") > 10; ++i)
    std::this_thread::sleep_for(100ms);
  CHECK(metric(node, "chorus_active_conversations") <= 10);
  CHECK(metric(node, "chorus_capacity_sweeps_total") >= 2);
  // Each comes back from storage: the resend is recognised, the log holds
  // exactly its one message, and the next message continues it.
  for (int i = 0; i < 40; ++i) {
    auto again = send(i);
    CHECK(again["payload"]["seq"] == 1);
    auto conv = again["payload"]["conversation_id"].get<std::string>();
    CHECK(conv == "d:alice:user" + std::to_string(i));
    auto h = alice->request("history", {{"conversation_id", conv}});
    REQUIRE(h["payload"]["messages"].size() == 1);
    CHECK(h["payload"]["messages"][0]["content"]["text"] == "hello " + std::to_string(i));
  }
  CHECK(send_text(*alice, "user0", "c-next", "again")["payload"]["seq"] == 2);
}

TEST_CASE("edits and recalls are log entries of their own and change the target", "[integration]") {
  node_process node;
  auto alice = node.connect("alice");
  auto bob = node.connect("bob");
  auto p = text_message("e1", "teh typo");
  p["to"] = "bob";
  alice->request("message.send", p);
  auto edit = alice->request(
      "message.edit",
      {{"conversation_id", "d:alice:bob"}, {"seq", 1}, {"content", {{"text", "the typo"}}}});
  REQUIRE(edit["type"] == "message.edit.ok");
  CHECK(edit["payload"]["seq"] == 2);
  auto edited = bob->wait_for("message.edited");
  REQUIRE(edited);
  CHECK((*edited)["payload"]["target_seq"] == 1);
  CHECK((*edited)["payload"]["content"]["text"] == "the typo");

  // Only the author may change a message.
  auto foreign = bob->request(
      "message.edit", {{"conversation_id", "d:alice:bob"}, {"seq", 1}, {"content", "mine now"}});
  CHECK(foreign["payload"]["code"] == "forbidden");
  CHECK(alice->request("message.recall", {{"conversation_id", "d:alice:bob"},
                                          {"seq", 9}})["payload"]["code"] == "not_found");

  auto recall = alice->request("message.recall", {{"conversation_id", "d:alice:bob"}, {"seq", 1}});
  CHECK(recall["payload"]["seq"] == 3);
  REQUIRE(bob->wait_for("message.recalled"));
  CHECK(alice->request("message.edit", {{"conversation_id", "d:alice:bob"},
                                        {"seq", 1},
                                        {"content", "too late"}})["payload"]["code"] == "conflict");

  auto h = bob->request("history", {{"conversation_id", "d:alice:bob"}});
  auto& ms = h["payload"]["messages"];
  REQUIRE(ms.size() == 3);
  CHECK(ms[0]["recalled"] == true);
  CHECK(ms[0]["edited"] == true);
  CHECK(ms[0]["content"].is_null());
  CHECK(ms[1]["kind"] == "edit");
  CHECK(ms[1]["target_seq"] == 1);
  CHECK(ms[2]["kind"] == "recall");
}

TEST_CASE("read receipts, typing, unread counts and the conversation list", "[integration]") {
  node_process node;
  auto alice = node.connect("alice");
  auto bob = node.connect("bob");
  for (int i = 1; i <= 3; ++i) {
    send_text(*alice, "bob", "r" + std::to_string(i), "m");
  }
  auto g = alice->request("group.create", {{"group_id", "club"}, {"members", {"bob"}}});
  REQUIRE(g["type"] == "group.create.ok");
  auto q = text_message("g1", "group hi");
  q["conversation_id"] = "g:club";
  alice->request("message.send", q);

  auto list = bob->request("conversations.list");
  REQUIRE(list["type"] == "conversations.list.ok");
  auto& convs = list["payload"]["conversations"];
  REQUIRE(convs.size() == 2);
  CHECK(convs[0]["conversation_id"] == "g:club"); // most recent first
  CHECK(convs[0]["unread"] == 1);
  CHECK(convs[0]["last_message"]["content"]["text"] == "group hi");
  CHECK(convs[1]["conversation_id"] == "d:alice:bob");
  CHECK(convs[1]["unread"] == 3);
  CHECK(convs[1]["last_seq"] == 3);

  REQUIRE(bob->request("message.read", {{"conversation_id", "d:alice:bob"},
                                        {"read_seq", 2}})["type"] == "message.read.ok");
  auto receipt = alice->wait_for("receipt.read");
  REQUIRE(receipt);
  CHECK((*receipt)["payload"] ==
        json{{"conversation_id", "d:alice:bob"}, {"user_id", "bob"}, {"read_seq", 2}});
  auto after = bob->request("conversations.list", {{"limit", 5}});
  CHECK(after["payload"]["conversations"][1]["unread"] == 1);
  CHECK(after["payload"]["conversations"][1]["read_seq"] == 2);
  CHECK(bob->request("message.read", {{"conversation_id", "d:alice:bob"},
                                      {"read_seq", 99}})["payload"]["code"] == "bad_request");

  REQUIRE(bob->request("message.typing", {{"conversation_id", "d:alice:bob"}})["type"] ==
          "message.typing.ok");
  auto typing = alice->wait_for("typing");
  REQUIRE(typing);
  CHECK((*typing)["payload"]["user_id"] == "bob");

  auto presence = alice->request("presence.query", {{"user_ids", {"bob", "nobody"}}});
  REQUIRE(presence["type"] == "presence.query.ok");
  CHECK(presence["payload"]["presence"][0]["online"] == true);
  CHECK(presence["payload"]["presence"][1]["online"] == false);
}

TEST_CASE("WebSocket protobuf and raw TCP clients use the same operations", "[integration]") {
  node_process node;
  for (auto t : {transport::websocket_binary, transport::tcp}) {
    INFO((t == transport::tcp ? "tcp" : "websocket binary"));
    auto alice = node.connect("alice", t);
    auto bob = node.connect("bob", t);
    auto p = text_message(t == transport::tcp ? "t1" : "w1", "binary");
    p["to"] = "bob";
    auto ok = alice->request("message.send", p);
    REQUIRE(ok["type"] == "message.send.ok");
    auto got = bob->wait_for("message.new");
    REQUIRE(got);
    CHECK((*got)["payload"]["content"]["text"] == "binary");
    auto h = bob->request("history", {{"conversation_id", "d:alice:bob"}, {"after_seq", 0}});
    CHECK(h["payload"]["messages"].size() >= 1);
    CHECK(bob->request("message.ack", {{"conversation_id", "d:alice:bob"}, {"seq", 1}})["type"] ==
          "message.ack.ok");
  }
}

TEST_CASE("binary clients can take replies as protobuf frames, pushes staying queued as JSON",
          "[integration]") {
  node_process node;
  auto alice = node.connect("alice", transport::tcp);
  chorus::pb::Frame sync;
  sync.set_type("sync");
  for (auto t : {transport::tcp, transport::websocket_binary}) {
    INFO((t == transport::tcp ? "tcp" : "websocket binary"));
    auto bob = node.connect("bob", t);
    auto n = std::to_string(static_cast<int>(t));
    REQUIRE(send_text(*alice, "bob", "f" + n, "frame " + n)["type"] == "message.send.ok");
    REQUIRE(bob->wait_for("message.new")); // queued before the request below
    REQUIRE(send_text(*alice, "bob", "g" + n, "queued " + n)["type"] == "message.send.ok");
    auto r = bob->request_frame(sync);
    REQUIRE(r.type() == "sync.ok");
    REQUIRE(r.sync_ok().conversations_size() == 1);
    const auto& c = r.sync_ok().conversations(0);
    CHECK(c.conversation_id() == "d:alice:bob");
    CHECK(c.messages(c.messages_size() - 1).content() == R"({"text":"queued )" + n + R"("})");
    auto push = bob->wait_for("message.new"); // the push that came before the reply
    REQUIRE(push);
    CHECK((*push)["payload"]["content"]["text"] == "queued " + n);
    CHECK(bob->request("ping")["type"] == "ping.ok");
    REQUIRE(bob->request("message.ack", {{"conversation_id", "d:alice:bob"},
                                         {"seq", c.last_seq()}})["type"] == "message.ack.ok");
  }
  auto json_client = node.connect("carol");
  CHECK_THROWS_AS(json_client->request_frame(sync), chorus::client::client_error);
}

TEST_CASE("the HTTP API sends, reads history and syncs with a bearer token", "[integration]") {
  node_process node;
  auto bob = node.connect("bob");
  auto [status, body] =
      http(node.ws_port(), "POST", "/v1/messages", token_for("alice"),
           R"({"client_msg_id":"h1","to":"bob","msg_type":1,"content":"via http"})");
  CHECK(status == 200);
  CHECK(json::parse(body)["seq"] == 1);
  auto pushed = bob->wait_for("message.new");
  REQUIRE(pushed);
  CHECK((*pushed)["payload"]["content"] == "via http");

  auto [hs, hb] = http(node.ws_port(), "GET", "/v1/conversations/d:alice:bob/messages?after_seq=0",
                       token_for("bob"));
  CHECK(hs == 200);
  CHECK(json::parse(hb)["messages"].size() == 1);
  auto [ss, sb] = http(node.ws_port(), "GET", "/v1/sync?limit=10", token_for("bob"));
  CHECK(ss == 200);
  CHECK(json::parse(sb)["conversations"][0]["last_seq"] == 1);
  auto [fs, fb] =
      http(node.ws_port(), "GET", "/v1/conversations/d:alice:bob/messages", token_for("mallory"));
  CHECK(fs == 403);
  CHECK(json::parse(fb)["code"] == "forbidden");
  CHECK(http(node.ws_port(), "GET", "/v1/sync", "").first == 401);
  CHECK(http(node.ws_port(), "GET", "/v1/sync", "alice.0.bad").first == 401);
  auto [rs, rb] = http(node.ws_port(), "POST", "/v1/rpc", token_for("bob"),
                       R"({"type":"conversations.list","req_id":"q"})");
  CHECK(rs == 200);
  CHECK(json::parse(rb)["type"] == "conversations.list.ok");
  CHECK(http(node.ws_port(), "GET", "/healthz", "").first == 200);
  auto [ms, mb] = http(node.ws_port(), "GET", "/metrics", "");
  CHECK(ms == 200);
  CHECK_THAT(mb, Catch::Contains("chorus_messages_stored_total 1"));
}

TEST_CASE("/metrics counts every answered request by type and every group commit",
          "[integration]") {
  node_process node;
  auto alice = node.connect("alice", transport::tcp);
  for (int i = 0; i < 3; ++i)
    REQUIRE(send_text(*alice, "bob", "m" + std::to_string(i), "hi")["type"] == "message.send.ok");
  json h;
  h["conversation_id"] = "d:alice:bob";
  REQUIRE(alice->request("history", h)["type"] == "history.ok");
  h["conversation_id"] = "d:bob:carol"; // forbidden: an error answer is timed as well
  REQUIRE(alice->request("history", h)["type"] == "error");
  REQUIRE(alice->request("sync", json::object())["type"] == "sync.ok");
  REQUIRE(alice->request("ping")["type"] == "ping.ok"); // answered by the connection: not timed

  auto [status, body] = http(node.ws_port(), "GET", "/metrics", "");
  REQUIRE(status == 200);
  // One scrape, read with the load generator's parser; a missing series throws.
  auto samples = chorus::bench::parse_metrics(body);
  auto value = [&samples](const std::string& series) { return samples.at(series); };
  CHECK(value(R"(chorus_request_seconds_count{type="message.send"})") == 3);
  CHECK(value(R"(chorus_request_seconds_bucket{type="message.send",le="+Inf"})") == 3);
  CHECK(value(R"(chorus_request_seconds_sum{type="message.send"})") > 0);
  CHECK(value(R"(chorus_request_seconds_count{type="history"})") == 2);
  CHECK(value(R"(chorus_request_seconds_count{type="sync"})") == 1);
  CHECK(value(R"(chorus_request_seconds_count{type="other"})") == 0);
  // One observation per group commit; each send waited for its ack, so each
  // was a group of its own, besides whatever else the node wrote.
  auto groups = value("chorus_storage_commit_seconds_count");
  CHECK(groups >= 3);
  CHECK(value("chorus_storage_commit_batches_count") == groups);
  CHECK(value("chorus_storage_commit_batches_sum") >= groups);
  CHECK(value(R"(chorus_storage_commit_batches_bucket{le="+Inf"})") == groups);
}

TEST_CASE("passivated actors come back from storage with their state", "[integration]") {
  node_process node{{"--actors.idle-timeout=200ms"}};
  {
    auto alice = node.connect("alice");
    REQUIRE(send_text(*alice, "bob", "p1", "before")["payload"]["seq"] == 1);
  }
  // Long enough for the conversation and both users to passivate.
  std::this_thread::sleep_for(1500ms);
  auto [ms, mb] = http(node.ws_port(), "GET", "/metrics", "");
  CHECK_THAT(mb, Catch::Contains("chorus_active_conversations 0"));
  auto alice = node.connect("alice");
  CHECK(send_text(*alice, "bob", "p1", "before")["payload"]["seq"] == 1); // dedup survived
  CHECK(send_text(*alice, "bob", "p2", "after")["payload"]["seq"] == 2);  // last_seq survived
}

TEST_CASE("frames larger than the read buffer arrive whole over TCP and WebSocket",
          "[integration]") {
  node_process node{{"--limits.max-content-bytes=400000"}};
  for (auto t : {transport::tcp, transport::websocket_binary, transport::websocket_json}) {
    auto alice = node.connect("alice", t);
    auto bob = node.connect("bob", t);
    std::string big(300000, 'b');
    auto p = text_message("big-" + std::to_string(static_cast<int>(t)), big);
    p["to"] = "bob";
    auto ok = alice->request("message.send", p);
    REQUIRE(ok["type"] == "message.send.ok");
    auto got = bob->wait_for("message.new");
    REQUIRE(got);
    CHECK((*got)["payload"]["content"]["text"].get<std::string>().size() == big.size());
    CHECK(alice->request("ping")["type"] == "ping.ok"); // the stream is in step
  }
}
