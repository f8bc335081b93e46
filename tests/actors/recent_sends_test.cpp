#include "actors/recent_sends.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

using namespace chorus;

TEST_CASE("a remembered send rebuilds its reply from the key and the conversation") {
  recent_sends r;
  auto key = recent_sends::key("alice", "c-1");
  CHECK(r.find(key) == nullptr);
  CHECK_FALSE(r.remember(key, 7, "m-7", 1700000000123, false, 4));
  auto* e = r.find(key);
  REQUIRE(e != nullptr);
  CHECK_FALSE(e->durable);
  auto ok = recent_sends::reply("d:alice:bob", *e);
  CHECK(ok.client_msg_id() == "c-1");
  CHECK(ok.conversation_id() == "d:alice:bob");
  CHECK(ok.seq() == 7);
  CHECK(ok.message_id() == "m-7");
  CHECK(ok.timestamp() == 1700000000123);
  // The same client_msg_id from another sender is another send.
  CHECK(r.find(recent_sends::key("bob", "c-1")) == nullptr);
  r.erase(key);
  CHECK(r.find(key) == nullptr);
}

TEST_CASE("beyond its capacity the oldest durable sends are forgotten, in-flight ones stay") {
  recent_sends r;
  auto k = [](int i) { return recent_sends::key("alice", "c" + std::to_string(i)); };
  auto kept = [&](int n) {
    int count = 0;
    for (int i = 0; i < n; ++i)
      count += r.find(k(i)) != nullptr ? 1 : 0;
    return count;
  };
  CHECK_FALSE(r.remember(k(0), 1, "m1", 1, false, 2)); // in flight
  CHECK_FALSE(r.remember(k(1), 2, "m2", 2, true, 2));
  // Over capacity: the oldest is in flight and stays; the next oldest durable
  // one goes.
  CHECK(r.remember(k(2), 3, "m3", 3, true, 2));
  CHECK(r.find(k(0)) != nullptr);
  CHECK(r.find(k(1)) == nullptr);
  CHECK(kept(3) == 2);
  // Only sends in flight: nothing can go, the count exceeds the capacity.
  recent_sends busy;
  for (int i = 0; i < 5; ++i)
    CHECK_FALSE(busy.remember(k(i), static_cast<uint64_t>(i + 1), "m", i, false, 2));
  for (int i = 0; i < 5; ++i)
    CHECK(busy.find(k(i)) != nullptr);
  // The one kept in flight went to the back, ahead of the send that made
  // room: once it is durable, it is the oldest and the next to go.
  r.find(k(0))->durable = true;
  CHECK(r.remember(k(3), 4, "m4", 4, true, 2));
  CHECK(r.find(k(0)) == nullptr);
  CHECK(r.find(k(2)) != nullptr);
  CHECK(r.find(k(3)) != nullptr);
  CHECK(kept(4) == 2);
  // Many more: the newest ones are kept, never more than the capacity.
  for (int i = 4; i < 100; ++i)
    r.remember(k(i), static_cast<uint64_t>(i + 1), "m", i, true, 2);
  CHECK(kept(100) == 2);
  CHECK(r.find(k(98)) != nullptr);
  CHECK(r.find(k(99)) != nullptr);
}

TEST_CASE("recent sends agree with a plain list over random sends, completions and failures") {
  // The model: a list in the order remembered, with the same rule.
  struct model_send {
    std::string key;
    uint64_t seq;
    bool durable;
  };
  std::vector<model_send> model;
  auto model_remember = [&](const std::string& key, uint64_t seq, bool durable, size_t cap) {
    bool forgot = false;
    for (size_t budget = model.size(); model.size() >= cap && budget > 0; --budget) {
      auto oldest = model.front();
      model.erase(model.begin());
      if (!oldest.durable)
        model.push_back(oldest);
      else
        forgot = true;
    }
    model.push_back({key, seq, durable});
    return forgot;
  };
  auto model_find = [&](const std::string& key) -> model_send* {
    for (auto& m : model)
      if (m.key == key)
        return &m;
    return nullptr;
  };

  recent_sends r;
  std::mt19937 rng{42};
  const size_t cap = 8;
  int next = 0;
  for (int step = 0; step < 5000; ++step) {
    auto op = rng() % 10;
    if (op < 6) { // a new send, in flight or (found in storage) durable
      auto key = recent_sends::key(rng() % 2 ? "alice" : "bob", "c" + std::to_string(next++));
      bool durable = rng() % 4 == 0;
      auto seq = static_cast<uint64_t>(next);
      REQUIRE(r.remember(key, seq, "m", 0, durable, cap) == model_remember(key, seq, durable, cap));
    } else if (!model.empty()) { // a send in the list completes or fails
      auto pick = model[rng() % model.size()];
      if (op < 9) {
        r.find(pick.key)->durable = true;
        model_find(pick.key)->durable = true;
      } else {
        r.erase(pick.key);
        model.erase(std::find_if(model.begin(), model.end(),
                                 [&](const model_send& m) { return m.key == pick.key; }));
      }
    }
    // Every send of the last hundred is found exactly when the model has it.
    for (int i = std::max(0, next - 100); i < next; ++i)
      for (const char* sender : {"alice", "bob"}) {
        auto key = recent_sends::key(sender, "c" + std::to_string(i));
        auto* got = r.find(key);
        auto* want = model_find(key);
        REQUIRE((got != nullptr) == (want != nullptr));
        if (got != nullptr) {
          REQUIRE(got->seq == want->seq);
          REQUIRE(got->durable == want->durable);
        }
      }
    // And every send the model has, however old (kept in flight).
    for (const auto& m : model) {
      auto* got = r.find(m.key);
      REQUIRE(got != nullptr);
      REQUIRE(got->seq == m.seq);
    }
  }
}
