// Auth tokens: "<user_id>.<expires>.<mac>", where `expires` is a Unix time in
// seconds (0 = never) and `mac` is the lowercase hex HMAC-SHA256 of
// "<user_id>.<expires>" under the node's secret. `chorusd token USER` prints one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace chorus::node {

std::string make_token(std::string_view secret, std::string_view user_id, int64_t expires);

/// The user a token was issued for, if its MAC is valid under `secret` and it
/// has not expired at `now` (Unix seconds).
std::optional<std::string> verify_token(std::string_view secret, std::string_view token,
                                        int64_t now);

} // namespace chorus::node
