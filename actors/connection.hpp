// The hand-over between a client connection's socket (net/) and its
// connection actor: decoded frames go through it to the actor, which it starts
// again when a quiet device's actor has stopped (connection_actor.hpp tells
// when and why). Thread-safe: the network thread hands frames over, the actor
// passivates into it.
#pragma once

#include "actors/context.hpp"
#include "actors/sink.hpp"
#include "proto/chorus.pb.h"

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace chorus {

/// What a device's session keeps while it has no actor.
struct device_session {
  std::string user;
  uint64_t device = 0; ///< random, never 0; the client sees it as session_id
  double tokens = 0;   ///< rate limit bucket
  std::chrono::steady_clock::time_point refilled;
};

/// One client connection as the network side sees it. Thread-safe.
class connection : public std::enable_shared_from_this<connection> {
public:
  /// Starts the actor of a new connection; `http` for HTTP connections,
  /// which authenticate every request and are not devices. The connection
  /// holds `sink` weakly: the session owns the connection.
  static std::shared_ptr<connection> open(caf::actor_system& sys, const sink_ptr& sink,
                                          context_ptr ctx, bool http);

  connection(caf::actor_system& sys, const sink_ptr& sink, context_ptr ctx);

  /// Hands a decoded client frame to the actor, starting one if the device's
  /// actor stopped while it was quiet. Frames keep their order.
  void request(pb::Frame&& f);

  /// Hands an HTTP request, authenticated as `user`, to the actor.
  void http_request(const std::string& user, pb::Frame&& f);

  /// The socket is gone: the device leaves its user and the actor stops.
  /// Idempotent; later frames are dropped.
  void close();

  // -- used by the connection actor --

  /// From the actor that handled `handled` frames and has nothing open:
  /// true, and the connection keeps `s` and forgets the actor, if no frame
  /// is on its way to it. The actor then quits.
  bool passivate(uint64_t handled, device_session& s);

private:
  caf::actor_system& sys_;
  std::weak_ptr<frame_sink> sink_;
  context_ptr ctx_;
  std::mutex mtx_;
  caf::actor actor_;    ///< null while the device is quiet, or once closed
  uint64_t handed_ = 0; ///< frames handed to the current actor
  bool closed_ = false;
  device_session saved_; ///< valid while actor_ is null and !closed_
};

using connection_ptr = std::shared_ptr<connection>;

/// Tells the user actor of `user`, if it runs, that device `device` is gone.
void detach_device(const context_ptr& ctx, const std::string& user, uint64_t device);

} // namespace chorus
