// Counters of a node, exported as Prometheus text at GET /metrics. Updated with
// relaxed atomics from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <string>

namespace chorus::storage {
class writer;
}

namespace chorus::node {

/// A Prometheus histogram with fixed buckets. observe() is two relaxed
/// atomic additions, from any thread.
class histogram {
public:
  /// `bounds`: the buckets' upper bounds in increasing order (an implicit
  /// +Inf bucket follows), in the integer unit observations are given in;
  /// exported values are divided by `divisor` (1e6 for microseconds exported
  /// as seconds).
  histogram(std::initializer_list<uint64_t> bounds, double divisor);

  void observe(uint64_t value) noexcept;

  /// Appends the `_bucket`, `_sum` and `_count` lines of `name`; `labels` is
  /// empty or `key="value"` pairs without braces.
  void render(std::string& out, const char* name, const std::string& labels) const;

  uint64_t count() const noexcept;

private:
  static constexpr size_t max_buckets = 24;
  std::array<uint64_t, max_buckets> bounds_{};
  size_t size_ = 0; ///< bounds in use; counts_[size_] is +Inf
  double divisor_;
  std::array<std::atomic<uint64_t>, max_buckets + 1> counts_{};
  std::atomic<uint64_t> sum_{0};
};

/// The request kinds whose latency the node records separately.
enum class request_kind : size_t { send, sync, history, other };
inline constexpr size_t request_kind_count = 4;
request_kind request_kind_of(const std::string& frame_type) noexcept;

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
  /// From a request's hand-over to a user or conversation actor to its
  /// answer or its timeout (the node's share of a client's latency), by
  /// request_kind, in microseconds.
  std::array<histogram, request_kind_count> request_seconds{
      request_histogram(), request_histogram(), request_histogram(), request_histogram()};
  /// Each group commit: its duration (us), and how many batches it held.
  histogram commit_seconds{
      {50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000},
      1e6};
  histogram commit_batches{{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096}, 1};

  /// The Prometheus text exposition of these counters and the writer's.
  std::string render(const storage::writer* w) const;

private:
  static histogram request_histogram() {
    return histogram{{100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
                      1000000, 2500000, 5000000, 10000000},
                     1e6};
  }
};

} // namespace chorus::node
