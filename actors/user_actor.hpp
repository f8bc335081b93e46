// The user actor: one per user, activated by the router. It owns the user's
// inbox (for every conversation the user is in: delivered_seq, the highest seq
// any device acked, and read_seq), the set of live connections (devices) and
// presence. Conversations push through it to every device.
//
// Accepts (replies in brackets; errors are chorus::errc):
//   (attach_atom, uint64 device, caf::actor connection, sink_ptr sink)  [void]
//       registers a device. Pushes go straight to `sink`; for a connection on
//       another node (no sink) they go to `connection`, which is monitored:
//       the device goes with it.
//   (detach_atom, uint64 device)  the device's socket closed. No reply.
//   (deliver_atom, push_ptr, uint64 origin)  pushes to every device except
//       `origin` (the device the event came from; 0 for none), and learns
//       from it how far the conversation's log reaches (an entry, or a large
//       group's conversation.signal). No reply.
//   (signal_atom, conversation, uint64 last_seq)  a large group's log
//       advanced; its devices hear of it at the user's signal beat, as a
//       conversation.signal delivered like any push. No reply.
//   (joined_atom, conversation) / (left_atom, conversation)  membership changes
//       already stored by the conversation. No reply.
//   (ack_atom, conversation, uint64 seq)  [void] advances delivered_seq, durable
//       before the reply. forbidden: not in it; bad_request: beyond last_seq.
//   (set_read_atom, conversation, uint64 read_seq)  [bool advanced] from the
//       conversation, which checked the bound.
//   (sync_atom, pb::SyncRequest)  [pb::SyncOk] forbidden: a cursor names a
//       conversation the user is not in.
//   (list_atom, uint32 limit)  [pb::ConversationsListOk] most recent first.
//   (presence_atom)  [pb::Presence]
//
// Passivates after settings.idle_timeout with no device attached and no
// write in flight.
#pragma once

#include "actors/context.hpp"

#include <caf/fwd.hpp>

#include <string>

namespace chorus {

struct user_state;

caf::behavior user_actor(caf::stateful_actor<user_state>* self, std::string id, context_ptr ctx);

} // namespace chorus
