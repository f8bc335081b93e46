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

} // namespace chorus
