// Binary frames: a serialized pb::Frame whose payload field must be the one
// its `type` names.
#include "net/codec.hpp"

#include <unordered_map>

namespace chorus::net {

std::optional<pb::Frame::PayloadCase> request_payload(std::string_view type) {
  using P = pb::Frame::PayloadCase;
  static const std::unordered_map<std::string_view, P> table = {
      {"auth", P::kAuth},
      {"ping", P::PAYLOAD_NOT_SET},
      {"message.send", P::kSend},
      {"message.ack", P::kAck},
      {"message.read", P::kRead},
      {"message.typing", P::kTyping},
      {"message.edit", P::kEdit},
      {"message.recall", P::kRecall},
      {"sync", P::kSync},
      {"history", P::kHistory},
      {"conversations.list", P::kConversationsList},
      {"group.create", P::kGroupCreate},
      {"group.add_members", P::kGroupMembers},
      {"group.remove_members", P::kGroupMembers},
      {"group.leave", P::kGroupLeave},
      {"presence.query", P::kPresenceQuery},
  };
  auto i = table.find(type);
  if (i == table.end())
    return std::nullopt;
  return i->second;
}

std::optional<decode_error> decode_binary(std::string_view bytes, pb::Frame* out) {
  if (!out->ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return decode_error{errc::bad_request, "frame is not a valid protobuf Frame", {}};
  auto expected = request_payload(out->type());
  if (!expected)
    return decode_error{errc::bad_request, "unknown type '" + out->type() + "'", out->req_id()};
  if (out->payload_case() != *expected && out->payload_case() != pb::Frame::PAYLOAD_NOT_SET)
    return decode_error{errc::bad_request,
                        "the payload field does not belong to type '" + out->type() + "'",
                        out->req_id()};
  if (out->payload_case() == pb::Frame::kSend &&
      (out->send().conversation_id().empty() && out->send().to().empty()))
    return decode_error{errc::bad_request, "field 'conversation_id' or 'to' is required",
                        out->req_id()};
  return std::nullopt;
}

} // namespace chorus::net
