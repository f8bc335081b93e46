#include "actors/deadlines.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace chorus;
using namespace std::chrono_literals;

TEST_CASE("request deadlines: answered requests are settled once, late ones expire in order") {
  request_deadlines d;
  auto t0 = request_deadlines::clock::time_point{} + 1h;
  auto a = d.open("a", t0 + 10ms);
  auto b = d.open("b", t0 + 20ms);
  auto c = d.open("c", t0 + 30ms, 7);
  CHECK(d.open_count() == 3);
  CHECK(d.next_deadline() == t0 + 10ms);

  // Answered out of order: b first. Settling hands back the deadline.
  CHECK(d.settle(b) == t0 + 20ms);
  CHECK_FALSE(d.settle(b)); // a second answer is dropped
  CHECK(d.next_deadline() == t0 + 10ms);

  std::vector<std::string> expired;
  std::vector<int> tags;
  auto collect = [&](const std::string& id, uint8_t) { expired.push_back(id); };
  d.expire(t0 + 5ms, collect);
  CHECK(expired.empty());
  d.expire(t0 + 25ms, collect); // a is late; b was answered; c not yet due
  CHECK(expired == std::vector<std::string>{"a"});
  CHECK_FALSE(d.settle(a)); // its late answer is dropped
  CHECK(d.next_deadline() == t0 + 30ms);
  d.expire(t0 + 30ms, [&](const std::string&, uint8_t tag) { tags.push_back(tag); });
  CHECK(tags == std::vector<int>{7}); // c expires with the tag it was opened with
  CHECK_FALSE(d.settle(c));
  CHECK(d.open_count() == 0);
  CHECK_FALSE(d.next_deadline());
  CHECK_FALSE(d.settle(c + 1)); // never opened
}

TEST_CASE("request deadlines: a long stream of requests keeps only the open ones") {
  request_deadlines d;
  auto t0 = request_deadlines::clock::time_point{} + 1h;
  std::vector<uint64_t> open;
  // One request stays open while thousands come and go behind it.
  auto first = d.open("first", t0);
  for (int i = 0; i < 5000; ++i) {
    auto n = d.open("r" + std::to_string(i), t0 + std::chrono::milliseconds(i));
    if (i % 2 == 0)
      CHECK(d.settle(n));
    else
      open.push_back(n);
  }
  CHECK(d.open_count() == 1 + open.size());
  for (auto n : open)
    CHECK(d.settle(n));
  CHECK(d.next_deadline() == t0);
  std::vector<std::string> expired;
  d.expire(t0 + 1h, [&](const std::string& id, uint8_t) { expired.push_back(id); });
  CHECK(expired == std::vector<std::string>{"first"});
  CHECK_FALSE(d.settle(first));
  CHECK(d.open_count() == 0);
}
