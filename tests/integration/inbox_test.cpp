// A user's inbox through real clients: sync in pages, unread counts, the
// conversation list, and what a user who stays online sees of every change.
#include "node_process.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

using namespace chorus::test;
using chorus::client::json;

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
