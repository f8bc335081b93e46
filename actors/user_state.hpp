// The state of one user actor. Only the user actor touches it.
#pragma once

#include "actors/context.hpp"
#include "actors/entity.hpp"
#include "actors/sink.hpp"
#include "proto/chorus.pb.h"

#include <caf/actor.hpp>

#include <cstdint>

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace chorus {

/// A live connection of the user. On this node it is its socket's `sink`
/// (its connection actor may stop while the device is quiet, see
/// connection_actor.hpp); on another node it is its connection actor `conn`,
/// monitored so that the device goes when that node does.
struct device {
  uint64_t id = 0; ///< the connection's device id, unique per connection
  caf::actor conn;
  sink_ptr sink;
};

/// A user's cursors in one conversation: what its devices received and
/// read (stored as the inbox column family's pb::InboxEntry), and what the
/// actor knows of the conversation's log.
///
/// `last_seq` and `last_activity` (the time of its newest message, or its
/// creation while it has none: its place in the conversation list) are read
/// from storage the first time a request needs them, then kept current from
/// the entries the conversation publishes. A direct conversation or a small
/// group pushes every entry to every member's active user actor before the
/// sender's ack goes out, so what the actor knows of it is `exact` from the
/// first push on (a direct conversation's from its first read). A large
/// group does not tell its members of each entry (that would cost a message
/// per member per entry): its members' devices hear of it on their signal
/// beat, and the actor learns of it then too, so its cursors are never
/// exact and `sync` and `conversations.list` read the end of its log from
/// storage every time. A group turning large tells its active members' user
/// actors at once. So `sync` and `conversations.list` read storage only for
/// the large groups and the conversations that changed, and still include
/// every entry acked before the request came; an actor that passivates takes
/// what it knew with it.
///
/// `unread` counts the messages after `read_seq` through `counted_to`
/// (unknown: not counted yet), so that a count goes on from where it
/// stopped instead of reading the backlog again; reading or a recall of a
/// counted message starts it over.
struct cursors {
  static constexpr uint64_t unknown_seq = ~uint64_t{0};
  static constexpr int64_t unknown_activity = INT64_MIN;

  uint64_t delivered_seq = 0;
  uint64_t read_seq = 0;
  uint64_t last_seq = unknown_seq;
  int64_t last_activity = unknown_activity;
  uint64_t counted_to = unknown_seq;
  uint32_t unread = 0; ///< at most limits.unread-max
  /// The actor hears of every entry: a push of one came (small groups), or
  /// the conversation is direct (see needs_read).
  bool exact = false;

  /// Whether the end of the log must be read from storage before use.
  bool needs_read(std::string_view conv) const {
    return last_seq == unknown_seq || (!exact && conv.substr(0, 2) == "g:");
  }
};

// An inbox entry (with its key and the hash table's links) stays in
// jemalloc's 96-byte size class.
static_assert(sizeof(cursors) == 48, "cursors outgrew 48 bytes");

struct user_state {
  static inline const char* name = "user";

  std::string id;
  context_ptr ctx;
  bool broken = false;
  /// Every conversation the user is in, with its cursors (the inbox column
  /// family, kept in memory while the actor is active).
  std::unordered_map<std::string, cursors> inbox;
  /// The user's live connections (devices), possibly on other nodes.
  std::vector<device> devices;
  int64_t last_seen = 0;

  write_table writes;
  entity_clock clock;

  bool busy() const { return !devices.empty() || !writes.empty(); }
};

} // namespace chorus
