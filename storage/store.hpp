// The node's RocksDB store: one database, five column families
// (docs/storage-format.md). Reads are synchronous and thread-safe; every write
// goes through storage::writer, which group-commits them.
#pragma once

#include "proto/chorus.pb.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
class Env;
class Status;
} // namespace rocksdb

namespace chorus::storage {

/// The outcome of a storage call. RocksDB statuses are converted into this once,
/// here at the storage boundary.
class [[nodiscard]] status {
public:
  status() = default;
  static status error(std::string what) {
    status s;
    s.error_ = std::move(what);
    return s;
  }
  static status from(const rocksdb::Status& s);
  bool ok() const noexcept { return error_.empty(); }
  const std::string& what() const noexcept { return error_; }

private:
  std::string error_;
};

struct store_options {
  std::string path;
  /// Block cache for all column families.
  size_t block_cache_bytes = 64u << 20;
};

/// The column families. Do not reorder: index into store::cf().
enum class column : int {
  messages,      ///< conversation_id \0 seq   -> pb::ChatMessage
  conversations, ///< conversation_id           -> pb::ConversationRecord
  inbox,         ///< user_id \0 conversation_id -> pb::InboxEntry
  dedup,         ///< conv \0 sender \0 cmid    -> pb::DedupEntry
  users,         ///< user_id                   -> pb::UserRecord
};
inline constexpr int column_count = 5;

/// One write operation; a write_batch is applied atomically.
struct write_op {
  column cf;
  std::string key;
  std::string value; ///< ignored when `erase`
  bool erase = false;
};

/// Operations that storage::writer applies atomically, in order. Build one per
/// logical change (a message and its dedup entry, a membership change with its
/// inbox entries) so that a crash keeps all of it or none of it.
class write_batch {
public:
  void put_message(const pb::ChatMessage& m);
  void put_conversation(std::string_view id, const pb::ConversationRecord& r);
  void put_inbox(std::string_view user, std::string_view conv, const pb::InboxEntry& e);
  void erase_inbox(std::string_view user, std::string_view conv);
  void put_dedup(std::string_view conv, std::string_view sender, std::string_view client_msg_id,
                 const pb::DedupEntry& e);
  void put_user(std::string_view user, const pb::UserRecord& r);

  bool empty() const noexcept { return ops_.empty(); }
  size_t size() const noexcept { return ops_.size(); }
  std::vector<write_op>& ops() noexcept { return ops_; }

private:
  std::vector<write_op> ops_;
};

/// A range read of a conversation log.
struct range_query {
  uint64_t after_seq = 0;  ///< exclusive lower bound
  uint64_t before_seq = 0; ///< exclusive upper bound; 0 = none
  size_t limit = 50;
  bool newest_first = false; ///< take the `limit` entries nearest before_seq
};

/// The end of a conversation's log (store::log_ends).
struct log_end {
  uint64_t last_seq = 0;
  std::optional<pb::ChatMessage> newest_message;
};

class store {
public:
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  /// Opens (creating if missing) the database at `opts.path`.
  static status open(const store_options& opts, std::unique_ptr<store>* out);

  /// The conversation's record; `*found` false if it has none.
  status get_conversation(std::string_view id, pb::ConversationRecord* out, bool* found) const;

  /// The highest seq in the conversation's log, 0 if empty.
  status last_seq(std::string_view conv, uint64_t* out) const;

  /// Where each conversation's log ends: its last seq (0 if empty) and its
  /// newest entry of kind MESSAGE among its last `look_back` entries (edits
  /// and recalls skipped), in order, through one iterator. A user's first
  /// sync and first conversation list ask this of every conversation.
  status log_ends(const std::vector<std::string_view>& convs, uint32_t look_back,
                  std::vector<log_end>* out) const;

  /// One message by seq; `*found` false if absent.
  status get_message(std::string_view conv, uint64_t seq, pb::ChatMessage* out, bool* found) const;

  /// Messages in (after_seq, before_seq), always returned oldest first.
  /// `*has_more` tells whether more entries exist beyond the limit in the
  /// direction read.
  status read_messages(std::string_view conv, const range_query& q,
                       std::vector<pb::ChatMessage>* out, bool* has_more) const;

  /// Messages after `after_seq` of kind MESSAGE, not recalled, not sent by
  /// `user`, counted up to `max` (the scan stops there). `scanned_to`, if
  /// given, is set to the seq of the last entry the scan looked at
  /// (`after_seq` if none).
  status count_unread(std::string_view conv, uint64_t after_seq, std::string_view user,
                      uint64_t max, uint64_t* out, uint64_t* scanned_to = nullptr) const;

  /// A live (unexpired) dedup entry; `*found` false if absent or expired.
  status get_dedup(std::string_view conv, std::string_view sender, std::string_view client_msg_id,
                   pb::DedupEntry* out, bool* found) const;

  /// Every inbox entry of the user: the conversations it is in, with cursors.
  status load_inbox(std::string_view user,
                    std::vector<std::pair<std::string, pb::InboxEntry>>* out) const;

  status get_user(std::string_view user, pb::UserRecord* out, bool* found) const;

  /// Applies one batch. Only storage::writer calls this.
  status apply(const std::vector<write_op>* const* batches, size_t count, bool sync);

  /// Flushes memtables to disk (on shutdown).
  status flush();

  const store_options& options() const noexcept { return opts_; }

private:
  store() = default;
  status get(column cf, std::string_view key, std::string* value, bool* found) const;

  store_options opts_;
  std::unique_ptr<rocksdb::Env> env_; ///< outlives db_ (deleted in ~store)
  rocksdb::DB* db_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs_;
};

} // namespace chorus::storage
