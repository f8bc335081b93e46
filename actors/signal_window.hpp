// When the members of a large group hear that its log advanced.
//
// A large group does not push its entries: each member gets a
// conversation.signal (conversation, last_seq) at most once per window and
// pulls with history. The window is cut into `signal_beats` beats on a grid
// of the steady clock, and each user has a beat of its own (a hash of its
// id). The conversation walks the beats while its log is ahead of what some
// beat's members last heard, and at each beat signals those members.
//
// Had every member been signalled a window after the message, all of them
// would pull in the same instant: 10,000 history requests at once in a
// group of 10,000, queued on the node's thread ahead of everything else,
// sends and their acks included. On beats, the pulls of a group spread
// evenly over the window, a member still gets at most one signal per window,
// and a signal waits half a window on average instead of a whole one. One
// signal frame is built per beat for all of its members, and a conversation
// needs at most one timer at a time however many members it has.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>

namespace chorus {

/// The beats a window is cut into.
inline constexpr int signal_beats = 16;

/// The beat of `user`, in [0, signal_beats).
inline int signal_beat_of(std::string_view user) {
  return static_cast<int>(std::hash<std::string_view>{}(user) % signal_beats);
}

/// A moment on the beat grid.
struct beat_time {
  int beat; ///< in [0, signal_beats)
  /// From `now`: at most a beat (the last one is up to 15 ns longer).
  std::chrono::nanoseconds wait;
};

/// The first beat of `window` after `now` (any steady clock's time since its
/// epoch). Beat b starts b * (window / signal_beats) into each window.
inline beat_time next_signal_beat(std::chrono::nanoseconds window, std::chrono::nanoseconds now) {
  auto w = std::max<int64_t>(window.count(), signal_beats);
  auto step = w / signal_beats;
  auto into = now.count() % w;
  auto next = into / step + 1; // beats are step apart; the last one is longer
  if (next >= signal_beats)
    return {0, std::chrono::nanoseconds{w - into}};
  return {static_cast<int>(next), std::chrono::nanoseconds{next * step - into}};
}

} // namespace chorus
