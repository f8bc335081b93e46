#include "actors/push.hpp"

#include "net/codec.hpp"

namespace chorus {

namespace {

/// Runs `encode` into `out` once, however many threads ask. Not
/// std::call_once: glibc's pthread_once issues a futex wake on every first
/// call, a system call per push.
template <class Encode>
const std::string& encode_once(std::atomic<bool>& ready, std::mutex& mtx, std::string& out,
                               Encode encode) {
  if (!ready.load(std::memory_order_acquire)) {
    std::lock_guard<std::mutex> guard{mtx};
    if (!ready.load(std::memory_order_relaxed)) {
      out = encode();
      ready.store(true, std::memory_order_release);
    }
  }
  return out;
}

} // namespace

const std::string& push::json() const {
  return encode_once(json_ready_, mtx_, json_, [this] { return net::encode_json(frame_); });
}

const std::string& push::binary() const {
  return encode_once(binary_ready_, mtx_, binary_, [this] { return frame_.SerializeAsString(); });
}

std::string shared_reply::binary(const std::string& req_id) const {
  const auto& body =
      encode_once(binary_ready_, mtx_, binary_, [this] { return frame_.SerializeAsString(); });
  pb::Frame head;
  head.set_req_id(req_id);
  auto out = head.SerializeAsString();
  out += body;
  return out;
}

std::string shared_reply::json(const std::string& req_id) const {
  const auto& payload = encode_once(payload_ready_, mtx_, payload_json_,
                                    [this] { return net::encode_json_payload(frame_); });
  return net::encode_json(frame_.type(), req_id, payload);
}

} // namespace chorus
