// What every actor of a node is given at spawn: its settings and the handles
// of the node's shared services. Owned by the node; outlives every actor.
#pragma once

#include "node/metrics.hpp"
#include "storage/store.hpp"
#include "storage/writer.hpp"

#include <caf/timespan.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace chorus {

/// Settings the actors read; filled from node.conf by node/config.cpp.
struct actor_settings {
  std::string node_id = "n1";
  std::string secret;    ///< HMAC key for auth tokens
  bool dev_mode = false; ///< accept any token (logged loudly)
  caf::timespan idle_timeout = std::chrono::seconds{60};
  /// Above this many active conversation actors, the router passivates the
  /// ones idle for a second or more without waiting for idle_timeout
  /// (router.hpp): memory stays bounded when many conversations are new.
  size_t max_conversations = 1000000;
  /// A device's connection actor stops after this long without frames or
  /// open requests; its next frame starts a new one (connection_actor.hpp).
  caf::timespan connection_idle = std::chrono::seconds{10};
  caf::timespan request_timeout = std::chrono::seconds{10};
  caf::timespan auth_timeout = std::chrono::seconds{10};
  size_t max_content_bytes = 64 * 1024;
  uint32_t sends_per_second = 50; ///< per connection, burst twice that; 0 = off
  uint32_t history_limit_default = 50;
  uint32_t history_limit_max = 500;
  uint32_t sync_limit_default = 100;
  uint32_t sync_limit_max = 1000;
  uint32_t list_limit_max = 1000;
  /// Unread counts stop here: counting reads every unread entry, and a
  /// user back from a busy group would make each sync read all of them.
  uint32_t unread_max = 1000;
  uint32_t max_group_members = 10000;
  /// Groups with more members get (conversation, last_seq) signals instead
  /// of message pushes, coalesced per user over `signal_window`.
  uint32_t large_group = 500;
  caf::timespan signal_window = std::chrono::milliseconds{50};
  int64_t dedup_ttl_ms = 7 * 24 * 3600 * 1000LL;
  /// Recent sends kept per conversation to answer resends without a storage
  /// read; older ones are found in the dedup column family.
  size_t dedup_cache = 256;
};

/// Message ids: unique across the cluster, roughly time-ordered.
class id_generator {
public:
  explicit id_generator(const std::string& node_id);
  std::string next();

private:
  uint32_t node_bits_;
  std::atomic<uint64_t> last_{0};
};

class router;

struct actor_context {
  actor_settings settings;
  chorus::router* router = nullptr; ///< owned by the node; outlives every actor
  storage::store* db = nullptr;
  storage::writer* writer = nullptr;
  node::metrics* metrics = nullptr;
  std::unique_ptr<id_generator> ids;
};

using context_ptr = std::shared_ptr<actor_context>;

inline int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

} // namespace chorus
