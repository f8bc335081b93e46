// The sends a conversation remembers, so that a resend of the same (sender,
// client_msg_id) gets the first one's reply again without a storage read:
// every send while it is in flight (a resend then waits for it), and the
// newest durable ones up to a capacity. Older sends are found in the dedup
// column family.
//
// A remembered send is its seq, timestamp and message id; the reply is
// rebuilt from them, the key and the conversation's id, so a busy
// conversation keeps about 130 bytes per send (its place and its key).
#pragma once

#include "proto/chorus.pb.h"

#include <caf/response_promise.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace chorus {

/// One remembered send.
struct recent_send {
  std::string key; ///< "sender \0 client_msg_id"
  uint64_t seq = 0;
  int64_t timestamp = 0;
  std::string message_id;
  bool durable = false;
  std::vector<caf::response_promise> waiters; ///< resends waiting for durability
};

/// Kept in the order remembered, with each key's hash in an array of its own:
/// a lookup scans at most `capacity` hashes, contiguous in memory, instead of
/// chasing a hash table's buckets and nodes spread over the heap (a third of
/// the cost per send in a busy conversation, and a node, a bucket array and a
/// second copy of the key allocated for each).
class recent_sends {
public:
  using entry = recent_send;

  /// The key of a send. User ids contain no NUL.
  static std::string key(const std::string& sender, const std::string& client_msg_id);

  /// The remembered send `key`, or null. Valid until the next remember().
  entry* find(const std::string& key);

  /// Remembers a send that find() does not know, then forgets the oldest
  /// durable ones until at most `capacity` are remembered (in-flight ones
  /// stay, so there may be more while they are). True if any was forgotten.
  bool remember(std::string key, uint64_t seq, const std::string& message_id, int64_t timestamp,
                bool durable, size_t capacity);

  /// Forgets `key` (its write failed).
  void erase(const std::string& key);

  /// The reply a remembered send gets again.
  static pb::SendOk reply(const std::string& conversation_id, const entry& e);

private:
  static uint64_t hash(const std::string& key);
  void make_room(); ///< before a push_back: reclaims forgotten places or grows

  // Parallel arrays, oldest first from head_ on; a hash of 0 marks a send
  // that was erased (its place is skipped and reclaimed in order).
  std::vector<uint64_t> hashes_;
  std::vector<recent_send> sends_;
  size_t head_ = 0;
  size_t live_ = 0; ///< sends remembered and not erased or forgotten
};

} // namespace chorus
