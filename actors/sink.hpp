// Where frames for one client connection go: implemented by the network
// sessions (net/), used by the connection actor for replies and by the user
// actor for pushes to its devices.
#pragma once

#include "actors/push.hpp"
#include "proto/chorus.pb.h"

#include <caf/allowed_unsafe_message_type.hpp>

#include <memory>
#include <string>

namespace chorus {

/// Every member is thread-safe and returns without waiting for the socket:
/// the frame is encoded in the session's wire format and queued with a bound
/// (a client that stops reading is disconnected, never buffered without
/// limit).
class frame_sink {
public:
  virtual ~frame_sink() = default;

  /// Queues a reply, encoded in the session's format.
  virtual void send_reply(const pb::Frame& frame) = 0;

  /// Queues a shared reply with this request's `req_id`.
  virtual void send_reply(const std::string& req_id, const shared_reply_ptr& r) {
    pb::Frame f = r->frame();
    f.set_req_id(req_id);
    send_reply(f);
  }

  /// Queues a push, using the push's cached encoding for the session's format.
  virtual void send_push(const push_ptr& p) = 0;

  /// Closes the connection, telling the client `reason` where the transport can.
  virtual void close(const std::string& reason) = 0;

  /// The connection's actor stopped because the device is quiet: the
  /// session may give back what it holds for reading until bytes arrive.
  virtual void quiet() {}
};

using sink_ptr = std::shared_ptr<frame_sink>;

} // namespace chorus

// A sink is local to its node: a user actor on another node reaches the
// device through its connection actor instead.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(chorus::sink_ptr)
