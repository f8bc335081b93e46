// The node's threads: one pool runs both the sockets and the actors.
//
// A message crosses the network thread (its frame is read), three or four
// actors (connection, conversation, user), the storage writer, and the network
// thread again (the reply and the push are written). With CAF's own scheduler
// the actors run on worker threads of their own, so every hop between the
// sockets and the actors is a thread hand-over: a wake-up and a context switch,
// which on a virtual machine costs tens of microseconds and was the largest
// single cost per message at moderate rates (docs/benchmarks.md).
//
// Here the actors run on the asio threads that serve the sockets: CAF hands
// each runnable actor to the pool as an asio handler. A frame read on a pool
// thread is handled by its actors on that thread, and the reply goes to the
// socket from it, without a hand-over; only the storage writer (which waits
// on the disk) and CAF's clock thread stay apart.
//
// The price: a handler that blocks (a cold storage read) delays the sockets
// served by its thread as well as the actors. With one thread per core, as
// by default, the core would be busy with that read either way.
//
// Lifetime: the pool is started before the actor system is built (the
// scheduler needs it). It stops once the node has stopped, i.e. after every
// actor of the node has finished and before the node's parts that sessions
// still refer to are gone; what CAF runs while the system itself shuts down
// then runs on the thread that wakes it.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <caf/fwd.hpp>

#include <atomic>
#include <optional>
#include <thread>
#include <vector>

namespace chorus::node {

class io_pool {
public:
  /// Starts `threads` threads (at least one) running the io_context.
  explicit io_pool(size_t threads);

  /// Stops and joins the threads.
  ~io_pool();

  io_pool(const io_pool&) = delete;
  io_pool& operator=(const io_pool&) = delete;

  boost::asio::io_context& context() noexcept { return ioc_; }

  /// Stops the io_context and joins the threads; idempotent. Handlers not
  /// run yet (of sockets still open) are destroyed with the pool.
  void stop();

  /// True from the start of stop(): actors woken since then run on the
  /// thread that wakes them.
  bool stopped() const noexcept { return stopped_.load(); }

private:
  std::atomic<bool> stopped_{false};
  boost::asio::io_context ioc_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
};

/// Makes the actor system built from `cfg` run its actors on `pool` instead
/// of CAF's worker threads. Call before the actor system is constructed.
void run_actors_on(caf::actor_system_config& cfg, io_pool& pool);

} // namespace chorus::node
