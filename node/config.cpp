#include "node/config.hpp"

#include "net/validate.hpp"

#include <caf/config_option_adder.hpp>
#include <caf/config_value.hpp>
#include <caf/settings.hpp>

#include <fmt/format.h>
#include <sched.h>

#include <thread>

namespace chorus::node {

node_config::node_config() {
  opt_group{custom_options_, "node"}
      .add(node_id_, "id", "this node's id, unique in the cluster (default n1)")
      .add(data_dir_, "data-dir", "directory of the node's RocksDB (default ./data)")
      .add(members_, "members", "ids of every cluster member, this node included (default [id])")
      .add(shards_, "shards", "number of placement shards, the same on every node (default 1024)");
  opt_group{custom_options_, "net"}
      .add(host_, "host", "address the client ports listen on (default 127.0.0.1)")
      .add(ws_port_, "ws-port", "WebSocket and HTTP port; 0 picks a free one (default 7300)")
      .add(tcp_port_, "tcp-port", "raw TCP protobuf port; 0 picks a free one (default 7301)")
      .add(io_threads_, "io-threads",
           "threads running the sockets and the actors; 0 is one per core the node may run on "
           "(default 0)")
      .add(max_frame_bytes_, "max-frame-bytes", "largest client frame (default 1048576)")
      .add(max_outgoing_bytes_, "max-outgoing-bytes",
           "outgoing bytes queued per connection before it is dropped (default 8388608)")
      .add(keepalive_, "keepalive",
           "silence after which the kernel probes a client's end of the connection; 0s: never "
           "(default 60s)");
  opt_group{custom_options_, "auth"}
      .add(secret_, "secret", "HMAC key that signs auth tokens (required unless dev-mode)")
      .add(dev_mode_, "dev-mode", "accept any token: for development only (default false)")
      .add(auth_timeout_, "timeout", "time a connection has to authenticate (default 10s)");
  opt_group{custom_options_, "limits"}
      .add(max_content_bytes_, "max-content-bytes", "largest message content (default 65536)")
      .add(sends_per_second_, "sends-per-second",
           "sends, edits, recalls and typing per connection and second; 0 = off (default 50)")
      .add(history_limit_, "history-limit", "default page size of history (default 50)")
      .add(history_max_, "history-max", "largest page size of history (default 500)")
      .add(sync_limit_, "sync-limit", "default messages per conversation in sync (default 100)")
      .add(sync_max_, "sync-max", "largest sync limit (default 1000)")
      .add(unread_max_, "unread-max",
           "unread counts in sync and conversations.list stop here (default 1000)")
      .add(max_group_members_, "max-group-members", "largest group (default 10000)")
      .add(large_group_, "large-group",
           "groups with more members get conversation.signal instead of message pushes "
           "(default 500)")
      .add(signal_window_, "signal-window",
           "how long signals are coalesced per user (default 50ms)");
  opt_group{custom_options_, "storage"}
      .add(sync_, "sync", "fsync the WAL before acknowledging writes (default true)")
      .add(commit_interval_, "commit-interval",
           "least time between the starts of two group commits (default 0us)")
      .add(dedup_ttl_, "dedup-ttl", "how long client_msg_ids are remembered (default 168h)")
      .add(block_cache_mb_, "block-cache-mb", "RocksDB block cache (default 64)");
  opt_group{custom_options_, "actors"}
      .add(idle_timeout_, "idle-timeout",
           "idle time after which user and conversation actors passivate (default 60s)")
      .add(max_conversations_, "max-conversations",
           "active conversation actors above which those idle for a second passivate early "
           "(default 1000000)")
      .add(connection_idle_, "connection-idle",
           "idle time after which a device's connection actor stops until its next frame "
           "(default 10s)")
      .add(request_timeout_, "request-timeout",
           "time a client request may wait for its actor before it fails (default 10s)");
  opt_group{custom_options_, "log"}.add(log_level_, "level",
                                        "trace, debug, info, warn, error or off (default info)");
}

caf::error node_config::parse(std::vector<std::string> args) {
  std::vector<std::pair<const caf::config_option*, bool>> booleans;
  for (auto i = args.begin(); i != args.end();) {
    auto eq = i->find('=');
    auto dot = i->rfind('.', eq);
    if (i->rfind("--", 0) != 0 || eq == std::string::npos || dot == std::string::npos || dot < 2) {
      ++i;
      continue;
    }
    auto value = i->substr(eq + 1);
    const auto* opt = custom_options_.qualified_name_lookup(i->substr(2, dot - 2),
                                                            i->substr(dot + 1, eq - dot - 1));
    if (opt == nullptr || !opt->is_flag() || (value != "true" && value != "false")) {
      ++i;
      continue;
    }
    booleans.emplace_back(opt, value == "true");
    i = args.erase(i);
  }
  if (auto err = caf::actor_system_config::parse(std::move(args)))
    return err;
  for (const auto& [opt, flag] : booleans)
    opt->store(caf::config_value{flag});
  return caf::none;
}

size_t node_config::threads() const {
  if (io_threads_ > 0)
    return static_cast<size_t>(io_threads_);
  size_t cores = std::max(1u, std::thread::hardware_concurrency());
  cpu_set_t mask;
  if (sched_getaffinity(0, sizeof(mask), &mask) == 0)
    cores = std::max(1, CPU_COUNT(&mask));
  return cores;
}

std::vector<std::string> node_config::validate() const {
  std::vector<std::string> problems;
  // Every key of the file and the command line must be a declared option with
  // a value of its type. CAF 0.17 drops wrongly typed file values silently, so
  // the file is read again here, raw, and checked key by key.
  caf::settings raw = content;
  if (!config_file_path.empty()) {
    auto file = parse_config_file(config_file_path.c_str());
    if (!file)
      problems.push_back(
          fmt::format("cannot read '{}': {}", config_file_path, caf::to_string(file.error())));
    else
      raw = std::move(*file);
  }
  for (const auto& [section, value] : raw) {
    if (!caf::holds_alternative<caf::settings>(value))
      continue; // top-level entries are CAF's own (e.g. config-file)
    for (const auto& [key, v] : caf::get<caf::settings>(value)) {
      auto name = section + "." + key;
      auto* opt = custom_options_.qualified_name_lookup(section, key);
      if (opt == nullptr) {
        problems.push_back(fmt::format("unknown key '{}'", name));
        continue;
      }
      if (auto err = opt->check(v))
        problems.push_back(
            fmt::format("invalid value for '{}': {} (expected {})", name, caf::to_string(v),
                        std::string{opt->type_name().begin(), opt->type_name().end()}));
    }
  }
  auto range = [&](const char* name, int64_t v, int64_t lo, int64_t hi) {
    if (v < lo || v > hi)
      problems.push_back(fmt::format("'{}' is {}, it must be between {} and {}", name, v, lo, hi));
  };
  auto positive = [&](const char* name, caf::timespan t) {
    if (t.count() <= 0)
      problems.push_back(fmt::format("'{}' must be a positive duration", name));
  };
  if (!net::valid_user_id(node_id_))
    problems.push_back("'node.id' must be 1-64 characters of [A-Za-z0-9_.@-]");
  if (data_dir_.empty())
    problems.push_back("'node.data-dir' must not be empty");
  if (!members_.empty() && std::find(members_.begin(), members_.end(), node_id_) == members_.end())
    problems.push_back("'node.members' must contain this node's id '" + node_id_ + "'");
  range("node.shards", shards_, 1, 1 << 20);
  range("net.ws-port", ws_port_, 0, 65535);
  range("net.tcp-port", tcp_port_, 0, 65535);
  if (ws_port_ != 0 && ws_port_ == tcp_port_)
    problems.push_back("'net.ws-port' and 'net.tcp-port' must differ");
  range("net.io-threads", io_threads_, 0, 64);
  range("net.max-frame-bytes", max_frame_bytes_, 1024, 64 << 20);
  range("net.max-outgoing-bytes", max_outgoing_bytes_, 64 * 1024, 1LL << 32);
  if (keepalive_.count() < 0 || keepalive_ > std::chrono::hours{24})
    problems.push_back("'net.keepalive' must be between 0s and 24h");
  if (secret_.empty() && !dev_mode_)
    problems.push_back("'auth.secret' is required unless 'auth.dev-mode' is true");
  positive("auth.timeout", auth_timeout_);
  range("limits.max-content-bytes", max_content_bytes_, 16, max_frame_bytes_);
  range("limits.sends-per-second", sends_per_second_, 0, 1000000);
  range("limits.history-max", history_max_, 1, 10000);
  range("limits.history-limit", history_limit_, 1, history_max_);
  range("limits.sync-max", sync_max_, 1, 100000);
  range("limits.sync-limit", sync_limit_, 1, sync_max_);
  range("limits.unread-max", unread_max_, 1, 1000000000);
  range("limits.max-group-members", max_group_members_, 2, 1000000);
  range("limits.large-group", large_group_, 2, 1000000);
  if (signal_window_.count() < 0 || signal_window_ > std::chrono::seconds{10})
    problems.push_back("'limits.signal-window' must be between 0 and 10s");
  if (commit_interval_.count() < 0 || commit_interval_ > std::chrono::milliseconds{100})
    problems.push_back("'storage.commit-interval' must be between 0 and 100ms");
  positive("storage.dedup-ttl", dedup_ttl_);
  range("storage.block-cache-mb", block_cache_mb_, 1, 1 << 20);
  positive("actors.idle-timeout", idle_timeout_);
  range("actors.max-conversations", max_conversations_, 1, int64_t{1} << 40);
  positive("actors.connection-idle", connection_idle_);
  positive("actors.request-timeout", request_timeout_);
  static const char* levels[] = {"trace", "debug", "info", "warn", "error", "off"};
  if (std::find(std::begin(levels), std::end(levels), log_level_) == std::end(levels))
    problems.push_back("'log.level' must be one of trace, debug, info, warn, error, off");
  return problems;
}

node_settings node_config::settings() const {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  node_settings s;
  s.data_dir = data_dir_;
  s.members = members_.empty() ? std::vector<std::string>{node_id_} : members_;
  s.shards = static_cast<uint32_t>(shards_);
  s.log_level = log_level_;
  auto& a = s.actors;
  a.node_id = node_id_;
  a.secret = secret_;
  a.dev_mode = dev_mode_;
  a.idle_timeout = idle_timeout_;
  a.max_conversations = static_cast<size_t>(max_conversations_);
  a.connection_idle = connection_idle_;
  a.request_timeout = request_timeout_;
  a.auth_timeout = auth_timeout_;
  a.max_content_bytes = static_cast<size_t>(max_content_bytes_);
  a.sends_per_second = static_cast<uint32_t>(sends_per_second_);
  a.history_limit_default = static_cast<uint32_t>(history_limit_);
  a.history_limit_max = static_cast<uint32_t>(history_max_);
  a.sync_limit_default = static_cast<uint32_t>(sync_limit_);
  a.sync_limit_max = static_cast<uint32_t>(sync_max_);
  a.unread_max = static_cast<uint32_t>(unread_max_);
  a.max_group_members = static_cast<uint32_t>(max_group_members_);
  a.large_group = static_cast<uint32_t>(large_group_);
  a.signal_window = signal_window_;
  a.dedup_ttl_ms = duration_cast<milliseconds>(dedup_ttl_).count();
  s.net.host = host_;
  s.net.ws_port = static_cast<uint16_t>(ws_port_);
  s.net.tcp_port = static_cast<uint16_t>(tcp_port_);
  s.net.io_threads = static_cast<int>(threads());
  s.net.max_frame_bytes = static_cast<size_t>(max_frame_bytes_);
  s.net.max_outgoing_bytes = static_cast<size_t>(max_outgoing_bytes_);
  s.net.keepalive =
      duration_cast<std::chrono::seconds>(keepalive_ + std::chrono::milliseconds{999});
  s.store.path = data_dir_;
  s.store.block_cache_bytes = static_cast<size_t>(block_cache_mb_) << 20;
  s.writer.sync = sync_;
  s.writer.commit_interval =
      std::chrono::duration_cast<std::chrono::microseconds>(commit_interval_);
  return s;
}

} // namespace chorus::node
