#include "actors/recent_sends.hpp"

#include <catch2/catch.hpp>

using namespace chorus;

TEST_CASE("a remembered send rebuilds its reply from the key and the conversation") {
  recent_sends r;
  auto key = recent_sends::key("alice", "c-1");
  CHECK(r.find(key) == nullptr);
  CHECK_FALSE(r.remember(key, 7, "m-7", 1700000000123, false, 4));
  auto* e = r.find(key);
  REQUIRE(e != nullptr);
  CHECK_FALSE(e->second.durable);
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
  // Over capacity, but the oldest is in flight: it stays, and so do the rest
  // for now.
  CHECK_FALSE(r.remember(k(2), 3, "m3", 3, true, 2));
  CHECK(kept(3) == 3);
  // Once it is durable, the next send brings the count back to the capacity
  // by forgetting durable sends, the oldest remembered first.
  r.find(k(0))->second.durable = true;
  CHECK(r.remember(k(3), 4, "m4", 4, true, 2));
  CHECK(r.find(k(1)) == nullptr);
  CHECK(r.find(k(3)) != nullptr);
  CHECK(kept(4) == 2);
  // Many more: the newest ones are kept, never more than the capacity.
  for (int i = 4; i < 100; ++i)
    r.remember(k(i), static_cast<uint64_t>(i + 1), "m", i, true, 2);
  CHECK(kept(100) == 2);
  CHECK(r.find(k(98)) != nullptr);
  CHECK(r.find(k(99)) != nullptr);
}
