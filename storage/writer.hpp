// The single writer of a store: group commit.
//
// Actors hand it write_batches and go on working; a dedicated thread takes
// everything that queued up while the previous write was in progress, applies it
// as one RocksDB WriteBatch with one WAL sync, and then runs each batch's
// callback. Under load one sync covers many messages; when idle a lone batch is
// written at once, so there is no added latency (unless
// `writer_options::commit_interval` asks to wait for more at moderate rates).
//
// Ordering: batches are applied in submission order, and callbacks run in that
// order too. A batch whose callback reported success is as durable as
// `writer_options::sync` promises.
//
// Failure: if a write fails, that group's callbacks get the error, and the writer
// refuses every later batch with the same error (a later success after a lost
// write could leave a gap in a conversation log). The node reports itself
// unhealthy and must be restarted.
#pragma once

#include "storage/store.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace chorus::storage {

struct writer_options {
  /// fsync the WAL for every group (the default, and what an ack promises).
  bool sync = true;
  /// At most this many batches go into one group.
  size_t max_group = 4096;
  /// A group commit starts at least this long after the previous one started,
  /// where the recent arrival rate expects at least one more batch before
  /// then (and fewer than max_group wait): between moderate load and
  /// saturation, fewer and larger groups, each sync's fixed cost shared by
  /// more messages. A batch after a quiet moment is written at once; at
  /// saturation a commit takes longer than this anyway. 0: off.
  std::chrono::microseconds commit_interval{0};
  /// Called on the writer thread after each group commit with the number of
  /// batches it held and how long it took (microseconds); may be empty.
  std::function<void(size_t batches, uint64_t micros)> on_group;
};

/// Counters a metrics page reads; updated by the writer thread only. Group
/// commits themselves are reported through writer_options::on_group.
struct writer_stats {
  std::atomic<uint64_t> failures{0};
};

class writer {
public:
  /// Called on the writer thread once the batch is durable, or failed. Must not
  /// block: typically it sends an actor message.
  using callback = std::function<void(const status&)>;

  writer(store& db, writer_options opts);

  /// Drains the queue, then stops the thread.
  ~writer();

  writer(const writer&) = delete;
  writer& operator=(const writer&) = delete;

  /// Queues a batch. Thread-safe; never waits for the disk. `done` may be empty.
  void submit(write_batch batch, callback done);

  /// Stops accepting batches, writes what is queued, joins the thread.
  void stop();

  /// False after a failed write.
  bool healthy() const noexcept { return healthy_.load(); }

  const writer_stats& stats() const noexcept { return stats_; }

private:
  struct pending {
    write_batch batch;
    callback done;
  };

  void run();

  store& db_;
  writer_options opts_;
  std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<pending> queue_;
  bool stopping_ = false;
  bool idle_ = false; ///< the writer waits for a first batch (submit wakes it)
  status broken_;
  std::atomic<bool> healthy_{true};
  writer_stats stats_;
  std::thread thread_;
};

} // namespace chorus::storage
