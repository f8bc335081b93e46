#include "node/threads.hpp"

#include <boost/asio/post.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/detail/set_thread_name.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>
#include <caf/execution_unit.hpp>
#include <caf/logger.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>
#include <caf/settings.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <pthread.h>

namespace chorus::node {

// -- io_pool -------------------------------------------------------------------

io_pool::io_pool(size_t threads) : work_(std::in_place, ioc_.get_executor()) {
  for (size_t n = 0; n < std::max<size_t>(1, threads); ++n)
    threads_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "chorus.io");
      ioc_.run();
    });
}

io_pool::~io_pool() {
  stop();
}

void io_pool::stop() {
  work_.reset();
  ioc_.stop(); // sockets still open would keep it running
  for (auto& t : threads_)
    t.join();
  threads_.clear();
}

// -- the scheduler ---------------------------------------------------------------

namespace {

/// CAF's scheduler interface over an io_pool. CAF calls `enqueue` when an
/// actor that was idle gets a message (from any thread), and an actor running
/// on a pool thread hands the actors it wakes to `exec_later`; both post the
/// actor to the pool, whose threads resume it between socket events.
class pool_coordinator final : public caf::scheduler::abstract_coordinator {
public:
  pool_coordinator(caf::actor_system& sys, io_pool& pool)
    : abstract_coordinator(sys), pool_(pool), unit_(&sys, this) {}

  void enqueue(caf::resumable* job) override { post(job); }

  caf::detail::thread_safe_actor_clock& clock() noexcept override { return clock_; }

protected:
  void start() override {
    // Timeouts and delayed messages, as in CAF's own coordinators.
    timer_ = std::thread{[this] {
      caf::detail::set_thread_name("caf.clock");
      system().thread_started();
      clock_.run_dispatch_loop();
      system().thread_terminates();
    }};
    abstract_coordinator::start();
  }

  void stop() override {
    stop_actors();
    // Every actor has finished (the system waited for them); let the pool run
    // what is still queued for them, so that no job outlives the system.
    while (queued_.load(std::memory_order_acquire) > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
    release_threads();
    clock_.cancel_dispatch_loop();
    timer_.join();
  }

private:
  /// A thread that spawned an actor keeps a reference to the system's logger
  /// (thread-local, set by CAF's spawn), and the system's destructor waits
  /// until the logger is gone. CAF's workers drop theirs when they exit; the
  /// pool's threads outlive the system, so each drops it here. Every thread
  /// takes one of these tasks: each waits until all have started.
  void release_threads() {
    struct barrier {
      std::mutex mtx;
      std::condition_variable cv;
      size_t arrived = 0;
    };
    auto b = std::make_shared<barrier>();
    auto n = pool_.size();
    for (size_t i = 0; i < n; ++i)
      boost::asio::post(pool_.context(), [b, n] {
        caf::logger::set_current_actor_system(nullptr);
        std::unique_lock<std::mutex> guard{b->mtx};
        b->arrived += 1;
        b->cv.notify_all();
        b->cv.wait(guard, [&] { return b->arrived == n; });
      });
    std::unique_lock<std::mutex> guard{b->mtx};
    b->cv.wait(guard, [&] { return b->arrived == n; });
  }

  /// What runs the actors on a pool thread: CAF passes it to `resume`, and an
  /// actor that wakes another one hands it over with `exec_later`.
  class unit final : public caf::execution_unit {
  public:
    unit(caf::actor_system* sys, pool_coordinator* owner)
      : caf::execution_unit(sys), owner_(owner) {}
    void exec_later(caf::resumable* job) override { owner_->post(job); }

  private:
    pool_coordinator* owner_;
  };

  /// Takes over the reference CAF passes with `job`.
  void post(caf::resumable* job) {
    queued_.fetch_add(1, std::memory_order_relaxed);
    boost::asio::post(pool_.context(), [this, job] { run(job); });
  }

  void run(caf::resumable* job) {
    switch (job->resume(&unit_, max_throughput())) {
    case caf::resumable::resume_later: // its mailbox is not empty yet
      post(job);
      break;
    case caf::resumable::done:
    case caf::resumable::awaiting_message: intrusive_ptr_release(job); break;
    case caf::resumable::shutdown_execution_unit:
      break; // sent only by CAF's own coordinators to their workers
    }
    queued_.fetch_sub(1, std::memory_order_release);
  }

  io_pool& pool_;
  unit unit_;
  std::atomic<size_t> queued_{0}; ///< posted and not yet finished
  caf::detail::thread_safe_actor_clock clock_;
  std::thread timer_;
};

} // namespace

void run_actors_on(caf::actor_system_config& cfg, io_pool& pool) {
  // An actor with a long mailbox yields its thread after this many messages,
  // so that the sockets and other actors on it are not held up (CAF's default
  // is no limit). Set scheduler.max-throughput to override.
  if (caf::get_if(&cfg.content, "scheduler.max-throughput") == nullptr)
    caf::put(cfg.content, "scheduler.max-throughput", size_t{64});
  cfg.module_factories.push_back([&pool](caf::actor_system& sys) -> caf::actor_system::module* {
    return new pool_coordinator(sys, pool);
  });
}

} // namespace chorus::node
