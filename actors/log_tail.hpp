// The newest durable entries of one conversation's log, kept in memory by the
// conversation actor of a large group: the pulls its members make after each
// signal are answered from here instead of a storage read.
//
// The entries are consecutive seqs. Entries become durable in seq order (the
// storage writer is FIFO), so appending each as it becomes durable keeps the
// run ending at the conversation's durable seq.
#pragma once

#include "proto/chorus.pb.h"

#include <cstddef>
#include <cstdint>
#include <deque>

namespace chorus {

class log_tail {
public:
  explicit log_tail(size_t capacity) : capacity_(capacity) {}

  /// Appends a durable entry; forgets the oldest beyond the capacity, and
  /// everything if `m` does not follow the newest entry.
  void append(const pb::ChatMessage& m);

  /// Replaces the copy of an entry an edit or recall rewrote, if held.
  void rewrite(const pb::ChatMessage& changed);

  /// Adds the entries after `after_seq` (at most `limit`) to `out`, with
  /// has_more, if the tail holds all of them up to `durable_seq`; false (and
  /// `out` untouched) if storage must answer.
  bool read(uint64_t after_seq, uint32_t limit, uint64_t durable_seq, pb::HistoryOk* out) const;

private:
  size_t capacity_;
  std::deque<pb::ChatMessage> entries_;
};

} // namespace chorus
