// The HTTP API on the WebSocket port (docs/protocol.md, "HTTP"): maps a
// request to the same pb::Frame a WebSocket client would send, and a reply
// frame to a status code. Kept free of Beast so it can be tested directly.
#pragma once

#include "actors/context.hpp"
#include "net/codec.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace chorus::net {

/// What an authenticated API request asks for.
struct api_request {
  pb::Frame frame;
  bool whole_frame_reply = false; ///< POST /v1/rpc answers with the whole frame
};

/// Maps method and target ("/v1/...?...") and body to a request frame. An
/// error has code not_found for unknown paths.
std::optional<decode_error> parse_api_request(std::string_view method, std::string_view target,
                                              std::string_view body, api_request* out);

/// The user a bearer token stands for, or nullopt. In development mode any
/// token is accepted and names its user before the first '.'.
std::optional<std::string> api_user(std::string_view authorization, const actor_settings& settings);

/// 200 for replies, the error's status for error frames (400, 401, ...).
int http_status(const pb::Frame& reply);

/// Decodes %XX escapes; nullopt for a malformed escape.
std::optional<std::string> percent_decode(std::string_view s);

} // namespace chorus::net
