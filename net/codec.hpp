// The protocol codecs: JSON text frames and protobuf binary frames, both
// decoded into the same pb::Frame (docs/protocol.md). Decoding checks syntax
// and field types only; what the values mean is checked once, by the
// connection actor, for every wire format alike.
#pragma once

#include "net/errc.hpp"
#include "proto/chorus.pb.h"

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace chorus::net {

/// Why a frame could not be decoded: the error reply to send.
struct decode_error {
  errc code = errc::bad_request;
  std::string message;
  std::string req_id; ///< echoed if the frame got far enough to tell it
};

/// The payload field that belongs to a request `type`, PAYLOAD_NOT_SET for
/// types without payload (ping); nullopt for unknown types.
std::optional<pb::Frame::PayloadCase> request_payload(std::string_view type);

// -- JSON ----------------------------------------------------------------------

/// Decodes one JSON text frame {"type", "req_id", "payload"}.
std::optional<decode_error> decode_json(std::string_view text, pb::Frame* out);

/// Decodes the payload object of a request of `type` (also used by the HTTP
/// API, whose bodies are payloads). REQUIRES: out->type() == type.
std::optional<decode_error> decode_json_payload(std::string_view type,
                                                const nlohmann::json& payload, pb::Frame* out);

/// Encodes a reply or push as a JSON text frame.
std::string encode_json(const pb::Frame& f);

/// Encodes only the payload object of a reply (HTTP response bodies).
std::string encode_json_payload(const pb::Frame& f);

/// Encodes a JSON text frame from its parts, `payload` already JSON text (as
/// encode_json_payload writes it): the same text encode_json writes for the
/// whole frame.
std::string encode_json(std::string_view type, const std::string& req_id, std::string_view payload);

// -- protobuf ------------------------------------------------------------------

/// Decodes one serialized pb::Frame; checks that its payload fits its type.
std::optional<decode_error> decode_binary(std::string_view bytes, pb::Frame* out);

} // namespace chorus::net
