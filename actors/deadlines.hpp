// Deadlines of the requests a connection actor forwarded to user and
// conversation actors.
//
// Enforced at the edge, by one timer per connection, instead of one CAF
// request timeout per request: inside a node an entity always answers, and
// every CAF timeout is set and cancelled on the clock thread, two wake-ups of
// that thread per request (about 6 % of the node's CPU under load).
//
// Requests are numbered in the order they are opened; all share one timeout,
// so deadlines are in the same order and the oldest unanswered request is
// always the next to expire.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace chorus {

class request_deadlines {
public:
  using clock = std::chrono::steady_clock;

  /// Opens request `req_id`, to be answered by `deadline`; returns its number.
  /// `tag` is the caller's, handed back when the request expires.
  uint64_t open(std::string req_id, clock::time_point deadline, uint8_t tag = 0) {
    pending_.push_back({next_, std::move(req_id), deadline, tag, false});
    return next_++;
  }

  /// Marks request `n` answered and returns its deadline. Empty if it was
  /// answered already (it expired), so its late result must be dropped.
  std::optional<clock::time_point> settle(uint64_t n) {
    if (head_ == pending_.size())
      return std::nullopt;
    auto first = pending_[head_].n;
    if (n < first || n - first >= pending_.size() - head_)
      return std::nullopt;
    auto& p = pending_[head_ + (n - first)];
    if (p.answered)
      return std::nullopt;
    p.answered = true;
    auto deadline = p.deadline;
    trim();
    return deadline;
  }

  /// Calls `on_expired(req_id, tag)` for every unanswered request whose
  /// deadline is at or before `now`, and marks it answered.
  template <class F>
  void expire(clock::time_point now, F&& on_expired) {
    for (size_t i = head_; i < pending_.size() && pending_[i].deadline <= now; ++i) {
      auto& p = pending_[i];
      if (p.answered)
        continue;
      p.answered = true;
      on_expired(p.req_id, p.tag);
    }
    trim();
  }

  /// The deadline of the oldest unanswered request, if any.
  std::optional<clock::time_point> next_deadline() const {
    if (head_ == pending_.size())
      return std::nullopt;
    return pending_[head_].deadline;
  }

  /// Requests open (not yet answered or expired).
  size_t open_count() const {
    size_t n = 0;
    for (size_t i = head_; i < pending_.size(); ++i)
      n += pending_[i].answered ? 0 : 1;
    return n;
  }

private:
  struct pending {
    uint64_t n;
    std::string req_id;
    clock::time_point deadline;
    uint8_t tag;
    bool answered;
  };

  /// Drops answered requests from the front; compacts now and then.
  void trim() {
    while (head_ < pending_.size() && pending_[head_].answered)
      ++head_;
    if (head_ == pending_.size()) {
      pending_.clear();
      head_ = 0;
    } else if (head_ >= 64 && 2 * head_ >= pending_.size()) {
      pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }

  std::vector<pending> pending_; ///< oldest first, from head_ on
  size_t head_ = 0;
  uint64_t next_ = 0;
};

} // namespace chorus
