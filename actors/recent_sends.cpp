#include "actors/recent_sends.hpp"

namespace chorus {

std::string recent_sends::key(const std::string& sender, const std::string& client_msg_id) {
  std::string k;
  k.reserve(sender.size() + 1 + client_msg_id.size());
  k += sender;
  k.push_back('\0');
  k += client_msg_id;
  return k;
}

recent_sends::entry* recent_sends::find(const std::string& key) {
  auto i = slots_.find(key);
  return i == slots_.end() ? nullptr : &*i;
}

bool recent_sends::remember(const std::string& key, uint64_t seq, const std::string& message_id,
                            int64_t timestamp, bool durable, size_t capacity) {
  auto& slot = slots_[key];
  slot.seq = seq;
  slot.timestamp = timestamp;
  slot.message_id = message_id;
  slot.durable = durable;
  order_.push_back(key);
  bool forgot = false;
  for (size_t n = order_.size() - head_; n > capacity; --n) {
    auto oldest = std::move(order_[head_++]);
    auto i = slots_.find(oldest);
    if (i != slots_.end() && !i->second.durable) {
      order_.push_back(std::move(oldest)); // in flight: keep it
    } else if (i != slots_.end()) {
      slots_.erase(i);
      forgot = true;
    }
  }
  if (head_ > 0 && 2 * head_ >= order_.size()) {
    order_.erase(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
  return forgot;
}

void recent_sends::erase(const std::string& key) {
  slots_.erase(key); // its entry in order_ is skipped when it comes up
}

pb::SendOk recent_sends::reply(const std::string& conversation_id, const entry& e) {
  pb::SendOk ok;
  ok.set_client_msg_id(e.first.substr(e.first.find('\0') + 1));
  ok.set_conversation_id(conversation_id);
  ok.set_seq(e.second.seq);
  ok.set_message_id(e.second.message_id);
  ok.set_timestamp(e.second.timestamp);
  return ok;
}

} // namespace chorus
