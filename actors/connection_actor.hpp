// The connection actor: one per client connection (a WebSocket, a TCP
// connection, or an HTTP keep-alive connection). It owns the authenticated
// user id of the session and turns protocol frames into requests to user and
// conversation actors, which it finds through the router. It answers a request
// the entity has not answered within settings.request_timeout with
// `unavailable` ("request timed out") and drops the late answer.
//
// The network side (net/) decodes frames and hands them over; the actor hands
// back replies and pushes through a frame_sink, which encodes them in the
// session's wire format and queues them with a bound (a client that stops
// reading is disconnected, never buffered without limit).
//
// Accepts:
//   (request_atom, pb::Frame)        a decoded client frame (WebSocket, TCP).
//                                    The first must be `auth`; before it every
//                                    other frame gets `unauthenticated`.
//   (http_atom, user, pb::Frame)     one HTTP request whose bearer token the
//                                    HTTP layer verified for `user`. HTTP
//                                    connections are not devices: they get no
//                                    pushes.
//   (push_atom, push_ptr)            a push for this device (from a user actor
//                                    on another node; local ones write to the
//                                    sink directly).
//   (closed_atom)                    the socket is gone: the actor stops, and the
//                                    user actor drops the device.
//
// The sender of every message is the session's user, never a client field.
#pragma once

#include "actors/context.hpp"
#include "actors/errors.hpp"
#include "actors/push.hpp"
#include "actors/sink.hpp"
#include "proto/chorus.pb.h"

#include <caf/fwd.hpp>

#include <memory>
#include <string>

namespace chorus {

/// Spawns the actor of one client connection; `http` for HTTP connections,
/// which authenticate every request and are not devices.
caf::actor spawn_connection_actor(caf::actor_system& sys, sink_ptr sink, context_ptr ctx,
                                  bool http);

/// An error reply frame; also counts it in the node's metrics.
pb::Frame error_frame(const context_ptr& ctx, const std::string& req_id, errc code,
                      const std::string& message);

} // namespace chorus
