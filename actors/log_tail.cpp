#include "actors/log_tail.hpp"

#include <algorithm>

namespace chorus {

void log_tail::append(const pb::ChatMessage& m) {
  pulls_.clear();
  if (!entries_.empty() && entries_.back().seq() + 1 != m.seq())
    entries_.clear();
  entries_.push_back(m);
  while (entries_.size() > capacity_)
    entries_.pop_front();
}

void log_tail::rewrite(const pb::ChatMessage& changed) {
  pulls_.clear();
  if (entries_.empty())
    return;
  auto first = entries_.front().seq();
  if (changed.seq() >= first && changed.seq() - first < entries_.size())
    entries_[changed.seq() - first] = changed;
}

shared_reply_ptr log_tail::pull(uint64_t after_seq, uint32_t limit, uint64_t durable_seq) {
  if (entries_.empty() || entries_.back().seq() != durable_seq)
    return nullptr;
  auto first = entries_.front().seq();
  if (after_seq + 1 < first)
    return nullptr; // older entries are only in storage
  for (const auto& p : pulls_)
    if (p.after_seq == after_seq && p.limit == limit)
      return p.reply;
  pb::Frame f;
  f.set_type("history.ok");
  auto* out = f.mutable_history_ok();
  size_t from = std::min<uint64_t>(after_seq + 1 - first, entries_.size());
  size_t to = std::min<size_t>(from + limit, entries_.size());
  for (size_t i = from; i < to; ++i)
    *out->add_messages() = entries_[i];
  out->set_has_more(to < entries_.size());
  auto reply = std::make_shared<const shared_reply>(std::move(f));
  if (pulls_.size() == max_pulls)
    pulls_.clear();
  pulls_.push_back({after_seq, limit, reply});
  return reply;
}

} // namespace chorus
