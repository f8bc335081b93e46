#include "actors/large_group.hpp"

#include "actors/conversation_state.hpp"
#include "actors/messages.hpp"
#include "actors/push.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <chrono>

namespace chorus {

namespace {

/// The signal window of a large group: it grows with the group, so that a
/// member's pulls (each a request, a read and a reply) stay about as frequent
/// as in a group of large-group members: at most 1 s (or signal-window if
/// that is longer).
caf::timespan signal_window_of(const conversation_state& st, const actor_settings& cfg) {
  auto groups = (st.members.size() + cfg.large_group - 1) / std::max<size_t>(cfg.large_group, 1);
  return std::min<caf::timespan>(
      cfg.signal_window * static_cast<int64_t>(groups),
      std::max<caf::timespan>(cfg.signal_window, std::chrono::seconds{1}));
}

/// Schedules the next signal beat, unless one is scheduled.
void schedule_beat(conversation_self self, const context_ptr& ctx) {
  auto& beats = *self->state.beats;
  if (beats.ticking)
    return;
  beats.ticking = true;
  auto next = next_signal_beat(signal_window_of(self->state, ctx->settings),
                               std::chrono::steady_clock::now().time_since_epoch());
  self->delayed_send(self, next.wait, signal_atom::value, next.beat);
}

} // namespace

/// Finds each member's signal beat (signal_window.hpp).
void assign_beats(conversation_state& st) {
  auto& beats = st.beats->beat_of_member;
  beats.clear();
  for (const auto& m : st.members)
    beats.push_back(static_cast<uint8_t>(signal_beat_of(m)));
}

/// The log of a large group advanced to its durable_seq. Nothing is sent to
/// the members now: their user actors read the end of a large group's log
/// from storage when a sync or a list needs it (user_state.hpp), and their
/// devices hear of it at the member's beat.
void signal_members(conversation_self self, const context_ptr& ctx) {
  auto& st = self->state;
  if (!st.beats) {
    st.beats = std::make_unique<signal_beats_state>();
    assign_beats(st);
  }
  schedule_beat(self, ctx);
}

/// A signal beat: the members of `beat` that have not heard of the newest
/// durable entry get one conversation.signal, the same frame for all.
void signal_beat(conversation_self self, const context_ptr& ctx, int beat) {
  auto& st = self->state;
  if (!st.beats)
    return;
  auto& beats = *st.beats;
  beats.ticking = false;
  if (beats.signaled[beat] < st.durable_seq) {
    beats.signaled[beat] = st.durable_seq;
    auto p = make_push("conversation.signal", [&](pb::Frame& f) {
      f.mutable_signal()->set_conversation_id(st.id);
      f.mutable_signal()->set_last_seq(st.durable_seq);
    });
    for (size_t i = 0; i < st.members.size(); ++i)
      if (beats.beat_of_member[i] == beat)
        if (auto user = ctx->router->find(entity_kind::user, st.members[i]))
          self->send(user, deliver_atom::value, p, uint64_t{0});
  }
  if (beats.behind(st.durable_seq))
    schedule_beat(self, ctx);
  else if (st.members.size() <= ctx->settings.large_group)
    st.beats.reset(); // no longer large: its entries are pushed
}

/// The group has just grown large: its active members' user actors, which
/// may have heard of every entry so far, learn that they no longer will.
void became_large(conversation_self self, const context_ptr& ctx) {
  auto& st = self->state;
  for (const auto& m : st.members)
    if (auto user = ctx->router->find(entity_kind::user, m))
      self->send(user, signal_atom::value, st.id, st.durable_seq);
}

} // namespace chorus
