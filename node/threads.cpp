#include "node/threads.hpp"

#include <boost/asio/post.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/detail/set_thread_name.hpp>
#include <caf/detail/simple_actor_clock.hpp>
#include <caf/execution_unit.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>
#include <caf/settings.hpp>

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <pthread.h>
#include <vector>

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
  if (stopped_.exchange(true))
    return;
  work_.reset();
  ioc_.stop(); // sockets still open would keep it running
  for (auto& t : threads_)
    t.join();
  threads_.clear();
}

// -- the scheduler ---------------------------------------------------------------

namespace {

/// CAF's clock: timeouts and delayed messages, shipped by a thread of its
/// own when they are due.
///
/// CAF's thread-safe clock hands every new timer and every cancellation to
/// that thread through a queue, and each hand-over wakes it: two context
/// switches on the node's one core for each delayed message (a device's idle
/// check, its auth deadline, a large group's signal window) and for each actor
/// that ends, whether or not it has a timer. Here the callers change the
/// schedule themselves, under a mutex, and wake the thread only for a timer
/// due before the moment it sleeps until, which a timer of seconds set among
/// thousands of others rarely is. Due events are taken out under the mutex
/// and shipped without it (an actor may run at once on this thread once the
/// pool has stopped, and set a timer).
class pool_clock final : public caf::detail::simple_actor_clock {
public:
  using super = caf::detail::simple_actor_clock;

  void set_ordinary_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                            uint64_t id) override {
    std::lock_guard<std::mutex> guard{mtx_};
    super::set_ordinary_timeout(t, self, type, id);
    wake_for(t);
  }

  void set_multi_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                         uint64_t id) override {
    std::lock_guard<std::mutex> guard{mtx_};
    super::set_multi_timeout(t, self, type, id);
    wake_for(t);
  }

  void set_request_timeout(time_point t, caf::abstract_actor* self, caf::message_id id) override {
    std::lock_guard<std::mutex> guard{mtx_};
    super::set_request_timeout(t, self, id);
    wake_for(t);
  }

  void schedule_message(time_point t, caf::strong_actor_ptr receiver,
                        caf::mailbox_element_ptr content) override {
    std::lock_guard<std::mutex> guard{mtx_};
    super::schedule_message(t, std::move(receiver), std::move(content));
    wake_for(t);
  }

  void schedule_message(time_point t, caf::group target, caf::strong_actor_ptr sender,
                        caf::message content) override {
    std::lock_guard<std::mutex> guard{mtx_};
    super::schedule_message(t, std::move(target), std::move(sender), std::move(content));
    wake_for(t);
  }

  // A cancelled timer needs no wake-up: the thread finds nothing due.
  void cancel_ordinary_timeout(caf::abstract_actor* self, caf::atom_value type) override {
    std::lock_guard<std::mutex> guard{mtx_};
    super::cancel_ordinary_timeout(self, type);
  }

  void cancel_request_timeout(caf::abstract_actor* self, caf::message_id id) override {
    std::lock_guard<std::mutex> guard{mtx_};
    super::cancel_request_timeout(self, id);
  }

  void cancel_timeouts(caf::abstract_actor* self) override {
    std::lock_guard<std::mutex> guard{mtx_};
    super::cancel_timeouts(self);
  }

  void cancel_all() override {
    std::lock_guard<std::mutex> guard{mtx_};
    super::cancel_all();
  }

  /// Ships what is due, sleeps until the next event, until cancelled.
  void run_dispatch_loop() {
    std::vector<std::unique_ptr<delayed_event>> due;
    std::unique_lock<std::mutex> lock{mtx_};
    while (!done_) {
      auto now = this->now();
      while (!schedule_.empty() && schedule_.begin()->first <= now) {
        auto event = std::move(schedule_.begin()->second);
        if (event->backlink != actor_lookup_.end()) // a cancellable timeout
          actor_lookup_.erase(event->backlink);
        schedule_.erase(schedule_.begin());
        due.push_back(std::move(event));
      }
      if (!due.empty()) {
        lock.unlock();
        for (auto& event : due)
          ship(*event);
        due.clear();
        lock.lock();
        continue; // time passed while shipping
      }
      if (schedule_.empty()) {
        sleeps_until_ = time_point::max();
        cv_.wait(lock);
      } else {
        sleeps_until_ = schedule_.begin()->first;
        cv_.wait_until(lock, sleeps_until_);
      }
      sleeps_until_ = time_point::min(); // awake: looks at the schedule again
    }
    schedule_.clear();
    actor_lookup_.clear();
  }

  void cancel_dispatch_loop() {
    std::lock_guard<std::mutex> guard{mtx_};
    done_ = true;
    cv_.notify_one();
  }

private:
  /// Called with the mutex held, after adding an event due at `t`.
  void wake_for(time_point t) {
    if (t < sleeps_until_) {
      sleeps_until_ = time_point::min();
      cv_.notify_one();
    }
  }

  std::mutex mtx_;
  std::condition_variable cv_;
  time_point sleeps_until_ = time_point::min();
  bool done_ = false;
};

/// CAF's scheduler interface over an io_pool. CAF calls `enqueue` when an
/// actor that was idle gets a message (from any thread), and an actor running
/// on a pool thread hands the actors it wakes to `exec_later`; both post the
/// actor to the pool, whose threads resume it between socket events. Once the
/// pool has stopped (the node is down; the actor system is ending), an actor
/// runs at once on the thread that wakes it.
class pool_coordinator final : public caf::scheduler::abstract_coordinator {
public:
  pool_coordinator(caf::actor_system& sys, io_pool& pool)
    : abstract_coordinator(sys), pool_(pool), unit_(&sys, this) {}

  void enqueue(caf::resumable* job) override { post(job); }

  caf::actor_clock& clock() noexcept override { return clock_; }

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
    // Every actor of the node has finished (the system waited for them).
    // Joining the pool's threads also drops the logger reference CAF's spawn
    // leaves in each of them, which the system's destructor waits for. What
    // CAF still runs while it shuts down (its own actors) runs inline.
    pool_.stop();
    stop_actors();
    clock_.cancel_dispatch_loop();
    timer_.join();
  }

private:
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
    if (pool_.stopped())
      return run(job);
    boost::asio::post(pool_.context(), [this, job] { run(job); });
  }

  void run(caf::resumable* job) {
    for (;;) {
      switch (job->resume(&unit_, max_throughput())) {
      case caf::resumable::resume_later: // its mailbox is not empty yet
        if (pool_.stopped())
          continue;
        boost::asio::post(pool_.context(), [this, job] { run(job); });
        return;
      case caf::resumable::done:
      case caf::resumable::awaiting_message: intrusive_ptr_release(job); return;
      case caf::resumable::shutdown_execution_unit:
        return; // sent only by CAF's own coordinators to their workers
      }
    }
  }

  io_pool& pool_;
  unit unit_;
  pool_clock clock_;
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
