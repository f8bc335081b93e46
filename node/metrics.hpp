// Counters of a node, exported as Prometheus text at GET /metrics. Updated with
// relaxed atomics from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace chorus::storage {
class writer;
}

namespace chorus::node {

struct metrics {
  std::atomic<int64_t> connections_open{0};
  std::atomic<uint64_t> connections_total{0};
  std::atomic<uint64_t> frames_in{0};
  std::atomic<uint64_t> frames_out{0};
  std::atomic<uint64_t> messages_stored{0};
  std::atomic<uint64_t> deliveries{0};
  std::atomic<uint64_t> slow_consumer_disconnects{0};
  std::atomic<int64_t> active_users{0};
  std::atomic<int64_t> active_conversations{0};
  std::atomic<uint64_t> capacity_sweeps{0}; ///< sweeps for max-conversations
  std::atomic<int64_t> connection_actors{0};
  std::atomic<uint64_t> connection_resumes{0};
  std::array<std::atomic<uint64_t>, 10> errors{}; ///< by chorus::errc value

  /// The Prometheus text exposition of these counters and the writer's.
  std::string render(const storage::writer* w) const;
};

} // namespace chorus::node
