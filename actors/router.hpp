// The router: one per node; every message to a user or a conversation goes
// through it.
//
// It activates entities on demand (virtual actors): the first message for a
// key spawns its actor, which loads its state from storage. Keys owned by
// another node (cluster/placement.hpp) are answered with `unavailable` until the
// cluster layer connects that node; entities never need to know which node
// they are on.
//
// Accepts:
//   (conv_atom, id, message inner)   -> delegates `inner` to conversation `id`,
//                                       activating it; the reply goes straight
//                                       back to the original sender.
//   (user_atom, id, message inner)   -> the same for user `id`.
//   (notify_atom, id, message inner) -> sends `inner` to user `id` only if it
//                                       is active (a user with no live actor has
//                                       no devices to notify). No reply.
//   (passivate_atom, uint64 routed)  -> from an entity that wants to stop:
//                                       true (and forgets it) if the router has
//                                       forwarded it exactly `routed` messages,
//                                       i.e. nothing is in flight to it; else
//                                       false and the entity stays.
#pragma once

#include "actors/context.hpp"

#include <caf/fwd.hpp>

#include <chrono>
#include <cstdint>
#include <memory>

namespace chorus::cluster {
class placement;
}

namespace chorus {

/// Spawns a node's router.
caf::actor spawn_router(caf::actor_system& sys, context_ptr ctx,
                        std::shared_ptr<const cluster::placement> where);

} // namespace chorus
