#include "actors/errors.hpp"

#include <caf/message.hpp>
#include <caf/sec.hpp>

namespace chorus {

caf::error make_error(errc code, std::string message) {
  return caf::error{static_cast<uint8_t>(code), errc_category,
                    caf::make_message(std::move(message))};
}

error_info describe(const caf::error& err) {
  if (err.category() == errc_category) {
    error_info info;
    info.code = err.code() <= static_cast<uint8_t>(errc::internal) ? static_cast<errc>(err.code())
                                                                   : errc::internal;
    if (err.context().match_elements<std::string>())
      info.message = err.context().get_as<std::string>(0);
    return info;
  }
  if (err.category() == caf::atom("system")) {
    switch (static_cast<caf::sec>(err.code())) {
    case caf::sec::request_timeout: return {errc::unavailable, "request timed out"};
    case caf::sec::request_receiver_down:
    case caf::sec::no_route_to_receiving_node:
      return {errc::unavailable, "the owner of this entity is not reachable"};
    default: break;
    }
  }
  return {errc::internal, "internal error"};
}

} // namespace chorus
