// The protocol's error codes as a CAF error category. Actors answer failed
// requests with make_error(errc::..., "human message"); the connection actor
// turns any caf::error into the protocol's {"code", "message"} once, at the edge.
#pragma once

#include <caf/atom.hpp>
#include <caf/error.hpp>

#include <cstdint>
#include <string>

namespace chorus {

/// Do not renumber: the values cross node boundaries inside caf::error.
enum class errc : uint8_t {
  none = 0,
  bad_request = 1,
  unauthenticated = 2,
  forbidden = 3,
  not_found = 4,
  too_large = 5,
  rate_limited = 6,
  conflict = 7,
  unavailable = 8,
  internal = 9,
};

/// The protocol's name of a code, e.g. "bad_request".
const char* code_name(errc x) noexcept;

/// The category under which errc values travel in a caf::error.
constexpr caf::atom_value errc_category = caf::atom("chorus");

caf::error make_error(errc code, std::string message);

/// A caf::error as the protocol reports it.
struct error_info {
  errc code = errc::internal;
  std::string message;
};

/// Maps chorus errors to themselves, a request timeout or a dead or unreachable
/// actor to `unavailable`, anything else to `internal`.
error_info describe(const caf::error& err);

} // namespace chorus
