// The connection actor: one per client connection (a WebSocket, a TCP
// connection, or an HTTP keep-alive connection). It owns the authenticated
// user id of the session and turns protocol frames into requests to user and
// conversation actors, which it finds through the router. It answers a request
// the entity has not answered within settings.request_timeout with
// `unavailable` ("request timed out") and drops the late answer.
//
// The network side (net/) decodes frames and hands them to a `connection`,
// which passes them to the actor; the actor hands back replies through a
// frame_sink, which encodes them in the session's wire format and queues them
// with a bound (a client that stops reading is disconnected, never buffered
// without limit). Pushes do not pass through the actor: the user actor writes
// them to the sink of each device on its node.
//
// A quiet device needs no actor. Once authenticated, a device whose user actor
// is on this node lets its actor stop after settings.connection_idle without
// frames or open requests: the actor leaves the session (user, device id,
// rate-limit bucket) in its `connection` and quits, and the next frame starts
// a new actor from it. This is what keeps an idle connection small (CAF 0.17
// spends about 1.7 KB on an actor with its behavior). No frame is lost to a
// stopping actor, by the same counting as the router's passivation: the
// connection counts the frames it hands to its actor, the actor counts the
// ones it handled, and it may stop only while both counts match, checked
// under the connection's lock.
//
// The actor accepts:
//   (request_atom, pb::Frame)        a decoded client frame (WebSocket, TCP).
//                                    The first must be `auth`; before it every
//                                    other frame gets `unauthenticated`.
//   (http_atom, user, pb::Frame)     one HTTP request whose bearer token the
//                                    HTTP layer verified for `user`. HTTP
//                                    connections are not devices: they get no
//                                    pushes.
//   (push_atom, push_ptr)            a push for this device from a user actor
//                                    on another node.
//   (closed_atom)                    the socket is gone: the actor detaches
//                                    the device from its user and stops.
//
// The sender of every message is the session's user, never a client field.
#pragma once

#include "actors/connection.hpp"
#include "actors/context.hpp"
#include "actors/errors.hpp"
#include "actors/push.hpp"
#include "actors/sink.hpp"
#include "proto/chorus.pb.h"

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <optional>
#include <string>

namespace chorus {

/// Spawns a connection actor for `conn`; `resumed` is the session of a quiet
/// device whose earlier actor stopped (else the connection is new).
caf::actor spawn_connection_actor(caf::actor_system& sys, sink_ptr sink, context_ptr ctx,
                                  connection_ptr conn, bool http,
                                  std::optional<device_session> resumed);

/// An error reply frame; also counts it in the node's metrics.
pb::Frame error_frame(const context_ptr& ctx, const std::string& req_id, errc code,
                      const std::string& message);

} // namespace chorus
