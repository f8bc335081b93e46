#include "actors/push.hpp"

#include "net/codec.hpp"

namespace chorus {

const std::string& push::json() const {
  return once(0, [this] { return net::encode_json(frame()); });
}

const std::string& push::binary() const {
  return once(1, [this] { return frame().SerializeAsString(); });
}

std::string shared_reply::binary(const std::string& req_id) const {
  const auto& body = once(1, [this] { return frame().SerializeAsString(); });
  pb::Frame head;
  head.set_req_id(req_id);
  auto out = head.SerializeAsString();
  out += body;
  return out;
}

std::string shared_reply::json(const std::string& req_id) const {
  const auto& payload = once(0, [this] { return net::encode_json_payload(frame()); });
  return net::encode_json(frame().type(), req_id, payload);
}

} // namespace chorus
