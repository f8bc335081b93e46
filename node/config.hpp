// node.conf: every option of a node, declared once with its default and help
// text (`chorusd --help` lists them), read through CAF's config system (INI
// file, then `--section.key=value` overrides), and validated after parsing: an
// unknown key, a value of the wrong type or out of range stops the node with a
// message that names the key.
#pragma once

#include "actors/context.hpp"
#include "net/server.hpp"
#include "storage/store.hpp"
#include "storage/writer.hpp"

#include <caf/actor_system_config.hpp>

#include <string>
#include <vector>

namespace chorus::node {

/// Everything a node needs to start, validated.
struct node_settings {
  std::string data_dir = "./data";
  std::vector<std::string> members; ///< cluster members (node ids); self if empty
  uint32_t shards = 1024;
  std::string log_level = "info";
  actor_settings actors;
  net::net_settings net;
  storage::store_options store;
  storage::writer_options writer;
};

class node_config : public caf::actor_system_config {
public:
  node_config();

  /// CAF's parse, except that a boolean option also takes `=true` or
  /// `=false` on the command line (CAF takes `--storage.sync` as a flag and
  /// rejects `--storage.sync=false`); like any command-line value, it
  /// overrides the config file.
  caf::error parse(std::vector<std::string> args);

  /// Checks every key and value that parsing left in `content`, and the
  /// ranges of the bound values. Returns one message per problem.
  std::vector<std::string> validate() const;

  /// The validated settings. REQUIRES: validate() returned no problem.
  node_settings settings() const;

  /// The threads that run the sockets and the actors (node/threads.hpp):
  /// `net.io-threads`, or if that is 0 one per core this process may run on
  /// (its CPU affinity: taskset, cpusets). Threads beyond the cores a node
  /// gets only add context switches.
  size_t threads() const;

private:
  // Bound to options; see the constructor for names, defaults and help.
  std::string node_id_ = "n1";
  std::string data_dir_ = "./data";
  std::vector<std::string> members_;
  int64_t shards_ = 1024;
  std::string host_ = "127.0.0.1";
  int64_t ws_port_ = 7300;
  int64_t tcp_port_ = 7301;
  int64_t io_threads_ = 0;
  int64_t max_frame_bytes_ = 1 << 20;
  int64_t max_outgoing_bytes_ = 8 << 20;
  caf::timespan keepalive_ = std::chrono::seconds{60};
  std::string secret_;
  bool dev_mode_ = false;
  caf::timespan auth_timeout_ = std::chrono::seconds{10};
  int64_t max_content_bytes_ = 64 * 1024;
  int64_t sends_per_second_ = 50;
  int64_t history_limit_ = 50;
  int64_t history_max_ = 500;
  int64_t sync_limit_ = 100;
  int64_t sync_max_ = 1000;
  int64_t unread_max_ = 1000;
  int64_t max_group_members_ = 10000;
  int64_t large_group_ = 500;
  caf::timespan signal_window_ = std::chrono::milliseconds{50};
  bool sync_ = true;
  caf::timespan commit_interval_ = std::chrono::microseconds{0};
  caf::timespan dedup_ttl_ = std::chrono::hours{24 * 7};
  int64_t block_cache_mb_ = 64;
  caf::timespan idle_timeout_ = std::chrono::seconds{60};
  int64_t max_conversations_ = 1000000;
  caf::timespan connection_idle_ = std::chrono::seconds{10};
  caf::timespan request_timeout_ = std::chrono::seconds{10};
  std::string log_level_ = "info";
};

} // namespace chorus::node
