#include "actors/push.hpp"

#include "net/codec.hpp"

namespace chorus {

const std::string& push::json() const {
  std::call_once(json_once_, [this] { json_ = net::encode_json(frame_); });
  return json_;
}

const std::string& push::binary() const {
  std::call_once(binary_once_, [this] { binary_ = frame_.SerializeAsString(); });
  return binary_;
}

} // namespace chorus
