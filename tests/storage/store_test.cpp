#include "storage/store.hpp"
#include "storage/writer.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <thread>
#include <unistd.h>

using namespace chorus;
using namespace chorus::storage;

namespace {

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    path = std::filesystem::temp_directory_path() /
           ("chorus-store-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path);
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
  static inline int counter = 0;
};

std::unique_ptr<store> open_store(const std::string& path) {
  std::unique_ptr<store> db;
  store_options opts;
  opts.path = path;
  auto s = store::open(opts, &db);
  REQUIRE(s.ok());
  return db;
}

pb::ChatMessage message(const std::string& conv, uint64_t seq, const std::string& sender) {
  pb::ChatMessage m;
  m.set_conversation_id(conv);
  m.set_seq(seq);
  m.set_sender(sender);
  m.set_content("{\"text\":\"m" + std::to_string(seq) + "\"}");
  return m;
}

write_batch message_batch(const std::string& conv, uint64_t seq) {
  write_batch b;
  b.put_message(message(conv, seq, "u"));
  return b;
}

uint64_t last_seq_of(store& db, const std::string& conv) {
  uint64_t last = 0;
  REQUIRE(db.last_seq(conv, &last).ok());
  return last;
}

void write_sync(writer& w, write_batch b) {
  std::promise<status> done;
  w.submit(std::move(b), [&](const status& s) { done.set_value(s); });
  REQUIRE(done.get_future().get().ok());
}

} // namespace

TEST_CASE("the writer group-commits concurrent batches and answers each once durable",
          "[storage]") {
  temp_dir dir;
  auto db = open_store(dir.path.string());
  uint64_t groups = 0, batches = 0; // counted on the writer thread, read after stop()
  writer_options opts;
  opts.on_group = [&](size_t n, uint64_t) {
    ++groups;
    batches += n;
  };
  writer w{*db, opts};
  constexpr int threads = 4;
  constexpr int per_thread = 500;
  std::atomic<int> acked{0};
  std::vector<std::thread> senders;
  for (int t = 0; t < threads; ++t)
    senders.emplace_back([&, t] {
      for (int i = 1; i <= per_thread; ++i) {
        write_batch b;
        b.put_message(message("g:t" + std::to_string(t), i, "u"));
        w.submit(std::move(b), [&](const status& s) {
          if (s.ok())
            ++acked;
        });
      }
    });
  for (auto& t : senders)
    t.join();
  w.stop();
  CHECK(acked == threads * per_thread);
  // Group commit: far fewer WAL writes than batches.
  CHECK(batches == threads * per_thread);
  CHECK(groups < batches);
  for (int t = 0; t < threads; ++t) {
    uint64_t last = 0;
    REQUIRE(db->last_seq("g:t" + std::to_string(t), &last).ok());
    CHECK(last == per_thread);
  }
}

TEST_CASE("range reads go forward from after_seq and backward from before_seq", "[storage]") {
  temp_dir dir;
  auto db = open_store(dir.path.string());
  writer w{*db, writer_options{}};
  write_batch b;
  for (uint64_t i = 1; i <= 20; ++i)
    b.put_message(message("g:r", i, i % 2 ? "a" : "b"));
  b.put_message(message("g:r2", 1, "a")); // a neighbour that must not leak in
  write_sync(w, std::move(b));

  std::vector<pb::ChatMessage> out;
  bool more = false;
  range_query q;
  q.after_seq = 5;
  q.limit = 5;
  REQUIRE(db->read_messages("g:r", q, &out, &more).ok());
  REQUIRE(out.size() == 5);
  CHECK(out.front().seq() == 6);
  CHECK(out.back().seq() == 10);
  CHECK(more);

  q = range_query{};
  q.before_seq = 4;
  q.limit = 10;
  q.newest_first = true;
  REQUIRE(db->read_messages("g:r", q, &out, &more).ok());
  REQUIRE(out.size() == 3);
  CHECK(out.front().seq() == 1);
  CHECK(out.back().seq() == 3);
  CHECK_FALSE(more);

  q = range_query{};
  q.newest_first = true;
  q.limit = 2;
  REQUIRE(db->read_messages("g:r", q, &out, &more).ok());
  REQUIRE(out.size() == 2);
  CHECK(out.back().seq() == 20);
  CHECK(more);

  uint64_t unread = 0;
  REQUIRE(db->count_unread("g:r", 10, "a", 1000, &unread).ok());
  CHECK(unread == 5); // seqs 12, 14, 16, 18, 20 were sent by b
  uint64_t scanned = 0;
  REQUIRE(db->count_unread("g:r", 10, "a", 3, &unread, &scanned).ok());
  CHECK(unread == 3);   // the count stops at its maximum
  CHECK(scanned == 16); // where it stopped
  REQUIRE(db->count_unread("g:r", 16, "a", 1000, &unread, &scanned).ok());
  CHECK(unread == 2); // the rest: 18 and 20
  CHECK(scanned == 20);
  REQUIRE(db->count_unread("g:r", 20, "a", 1000, &unread, &scanned).ok());
  CHECK(unread == 0);
  CHECK(scanned == 20); // nothing after it
  uint64_t last = 0;
  REQUIRE(db->last_seq("g:r2", &last).ok());
  CHECK(last == 1);
  REQUIRE(db->last_seq("g:none", &last).ok());
  CHECK(last == 0);
}

TEST_CASE("everything written comes back after the store is reopened", "[storage]") {
  temp_dir dir;
  {
    auto db = open_store(dir.path.string());
    writer w{*db, writer_options{}};
    write_batch b;
    b.put_message(message("d:a:b", 1, "a"));
    pb::DedupEntry d;
    d.set_seq(1);
    d.set_message_id("m1");
    d.set_expires(INT64_MAX);
    b.put_dedup("d:a:b", "a", "c1", d);
    pb::InboxEntry e;
    e.set_delivered_seq(1);
    e.set_read_seq(1);
    b.put_inbox("b", "d:a:b", e);
    b.put_inbox("a", "d:a:b", pb::InboxEntry{});
    pb::ConversationRecord r;
    r.set_epoch(42);
    r.add_members("a");
    r.add_members("b");
    b.put_conversation("d:a:b", r);
    write_sync(w, std::move(b));
  }
  auto db = open_store(dir.path.string());
  uint64_t last = 0;
  REQUIRE(db->last_seq("d:a:b", &last).ok());
  CHECK(last == 1);
  pb::DedupEntry d;
  bool found = false;
  REQUIRE(db->get_dedup("d:a:b", "a", "c1", &d, &found).ok());
  CHECK(found);
  CHECK(d.message_id() == "m1");
  std::vector<std::pair<std::string, pb::InboxEntry>> inbox;
  REQUIRE(db->load_inbox("b", &inbox).ok());
  REQUIRE(inbox.size() == 1);
  CHECK(inbox[0].first == "d:a:b");
  CHECK(inbox[0].second.read_seq() == 1);
  pb::ConversationRecord r;
  REQUIRE(db->get_conversation("d:a:b", &r, &found).ok());
  CHECK(found);
  CHECK(r.epoch() == 42);
}

TEST_CASE("a WAL file's reserved space counts in its size and a crash copy replays every write",
          "[storage]") {
  temp_dir dir;
  temp_dir crashed;
  auto db = open_store(dir.path.string());
  writer w{*db, writer_options{}};
  for (uint64_t seq = 1; seq <= 200; ++seq)
    write_sync(w, message_batch("d:a:b", seq));
  // Far more than the 200 small records written: the size is the space
  // reserved ahead, so a sync need not update it.
  uintmax_t wal_bytes = 0;
  for (const auto& f : std::filesystem::directory_iterator{dir.path})
    if (f.path().extension() == ".log")
      wal_bytes += f.file_size();
  CHECK(wal_bytes >= (1u << 20));
  // The files as a crash leaves them: the store still open, the WAL not cut
  // to what it holds, zeros after its last record.
  std::filesystem::copy(dir.path, crashed.path, std::filesystem::copy_options::recursive);
  auto reopened = open_store(crashed.path.string());
  CHECK(last_seq_of(*reopened, "d:a:b") == 200);
  bool found = false;
  pb::ChatMessage m;
  REQUIRE(reopened->get_message("d:a:b", 137, &m, &found).ok());
  CHECK(found);
  CHECK(m.content() == "{\"text\":\"m137\"}");
}

TEST_CASE("expired dedup entries are not found", "[storage]") {
  temp_dir dir;
  auto db = open_store(dir.path.string());
  writer w{*db, writer_options{}};
  write_batch b;
  pb::DedupEntry d;
  d.set_seq(3);
  d.set_expires(1); // long ago
  b.put_dedup("g:x", "u", "old", d);
  write_sync(w, std::move(b));
  bool found = true;
  REQUIRE(db->get_dedup("g:x", "u", "old", &d, &found).ok());
  CHECK_FALSE(found);
}

TEST_CASE("with a commit interval a lone batch is written at once and a busy queue waits for "
          "the interval's end",
          "[storage]") {
  temp_dir dir;
  auto db = open_store(dir.path.string());
  std::vector<size_t> groups; // written on the writer thread, read after stop()
  writer_options opts;
  opts.commit_interval = std::chrono::seconds{1};
  opts.on_group = [&](size_t n, uint64_t) { groups.push_back(n); };
  writer w{*db, opts};
  auto batch = [](uint64_t seq) { return message_batch("g:iv", seq); };
  // An idle writer does not wait: were it to wait out the interval, the two
  // writes would take two seconds.
  auto start = std::chrono::steady_clock::now();
  write_sync(w, batch(1));
  write_sync(w, batch(2));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds{900});
  // Two commits a few milliseconds apart: batches arrive faster than one per
  // interval, so the next commit waits for the interval's end, and batches
  // that queue meanwhile join it (without the wait each would be written
  // alone, long before the next comes).
  std::atomic<int> acked{0};
  for (uint64_t seq = 3; seq <= 5; ++seq) {
    w.submit(batch(seq), [&](const status& s) {
      if (s.ok())
        ++acked;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
  w.stop();
  CHECK(acked == 3);
  REQUIRE(groups.size() == 3);
  CHECK(groups[0] == 1);
  CHECK(groups[1] == 1);
  CHECK(groups[2] == 3);
  CHECK(last_seq_of(*db, "g:iv") == 5);
}

TEST_CASE("stopping a writer that waits out its commit interval writes what is queued at once",
          "[storage]") {
  temp_dir dir;
  auto db = open_store(dir.path.string());
  writer_options opts;
  opts.commit_interval = std::chrono::seconds{60};
  writer w{*db, opts};
  auto batch = [](uint64_t seq) { return message_batch("g:st", seq); };
  write_sync(w, batch(1));
  write_sync(w, batch(2));
  std::promise<status> done;
  w.submit(batch(3), [&](const status& s) { done.set_value(s); });
  auto start = std::chrono::steady_clock::now();
  w.stop();
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds{30});
  CHECK(done.get_future().get().ok());
  CHECK(last_seq_of(*db, "g:st") == 3);
}

TEST_CASE("a stopped writer refuses batches with an error instead of losing them silently",
          "[storage]") {
  temp_dir dir;
  auto db = open_store(dir.path.string());
  writer w{*db, writer_options{}};
  w.stop();
  std::promise<status> done;
  w.submit(message_batch("g:x", 1), [&](const status& s) { done.set_value(s); });
  CHECK_FALSE(done.get_future().get().ok());
}

TEST_CASE("a group keeps the order of the operations on one key", "[storage]") {
  temp_dir dir;
  auto db = open_store(dir.path.string());
  // The group's operations are applied in key order (store::apply); for one
  // key the last one written must still win, whichever batch it came in.
  pb::InboxEntry first, second;
  first.set_read_seq(1);
  second.set_read_seq(2);
  write_batch a, b, c;
  a.put_inbox("bob", "d:alice:bob", first);
  a.put_inbox("alice", "d:alice:bob", first);
  b.put_inbox("bob", "d:alice:bob", second); // a later value for the same key
  b.put_inbox("alice", "d:alice:zed", second);
  b.erase_inbox("alice", "d:alice:bob");
  c.put_inbox("alice", "d:alice:zed", first); // and back
  const std::vector<write_op>* group[] = {&a.ops(), &b.ops(), &c.ops()};
  REQUIRE(db->apply(group, 3, false).ok());

  std::vector<std::pair<std::string, pb::InboxEntry>> bob, alice;
  REQUIRE(db->load_inbox("bob", &bob).ok());
  REQUIRE(db->load_inbox("alice", &alice).ok());
  REQUIRE(bob.size() == 1);
  CHECK(bob[0].second.read_seq() == 2);
  REQUIRE(alice.size() == 1);
  CHECK(alice[0].first == "d:alice:zed");
  CHECK(alice[0].second.read_seq() == 1);
}

TEST_CASE("the log ends of many conversations agree with last_seq one at a time", "[storage]") {
  temp_dir dir;
  auto db = open_store(dir.path.string());
  // Neighbouring ids ("a" and "a0", "b" empty between them) and some
  // conversations only in SST files, some only in the memtable.
  std::vector<std::string> ids{"a", "a0", "b", "c", "d:alice:bob", "d:alice:bob2", "z"};
  auto write = [&](const std::string& id, uint64_t from, uint64_t to) {
    write_batch b;
    for (uint64_t s = from; s <= to; ++s)
      b.put_message(message(id, s, "alice"));
    const std::vector<write_op>* group[] = {&b.ops()};
    REQUIRE(db->apply(group, 1, false).ok());
  };
  write("a", 1, 3);
  write("a0", 1, 300);
  write("d:alice:bob", 1, 2);
  REQUIRE(db->flush().ok());
  write("a", 4, 5);
  write("d:alice:bob2", 1, 7);
  write("z", 1, 1);

  std::vector<std::string_view> convs(ids.begin(), ids.end());
  convs.push_back("a"); // asked twice
  std::vector<log_end> ends;
  REQUIRE(db->log_ends(convs, 0, &ends).ok());
  REQUIRE(ends.size() == convs.size());
  std::vector<uint64_t> last;
  for (const auto& e : ends) {
    last.push_back(e.last_seq);
    CHECK_FALSE(e.newest_message); // not asked for
  }
  std::vector<uint64_t> expected{5, 300, 0, 0, 2, 7, 1, 5};
  CHECK(last == expected);
  for (size_t i = 0; i < convs.size(); ++i) {
    uint64_t one = 99;
    REQUIRE(db->last_seq(convs[i], &one).ok());
    CHECK(one == last[i]);
  }
}

TEST_CASE("newest messages skip edits and recalls, as far back as asked", "[storage]") {
  temp_dir dir;
  auto db = open_store(dir.path.string());
  auto write = [&](const std::string& id, uint64_t from, uint64_t to, pb::MessageKind kind) {
    write_batch b;
    for (uint64_t s = from; s <= to; ++s) {
      auto m = message(id, s, "alice");
      m.set_kind(kind);
      b.put_message(m);
    }
    const std::vector<write_op>* group[] = {&b.ops()};
    REQUIRE(db->apply(group, 1, false).ok());
  };
  write("a", 1, 3, pb::MESSAGE);
  write("a", 4, 5, pb::EDIT); // the newest message is 3
  write("a0", 1, 1, pb::MESSAGE);
  write("a0", 2, 20, pb::RECALL); // 19 entries after the message
  REQUIRE(db->flush().ok());
  write("c", 1, 2, pb::MESSAGE);
  write("c", 3, 3, pb::RECALL);

  std::vector<std::string_view> convs{"a", "a0", "b", "c"};
  std::vector<log_end> ends;
  REQUIRE(db->log_ends(convs, 16, &ends).ok());
  REQUIRE(ends.size() == 4);
  CHECK(ends[0].last_seq == 5);
  REQUIRE(ends[0].newest_message);
  CHECK(ends[0].newest_message->seq() == 3);
  CHECK(ends[0].newest_message->conversation_id() == "a");
  CHECK(ends[1].last_seq == 20);
  CHECK_FALSE(ends[1].newest_message); // its message is 19 entries back
  CHECK(ends[2].last_seq == 0);
  CHECK_FALSE(ends[2].newest_message); // no entries
  CHECK(ends[3].last_seq == 3);
  REQUIRE(ends[3].newest_message);
  CHECK(ends[3].newest_message->seq() == 2);

  REQUIRE(db->log_ends(convs, 20, &ends).ok());
  REQUIRE(ends[1].newest_message);
  CHECK(ends[1].newest_message->seq() == 1);
  REQUIRE(db->log_ends(convs, 1, &ends).ok());
  CHECK_FALSE(ends[0].newest_message); // the last entry alone is an edit
  CHECK_FALSE(ends[3].newest_message);
  CHECK(ends[3].last_seq == 3);
}
