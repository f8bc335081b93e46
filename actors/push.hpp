// A server push (message.new, receipt.read, typing, ...) shared by every
// connection it goes to. It is built once by the actor that fans it out and
// encoded at most once per wire format, however many devices receive it.
#pragma once

#include "proto/chorus.pb.h"

#include <caf/allowed_unsafe_message_type.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

namespace chorus {

/// A frame and up to two encodings of it, each made on first use, once,
/// however many threads ask.
class encoded_frame {
public:
  explicit encoded_frame(pb::Frame frame) : frame_(std::move(frame)) {}

  const pb::Frame& frame() const noexcept { return frame_; }

protected:
  /// Encoding `slot` (0 or 1), made by `encode` if it is the first to ask.
  /// Not std::call_once: glibc's pthread_once issues a futex wake on every
  /// first call, a system call per push.
  template <class Encode>
  const std::string& once(int slot, Encode encode) const {
    auto& ready = ready_[slot];
    if (!ready.load(std::memory_order_acquire)) {
      std::lock_guard<std::mutex> guard{mtx_};
      if (!ready.load(std::memory_order_relaxed)) {
        text_[slot] = encode();
        ready.store(true, std::memory_order_release);
      }
    }
    return text_[slot];
  }

private:
  pb::Frame frame_;
  mutable std::mutex mtx_; ///< taken only by the first encoding of each slot
  mutable std::atomic<bool> ready_[2] = {false, false};
  mutable std::string text_[2];
};

/// A push, the same frame for every device it goes to.
class push : public encoded_frame {
public:
  using encoded_frame::encoded_frame;

  /// The JSON text frame. Thread-safe; encoded on first use.
  const std::string& json() const;

  /// The serialized protobuf Frame. Thread-safe; encoded on first use.
  const std::string& binary() const;
};

using push_ptr = std::shared_ptr<const push>;

/// A reply that many requests get alike (the pulls of a large group's
/// members after a signal): built once, its payload encoded at most once
/// per wire format, and each request's copy is its req_id put in front.
class shared_reply : public encoded_frame {
public:
  /// `frame`: the reply's type and payload, without a req_id.
  using encoded_frame::encoded_frame;

  /// The serialized protobuf Frame with `req_id`: a Frame holding only the
  /// req_id, then the shared encoding (a parser merges concatenated
  /// messages, so the bytes read as one Frame with both). Thread-safe.
  std::string binary(const std::string& req_id) const;

  /// The JSON text frame with `req_id`, as net::encode_json writes it for
  /// the whole frame. Thread-safe.
  std::string json(const std::string& req_id) const;
};

using shared_reply_ptr = std::shared_ptr<const shared_reply>;

/// Builds a push frame of `type` with the payload `set` fills in.
template <class Fill>
push_ptr make_push(const char* type, Fill&& set) {
  pb::Frame f;
  f.set_type(type);
  set(f);
  return std::make_shared<const push>(std::move(f));
}

} // namespace chorus

// A push is only ever shared between actors of one node; a node that forwards
// one to another node sends its frame().
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(chorus::push_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(chorus::shared_reply_ptr)
