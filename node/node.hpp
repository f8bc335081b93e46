// A running node: starts storage, then actors, then listeners, and stops them
// in exactly the reverse order, flushing storage last.
#pragma once

#include "node/config.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace caf {
class actor_system;
}

namespace boost::asio {
class io_context;
}

namespace chorus::node {

class node {
public:
  /// `ioc` runs the sockets; its threads (node/threads.hpp) must run until
  /// the node is stopped.
  node(caf::actor_system& sys, boost::asio::io_context& ioc, node_settings settings);
  ~node();

  /// Starts everything; an error message, or empty on success. On error what
  /// was started is stopped again.
  std::string start();

  /// Stops in reverse start order. Idempotent.
  void stop();

  uint16_t ws_port() const;
  uint16_t tcp_port() const;

private:
  struct parts;
  caf::actor_system& sys_;
  boost::asio::io_context& ioc_;
  node_settings settings_;
  std::unique_ptr<parts> parts_;
  std::vector<std::function<void()>> stops_; ///< run last-pushed first
};

} // namespace chorus::node
