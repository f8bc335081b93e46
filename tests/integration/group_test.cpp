// Groups: membership, fan-out to every member device, and gapless seq under
// concurrent senders.
#include "node_process.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <set>
#include <thread>

using namespace chorus::test;
using chorus::client::json;
using namespace std::chrono_literals;

TEST_CASE("a group message reaches every member, and membership is enforced", "[integration]") {
  node_process node;
  auto alice = node.connect("alice");
  auto bob = node.connect("bob");
  auto carol = node.connect("carol");
  auto dave = node.connect("dave");

  auto g = alice->request("group.create",
                          {{"group_id", "team"}, {"title", "Team"}, {"members", {"bob", "carol"}}});
  REQUIRE(g["type"] == "group.create.ok");
  CHECK(g["payload"]["conversation_id"] == "g:team");
  CHECK(alice->request("group.create", {{"group_id", "team"}})["payload"]["code"] == "conflict");

  auto p = text_message("t1", "hello team");
  p["conversation_id"] = "g:team";
  REQUIRE(alice->request("message.send", p)["payload"]["seq"] == 1);
  for (auto* c : {bob.get(), carol.get()}) {
    auto got = c->wait_for("message.new");
    REQUIRE(got);
    CHECK((*got)["payload"]["conversation_id"] == "g:team");
  }
  CHECK_FALSE(dave->wait_for("message.new", 300ms));

  // Non-members: forbidden for sends and history, and sync names no group.
  auto d = text_message("d1", "let me in");
  d["conversation_id"] = "g:team";
  CHECK(dave->request("message.send", d)["payload"]["code"] == "forbidden");
  CHECK(dave->request("history", {{"conversation_id", "g:team"}})["payload"]["code"] ==
        "forbidden");
  CHECK(dave->request("sync", {{"cursors", {{"g:team", 0}}}})["payload"]["code"] == "forbidden");
  CHECK(dave->request("sync")["payload"]["conversations"].empty());
  CHECK(dave->request("history", {{"conversation_id", "g:nothing"}})["payload"]["code"] ==
        "not_found");

  // Only the owner removes others; anyone may add; anyone may leave.
  CHECK(bob->request("group.remove_members",
                     {{"conversation_id", "g:team"}, {"members", {"carol"}}})["payload"]["code"] ==
        "forbidden");
  REQUIRE(bob->request("group.add_members",
                       {{"conversation_id", "g:team"}, {"members", {"dave"}}})["type"] ==
          "group.add_members.ok");
  auto d2 = text_message("d2", "thanks");
  d2["conversation_id"] = "g:team";
  CHECK(dave->request("message.send", d2)["payload"]["seq"] == 2);
  REQUIRE(alice->request("group.remove_members",
                         {{"conversation_id", "g:team"}, {"members", {"dave"}}})["type"] ==
          "group.remove_members.ok");
  CHECK(dave->request("history", {{"conversation_id", "g:team"}})["payload"]["code"] ==
        "forbidden");
  REQUIRE(carol->request("group.leave", {{"conversation_id", "g:team"}})["type"] ==
          "group.leave.ok");
  bob->discard("message.new");
  carol->discard("message.new");
  auto p3 = text_message("t3", "who is left");
  p3["conversation_id"] = "g:team";
  alice->request("message.send", p3);
  CHECK(bob->wait_for("message.new"));
  CHECK_FALSE(carol->wait_for("message.new", 300ms));
  // Group operations make no sense on a direct conversation.
  CHECK(alice->request("group.leave", {{"conversation_id", "d:alice:bob"}})["payload"]["code"] ==
        "bad_request");
}

TEST_CASE("concurrent senders in one group get gapless, unique seqs", "[integration]") {
  node_process node;
  constexpr int senders = 8;
  constexpr int per_sender = 40;
  std::vector<std::string> members;
  for (int i = 0; i < senders; ++i)
    members.push_back("u" + std::to_string(i));
  auto owner = node.connect("u0");
  REQUIRE(owner->request("group.create", {{"group_id", "busy"}, {"members", members}})["type"] ==
          "group.create.ok");
  std::vector<std::vector<uint64_t>> seqs(senders);
  std::vector<std::thread> threads;
  for (int s = 0; s < senders; ++s)
    threads.emplace_back([&, s] {
      auto c = node.connect(members[s]);
      for (int i = 0; i < per_sender; ++i) {
        auto p = text_message("s" + std::to_string(s) + "-" + std::to_string(i), "x");
        p["conversation_id"] = "g:busy";
        auto ok = c->request("message.send", p);
        seqs[s].push_back(ok["payload"].value("seq", uint64_t{0}));
      }
    });
  for (auto& t : threads)
    t.join();
  std::set<uint64_t> all;
  for (int s = 0; s < senders; ++s) {
    REQUIRE(seqs[s].size() == per_sender);
    for (size_t i = 1; i < seqs[s].size(); ++i)
      CHECK(seqs[s][i] > seqs[s][i - 1]); // one sender's messages stay in order
    all.insert(seqs[s].begin(), seqs[s].end());
  }
  REQUIRE(all.size() == senders * per_sender);
  CHECK(*all.begin() == 1);
  CHECK(*all.rbegin() == senders * per_sender);
  // The stored log is gapless too.
  uint64_t expected = 1;
  json page;
  do {
    page = owner->request(
        "history", {{"conversation_id", "g:busy"}, {"after_seq", expected - 1}, {"limit", 100}});
    for (auto& m : page["payload"]["messages"])
      CHECK(m["seq"] == expected++);
  } while (page["payload"]["has_more"] == true);
  CHECK(expected == senders * per_sender + 1);
}

TEST_CASE("large groups send coalesced conversation.signal and members pull with history",
          "[integration]") {
  node_process node{{"--limits.large-group=3", "--limits.signal-window=100ms"}};
  auto alice = node.connect("alice");
  auto bob = node.connect("bob");
  auto carol = node.connect("carol");
  REQUIRE(alice->request("group.create",
                         {{"group_id", "big"}, {"members", {"bob", "carol", "dave"}}})["type"] ==
          "group.create.ok");
  // A burst of five messages.
  for (int i = 1; i <= 5; ++i) {
    auto p = text_message("b" + std::to_string(i), "burst");
    p["conversation_id"] = "g:big";
    REQUIRE(alice->request("message.send", p)["payload"]["seq"] == i);
  }
  CHECK_FALSE(bob->wait_for("message.new", 300ms)); // no bodies are pushed
  // Coalesced: a signal carries the newest seq; at most a couple for the burst.
  uint64_t last = 0;
  int signals = 0;
  while (auto s = bob->wait_for("conversation.signal", 500ms)) {
    ++signals;
    CHECK((*s)["payload"]["conversation_id"] == "g:big");
    last = std::max<uint64_t>(last, (*s)["payload"]["last_seq"]);
  }
  CHECK(last == 5);
  CHECK(signals <= 2);
  auto h = bob->request("history", {{"conversation_id", "g:big"}, {"after_seq", 0}});
  CHECK(h["payload"]["messages"].size() == 5);
  // Typing is not fanned out in large groups; the request still succeeds.
  CHECK(carol->request("message.typing", {{"conversation_id", "g:big"}})["type"] ==
        "message.typing.ok");
  CHECK_FALSE(bob->wait_for("typing", 300ms));
}

TEST_CASE("a group that grows large still shows each acked entry in its members' sync and list",
          "[integration]") {
  // While the group is small bob's user actor hears of every entry by push;
  // once dave makes it large nothing more is pushed, and bob's sync and list
  // right after an ack must still find the entry (his signal, on his beat of
  // a 2 s window, has not come yet).
  node_process node{{"--limits.large-group=3", "--limits.signal-window=2s"}};
  auto alice = node.connect("alice");
  auto bob = node.connect("bob");
  REQUIRE(alice->request("group.create",
                         {{"group_id", "grow"}, {"members", {"bob", "carol"}}})["type"] ==
          "group.create.ok");
  auto send = [&](const std::string& cmid) {
    auto p = text_message(cmid, cmid);
    p["conversation_id"] = "g:grow";
    return alice->request("message.send", p)["payload"]["seq"].get<uint64_t>();
  };
  auto first = send("small");
  REQUIRE(bob->wait_for("message.new", 2s)); // small: pushed
  auto before = bob->request("sync", {{"cursors", {{"g:grow", first}}}})["payload"];
  CHECK(before["conversations"].empty());

  REQUIRE(alice->request("group.add_members",
                         {{"conversation_id", "g:grow"}, {"members", {"dave"}}})["type"] ==
          "group.add_members.ok");
  for (int i = 1; i <= 3; ++i) {
    auto cmid = "large" + std::to_string(i);
    auto seq = send(cmid);
    auto sync = bob->request("sync", {{"cursors", {{"g:grow", seq - 1}}}})["payload"];
    REQUIRE(sync["conversations"].size() == 1);
    CHECK(sync["conversations"][0]["last_seq"] == seq);
    REQUIRE(sync["conversations"][0]["messages"].size() == 1);
    CHECK(sync["conversations"][0]["messages"][0]["client_msg_id"] == cmid);
    auto list = bob->request("conversations.list")["payload"]["conversations"];
    REQUIRE(list.size() == 1);
    CHECK(list[0]["last_seq"] == seq);
    CHECK(list[0]["last_message"]["client_msg_id"] == cmid);
    CHECK(list[0]["unread"] == i + 1);
  }
  CHECK_FALSE(bob->wait_for("message.new", 200ms)); // large: nothing pushed
}

TEST_CASE("a member of a large group hears at most one signal per window while it talks on",
          "[integration]") {
  // Four members over a large-group size of 3: a window of 2 x 100 ms. alice
  // sends every 10 ms for 1.2 s from another thread; bob's signals come on
  // his beat, a window apart, and the last one names the last message.
  node_process node{
      {"--limits.large-group=3", "--limits.signal-window=100ms", "--limits.sends-per-second=0"}};
  auto alice = node.connect("alice");
  auto bob = node.connect("bob");
  REQUIRE(alice->request("group.create",
                         {{"group_id", "busy"}, {"members", {"bob", "carol", "dave"}}})["type"] ==
          "group.create.ok");
  const int messages = 120;
  std::atomic<bool> sent_all{false};
  auto started = std::chrono::steady_clock::now();
  std::thread sender{[&] {
    for (int i = 1; i <= messages; ++i) {
      auto p = text_message("s" + std::to_string(i), "tick");
      p["conversation_id"] = "g:busy";
      alice->request("message.send", p);
      std::this_thread::sleep_for(10ms);
    }
    sent_all = true;
  }};
  std::vector<std::chrono::steady_clock::time_point> arrivals;
  uint64_t last = 0;
  while (auto s = bob->wait_for("conversation.signal", sent_all ? 600ms : 2000ms)) {
    arrivals.push_back(std::chrono::steady_clock::now());
    CHECK((*s)["payload"]["conversation_id"] == "g:busy");
    auto seq = (*s)["payload"]["last_seq"].get<uint64_t>();
    CHECK(seq > last); // each signal tells of something new
    last = seq;
  }
  sender.join();
  CHECK(last == messages);
  // At least 1.2 s of messages (more in a slow build): a signal a window,
  // about one per 200 ms from the first send to the last signal.
  REQUIRE_FALSE(arrivals.empty());
  auto windows = (arrivals.back() - started) / 200ms;
  CHECK(arrivals.size() >= 4);
  CHECK(arrivals.size() <= static_cast<size_t>(windows) + 2);
  for (size_t i = 1; i < arrivals.size(); ++i)
    CHECK(arrivals[i] - arrivals[i - 1] >= 150ms); // a window of 200 ms, less reading delays
}

TEST_CASE("pulls in a large group return exactly what storage holds, edits and recalls included",
          "[integration]") {
  // Pulls after a signal are answered from the conversation's in-memory tail
  // of its last 256 entries; older ranges and every range after a restart
  // come from storage. Both must give the same pages.
  node_process node{{"--limits.large-group=2", "--limits.sends-per-second=0"}};
  const std::string conv = "g:tail";
  auto pages = [&](chorus::client::client& c) {
    std::vector<json> out;
    for (uint64_t after : {0, 10, 40, 250, 290, 299, 300, 301}) {
      auto h =
          c.request("history", {{"conversation_id", conv}, {"after_seq", after}, {"limit", 50}});
      REQUIRE(h["type"] == "history.ok");
      out.push_back(h["payload"]);
    }
    return out;
  };
  std::vector<json> before;
  {
    auto alice = node.connect("alice");
    auto bob = node.connect("bob");
    REQUIRE(alice->request("group.create",
                           {{"group_id", "tail"}, {"members", {"bob", "carol"}}})["type"] ==
            "group.create.ok");
    for (int i = 1; i <= 298; ++i) {
      auto p = text_message("t" + std::to_string(i), "entry " + std::to_string(i));
      p["conversation_id"] = conv;
      REQUIRE(alice->request("message.send", p)["payload"]["seq"] == i);
    }
    // Seq 299 edits 290 and seq 300 recalls 295: both targets are in the tail.
    REQUIRE(alice->request("message.edit", {{"conversation_id", conv},
                                            {"seq", 290},
                                            {"content", {{"text", "edited"}}}})["type"] ==
            "message.edit.ok");
    REQUIRE(alice->request("message.recall", {{"conversation_id", conv}, {"seq", 295}})["type"] ==
            "message.recall.ok");
    before = pages(*bob);
    REQUIRE(node.stop());
  }
  // The content the tail answered with.
  CHECK(before[4]["messages"][0]["seq"] == 291);
  auto page250 = before[3]["messages"];
  REQUIRE(page250.size() == 50);
  CHECK(page250[39]["seq"] == 290);
  CHECK(page250[39]["content"]["text"] == "edited");
  CHECK(page250[39]["edited"] == true);
  CHECK(page250[44]["recalled"] == true);
  CHECK(before[3]["has_more"] == false);
  CHECK(before[0]["has_more"] == true);
  CHECK(before[6]["messages"].empty());
  CHECK(before[7]["messages"].empty());

  node.start(); // a new activation: every page now comes from storage
  auto bob = node.connect("bob");
  auto after = pages(*bob);
  REQUIRE(after.size() == before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    INFO("page " << i);
    CHECK(after[i] == before[i]);
  }
}
