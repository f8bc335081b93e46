// The messages actors exchange, as CAF atoms plus payload types. Each actor's
// header documents which of them it accepts and what it answers.
//
// Protocol payloads travel as the protobuf types of proto/chorus.proto; the
// inspect() below makes every one of them a valid CAF message type (serialized
// as its protobuf bytes when a message crosses nodes).
#pragma once

#include "proto/chorus.pb.h"

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/sec.hpp>

#include <string>
#include <type_traits>

namespace chorus::pb {

template <class Inspector, class T>
std::enable_if_t<std::is_base_of<google::protobuf::Message, T>::value,
                 typename Inspector::result_type>
inspect(Inspector& f, T& x) {
  if constexpr (Inspector::reads_state) {
    auto bytes = x.SerializeAsString();
    return f(bytes);
  } else {
    std::string bytes;
    return f(bytes, caf::meta::load_callback([&]() -> caf::error {
               if (!x.ParseFromString(bytes))
                 return caf::sec::invalid_argument;
               return caf::none;
             }));
  }
}

} // namespace chorus::pb

namespace chorus {

// -- conversation ----------------------------------------------------------------
using send_atom = caf::atom_constant<caf::atom("send")>;
using history_atom = caf::atom_constant<caf::atom("history")>;
using edit_atom = caf::atom_constant<caf::atom("edit")>;
using recall_atom = caf::atom_constant<caf::atom("recall")>;
using typing_atom = caf::atom_constant<caf::atom("typing")>;
using read_atom = caf::atom_constant<caf::atom("read")>;
using create_atom = caf::atom_constant<caf::atom("create")>;
using add_atom = caf::atom_constant<caf::atom("add")>;
using remove_atom = caf::atom_constant<caf::atom("remove")>;
using leave_atom = caf::atom_constant<caf::atom("leave")>;
using written_atom = caf::atom_constant<caf::atom("written")>;

// -- user ------------------------------------------------------------------------
using attach_atom = caf::atom_constant<caf::atom("attach")>;
using detach_atom = caf::atom_constant<caf::atom("detach")>;
using deliver_atom = caf::atom_constant<caf::atom("deliver")>;
using joined_atom = caf::atom_constant<caf::atom("joined")>;
using left_atom = caf::atom_constant<caf::atom("left")>;
using ack_atom = caf::atom_constant<caf::atom("ack")>;
using set_read_atom = caf::atom_constant<caf::atom("set_read")>;
using sync_atom = caf::atom_constant<caf::atom("sync")>;
using list_atom = caf::atom_constant<caf::atom("list")>;
using presence_atom = caf::atom_constant<caf::atom("presence")>;
using signal_atom = caf::atom_constant<caf::atom("signal")>;

// -- connection --------------------------------------------------------------------
using request_atom = caf::atom_constant<caf::atom("request")>;
using http_atom = caf::atom_constant<caf::atom("http")>;
using push_atom = caf::atom_constant<caf::atom("push")>;
using closed_atom = caf::atom_constant<caf::atom("closed")>;

// -- timers --------------------------------------------------------------------------
using tick_atom = caf::atom_constant<caf::atom("tick")>;     // idle check, auth timeout
using expire_atom = caf::atom_constant<caf::atom("expire")>; // request deadlines
using idle_atom = caf::atom_constant<caf::atom("idle")>;     // a connection's idle check

} // namespace chorus
