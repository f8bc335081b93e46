// Checks of client input that every wire format shares: id syntax, content
// limits and the parts of a content value the server reads.
#pragma once

#include "net/errc.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chorus::net {

/// Whether `text` holds a NUL byte. nlohmann's parser takes one for the end of
/// its input, so "1\0x" would read as 1; JSON text never holds one (a string
/// escapes it), so text that does is refused before it is parsed.
inline bool holds_nul(std::string_view text) noexcept {
  return text.find('\0') != std::string_view::npos;
}

/// User ids: 1-64 characters of [A-Za-z0-9_.@-].
bool valid_user_id(std::string_view id) noexcept;

/// Group ids (after "g:"): 1-64 characters of [A-Za-z0-9_.-].
bool valid_group_id(std::string_view id) noexcept;

/// Client message ids: 1-128 printable ASCII characters.
bool valid_client_msg_id(std::string_view id) noexcept;

/// "d:<a>:<b>" with a < b in byte order. REQUIRES: a != b, both valid.
std::string direct_conversation_id(std::string_view a, std::string_view b);

/// Why `id` is not a valid conversation id ("d:<a>:<b>" with valid users,
/// a < b, or "g:<group>"), or empty if it is.
std::string check_conversation_id(std::string_view id);

/// What the server reads from a content value.
struct content_info {
  uint64_t quote_seq = 0;            ///< quote_message_seq, 0 if none
  std::vector<std::string> mentions; ///< user ids of {"type":"mention"} parts
  bool mention_all = false;          ///< mention_type: "all"
};

/// Checks a content value given as JSON text: at most `max_bytes`, valid JSON,
/// not null; reads mentions and quote_message_seq (a positive integer).
std::optional<error_info> inspect_content(std::string_view json, size_t max_bytes,
                                          content_info* out);

} // namespace chorus::net
