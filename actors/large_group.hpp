// How a large group tells its members that its log advanced.
//
// Above limits.large-group members a conversation pushes no entries. Every
// active member's user actor learns of each new entry at once (so that a sync
// right after an ack finds it), and the members' devices get one
// conversation.signal per window, on the member's beat (signal_window.hpp),
// after which clients pull with history from the conversation's in-memory
// tail. The conversation keeps one timer for the next beat while some beat's
// members have not heard of its newest entry, and sends each beat's members
// the same signal frame.
#pragma once

#include "actors/context.hpp"

#include <caf/fwd.hpp>

namespace chorus {

struct conversation_state;

using conversation_self = caf::stateful_actor<conversation_state>*;

/// Finds each member's beat anew; call when the members change.
/// REQUIRES: state.beats.
void assign_beats(conversation_state& st);

/// The log of a large group advanced to its durable_seq.
void signal_members(conversation_self self, const context_ptr& ctx);

/// Handles (signal_atom, int beat): the members of `beat` that have not
/// heard of the newest durable entry get a conversation.signal.
void signal_beat(conversation_self self, const context_ptr& ctx, int beat);

} // namespace chorus
