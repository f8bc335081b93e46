// The sends a conversation remembers, so that a resend of the same (sender,
// client_msg_id) gets the first one's reply again without a storage read:
// every send while it is in flight (a resend then waits for it), and the
// newest durable ones up to a capacity. Older sends are found in the dedup
// column family.
//
// A remembered send is its seq, timestamp and message id; the reply is
// rebuilt from them, the key and the conversation's id, so a busy
// conversation's memory is a few dozen bytes per send.
#pragma once

#include "proto/chorus.pb.h"

#include <caf/response_promise.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace chorus {

struct dedup_slot {
  uint64_t seq = 0;
  int64_t timestamp = 0;
  std::string message_id;
  bool durable = false;
  std::vector<caf::response_promise> waiters; ///< resends waiting for durability
};

class recent_sends {
public:
  /// "sender \0 client_msg_id" and its slot.
  using entry = std::pair<const std::string, dedup_slot>;

  /// The key of a send. User ids contain no NUL.
  static std::string key(const std::string& sender, const std::string& client_msg_id);

  /// The remembered send `key`, or null.
  entry* find(const std::string& key);

  /// Remembers a send, then forgets the oldest durable ones beyond
  /// `capacity` (in-flight ones stay). True if any was forgotten.
  bool remember(const std::string& key, uint64_t seq, const std::string& message_id,
                int64_t timestamp, bool durable, size_t capacity);

  /// Forgets `key` (its write failed).
  void erase(const std::string& key);

  /// The reply a remembered send gets again.
  static pb::SendOk reply(const std::string& conversation_id, const entry& e);

private:
  std::unordered_map<std::string, dedup_slot> slots_;
  std::vector<std::string> order_; ///< oldest first, from head_ on
  size_t head_ = 0;
};

} // namespace chorus
