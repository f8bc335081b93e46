// The newest durable entries of one conversation's log, kept in memory by the
// conversation actor of a large group: the pulls its members make after each
// signal are answered from here instead of a storage read.
//
// The entries are consecutive seqs. Entries become durable in seq order (the
// storage writer is FIFO), so appending each as it becomes durable keeps the
// run ending at the conversation's durable seq.
#pragma once

#include "actors/push.hpp"
#include "proto/chorus.pb.h"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

namespace chorus {

class log_tail {
public:
  explicit log_tail(size_t capacity) : capacity_(capacity) {}

  /// Appends a durable entry; forgets the oldest beyond the capacity, and
  /// everything if `m` does not follow the newest entry.
  void append(const pb::ChatMessage& m);

  /// Replaces the copy of an entry an edit or recall rewrote, if held.
  void rewrite(const pb::ChatMessage& changed);

  /// The history.ok reply with the entries after `after_seq` (at most
  /// `limit`), and has_more, if the tail holds all of them up to
  /// `durable_seq`; null if storage must answer. The members that pull on
  /// one beat mostly ask alike: a reply is built once and shared until the
  /// tail changes.
  shared_reply_ptr pull(uint64_t after_seq, uint32_t limit, uint64_t durable_seq);

private:
  /// Replies shared since the tail last changed, at most max_pulls.
  struct shared_pull {
    uint64_t after_seq;
    uint32_t limit;
    shared_reply_ptr reply;
  };
  static constexpr size_t max_pulls = 32;

  size_t capacity_;
  std::deque<pb::ChatMessage> entries_;
  std::vector<shared_pull> pulls_;
};

} // namespace chorus
