// A real chorusd process for integration tests: started on 127.0.0.1 with
// free ports and its own data directory, stopped with SIGTERM (or killed with
// SIGKILL to test recovery).
#pragma once

#include "client/client.hpp"

#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

namespace chorus::test {

inline constexpr const char* test_secret = "integration-secret";

class node_process {
public:
  /// Starts a node; `extra` are --section.key=value overrides.
  explicit node_process(std::vector<std::string> extra = {});
  ~node_process();

  void start();
  /// SIGTERM and wait; true if it exited with status 0 within 20 s (a node
  /// that hangs is killed).
  bool stop();
  /// SIGKILL and wait.
  void kill9();

  uint16_t ws_port() const { return ws_port_; }
  uint16_t tcp_port() const { return tcp_port_; }
  const std::string& data_dir() const { return data_dir_; }
  pid_t pid() const { return pid_; }
  /// What the node has written to stderr so far (its log). The destructor
  /// copies it to the test's stderr.
  std::string log() const;

  /// A connected client, authenticated as `user` unless `user` is empty.
  std::unique_ptr<client::client>
  connect(const std::string& user, client::transport t = client::transport::websocket_json) const;

private:
  std::vector<std::string> extra_;
  std::string data_dir_;
  std::string log_path_; ///< the node's stderr, kept over restarts
  pid_t pid_ = -1;
  uint16_t ws_port_ = 0;
  uint16_t tcp_port_ = 0;
};

/// A token for `user` under test_secret.
std::string token_for(const std::string& user);

/// A message.send payload.
client::json text_message(const std::string& client_msg_id, const std::string& text);

/// Sends `text` as `client_msg_id` from `c` to the user `to`; the reply.
client::json send_text(client::client& c, const std::string& to, const std::string& client_msg_id,
                       const std::string& text);

/// An HTTP/1.1 request to the node; returns (status, body).
std::pair<int, std::string> http(uint16_t port, const std::string& method,
                                 const std::string& target, const std::string& token,
                                 const std::string& body = {});

/// The value of an unlabelled metric of the node (GET /metrics); throws if
/// the page or the metric is missing.
double metric(const node_process& node, const std::string& name);

} // namespace chorus::test
