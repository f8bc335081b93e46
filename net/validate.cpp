#include "net/validate.hpp"

#include <nlohmann/json.hpp>

namespace chorus::net {

namespace {

bool all_of(std::string_view s, size_t max, bool (*ok)(char)) noexcept {
  if (s.empty() || s.size() > max)
    return false;
  for (char c : s)
    if (!ok(c))
      return false;
  return true;
}

bool alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/// Walks a content value for mention parts, wherever rich text nests them.
void find_mentions(const nlohmann::json& v, content_info* out, int depth) {
  if (depth > 16)
    return;
  if (v.is_object()) {
    auto t = v.find("type");
    auto u = v.find("user_id");
    if (t != v.end() && t->is_string() && *t == "mention" && u != v.end() && u->is_string())
      out->mentions.push_back(u->get<std::string>());
    for (const auto& [key, child] : v.items())
      if (child.is_structured())
        find_mentions(child, out, depth + 1);
  } else if (v.is_array()) {
    for (const auto& child : v)
      if (child.is_structured())
        find_mentions(child, out, depth + 1);
  }
}

} // namespace

bool valid_user_id(std::string_view id) noexcept {
  return all_of(id, 64,
                [](char c) { return alnum(c) || c == '_' || c == '.' || c == '@' || c == '-'; });
}

bool valid_group_id(std::string_view id) noexcept {
  return all_of(id, 64, [](char c) { return alnum(c) || c == '_' || c == '.' || c == '-'; });
}

bool valid_client_msg_id(std::string_view id) noexcept {
  return all_of(id, 128, [](char c) { return c > 0x20 && c < 0x7f; });
}

std::string direct_conversation_id(std::string_view a, std::string_view b) {
  if (b < a)
    std::swap(a, b);
  std::string id = "d:";
  id.append(a);
  id.push_back(':');
  id.append(b);
  return id;
}

std::string check_conversation_id(std::string_view id) {
  if (id.rfind("g:", 0) == 0) {
    if (!valid_group_id(id.substr(2)))
      return "group id must be 1-64 characters of [A-Za-z0-9_.-]";
    return {};
  }
  if (id.rfind("d:", 0) == 0) {
    auto rest = id.substr(2);
    auto colon = rest.find(':');
    if (colon == std::string_view::npos)
      return "a direct conversation id is d:<user>:<user>";
    auto a = rest.substr(0, colon);
    auto b = rest.substr(colon + 1);
    if (!valid_user_id(a) || !valid_user_id(b))
      return "a direct conversation id names two valid user ids";
    if (!(a < b))
      return "a direct conversation id names its users in byte order, a < b";
    return {};
  }
  return "conversation_id must start with d: or g:";
}

std::optional<error_info> inspect_content(std::string_view json, size_t max_bytes,
                                          content_info* out) {
  if (json.size() > max_bytes)
    return error_info{errc::too_large, "content is " + std::to_string(json.size()) +
                                           " bytes, the limit is " + std::to_string(max_bytes)};
  auto v = nlohmann::json::parse(json.begin(), json.end(), nullptr, false);
  if (v.is_discarded())
    return error_info{errc::bad_request, "content is not valid JSON"};
  if (v.is_null())
    return error_info{errc::bad_request, "content must not be null"};
  if (v.is_object()) {
    if (auto q = v.find("quote_message_seq"); q != v.end() && !q->is_null()) {
      if (!q->is_number_unsigned() || q->get<uint64_t>() == 0)
        return error_info{errc::bad_request, "quote_message_seq must be a positive integer"};
      out->quote_seq = q->get<uint64_t>();
    }
    if (auto m = v.find("mention_type"); m != v.end() && m->is_string() && *m == "all")
      out->mention_all = true;
  }
  find_mentions(v, out, 0);
  return std::nullopt;
}

} // namespace chorus::net
