// One client connection of the load generator: asio, non-blocking, many per
// thread. It speaks TCP with protobuf frames or WebSocket with JSON frames (or,
// to drive an XMPP server with the same workloads, XMPP) and reports what it
// receives as compact events, so workloads never touch the wire format.
#pragma once

#include "proto/chorus.pb.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace chorus::bench {

enum class wire { tcp_protobuf, ws_json, xmpp };

namespace xmpp {
struct stanza;
}

/// What a workload needs to know of a received frame.
struct event {
  enum kind_t { auth_ok, send_ok, message_new, signal, history_ok, sync_ok, error, other } kind;
  const std::string* req_id = nullptr;        ///< replies
  const std::string* client_msg_id = nullptr; ///< send_ok, message_new
  const std::string* conversation_id = nullptr;
  uint64_t seq = 0;                  ///< send_ok, message_new; signal: last_seq
  const std::string* code = nullptr; ///< error
  /// history_ok: (seq, client_msg_id) of each entry; has_more.
  std::vector<std::pair<uint64_t, std::string>> entries;
  bool has_more = false;
};

class load_conn : public std::enable_shared_from_this<load_conn> {
public:
  using handler = std::function<void(load_conn&, const event&)>;
  using closed_handler = std::function<void(load_conn&)>;

  /// `token`: the auth token; with XMPP, the user's password.
  load_conn(boost::asio::io_context& ioc, wire w, boost::asio::ip::tcp::endpoint ep,
            std::string user, std::string token, handler on_event, closed_handler on_closed);
  ~load_conn();

  /// Connects, upgrades (WebSocket) and sends auth; the auth reply arrives
  /// as an auth_ok or error event. With XMPP: opens the stream, registers
  /// the user in-band (an existing registration is fine), authenticates with
  /// SASL PLAIN, binds a resource and sends presence; auth_ok follows the bind.
  void start();

  /// The XMPP server's domain (user JIDs are user@domain).
  void set_domain(std::string domain);

  /// message.send to a user (`to`) or a conversation; req_id as given. With
  /// XMPP: a chat message to `to`, `content_json` its body text and
  /// `client_msg_id` its id; XMPP has no acks, so no send_ok follows.
  void send_message(const std::string& to, const std::string& conversation_id,
                    const std::string& client_msg_id, const std::string& content_json,
                    const std::string& req_id);

  /// history after `after_seq`, oldest first.
  void history(const std::string& conversation_id, uint64_t after_seq, uint32_t limit,
               const std::string& req_id);

  /// Any request, given as a frame (encoded for the wire).
  void request(const pb::Frame& f);

  void close();

  const std::string& user() const noexcept { return user_; }
  bool open() const noexcept { return open_; }

  /// Free for the workload's bookkeeping.
  uint64_t tag = 0;
  uint64_t cursor = 0;
  bool pulling = false;

private:
  void send_auth();
  void write_pending();
  void on_stanza(const xmpp::stanza& s);

  struct impl;
  std::unique_ptr<impl> impl_;
  std::string user_;
  bool open_ = false;
};

} // namespace chorus::bench
