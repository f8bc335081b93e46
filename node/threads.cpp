#include "node/threads.hpp"

#include <boost/asio/post.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/detail/set_thread_name.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>
#include <caf/execution_unit.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>
#include <caf/settings.hpp>

#include <algorithm>
#include <mutex>
#include <pthread.h>
#include <unordered_set>

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

/// CAF's clock (timeouts and delayed messages run on a thread of their own),
/// told about an actor's end only if that actor has a timeout to cancel.
///
/// CAF cancels every ending actor's timeouts by queueing an event for the
/// clock's thread, which wakes it: on the node's core two context switches per
/// ended actor, much of the cost of passivating an idle conversation (about
/// 12 us each, a third of it on the clock's thread). Conversation and user actors
/// never set a cancellable timeout (their delayed messages are plain messages
/// the clock delivers), so for them there is nothing to cancel. Timeouts are
/// set and cancelled by the actor itself, on its own thread, so an actor's
/// entry cannot be added while its end removes it.
class quiet_clock final : public caf::detail::thread_safe_actor_clock {
public:
  using super = caf::detail::thread_safe_actor_clock;

  void set_ordinary_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                            uint64_t id) override {
    note(self);
    super::set_ordinary_timeout(t, self, type, id);
  }

  void set_request_timeout(time_point t, caf::abstract_actor* self, caf::message_id id) override {
    note(self);
    super::set_request_timeout(t, self, id);
  }

  void set_multi_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                         uint64_t id) override {
    note(self);
    super::set_multi_timeout(t, self, type, id);
  }

  void cancel_timeouts(caf::abstract_actor* self) override {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (timed_.erase(self->id()) == 0)
        return;
    }
    super::cancel_timeouts(self);
  }

private:
  void note(caf::abstract_actor* self) {
    std::lock_guard<std::mutex> guard{mtx_};
    timed_.insert(self->id());
  }

  std::mutex mtx_;
  std::unordered_set<caf::actor_id> timed_; ///< actors that set a cancellable timeout
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
  quiet_clock clock_;
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
