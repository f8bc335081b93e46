// The state of one conversation actor: the single writer of a conversation
// log. Only the conversation actor touches it.
#pragma once

#include "actors/context.hpp"
#include "actors/entity.hpp"
#include "actors/log_tail.hpp"
#include "actors/recent_sends.hpp"
#include "actors/signal_window.hpp"
#include "proto/chorus.pb.h"

#include <caf/response_promise.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace chorus {

/// A large group's signals (signal_window.hpp): how far each beat's members
/// have heard of the log, and each member's beat.
struct signal_beats_state {
  std::array<uint64_t, signal_beats> signaled{}; ///< the last_seq each beat last signalled
  std::vector<uint8_t> beat_of_member;           ///< parallel to conversation_state::members
  bool ticking = false;                          ///< a beat is scheduled

  bool behind(uint64_t durable_seq) const {
    return std::any_of(signaled.begin(), signaled.end(),
                       [&](uint64_t s) { return s < durable_seq; });
  }
};

/// Edits and recalls whose writes are in flight: target seq -> (seq of the
/// latest event changing it, the target's new state).
using changed_map = std::map<uint64_t, std::pair<uint64_t, pb::ChatMessage>>;

// The parts only some conversations use are allocated when used, which
// keeps the actor within jemalloc's 1,280-byte size class (static_assert in
// conversation_actor.cpp): an active conversation is mostly this actor.
struct conversation_state {
  static inline const char* name = "conversation";

  std::string id;
  /// The node's shared parts. Handlers reach them here rather than each
  /// capturing a copy: the behavior is stored once per conversation.
  context_ptr ctx;
  bool is_group = false;
  bool exists = false; ///< a record is stored (or on its way)
  /// Groups only: members, owner, title (a direct conversation's record is
  /// written once and never read back by its actor).
  std::unique_ptr<pb::ConversationRecord> record;
  std::vector<std::string> members; ///< sorted
  uint64_t last_seq = 0;            ///< last seq assigned (maybe not durable yet)
  uint64_t durable_seq = 0;         ///< last seq known durable
  bool broken = false;              ///< storage failed: every request fails

  std::unique_ptr<recent_sends> recent; ///< allocated by the first send
  /// Whether a send may have a dedup entry in storage that `recent` lacks:
  /// entries were stored before this activation, or one left the cache.
  /// While false, a send missing from `recent` is new, with no storage read.
  bool dedup_stored = false;

  /// Allocated while an edit or recall is in flight.
  std::unique_ptr<changed_map> changed_targets;

  /// Large groups only: the newest durable entries, answering members' pulls.
  std::unique_ptr<log_tail> tail;
  /// Large groups only, once an entry was published: the signal beats.
  std::unique_ptr<signal_beats_state> beats;
  static constexpr size_t tail_entries = 256;

  write_table writes;
  size_t waiting_replies = 0; ///< requests to other actors in flight
  entity_clock clock;

  bool is_member(const std::string& user) const {
    return std::binary_search(members.begin(), members.end(), user);
  }

  bool busy() const { return !writes.empty() || waiting_replies > 0 || (beats && beats->ticking); }
};

} // namespace chorus
