#include "net/http_api.hpp"

#include "net/validate.hpp"
#include "node/token.hpp"

#include <nlohmann/json.hpp>

#include <charconv>

namespace chorus::net {

namespace {

decode_error api_error(errc code, std::string message) {
  return decode_error{code, std::move(message), {}};
}

/// Parses "a=1&b=2" into setters for the known unsigned parameters.
std::optional<decode_error> query_u64(std::string_view query, std::string_view name,
                                      std::optional<uint64_t>* out) {
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) != name || eq == std::string_view::npos)
      continue;
    auto value = pair.substr(eq + 1);
    if (value.empty())
      continue; // "after_seq=" means not given
    uint64_t x = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), x);
    if (ec != std::errc{} || end != value.data() + value.size())
      return api_error(errc::bad_request, "query parameter '" + std::string{name} +
                                              "' must be a non-negative integer");
    *out = x;
  }
  return std::nullopt;
}

} // namespace

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size())
      return std::nullopt;
    int v = 0;
    auto [end, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
    if (ec != std::errc{} || end != s.data() + i + 3)
      return std::nullopt;
    out.push_back(static_cast<char>(v));
    i += 2;
  }
  return out;
}

std::optional<decode_error> parse_api_request(std::string_view method, std::string_view target,
                                              std::string_view body, api_request* out) {
  auto q = target.find('?');
  auto path = target.substr(0, q);
  auto query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
  auto& f = out->frame;
  using json = nlohmann::json;
  auto body_json = [&](json* doc) -> std::optional<decode_error> {
    if (holds_nul(body))
      return api_error(errc::bad_request, "the body must be a JSON object");
    *doc = json::parse(body.begin(), body.end(), nullptr, false);
    if (doc->is_discarded() || !doc->is_object())
      return api_error(errc::bad_request, "the body must be a JSON object");
    return std::nullopt;
  };
  if (path == "/v1/messages") {
    if (method != "POST")
      return api_error(errc::bad_request, "use POST for /v1/messages");
    json doc;
    if (auto err = body_json(&doc))
      return err;
    f.set_type("message.send");
    return decode_json_payload(f.type(), doc, &f);
  }
  if (path == "/v1/sync") {
    if (method != "GET")
      return api_error(errc::bad_request, "use GET for /v1/sync");
    f.set_type("sync");
    std::optional<uint64_t> limit;
    if (auto err = query_u64(query, "limit", &limit))
      return err;
    f.mutable_sync();
    if (limit)
      f.mutable_sync()->set_limit(static_cast<uint32_t>(std::min<uint64_t>(*limit, UINT32_MAX)));
    return std::nullopt;
  }
  if (path == "/v1/rpc") {
    if (method != "POST")
      return api_error(errc::bad_request, "use POST for /v1/rpc");
    out->whole_frame_reply = true;
    auto err = decode_json(body, &f);
    if (!err && (f.type() == "auth"))
      return api_error(errc::bad_request, "HTTP requests authenticate with a bearer token");
    return err;
  }
  constexpr std::string_view conv_prefix = "/v1/conversations/";
  constexpr std::string_view messages_suffix = "/messages";
  if (path.size() > conv_prefix.size() + messages_suffix.size() &&
      path.substr(0, conv_prefix.size()) == conv_prefix &&
      path.substr(path.size() - messages_suffix.size()) == messages_suffix) {
    if (method != "GET")
      return api_error(errc::bad_request, "use GET for conversation messages");
    auto id = percent_decode(
        path.substr(conv_prefix.size(), path.size() - conv_prefix.size() - messages_suffix.size()));
    if (!id)
      return api_error(errc::bad_request, "malformed %-escape in the conversation id");
    f.set_type("history");
    auto* h = f.mutable_history();
    h->set_conversation_id(*id);
    std::optional<uint64_t> after, before, limit;
    if (auto err = query_u64(query, "after_seq", &after))
      return err;
    if (auto err = query_u64(query, "before_seq", &before))
      return err;
    if (auto err = query_u64(query, "limit", &limit))
      return err;
    if (after)
      h->set_after_seq(*after);
    if (before)
      h->set_before_seq(*before);
    if (limit)
      h->set_limit(static_cast<uint32_t>(std::min<uint64_t>(*limit, UINT32_MAX)));
    return std::nullopt;
  }
  return api_error(errc::not_found, "no such endpoint: " + std::string{path});
}

std::optional<std::string> api_user(std::string_view authorization,
                                    const actor_settings& settings) {
  constexpr std::string_view bearer = "Bearer ";
  if (authorization.substr(0, bearer.size()) != bearer)
    return std::nullopt;
  auto token = authorization.substr(bearer.size());
  if (settings.dev_mode) {
    auto user = std::string{token.substr(0, token.find('.'))};
    if (user.empty())
      return std::nullopt;
    return user;
  }
  return node::verify_token(settings.secret, token, now_ms() / 1000);
}

int http_status(const pb::Frame& reply) {
  if (reply.payload_case() != pb::Frame::kError)
    return 200;
  const auto& code = reply.error().code();
  if (code == "bad_request")
    return 400;
  if (code == "unauthenticated")
    return 401;
  if (code == "forbidden")
    return 403;
  if (code == "not_found")
    return 404;
  if (code == "too_large")
    return 413;
  if (code == "rate_limited")
    return 429;
  if (code == "conflict")
    return 409;
  if (code == "unavailable")
    return 503;
  return 500;
}

} // namespace chorus::net
