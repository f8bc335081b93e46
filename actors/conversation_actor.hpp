// The conversation actor: one per direct chat or group, activated by the
// router. It is the lock, the counter and the router of its log: it assigns
// each entry the next gapless seq, hands the entry to the storage writer,
// answers the sender once the entry is durable, and then fans it out to the
// members' user actors.
//
// Every request names the acting user, which the connection actor took from
// the authenticated session, never from the client. Accepts (replies in
// brackets; errors are chorus::errc):
//
//   (send_atom, user, pb::Send, uint64 origin)  [pb::SendOk]
//       forbidden: not a member. The same (user, client_msg_id) answers the
//       first result again, also across restarts (dedup column family).
//       bad_request: quote_message_seq names no entry. `origin` is the sending
//       device (0 for none); it gets no message.new push.
//   (edit_atom, user, pb::Edit, origin)             [pb::EventOk]
//   (recall_atom, user, pb::Recall, origin)         [pb::EventOk]
//       not_found: no such seq; forbidden: not the author; conflict: recalled.
//   (history_atom, user, pb::History)               [shared_reply_ptr: history.ok]
//   (typing_atom, user, origin)                     [void]
//   (read_atom, user, uint64 read_seq, origin)      [void] bad_request beyond
//       last_seq; stores the cursor (via the user actor) and pushes receipt.read.
//   (create_atom, user, pb::GroupCreate)            [pb::GroupCreateOk]
//       conflict: the group exists.
//   (add_atom, user, vector<string> members)        [void]
//   (remove_atom, user, vector<string> members)     [void] forbidden unless
//       the user owns the group or removes only itself.
//   (leave_atom, user)                              [void]
//
// Group operations on a direct conversation answer bad_request. The actor
// passivates after settings.idle_timeout without requests and with no write
// in flight.
#pragma once

#include "actors/context.hpp"

#include <caf/fwd.hpp>

#include <string>

namespace chorus {

struct conversation_state;

caf::behavior conversation_actor(caf::stateful_actor<conversation_state>* self, std::string id,
                                 context_ptr ctx);

/// The two members of a direct conversation id `d:<a>:<b>`.
/// REQUIRES: the id passed net::validate_conversation_id().
std::pair<std::string, std::string> direct_members(const std::string& id);

} // namespace chorus
