// The protocol's error codes (docs/protocol.md). Shared by the node and the
// client library; actors/errors.hpp carries them inside caf::error.
#pragma once

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

/// A protocol error: a code and a human message.
struct error_info {
  errc code = errc::internal;
  std::string message;
};

} // namespace chorus
