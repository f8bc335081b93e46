#include "storage/writer.hpp"

#include <chrono>
#include <pthread.h>

namespace chorus::storage {

writer::writer(store& db, writer_options opts) : db_(db), opts_(opts) {
  thread_ = std::thread{[this] {
    pthread_setname_np(pthread_self(), "chorus.writer");
    run();
  }};
}

writer::~writer() {
  stop();
}

void writer::submit(write_batch batch, callback done) {
  status refused;
  bool wake = false;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (stopping_) {
      refused = status::error("storage: writer stopped");
    } else if (!broken_.ok()) {
      refused = broken_;
    } else {
      queue_.push_back(pending{std::move(batch), std::move(done)});
      // While the writer waits out commit_interval, only a full group wakes it.
      wake = idle_ || queue_.size() == opts_.max_group;
    }
  }
  if (!refused.ok()) {
    if (done)
      done(refused);
    return;
  }
  if (wake)
    cv_.notify_one();
}

void writer::stop() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable())
    thread_.join();
}

void writer::run() {
  std::vector<pending> group;
  std::vector<const std::vector<write_op>*> ops;
  using clock = std::chrono::steady_clock;
  auto last_start = clock::time_point{};
  double batches_per_us = 0; // smoothed arrival rate, measured at each commit
  for (;;) {
    status broken;
    {
      std::unique_lock<std::mutex> lock{mtx_};
      idle_ = true;
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      idle_ = false;
      // Wait for the interval's end only where more batches are expected in
      // the rest of it than the one at hand: at low rates a lone batch is
      // written at once, as without an interval.
      if (opts_.commit_interval.count() > 0) {
        auto due = last_start + opts_.commit_interval;
        auto left = std::chrono::duration<double, std::micro>(due - clock::now()).count();
        if (left > 0 && batches_per_us * left >= 1.0)
          cv_.wait_until(lock, due,
                         [this] { return stopping_ || queue_.size() >= opts_.max_group; });
      }
      if (queue_.empty())
        return; // stopping, and everything queued is written
      if (queue_.size() <= opts_.max_group) {
        group.swap(queue_);
      } else {
        auto first = queue_.begin();
        auto last = first + static_cast<std::ptrdiff_t>(opts_.max_group);
        group.assign(std::make_move_iterator(first), std::make_move_iterator(last));
        queue_.erase(first, last);
      }
      broken = broken_;
    }
    ops.clear();
    for (auto& p : group)
      ops.push_back(&p.batch.ops());
    auto start = clock::now();
    if (opts_.commit_interval.count() > 0) {
      if (last_start != clock::time_point{}) {
        auto gap = std::chrono::duration<double, std::micro>(start - last_start).count();
        batches_per_us = 0.75 * batches_per_us + 0.25 * (static_cast<double>(group.size()) / gap);
      }
      last_start = start;
    }
    // Batches queued before a failure are refused too: writing them could leave
    // a gap behind the lost ones.
    auto result = broken.ok() ? db_.apply(ops.data(), ops.size(), opts_.sync) : broken;
    auto micros = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - start).count());
    if (opts_.on_group)
      opts_.on_group(group.size(), micros);
    if (!result.ok() && broken.ok()) {
      stats_.failures += 1;
      healthy_ = false;
      std::lock_guard<std::mutex> guard{mtx_};
      broken_ = result;
    }
    for (auto& p : group)
      if (p.done)
        p.done(result);
    group.clear();
  }
}

} // namespace chorus::storage
