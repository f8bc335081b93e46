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

/// Reads what the server needs from a content value in one pass over its
/// text, without building a document (the value itself is stored and
/// delivered as the client sent it). Where a key the server reads repeats in
/// an object, its last value counts, as in a parsed document; mentions are
/// collected from every value, also one a repeated key replaces.
class content_reader final : public nlohmann::json_sax<nlohmann::json> {
public:
  /// Objects inside more containers than this are not looked at for mentions.
  static constexpr size_t max_mention_depth = 16;

  /// What quote_message_seq was, last it appeared in the top object.
  enum class quote { absent, null, valid, invalid };

  explicit content_reader(content_info* out) : out_(out) {}

  bool null() override { return value(kind::null); }
  bool boolean(bool) override { return value(kind::other); }
  bool number_integer(number_integer_t) override { return value(kind::other); }
  bool number_unsigned(number_unsigned_t x) override {
    return value(kind::unsigned_int, nullptr, x);
  }
  bool number_float(number_float_t, const string_t&) override { return value(kind::other); }
  bool string(string_t& s) override { return value(kind::string, &s); }
  bool binary(binary_t&) override { return value(kind::other); }

  bool start_object(std::size_t) override {
    value(kind::other);
    stack_.push_back(frame{true, out_->mentions.size(), field::other, false, false, {}});
    return true;
  }
  bool key(string_t& k) override {
    auto& f = stack_.back();
    bool top = stack_.size() == 1;
    if (k == "type")
      f.key = field::type;
    else if (k == "user_id")
      f.key = field::user_id;
    else if (top && k == "quote_message_seq")
      f.key = field::quote;
    else if (top && k == "mention_type")
      f.key = field::mention_type;
    else
      f.key = field::other;
    return true;
  }
  bool end_object() override {
    auto f = std::move(stack_.back());
    stack_.pop_back();
    // The containers around this object: its depth in the value.
    if (f.is_mention && f.has_user_id && stack_.size() <= max_mention_depth)
      out_->mentions.insert(out_->mentions.begin() + static_cast<ptrdiff_t>(f.first_mention),
                            std::move(f.user_id));
    return true;
  }
  bool start_array(std::size_t) override {
    value(kind::other);
    stack_.push_back(frame{false, 0, field::other, false, false, {}});
    return true;
  }
  bool end_array() override {
    stack_.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

  bool top_null() const noexcept { return top_null_; }
  quote quote_state() const noexcept { return quote_; }
  uint64_t quote_seq() const noexcept { return quote_seq_; }

private:
  enum class field { other, type, user_id, quote, mention_type };
  enum class kind { null, string, unsigned_int, other };

  struct frame {
    bool is_object;
    size_t first_mention; ///< where this object's own mention goes: document order
    field key = field::other;
    bool is_mention = false;
    bool has_user_id = false;
    std::string user_id;
  };

  /// One value (a container counts as kind::other when it starts), for the
  /// key it belongs to.
  bool value(kind k, std::string* str = nullptr, uint64_t n = 0) {
    if (stack_.empty()) {
      top_null_ = k == kind::null;
      return true;
    }
    auto& f = stack_.back();
    if (!f.is_object)
      return true;
    switch (f.key) {
    case field::type: f.is_mention = k == kind::string && *str == "mention"; break;
    case field::user_id:
      f.has_user_id = k == kind::string;
      if (f.has_user_id)
        f.user_id = std::move(*str);
      break;
    case field::quote:
      quote_ = k == kind::null                     ? quote::null
               : k == kind::unsigned_int && n != 0 ? quote::valid
                                                   : quote::invalid;
      quote_seq_ = n;
      break;
    case field::mention_type: out_->mention_all = k == kind::string && *str == "all"; break;
    case field::other: break;
    }
    return true;
  }

  content_info* out_;
  std::vector<frame> stack_;
  bool top_null_ = false;
  quote quote_ = quote::absent;
  uint64_t quote_seq_ = 0;
};

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
  // nlohmann skips a leading byte order mark; content is written into
  // other JSON documents as it is, where one may not stand.
  if (json.substr(0, 3) == "\xEF\xBB\xBF")
    return error_info{errc::bad_request, "content must not start with a byte order mark"};
  content_info info;
  content_reader reader{&info};
  if (holds_nul(json) || !nlohmann::json::sax_parse(json.begin(), json.end(), &reader))
    return error_info{errc::bad_request, "content is not valid JSON"};
  if (reader.top_null())
    return error_info{errc::bad_request, "content must not be null"};
  if (reader.quote_state() == content_reader::quote::invalid)
    return error_info{errc::bad_request, "quote_message_seq must be a positive integer"};
  if (reader.quote_state() == content_reader::quote::valid)
    info.quote_seq = reader.quote_seq();
  *out = std::move(info);
  return std::nullopt;
}

} // namespace chorus::net
