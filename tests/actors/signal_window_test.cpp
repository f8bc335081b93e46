#include "actors/signal_window.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

using namespace chorus;
using namespace std::chrono_literals;

using ns = std::chrono::nanoseconds;

TEST_CASE("a user's signals are flushed on its own beat within one window") {
  const ns window = 1s;
  const std::string user = "alice";
  auto t0 = ns{3600s} + ns{123456789};
  auto first = t0 + until_signal_flush(user, window, t0);
  // Wherever in time a signal comes, the flush is at most a window away, never
  // immediate, and on the same beat: at most one flush per window.
  for (auto step : {ns{0}, ns{1}, ns{999ms}, ns{1s}, ns{1700ms}, ns{12345678901}}) {
    auto now = t0 + step;
    auto wait = until_signal_flush(user, window, now);
    CHECK(wait > ns{0});
    CHECK(wait <= window);
    CHECK(((now + wait) - first).count() % window.count() == 0);
  }
  // Just after its beat a user waits almost a whole window.
  CHECK(until_signal_flush(user, window, first) == window);
  CHECK(until_signal_flush(user, window, first + 1ms) == window - 1ms);
}

TEST_CASE("the members of a group flush on beats spread over the window") {
  const ns window = 1s;
  auto now = ns{86400s} + ns{777ms};
  std::map<int64_t, int> users_per_beat;
  const int users = 10000;
  for (int i = 0; i < users; ++i) {
    auto wait = until_signal_flush("user" + std::to_string(i), window, now);
    REQUIRE(wait > ns{0});
    REQUIRE(wait <= window);
    users_per_beat[wait.count()] += 1;
  }
  // Every beat of the window is used, none by much more than its share.
  CHECK(users_per_beat.size() == static_cast<size_t>(signal_beats));
  for (const auto& [wait, count] : users_per_beat)
    CHECK(count < 2 * users / signal_beats);
}

TEST_CASE("a zero window flushes at once") {
  CHECK(until_signal_flush("bob", ns{0}, ns{5s}) == ns{0});
}
