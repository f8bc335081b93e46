// When a user's coalesced large-group signals go out.
//
// Every member of a large group hears of a new message at about the same
// moment. Had each user actor flushed its signals one window after the first
// one it got, every member's signal, and so every member's history pull,
// would come in the same instant: 10,000 pulls at once in a group of 10,000,
// queued on the node's thread ahead of everything else, sends and their acks
// included. Instead each user flushes on a beat of its own: at the next
// moment that is its phase (a hash of its id) modulo the window. The pulls of
// a group spread evenly over the window, a user still gets at most one flush
// per window, and a signal waits half a window on average instead of a whole.
#pragma once

#include <chrono>
#include <functional>
#include <string_view>

namespace chorus {

/// The beats a window is cut into. Users share the beat of their slot, so a
/// window needs 16 timer wake-ups whatever the group's size: a beat of its
/// own for each user cost a wake-up of the clock's thread per user and
/// doubled the node's CPU in a group of 10,000.
inline constexpr int64_t signal_beats = 16;

/// How long after `now` (any steady clock's time since its epoch) the signals
/// of `user` that wait for `window` are flushed: in (0, window].
inline std::chrono::nanoseconds until_signal_flush(std::string_view user,
                                                   std::chrono::nanoseconds window,
                                                   std::chrono::nanoseconds now) {
  auto w = window.count();
  if (w <= 0)
    return std::chrono::nanoseconds{0};
  auto slot = static_cast<int64_t>(std::hash<std::string_view>{}(user) % signal_beats);
  auto phase = w / signal_beats * slot;
  auto since_beat = ((now.count() % w) + w - phase) % w; // in [0, w)
  return std::chrono::nanoseconds{w - since_beat};
}

} // namespace chorus
