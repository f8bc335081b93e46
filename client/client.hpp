// The Chorus C++ client library: one connection to a node over WebSocket
// (JSON text or protobuf binary frames) or raw TCP (length-prefixed protobuf).
//
// Frames are handled as JSON objects in every transport ({"type", "req_id",
// "payload"}, docs/protocol.md): binary transports convert on the way in and
// out, so a caller writes the same code for all three. A background thread
// reads frames into a queue; request() waits for the reply with its req_id and
// leaves pushes queued for next() and wait_for(). request_frame() skips the
// JSON form for binary transports.
//
// Thread-safety: one caller thread at a time per client.
#pragma once

#include "proto/chorus.pb.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace chorus::client {

using json = nlohmann::json;
using namespace std::chrono_literals;

enum class transport {
  websocket_json,   ///< ws://host:port/ws, JSON text frames
  websocket_binary, ///< ws://host:port/ws, protobuf binary frames
  tcp,              ///< raw TCP, 4-byte big-endian length + protobuf Frame
};

/// Thrown for connection failures and timeouts.
struct client_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class client {
public:
  /// Connects (and for WebSocket, upgrades). Throws client_error.
  client(transport t, const std::string& host, uint16_t port);
  ~client();

  client(const client&) = delete;
  client& operator=(const client&) = delete;

  /// Sends a request frame, encoded for the transport. For binary transports
  /// a frame the codec rejects throws client_error (send_raw_* sends anything).
  void send(const json& frame);

  /// Sends arbitrary bytes as one text (WebSocket) frame.
  void send_raw_text(std::string_view text);

  /// Sends arbitrary bytes as one binary frame (WebSocket) or one
  /// length-prefixed frame (TCP).
  void send_raw_binary(std::string_view bytes);

  /// Sends bytes as they are (TCP only): for broken framing.
  void send_raw_bytes(std::string_view bytes);

  /// Sends {type, req_id, payload} and waits for the frame with that req_id
  /// (a `<type>.ok` or an `error`). Throws client_error on timeout or close.
  json request(const std::string& type, json payload = json::object(),
               std::chrono::milliseconds timeout = 10s);

  /// Binary transports: sends `frame` with a req_id of its own and waits for
  /// the protobuf frame with that req_id, which is never converted to JSON
  /// (for clients that read large replies). Throws client_error on timeout
  /// or close, and on the JSON transport.
  pb::Frame request_frame(pb::Frame frame, std::chrono::milliseconds timeout = 10s);

  /// The next received frame in arrival order, or nullopt on timeout/close.
  std::optional<json> next(std::chrono::milliseconds timeout = 5s);

  /// The first received frame of `type` (others stay queued), or nullopt.
  std::optional<json> wait_for(const std::string& type, std::chrono::milliseconds timeout = 5s);

  /// Drops every queued frame of `type`; returns how many.
  size_t discard(const std::string& type);

  /// Waits until the server closed the connection. True if it did.
  bool wait_closed(std::chrono::milliseconds timeout = 5s);

  /// auth, and throws client_error unless it is answered with auth.ok.
  json auth(const std::string& user_id, const std::string& token);

  /// Stops reading from the socket (to act as a client that does not read).
  void pause_reading();

  transport kind() const noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace chorus::client
