#include "actors/recent_sends.hpp"

#include <cassert>
#include <functional>
#include <string_view>

namespace chorus {

std::string recent_sends::key(const std::string& sender, const std::string& client_msg_id) {
  std::string k;
  k.reserve(sender.size() + 1 + client_msg_id.size());
  k += sender;
  k.push_back('\0');
  k += client_msg_id;
  return k;
}

uint64_t recent_sends::hash(const std::string& key) {
  auto h = static_cast<uint64_t>(std::hash<std::string_view>{}(key));
  return h == 0 ? 1 : h; // 0 marks an erased place
}

recent_sends::entry* recent_sends::find(const std::string& key) {
  auto h = hash(key);
  // Newest first: a send's completion and a client's quick resend look for
  // one of the last few.
  for (size_t i = hashes_.size(); i-- > head_;)
    if (hashes_[i] == h && sends_[i].key == key)
      return &sends_[i];
  return nullptr;
}

bool recent_sends::remember(std::string key, uint64_t seq, const std::string& message_id,
                            int64_t timestamp, bool durable, size_t capacity) {
  assert(find(key) == nullptr);
  // Room for the new send first, so that it is never the one forgotten. Each
  // older send is visited at most once: one in flight goes to the back and
  // stays (the count may exceed the capacity until it is durable).
  bool forgot = false;
  for (size_t budget = sends_.size() - head_; live_ >= capacity && budget > 0; --budget) {
    size_t oldest = head_++;
    if (hashes_[oldest] == 0)
      continue; // erased
    auto h = hashes_[oldest];
    auto send = std::move(sends_[oldest]);
    hashes_[oldest] = 0;
    sends_[oldest] = recent_send{};
    if (send.durable) {
      --live_;
      forgot = true;
      continue;
    }
    make_room(); // may move the places from head_ on to the front
    hashes_.push_back(h);
    sends_.push_back(std::move(send));
  }
  make_room();
  hashes_.push_back(hash(key));
  sends_.push_back(recent_send{std::move(key), seq, timestamp, message_id, durable, {}});
  ++live_;
  return forgot;
}

void recent_sends::make_room() {
  if (sends_.size() < sends_.capacity())
    return;
  // Forgotten places at the front are reclaimed before the arrays grow, and
  // they grow by a quarter: a conversation at its capacity keeps about that
  // many places, not the next power of two.
  if (head_ > 0 && (head_ >= 32 || 2 * head_ >= sends_.size())) {
    auto n = static_cast<std::ptrdiff_t>(head_);
    // The moves cannot reallocate: the arrays only shrink.
    hashes_.erase(hashes_.begin(), hashes_.begin() + n);
    sends_.erase(sends_.begin(), sends_.begin() + n);
    head_ = 0;
    return;
  }
  auto n = sends_.size() + sends_.size() / 4 + 1;
  hashes_.reserve(n);
  sends_.reserve(n);
}

void recent_sends::erase(const std::string& key) {
  if (auto* e = find(key)) {
    hashes_[static_cast<size_t>(e - sends_.data())] = 0;
    *e = recent_send{};
    --live_;
  }
}

pb::SendOk recent_sends::reply(const std::string& conversation_id, const entry& e) {
  pb::SendOk ok;
  ok.set_client_msg_id(e.key.substr(e.key.find('\0') + 1));
  ok.set_conversation_id(conversation_id);
  ok.set_seq(e.seq);
  ok.set_message_id(e.message_id);
  ok.set_timestamp(e.timestamp);
  return ok;
}

} // namespace chorus
