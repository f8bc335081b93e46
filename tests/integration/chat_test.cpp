// Direct chat between real clients of a real node, over every transport.
#include "node_process.hpp"

#include "bench/load/node_metrics.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <thread>
#include <vector>

using namespace chorus::test;
using chorus::client::json;
using chorus::client::transport;
using namespace std::chrono_literals;

namespace {

/// Sends `text` as `client_msg_id` from `c` to the user `to`; the reply.
json send_text(chorus::client::client& c, const std::string& to, const std::string& client_msg_id,
               const std::string& text) {
  auto p = text_message(client_msg_id, text);
  p["to"] = to;
  return c.request("message.send", p);
}

} // namespace

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

TEST_CASE("an offline user syncs 60 missed messages in order, in pages, then acks",
          "[integration]") {
  node_process node;
  auto alice = node.connect("alice");
  for (int i = 1; i <= 60; ++i) {
    auto n = std::to_string(i);
    REQUIRE(send_text(*alice, "carol", "o" + n, "missed " + n)["payload"]["seq"] == i);
  }
  auto carol = node.connect("carol");
  auto s = carol->request("sync", {{"limit", 50}});
  REQUIRE(s["type"] == "sync.ok");
  REQUIRE(s["payload"]["conversations"].size() == 1);
  auto c = s["payload"]["conversations"][0];
  CHECK(c["conversation_id"] == "d:alice:carol");
  CHECK(c["last_seq"] == 60);
  CHECK(c["unread"] == 60);
  CHECK(c["has_more"] == true);
  REQUIRE(c["messages"].size() == 50);
  for (int i = 0; i < 50; ++i)
    CHECK(c["messages"][i]["seq"] == i + 1);
  // The next page starts from an explicit cursor.
  auto s2 = carol->request("sync", {{"cursors", {{"d:alice:carol", 50}}}, {"limit", 50}});
  auto c2 = s2["payload"]["conversations"][0];
  REQUIRE(c2["messages"].size() == 10);
  CHECK(c2["messages"][0]["seq"] == 51);
  CHECK(c2["has_more"] == false);
  REQUIRE(carol->request("message.ack", {{"conversation_id", "d:alice:carol"},
                                         {"seq", 60}})["type"] == "message.ack.ok");
  // Another device of carol now has nothing to sync: acks are per user.
  auto tablet = node.connect("carol");
  CHECK(tablet->request("sync")["payload"]["conversations"].empty());
  // Acking beyond last_seq would skip future messages: refused.
  auto beyond = carol->request("message.ack", {{"conversation_id", "d:alice:carol"}, {"seq", 61}});
  CHECK(beyond["payload"]["code"] == "bad_request");
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

TEST_CASE("unread counts stop at limits.unread-max in sync and the conversation list",
          "[integration]") {
  node_process node{{"--limits.unread-max=4"}};
  auto alice = node.connect("alice");
  for (int i = 1; i <= 6; ++i)
    REQUIRE(send_text(*alice, "bob", "u" + std::to_string(i), "m")["payload"]["seq"] == i);
  auto bob = node.connect("bob");
  auto c = bob->request("sync")["payload"]["conversations"][0];
  CHECK(c["unread"] == 4);          // six unread: the count stops at four
  CHECK(c["messages"].size() == 6); // the messages themselves are all there
  CHECK(bob->request("conversations.list")["payload"]["conversations"][0]["unread"] == 4);
  REQUIRE(bob->request("message.read", {{"conversation_id", "d:alice:bob"},
                                        {"read_seq", 3}})["type"] == "message.read.ok");
  CHECK(bob->request("conversations.list")["payload"]["conversations"][0]["unread"] == 3);
}

TEST_CASE("unread counts follow sends and recalls and reads while the user stays online",
          "[integration]") {
  node_process node;
  auto alice = node.connect("alice");
  auto bob = node.connect("bob");
  auto unread = [&] {
    return bob->request("conversations.list")["payload"]["conversations"][0]["unread"];
  };
  for (int i = 1; i <= 3; ++i)
    send_text(*alice, "bob", "n" + std::to_string(i), "m");
  CHECK(unread() == 3);
  send_text(*alice, "bob", "n4", "m"); // counted on from where the last count stopped
  CHECK(unread() == 4);
  REQUIRE(alice->request("message.recall", {{"conversation_id", "d:alice:bob"},
                                            {"seq", 2}})["type"] == "message.recall.ok");
  CHECK(unread() == 3); // a recalled message is not unread
  REQUIRE(bob->request("message.read", {{"conversation_id", "d:alice:bob"},
                                        {"read_seq", 3}})["type"] == "message.read.ok");
  CHECK(unread() == 1);                 // seq 4; seq 5 is the recall
  send_text(*bob, "alice", "own", "m"); // one's own messages are never unread
  send_text(*alice, "bob", "n5", "m");
  CHECK(unread() == 2);
  auto sync = bob->request("sync", {{"cursors", {{"d:alice:bob", 6}}}});
  CHECK(sync["payload"]["conversations"][0]["unread"] == 2);
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

TEST_CASE("sync and the conversation list see every entry acked before them while online",
          "[integration]") {
  // bob stays online while his conversations change: two direct ones, a
  // small group (pushes) and a large one (signals only), by new messages,
  // edits, recalls, his own sends from another device and his reads. After
  // each ack, a sync from the cursors before it returns exactly the entry
  // just acked, and the conversation list matches a model of every
  // conversation: order, last_seq, unread, read_seq and last message.
  node_process node{{"--limits.large-group=3"}};
  auto bob = node.connect("bob");
  auto phone = node.connect("bob");
  auto alice = node.connect("alice");
  auto carol = node.connect("carol");
  REQUIRE(alice->request("group.create",
                         {{"group_id", "small"}, {"members", {"bob", "carol"}}})["type"] ==
          "group.create.ok");
  REQUIRE(carol->request("group.create",
                         {{"group_id", "big"}, {"members", {"alice", "bob", "dave"}}})["type"] ==
          "group.create.ok");

  struct entry {
    std::string sender;
    bool message = true; ///< else an edit or recall event
    std::optional<std::string> text;
  };
  struct conversation {
    std::map<uint64_t, entry> log;
    int64_t last_activity = 0;
    uint64_t read_seq = 0;
    uint64_t last_seq() const { return log.empty() ? 0 : log.rbegin()->first; }
  };
  std::map<std::string, conversation> model;
  int n = 0;
  // Sends as `from` into `conv` (`to` for a direct one) and records it.
  auto send = [&](chorus::client::client& c, const std::string& from, const std::string& conv,
                  const std::string& to) {
    auto text = "m" + std::to_string(++n);
    auto p = text_message("c" + std::to_string(n), text);
    if (to.empty())
      p["conversation_id"] = conv;
    else
      p["to"] = to;
    auto ok = c.request("message.send", p)["payload"];
    REQUIRE(ok["conversation_id"] == conv);
    auto& m = model[conv];
    REQUIRE(ok["seq"] == m.last_seq() + 1);
    m.log[ok["seq"].get<uint64_t>()] = entry{from, true, text};
    m.last_activity = std::max(m.last_activity, ok["timestamp"].get<int64_t>());
  };
  send(*alice, "alice", "d:alice:bob", "bob");
  send(*carol, "carol", "d:bob:carol", "bob");
  send(*alice, "alice", "g:small", "");
  send(*carol, "carol", "g:big", "");
  // bob's actor now knows every conversation (its first list reads them).
  REQUIRE(bob->request("conversations.list")["payload"]["conversations"].size() == 4);

  const std::vector<std::string> convs{"d:alice:bob", "d:bob:carol", "g:big", "g:small"};
  std::mt19937 rng{20261202};
  auto pick = [&](size_t k) { return std::uniform_int_distribution<size_t>{0, k - 1}(rng); };
  for (int step = 0; step < 80; ++step) {
    INFO("step " << step);
    std::map<std::string, uint64_t> before;
    for (const auto& [id, c] : model)
      before[id] = c.last_seq();
    const auto& conv = convs[pick(convs.size())];
    auto& m = model[conv];
    // alice's messages there that may still change
    std::vector<uint64_t> alices;
    for (const auto& [seq, e] : m.log)
      if (e.message && e.sender == "alice" && e.text)
        alices.push_back(seq);
    // The newest message must stay among the last entries the list looks at.
    uint64_t newest = 0;
    for (const auto& [seq, e] : m.log)
      if (e.message)
        newest = seq;
    bool may_change = !alices.empty() && m.last_seq() - newest < 8;
    switch (pick(6)) {
    case 0: // someone else writes
      if (conv == "d:bob:carol" || conv == "g:big")
        send(*carol, "carol", conv, conv == "g:big" ? "" : "bob");
      else
        send(*alice, "alice", conv, conv == "g:small" ? "" : "bob");
      break;
    case 1: // bob writes from his phone
      if (conv[0] == 'd')
        send(*phone, "bob", conv, conv == "d:alice:bob" ? "alice" : "carol");
      else
        send(*phone, "bob", conv, "");
      break;
    case 2:
    case 3: { // alice edits or recalls one of hers
      if (!may_change || conv == "d:bob:carol")
        continue;
      auto target = alices[pick(alices.size())];
      bool recall = pick(2) == 0;
      json p{{"conversation_id", conv}, {"seq", target}};
      auto text = "edited " + std::to_string(++n);
      if (!recall)
        p["content"] = {{"text", text}};
      auto ok = alice->request(recall ? "message.recall" : "message.edit", p)["payload"];
      REQUIRE(ok["seq"] == m.last_seq() + 1);
      m.log[ok["seq"].get<uint64_t>()] = entry{"alice", false, {}};
      m.log[target].text = recall ? std::nullopt : std::optional<std::string>{text};
      break;
    }
    default: // bob reads up to the end
      if (m.read_seq == m.last_seq())
        continue;
      REQUIRE(bob->request("message.read",
                           {{"conversation_id", conv}, {"read_seq", m.last_seq()}})["type"] ==
              "message.read.ok");
      m.read_seq = m.last_seq();
      break;
    }
    auto unread = [&](const conversation& c) {
      uint64_t count = 0;
      for (const auto& [seq, e] : c.log)
        count += seq > c.read_seq && e.message && e.text && e.sender != "bob";
      return count;
    };

    auto sync = bob->request("sync", {{"cursors", before}})["payload"]["conversations"];
    if (m.last_seq() == before[conv]) {
      CHECK(sync.empty()); // a read changes no log
    } else {
      REQUIRE(sync.size() == 1);
      CHECK(sync[0]["conversation_id"] == conv);
      CHECK(sync[0]["last_seq"] == m.last_seq());
      CHECK(sync[0]["unread"] == unread(m));
      REQUIRE(sync[0]["messages"].size() == 1);
      CHECK(sync[0]["messages"][0]["seq"] == m.last_seq());
    }

    auto list = bob->request("conversations.list")["payload"]["conversations"];
    std::vector<std::string> order = convs;
    std::sort(order.begin(), order.end(), [&](const auto& a, const auto& b) {
      if (model[a].last_activity != model[b].last_activity)
        return model[a].last_activity > model[b].last_activity;
      return a < b;
    });
    REQUIRE(list.size() == order.size());
    for (size_t i = 0; i < order.size(); ++i) {
      const auto& c = model[order[i]];
      INFO(order[i]);
      CHECK(list[i]["conversation_id"] == order[i]);
      CHECK(list[i]["last_seq"] == c.last_seq());
      CHECK(list[i]["read_seq"] == c.read_seq);
      CHECK(list[i]["unread"] == unread(c));
      uint64_t last_message = 0;
      for (const auto& [seq, e] : c.log)
        if (e.message)
          last_message = seq;
      CHECK(list[i]["last_message"]["seq"] == last_message);
      const auto& text = c.log.at(last_message).text;
      if (text)
        CHECK(list[i]["last_message"]["content"]["text"] == *text);
      else
        CHECK(list[i]["last_message"]["content"].is_null());
    }
  }
}
