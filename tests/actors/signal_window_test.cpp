#include "actors/signal_window.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <string>

using namespace chorus;
using namespace std::chrono_literals;

using ns = std::chrono::nanoseconds;

TEST_CASE("signal beats walk every window in order and repeat a window apart") {
  for (ns window : {ns{1s}, ns{100ms}, ns{50ms} + ns{7}}) {
    auto now = ns{3600s} + ns{123456789};
    auto first = next_signal_beat(window, now);
    REQUIRE(first.wait > ns{0});
    now += first.wait;
    auto expected = first.beat;
    auto window_start = now;
    for (int i = 0; i < 3 * signal_beats; ++i) {
      auto next = next_signal_beat(window, now);
      expected = (expected + 1) % signal_beats;
      CHECK(next.beat == expected);
      CHECK(next.wait > ns{0});
      CHECK(next.wait <= window / signal_beats + ns{signal_beats});
      now += next.wait;
      if (next.beat == first.beat) { // the same beat, one window later
        CHECK(now - window_start == window);
        window_start = now;
      }
    }
  }
}

TEST_CASE("a beat is found from any moment between two beats") {
  const ns window = 1s;
  const ns step = window / signal_beats;
  auto grid = ns{7200s}; // a window starts here: 7200 s is a whole number of windows
  CHECK(next_signal_beat(window, grid).beat == 1);
  CHECK(next_signal_beat(window, grid).wait == step);
  CHECK(next_signal_beat(window, grid + ns{1}).wait == step - ns{1});
  CHECK(next_signal_beat(window, grid + step - ns{1}).beat == 1);
  CHECK(next_signal_beat(window, grid + step).beat == 2);
  // From within the last beat, the next is beat 0 of the next window.
  auto last = next_signal_beat(window, grid + 15 * step);
  CHECK(last.beat == 0);
  CHECK(last.wait == window - 15 * step);
}

TEST_CASE("the members of a group are spread over the beats") {
  const int users = 10000;
  std::map<int, int> users_per_beat;
  for (int i = 0; i < users; ++i) {
    auto beat = signal_beat_of("user" + std::to_string(i));
    REQUIRE(beat >= 0);
    REQUIRE(beat < signal_beats);
    users_per_beat[beat] += 1;
  }
  CHECK(users_per_beat.size() == static_cast<size_t>(signal_beats));
  for (const auto& [beat, count] : users_per_beat) {
    CHECK(count > users / signal_beats / 2);
    CHECK(count < 2 * users / signal_beats);
  }
  CHECK(signal_beat_of("alice") == signal_beat_of(std::string{"alice"}));
}

TEST_CASE("a zero signal window still moves on from beat to beat") {
  auto now = ns{5s};
  for (int i = 0; i < 2 * signal_beats; ++i) {
    auto next = next_signal_beat(ns{0}, now);
    CHECK(next.wait > ns{0});
    now += next.wait;
  }
}
