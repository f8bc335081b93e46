// How a large group tells its members that its log advanced.
//
// Above limits.large-group members a conversation pushes no entries, and
// sends nothing per entry to its members: the members' devices get one
// conversation.signal per window, on the member's beat (signal_window.hpp),
// after which clients pull with history from the conversation's in-memory
// tail; the members' user actors learn of the entries with that signal and
// read the end of the log from storage when a sync or a list needs it
// (user_state.hpp), so an entry costs the same in a group of any size. The
// conversation keeps one timer for the next beat while some beat's members
// have not heard of its newest entry, and sends each beat's members the same
// signal frame.
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

/// Tells the active members' user actors that the group, small until now,
/// pushes no more entries to them.
void became_large(conversation_self self, const context_ptr& ctx);

/// Handles (signal_atom, int beat): the members of `beat` that have not
/// heard of the newest durable entry get a conversation.signal.
void signal_beat(conversation_self self, const context_ptr& ctx, int beat);

} // namespace chorus
