#include "net/errc.hpp"

namespace chorus {

const char* code_name(errc x) noexcept {
  switch (x) {
  case errc::none: return "none";
  case errc::bad_request: return "bad_request";
  case errc::unauthenticated: return "unauthenticated";
  case errc::forbidden: return "forbidden";
  case errc::not_found: return "not_found";
  case errc::too_large: return "too_large";
  case errc::rate_limited: return "rate_limited";
  case errc::conflict: return "conflict";
  case errc::unavailable: return "unavailable";
  case errc::internal: return "internal";
  }
  return "internal";
}

} // namespace chorus
