// A log-linear latency histogram in the manner of HdrHistogram: values in
// microseconds, 64 linear sub-buckets per power of two (under 2 % error),
// fixed memory, O(1) record, mergeable across threads.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>

namespace chorus::bench {

class histogram {
public:
  static constexpr int sub_bits = 7;
  static constexpr int sub_count = 1 << sub_bits;
  static constexpr int magnitudes = 40; // up to 2^40 us: 12 days

  void record(uint64_t micros) {
    counts_[index_of(micros)] += 1;
    total_ += 1;
    max_ = std::max(max_, micros);
    min_ = std::min(min_, micros);
  }

  void merge(const histogram& other) {
    for (size_t i = 0; i < counts_.size(); ++i)
      counts_[i] += other.counts_[i];
    total_ += other.total_;
    max_ = std::max(max_, other.max_);
    min_ = std::min(min_, other.min_);
  }

  void reset() { *this = histogram{}; }

  uint64_t count() const { return total_; }
  uint64_t max() const { return total_ ? max_ : 0; }
  uint64_t min() const { return total_ ? min_ : 0; }

  /// The value at percentile `p` (0-100): the upper edge of its bucket,
  /// capped at the largest value recorded.
  uint64_t percentile(double p) const {
    if (total_ == 0)
      return 0;
    auto rank = static_cast<uint64_t>(p / 100.0 * static_cast<double>(total_) + 0.5);
    rank = std::clamp<uint64_t>(rank, 1, total_);
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank)
        return std::min(upper_of(i), max_);
    }
    return max_;
  }

private:
  static size_t index_of(uint64_t v) {
    if (v < sub_count)
      return static_cast<size_t>(v);
    int magnitude = 63 - __builtin_clzll(v) - (sub_bits - 1); // >= 1
    auto sub = static_cast<size_t>(v >> magnitude) - sub_count / 2;
    auto i =
        static_cast<size_t>(sub_count) + static_cast<size_t>(magnitude - 1) * (sub_count / 2) + sub;
    return std::min(i, static_cast<size_t>(sub_count + magnitudes * sub_count / 2 - 1));
  }

  static uint64_t upper_of(size_t i) {
    if (i < sub_count)
      return i;
    auto magnitude = static_cast<int>((i - sub_count) / (sub_count / 2)) + 1;
    auto sub = (i - sub_count) % (sub_count / 2) + sub_count / 2;
    return ((static_cast<uint64_t>(sub) + 1) << magnitude) - 1;
  }

  std::array<uint64_t, sub_count + magnitudes * sub_count / 2> counts_{};
  uint64_t total_ = 0;
  uint64_t max_ = 0;
  uint64_t min_ = UINT64_MAX;
};

} // namespace chorus::bench
