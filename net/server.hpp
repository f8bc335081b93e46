// The client-facing network edge: one port for WebSocket (/ws) and HTTP, one
// port for raw TCP with length-prefixed protobuf frames. Runs on the node's
// asio threads, which run the actors too (node/threads.hpp); each connection
// gets a connection actor (actors/connection_actor.hpp) and the two sides only
// exchange messages, never block each other.
#pragma once

#include "actors/context.hpp"

#include <caf/fwd.hpp>

namespace boost::asio {
class io_context;
}

#include <cstdint>
#include <memory>
#include <string>

namespace chorus::net {

struct net_settings {
  std::string host = "127.0.0.1";
  uint16_t ws_port = 7300;  ///< WebSocket and HTTP; 0 picks a free port
  uint16_t tcp_port = 7301; ///< raw TCP; 0 picks a free port
  /// Threads running the io_context (one per core by default): with more
  /// than one, each session's handlers go through a strand.
  int io_threads = 1;
  size_t max_frame_bytes = 1 << 20;    ///< larger frames close the WebSocket (1009)
  size_t max_outgoing_bytes = 8 << 20; ///< per connection; beyond it: disconnect
  /// A connection silent this long gets TCP keepalive probes (0: none); see
  /// keepalive_probes. A client gone without closing (its machine off, its
  /// network cut) is dropped, and its device with it, instead of staying
  /// online forever.
  std::chrono::seconds keepalive{60};
};

/// Unanswered keepalive probes, `keepalive_interval` apart, before the
/// kernel drops a connection: a silent dead peer goes within keepalive + 60 s.
inline constexpr int keepalive_probes = 6;
inline constexpr std::chrono::seconds keepalive_interval{10};

class server {
public:
  /// Serves on `ioc`, whose threads the caller runs (and keeps running until
  /// the server is stopped and destroyed).
  server(caf::actor_system& sys, boost::asio::io_context& ioc, context_ptr ctx, net_settings cfg);
  ~server();

  /// Binds both ports and starts accepting. Returns an error message, or an
  /// empty string on success.
  std::string start();

  /// Stops accepting and ends every connection (its actor detaches the
  /// device); sessions still open close when the io_context ends. Call from
  /// a thread that is not running the io_context.
  void stop();

  uint16_t ws_port() const noexcept;
  uint16_t tcp_port() const noexcept;

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace chorus::net
