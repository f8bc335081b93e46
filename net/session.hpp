// What the WebSocket and TCP sessions share: the bounded outgoing queue and
// the hand-over of decoded frames to the connection.
#pragma once

#include "actors/connection_actor.hpp"
#include "net/codec.hpp"
#include "net/server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/smart_ptr/intrusive_ptr.hpp>

#include <caf/actor.hpp>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>

namespace chorus::net {

/// The state the sessions of one server share. Reference-counted (by the
/// server and every session: an intrusive count costs a session no more than
/// a reference would), so that a session finishing after its server stopped
/// still finds it.
struct shared_env {
  caf::actor_system* sys = nullptr;
  context_ptr ctx;
  net_settings cfg;

  /// Opens the connection (and its actor) of a session and remembers it, so
  /// that a stopping server can end every connection.
  connection_ptr open_connection(const sink_ptr& sink, bool http);

  /// Tells a connection its socket is gone, and forgets it.
  void end_connection(const connection_ptr& conn);

  /// Ends every remembered connection (server shutdown).
  void end_all();

  friend void intrusive_ptr_add_ref(shared_env* e) noexcept {
    e->refs_.fetch_add(1, std::memory_order_relaxed);
  }
  friend void intrusive_ptr_release(shared_env* e) noexcept {
    if (e->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1)
      delete e;
  }

private:
  std::mutex mtx_;
  std::unordered_set<connection_ptr> live_;
  std::atomic<size_t> refs_{0};
};

using env_ptr = boost::intrusive_ptr<shared_env>;

/// Serves one accepted socket of the WebSocket/HTTP port.
void start_http_session(boost::asio::ip::tcp::socket socket, shared_env& env);

/// Serves one accepted socket of the raw TCP port.
void start_tcp_session(boost::asio::ip::tcp::socket socket, shared_env& env);

/// One queued outgoing frame: bytes owned here, or a shared push's encoding.
struct out_frame {
  std::string owned;
  push_ptr shared;
  bool binary = false;
  char header[4] = {0, 0, 0, 0}; ///< TCP length prefix

  const std::string& bytes() const {
    return shared ? (binary ? shared->binary() : shared->json()) : owned;
  }
};

/// A bounded queue of outgoing frames; only touched on the session's strand.
/// Its storage is allocated on first use and released when it drains: most
/// connections are idle, and an empty std::deque still holds ~600 bytes.
class outbox {
public:
  explicit outbox(size_t max_bytes) : max_bytes_(max_bytes) {}

  /// False if the frame does not fit: the client is not reading.
  bool push(out_frame f) {
    auto n = f.bytes().size();
    if (bytes_ + n > max_bytes_ && !empty())
      return false;
    if (!frames_)
      frames_ = std::make_unique<std::deque<out_frame>>();
    bytes_ += n;
    frames_->push_back(std::move(f));
    return true;
  }

  bool empty() const noexcept { return !frames_ || frames_->empty(); }
  size_t size() const noexcept { return frames_ ? frames_->size() : 0; }
  out_frame& front() { return frames_->front(); }
  out_frame& at(size_t i) { return (*frames_)[i]; }

  void pop_front() {
    bytes_ -= frames_->front().bytes().size();
    frames_->pop_front();
    if (frames_->empty())
      frames_.reset();
  }

private:
  size_t max_bytes_;
  size_t bytes_ = 0;
  std::unique_ptr<std::deque<out_frame>> frames_;
};

} // namespace chorus::net
