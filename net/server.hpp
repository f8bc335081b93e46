// The client-facing network edge: one port for WebSocket (/ws) and HTTP, one
// port for raw TCP with length-prefixed protobuf frames. Runs on its own asio
// threads; each connection gets a connection actor (actors/connection_actor.hpp)
// and the two sides only exchange messages, never block each other.
#pragma once

#include "actors/context.hpp"

#include <caf/fwd.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace chorus::net {

struct net_settings {
  std::string host = "127.0.0.1";
  uint16_t ws_port = 7300;  ///< WebSocket and HTTP; 0 picks a free port
  uint16_t tcp_port = 7301; ///< raw TCP; 0 picks a free port
  int io_threads = 1;
  size_t max_frame_bytes = 1 << 20;    ///< larger frames close the WebSocket (1009)
  size_t max_outgoing_bytes = 8 << 20; ///< per connection; beyond it: disconnect
};

class server {
public:
  server(caf::actor_system& sys, context_ptr ctx, net_settings cfg);
  ~server();

  /// Binds both ports and starts the I/O threads. Returns an error message, or
  /// an empty string on success.
  std::string start();

  /// Stops accepting, closes every connection, joins the I/O threads.
  void stop();

  uint16_t ws_port() const noexcept;
  uint16_t tcp_port() const noexcept;

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace chorus::net
