// A libFuzzer target over everything the node reads from a client before an
// actor sees it: JSON and protobuf frames, message content, HTTP API
// requests, auth tokens. The first input byte picks the reader, the rest is
// its input. Besides "no crash, no sanitizer report" it checks what the
// readers promise:
//
// - a frame either decodes or yields an error with a protocol code;
// - accepted content stands inside another JSON document as it is: a push
//   carrying it, encoded by the node's writer, parses back with the same
//   content value, whatever bytes the other fields hold;
// - a frame decoded from JSON encodes as protobuf and decodes to the same
//   frame.
//
// Built only with clang (scripts/fuzz.sh): cmake -DCHORUS_FUZZ=ON.

#include "actors/context.hpp"
#include "net/codec.hpp"
#include "net/http_api.hpp"
#include "net/validate.hpp"
#include "node/token.hpp"

#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/message_differencer.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using namespace chorus;

[[noreturn]] void fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "fuzz_input: %s: %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

void check_error(const net::decode_error& e) {
  if (e.message.empty())
    fail("decode error without a message");
  if (e.code == errc::none || e.code > errc::internal)
    fail("decode error with a code the protocol does not name", code_name(e.code));
}

/// Accepted content inside a push whose other fields are `noise`.
void check_content_embeds(std::string_view content, std::string_view noise) {
  net::content_info info;
  if (net::inspect_content(content, 64 * 1024, &info))
    return; // refused: never stored, never written
  pb::Frame push;
  push.set_type("message.new");
  auto* m = push.mutable_message();
  m->set_conversation_id(std::string{noise});
  m->set_sender(std::string{noise});
  m->set_client_msg_id(std::string{noise});
  m->set_content(std::string{content});
  m->set_seq(UINT64_MAX);
  auto text = net::encode_json(push);
  auto doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded())
    fail("a push with accepted content is not JSON", text);
  if (doc["payload"]["content"] != nlohmann::json::parse(content))
    fail("content changed on its way through a push", text);
}

/// A frame decoded from one wire, encoded as protobuf and decoded again.
void check_binary_round_trip(const pb::Frame& f) {
  auto bytes = f.SerializeAsString();
  pb::Frame again;
  if (auto err = net::decode_binary(bytes, &again))
    fail("a decoded frame does not decode again", err->message);
  if (!google::protobuf::util::MessageDifferencer::Equals(f, again))
    fail("a frame changed on a protobuf round trip", f.ShortDebugString());
}

/// `wire`: decoded from a JSON or protobuf frame, whose strings are valid
/// UTF-8 (HTTP paths are percent-decoded into any bytes; the ids they name
/// are checked later, by the connection actor).
void check_frame(const pb::Frame& f, bool wire = true) {
  if (wire)
    check_binary_round_trip(f);
  if (f.payload_case() == pb::Frame::kSend) {
    check_content_embeds(f.send().content(), f.send().client_msg_id());
    if (auto why = net::check_conversation_id(f.send().conversation_id()); why.empty()) {
      // a valid id names a direct conversation or a group, nothing else
      auto id = f.send().conversation_id();
      if (id.rfind("d:", 0) != 0 && id.rfind("g:", 0) != 0)
        fail("an accepted conversation id of neither kind", id);
    }
  }
}

void read_json_frame(std::string_view in) {
  pb::Frame f;
  if (auto err = net::decode_json(in, &f))
    return check_error(*err);
  check_frame(f);
}

void read_binary_frame(std::string_view in) {
  pb::Frame f;
  if (auto err = net::decode_binary(in, &f))
    return check_error(*err);
  check_frame(f);
}

void read_content(std::string_view in) {
  // the first half is content, the rest the other fields of the push
  auto half = in.size() / 2;
  check_content_embeds(in.substr(0, half), in.substr(half));
}

void read_api_request(std::string_view in) {
  // "<method>\n<target>\n<body>"
  auto a = in.find('\n');
  if (a == std::string_view::npos)
    return;
  auto b = in.find('\n', a + 1);
  if (b == std::string_view::npos)
    return;
  net::api_request req;
  if (auto err = net::parse_api_request(in.substr(0, a), in.substr(a + 1, b - a - 1),
                                        in.substr(b + 1), &req)) {
    check_error(*err);
    return;
  }
  check_frame(req.frame, false);
}

void read_token(std::string_view in) {
  static const std::string secret = "fuzz-secret";
  if (auto user = node::verify_token(secret, in, 1'700'000'000)) {
    // only a token this node made verifies: same user, same text
    auto dot = in.rfind('.');
    auto exp_dot = in.rfind('.', dot - 1);
    auto expires =
        std::strtoll(std::string{in.substr(exp_dot + 1, dot - exp_dot - 1)}.c_str(), nullptr, 10);
    if (node::make_token(secret, *user, expires) != in)
      fail("a token verified that this node did not make", in);
  }
  actor_settings settings;
  settings.secret = secret;
  (void)net::api_user(in, settings);
  (void)net::percent_decode(in);
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr); // a line for every invalid UTF-8 string
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  std::string_view in{reinterpret_cast<const char*>(data) + 1, size - 1};
  switch (data[0] % 5) {
  case 0: read_json_frame(in); break;
  case 1: read_binary_frame(in); break;
  case 2: read_content(in); break;
  case 3: read_api_request(in); break;
  case 4: read_token(in); break;
  }
  return 0;
}
