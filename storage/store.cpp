#include "storage/store.hpp"

#include "storage/keys.hpp"

#include <rocksdb/compaction_filter.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/options_util.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>

namespace chorus::storage {

namespace {

const char* const column_names[column_count] = {"messages", "conversations", "inbox", "dedup",
                                                "users"};

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

/// Drops expired dedup entries when RocksDB compacts them.
class dedup_expiry final : public rocksdb::CompactionFilter {
public:
  bool Filter(int, const rocksdb::Slice&, const rocksdb::Slice& value, std::string*,
              bool*) const override {
    pb::DedupEntry e;
    if (!e.ParseFromArray(value.data(), static_cast<int>(value.size())))
      return false; // keep what we cannot read; never lose data silently
    return e.expires() != 0 && e.expires() < now_ms();
  }
  const char* Name() const override { return "chorus.dedup_expiry"; }
};

/// The file system RocksDB uses, except that a WAL file's preallocated space
/// counts in its size. RocksDB reserves a WAL's space ahead in steps of
/// about a memtable (fallocate); with the size kept at what was written,
/// every append grows it, and every fdatasync of a group commit then writes
/// the inode as well as the data (one more synchronous write on ext4). With
/// the size set by the reservation, a sync writes the inode only where its
/// data reaches a block not written before (the block turns from reserved to
/// written): one sync in two or three for the 1-2 KB groups of moderate load.
/// A file that a crash left behind ends in zeros after its last record,
/// which RocksDB's log reader skips as padding; a WAL closed normally is cut
/// to what it holds.
class wal_space_counted final : public rocksdb::FileSystemWrapper {
public:
  explicit wal_space_counted(const std::shared_ptr<rocksdb::FileSystem>& base)
    : FileSystemWrapper(base) {}
  const char* Name() const override { return "chorus.wal_space_counted"; }
  rocksdb::FileOptions OptimizeForLogWrite(const rocksdb::FileOptions& file_opts,
                                           const rocksdb::DBOptions& db_opts) const override {
    auto out = target()->OptimizeForLogWrite(file_opts, db_opts);
    out.fallocate_with_keep_size = false;
    return out;
  }
};

/// The first part of a key, up to and including its first NUL: the
/// conversation of a message or dedup key. RocksDB keeps one insert position
/// per such prefix in the memtable, so appending to a conversation's log
/// continues where its last entry went instead of searching the skiplist from
/// the top (that search was the largest single cost of the writer thread).
class first_part final : public rocksdb::SliceTransform {
public:
  const char* Name() const override { return "chorus.first_part"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    auto n = std::string_view{key.data(), key.size()}.find('\0');
    return {key.data(), n + 1};
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return std::string_view{key.data(), key.size()}.find('\0') != std::string_view::npos;
  }
};

template <class Proto>
void put_proto(std::vector<write_op>& ops, column cf, std::string key, const Proto& x) {
  ops.push_back(write_op{cf, std::move(key), x.SerializeAsString(), false});
}

rocksdb::Slice slice(std::string_view s) {
  return {s.data(), s.size()};
}

/// The first key after every key that starts with `prefix` ("id\0" -> "id\1").
std::string prefix_end(std::string prefix) {
  prefix.back() = '\1';
  return prefix;
}

/// An iterator over the keys in [lower, upper) of one column family. It owns
/// its bounds: RocksDB reads them through pointers while the iterator lives.
class range_iterator {
public:
  range_iterator(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, std::string lower,
                 std::string upper)
    : lower_(std::move(lower)), upper_(std::move(upper)), lower_slice_(lower_),
      upper_slice_(upper_) {
    rocksdb::ReadOptions ro;
    ro.iterate_lower_bound = &lower_slice_;
    ro.iterate_upper_bound = &upper_slice_;
    it_.reset(db->NewIterator(ro, cf));
  }
  range_iterator(const range_iterator&) = delete;
  range_iterator& operator=(const range_iterator&) = delete;

  rocksdb::Iterator* operator->() const { return it_.get(); }

private:
  std::string lower_;
  std::string upper_;
  rocksdb::Slice lower_slice_;
  rocksdb::Slice upper_slice_;
  std::unique_ptr<rocksdb::Iterator> it_; // destroyed before the bounds
};

} // namespace

status status::from(const rocksdb::Status& s) {
  if (s.ok())
    return {};
  return error("storage: " + s.ToString());
}

// -- write_batch ---------------------------------------------------------------

void write_batch::put_message(const pb::ChatMessage& m) {
  put_proto(ops_, column::messages, message_key(m.conversation_id(), m.seq()), m);
}

void write_batch::put_conversation(std::string_view id, const pb::ConversationRecord& r) {
  put_proto(ops_, column::conversations, std::string{id}, r);
}

void write_batch::put_inbox(std::string_view user, std::string_view conv, const pb::InboxEntry& e) {
  put_proto(ops_, column::inbox, inbox_key(user, conv), e);
}

void write_batch::erase_inbox(std::string_view user, std::string_view conv) {
  ops_.push_back(write_op{column::inbox, inbox_key(user, conv), {}, true});
}

void write_batch::put_dedup(std::string_view conv, std::string_view sender,
                            std::string_view client_msg_id, const pb::DedupEntry& e) {
  put_proto(ops_, column::dedup, dedup_key(conv, sender, client_msg_id), e);
}

void write_batch::put_user(std::string_view user, const pb::UserRecord& r) {
  put_proto(ops_, column::users, std::string{user}, r);
}

// -- store ---------------------------------------------------------------------

store::~store() {
  for (auto* h : cfs_)
    if (h != nullptr)
      db_->DestroyColumnFamilyHandle(h);
  delete db_; // after the handles, or RocksDB's assertions abort
}

status store::open(const store_options& opts, std::unique_ptr<store>* out) {
  rocksdb::Options db_opts;
  db_opts.create_if_missing = true;
  db_opts.create_missing_column_families = true;
  std::unique_ptr<rocksdb::Env> env =
      rocksdb::NewCompositeEnv(std::make_shared<wal_space_counted>(rocksdb::FileSystem::Default()));
  db_opts.env = env.get();
  db_opts.IncreaseParallelism(2);
  db_opts.max_open_files = 512;
  db_opts.keep_log_file_num = 4;
  // WAL files are not recycled: RocksDB 7.8 turns recycle_log_file_num off
  // under point-in-time recovery (the default, kept: replay stops at the
  // first damaged record, so a crash never leaves a hole in a log). Part of
  // what a recycled file saves, the file-size update in each sync, the file
  // system above (wal_space_counted) saves too.
  // Bound memtable memory: 16 MiB per column family, 64 MiB for all of them.
  db_opts.write_buffer_size = 16u << 20;
  db_opts.db_write_buffer_size = 64u << 20;
  // All column families flush together. A WAL file can go only when every
  // family has flushed what it holds, and the small families (users,
  // conversations) would otherwise fill their memtables rarely: the WAL grew
  // to 76 MB in 30 s of W1 (11 files, 1.3 s to replay after a crash), and up
  // to RocksDB's default bound, four times all memtables (640 MB). Flushed
  // together, one WAL generation is live (18 MB, 0.16 s to replay).
  db_opts.atomic_flush = true;

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(opts.block_cache_bytes);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));

  static dedup_expiry expiry; // stateless; RocksDB keeps a raw pointer to it
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  for (int i = 0; i < column_count; ++i) {
    rocksdb::ColumnFamilyOptions cf_opts{db_opts};
    cf_opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    // A bloom filter over the memtable's whole keys for the families read by
    // key, where lookups that miss (a new conversation's record, a new
    // client_msg_id) then skip the skiplist search. The messages and inbox
    // families are read by range; a bloom there is only work for every
    // insert. Sized for about 8 bits per entry in a full memtable: RocksDB
    // allocates and zeroes it on the writer thread whenever a memtable is
    // created, and at 5 % of the memtable (6.7 Mbit, over 200 bits per entry
    // when W1 flushes) the five of them made the write that switched
    // memtables take 17-20 ms instead of about 10.
    if (i == static_cast<int>(column::conversations) || i == static_cast<int>(column::dedup) ||
        i == static_cast<int>(column::users)) {
      cf_opts.memtable_whole_key_filtering = true;
      cf_opts.memtable_prefix_bloom_size_ratio = 0.01;
    }
    if (i == static_cast<int>(column::dedup))
      cf_opts.compaction_filter = &expiry;
    if (i == static_cast<int>(column::messages) || i == static_cast<int>(column::dedup))
      cf_opts.memtable_insert_with_hint_prefix_extractor = std::make_shared<first_part>();
    descs.emplace_back(column_names[i], cf_opts);
  }
  // RocksDB requires the default column family to be named on open.
  descs.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions{db_opts});

  std::unique_ptr<store> result{new store};
  result->opts_ = opts;
  result->env_ = std::move(env);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  auto s = rocksdb::DB::Open(db_opts, opts.path, descs, &handles, &result->db_);
  if (!s.ok())
    return status::from(s);
  // The default family's handle is not needed: release it now.
  result->db_->DestroyColumnFamilyHandle(handles.back());
  handles.pop_back();
  result->cfs_ = std::move(handles);
  *out = std::move(result);
  return {};
}

status store::get(column cf, std::string_view key, std::string* value, bool* found) const {
  auto s = db_->Get(rocksdb::ReadOptions{}, cfs_[static_cast<int>(cf)], slice(key), value);
  *found = s.ok();
  if (s.IsNotFound())
    return {};
  return status::from(s);
}

status store::get_conversation(std::string_view id, pb::ConversationRecord* out,
                               bool* found) const {
  std::string value;
  if (auto s = get(column::conversations, id, &value, found); !s.ok() || !*found)
    return s;
  if (!out->ParseFromString(value))
    return status::error("storage: corrupt conversation record");
  return {};
}

namespace {

/// Puts `it` (over the messages family, unbounded) on the conversation's last
/// entry; false if the conversation has none.
bool seek_to_last_entry(rocksdb::Iterator* it, const std::string& prefix) {
  auto end = prefix_end(prefix);
  // The last key before the next conversation's range (a key equal to `end`
  // would not be one of this conversation's messages).
  it->SeekForPrev(end);
  while (it->Valid() && it->key().compare(end) >= 0)
    it->Prev();
  return it->Valid() && it->key().starts_with(prefix);
}

} // namespace

status store::last_seq(std::string_view conv, uint64_t* out) const {
  std::vector<log_end> ends;
  auto s = log_ends({conv}, 0, &ends);
  *out = ends[0].last_seq;
  return s;
}

status store::log_ends(const std::vector<std::string_view>& convs, uint32_t look_back,
                       std::vector<log_end>* out) const {
  out->assign(convs.size(), log_end{});
  if (convs.empty())
    return {};
  std::unique_ptr<rocksdb::Iterator> it{
      db_->NewIterator(rocksdb::ReadOptions{}, cfs_[static_cast<int>(column::messages)])};
  for (size_t i = 0; i < convs.size(); ++i) {
    auto prefix = message_prefix(convs[i]);
    bool valid = seek_to_last_entry(it.get(), prefix);
    if (valid)
      (*out)[i].last_seq = seq_of_message_key(std::string_view{it->key().data(), it->key().size()});
    for (uint32_t n = 0; valid && n < look_back; ++n) {
      pb::ChatMessage m;
      auto value = it->value();
      if (!m.ParseFromArray(value.data(), static_cast<int>(value.size())))
        return status::error("storage: corrupt message");
      if (m.kind() == pb::MESSAGE) {
        (*out)[i].newest_message = std::move(m);
        break;
      }
      it->Prev();
      valid = it->Valid() && it->key().starts_with(prefix);
    }
    if (!it->status().ok())
      return status::from(it->status());
  }
  return {};
}

status store::get_message(std::string_view conv, uint64_t seq, pb::ChatMessage* out,
                          bool* found) const {
  std::string value;
  if (auto s = get(column::messages, message_key(conv, seq), &value, found); !s.ok() || !*found)
    return s;
  if (!out->ParseFromString(value))
    return status::error("storage: corrupt message");
  return {};
}

status store::read_messages(std::string_view conv, const range_query& q,
                            std::vector<pb::ChatMessage>* out, bool* has_more) const {
  out->clear();
  *has_more = false;
  range_iterator it{
      db_, cfs_[static_cast<int>(column::messages)], message_key(conv, q.after_seq + 1),
      q.before_seq != 0 ? message_key(conv, q.before_seq) : prefix_end(message_prefix(conv))};
  if (q.newest_first)
    it->SeekToLast();
  else
    it->SeekToFirst();
  for (; it->Valid(); q.newest_first ? it->Prev() : it->Next()) {
    if (out->size() == q.limit) {
      *has_more = true;
      break;
    }
    auto& m = out->emplace_back();
    if (!m.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())))
      return status::error("storage: corrupt message");
  }
  if (q.newest_first)
    std::reverse(out->begin(), out->end());
  return status::from(it->status());
}

status store::count_unread(std::string_view conv, uint64_t after_seq, std::string_view user,
                           uint64_t max, uint64_t* out, uint64_t* scanned_to) const {
  *out = 0;
  if (scanned_to != nullptr)
    *scanned_to = after_seq;
  range_iterator it{db_, cfs_[static_cast<int>(column::messages)], message_key(conv, after_seq + 1),
                    prefix_end(message_prefix(conv))};
  pb::ChatMessage m;
  for (it->SeekToFirst(); it->Valid() && *out < max; it->Next()) {
    if (!m.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())))
      return status::error("storage: corrupt message");
    if (m.kind() == pb::MESSAGE && !m.recalled() && m.sender() != user)
      ++*out;
    if (scanned_to != nullptr)
      *scanned_to = m.seq();
  }
  return status::from(it->status());
}

status store::get_dedup(std::string_view conv, std::string_view sender,
                        std::string_view client_msg_id, pb::DedupEntry* out, bool* found) const {
  std::string value;
  if (auto s = get(column::dedup, dedup_key(conv, sender, client_msg_id), &value, found);
      !s.ok() || !*found)
    return s;
  if (!out->ParseFromString(value))
    return status::error("storage: corrupt dedup entry");
  if (out->expires() != 0 && out->expires() < now_ms())
    *found = false;
  return {};
}

status store::load_inbox(std::string_view user,
                         std::vector<std::pair<std::string, pb::InboxEntry>>* out) const {
  out->clear();
  auto prefix = inbox_prefix(user);
  range_iterator it{db_, cfs_[static_cast<int>(column::inbox)], prefix, prefix_end(prefix)};
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto& [conv, entry] = out->emplace_back();
    conv = std::string{conversation_of_inbox_key({it->key().data(), it->key().size()})};
    if (!entry.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())))
      return status::error("storage: corrupt inbox entry");
  }
  return status::from(it->status());
}

status store::get_user(std::string_view user, pb::UserRecord* out, bool* found) const {
  std::string value;
  if (auto s = get(column::users, user, &value, found); !s.ok() || !*found)
    return s;
  if (!out->ParseFromString(value))
    return status::error("storage: corrupt user record");
  return {};
}

status store::apply(const std::vector<write_op>* const* batches, size_t count, bool sync) {
  // Sized up front: a group of a few hundred messages is hundreds of KB, and
  // growing the batch's buffer by doubling reallocated and copied it a dozen
  // times per group.
  size_t bytes = 64;
  std::vector<const write_op*> ops;
  for (size_t i = 0; i < count; ++i)
    for (const auto& op : *batches[i]) {
      bytes += op.key.size() + op.value.size() + 16; // tag, family id, two lengths
      ops.push_back(&op);
    }
  // In key order within each family. A memtable insert starts its search
  // from where the previous one into that memtable ended and goes only as
  // high in the skiplist as the gap between the two keys needs; a group's
  // keys in arrival order (random conversations, random users) sent every
  // insert up from the top. The sort is stable: operations on one key keep
  // their order, and the others commute.
  std::stable_sort(ops.begin(), ops.end(), [](const write_op* a, const write_op* b) {
    return a->cf != b->cf ? a->cf < b->cf : a->key < b->key;
  });
  rocksdb::WriteBatch wb{bytes};
  for (const auto* op : ops) {
    auto* cf = cfs_[static_cast<int>(op->cf)];
    auto s = op->erase ? wb.Delete(cf, op->key) : wb.Put(cf, op->key, op->value);
    if (!s.ok())
      return status::from(s);
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  return status::from(db_->Write(wo, &wb));
}

status store::flush() {
  rocksdb::FlushOptions fo;
  fo.wait = true;
  return status::from(db_->Flush(fo, cfs_));
}

} // namespace chorus::storage
