#include "actors/log_tail.hpp"

#include <algorithm>

namespace chorus {

void log_tail::append(const pb::ChatMessage& m) {
  if (!entries_.empty() && entries_.back().seq() + 1 != m.seq())
    entries_.clear();
  entries_.push_back(m);
  while (entries_.size() > capacity_)
    entries_.pop_front();
}

void log_tail::rewrite(const pb::ChatMessage& changed) {
  if (entries_.empty())
    return;
  auto first = entries_.front().seq();
  if (changed.seq() >= first && changed.seq() - first < entries_.size())
    entries_[changed.seq() - first] = changed;
}

bool log_tail::read(uint64_t after_seq, uint32_t limit, uint64_t durable_seq,
                    pb::HistoryOk* out) const {
  if (entries_.empty() || entries_.back().seq() != durable_seq)
    return false;
  auto first = entries_.front().seq();
  if (after_seq + 1 < first)
    return false; // older entries are only in storage
  size_t from = std::min<uint64_t>(after_seq + 1 - first, entries_.size());
  size_t to = std::min<size_t>(from + limit, entries_.size());
  for (size_t i = from; i < to; ++i)
    *out->add_messages() = entries_[i];
  out->set_has_more(to < entries_.size());
  return true;
}

} // namespace chorus
