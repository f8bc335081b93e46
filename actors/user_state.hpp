// The state of one user actor. Only the user actor touches it.
#pragma once

#include "actors/context.hpp"
#include "actors/entity.hpp"
#include "actors/sink.hpp"
#include "proto/chorus.pb.h"

#include <caf/actor.hpp>

#include <map>
#include <memory>
#include <string>
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
/// read (stored as the inbox column family's pb::InboxEntry).
struct cursors {
  uint64_t delivered_seq = 0;
  uint64_t read_seq = 0;
};

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
  /// Large-group signals waiting for the coalescing window: conversation ->
  /// last_seq. Flushed to every device when the window ends.
  /// Allocated while signals wait: most users never have any.
  std::unique_ptr<std::map<std::string, uint64_t>> pending_signals;

  write_table writes;
  entity_clock clock;

  bool busy() const { return !devices.empty() || !writes.empty() || pending_signals != nullptr; }
};

} // namespace chorus
