// The protocol's error codes (net/errc.hpp) as a CAF error category. Actors answer failed
// requests with make_error(errc::..., "human message"); the connection actor
// turns any caf::error into the protocol's {"code", "message"} once, at the edge.
#pragma once

#include "net/errc.hpp"

#include <caf/atom.hpp>
#include <caf/error.hpp>

#include <cstdint>
#include <string>

namespace chorus {

/// The category under which errc values travel in a caf::error.
constexpr caf::atom_value errc_category = caf::atom("chorus");

caf::error make_error(errc code, std::string message);

/// Maps chorus errors to themselves, a request timeout or a dead or unreachable
/// actor to `unavailable`, anything else to `internal`.
error_info describe(const caf::error& err);

} // namespace chorus
