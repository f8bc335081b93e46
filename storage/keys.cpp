#include "storage/keys.hpp"

namespace chorus::storage {

void put_be64(std::string& out, uint64_t x) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((x >> shift) & 0xff));
}

uint64_t get_be64(std::string_view in) {
  uint64_t x = 0;
  for (int i = 0; i < 8; ++i)
    x = (x << 8) | static_cast<unsigned char>(in[i]);
  return x;
}

std::string message_prefix(std::string_view conversation_id) {
  std::string key;
  key.reserve(conversation_id.size() + 9);
  key.append(conversation_id);
  key.push_back('\0');
  return key;
}

std::string message_key(std::string_view conversation_id, uint64_t seq) {
  auto key = message_prefix(conversation_id);
  put_be64(key, seq);
  return key;
}

uint64_t seq_of_message_key(std::string_view key) {
  return get_be64(key.substr(key.size() - 8));
}

std::string inbox_prefix(std::string_view user_id) {
  std::string key{user_id};
  key.push_back('\0');
  return key;
}

std::string inbox_key(std::string_view user_id, std::string_view conversation_id) {
  auto key = inbox_prefix(user_id);
  key.append(conversation_id);
  return key;
}

std::string_view conversation_of_inbox_key(std::string_view key) {
  return key.substr(key.find('\0') + 1);
}

std::string dedup_key(std::string_view conversation_id, std::string_view sender,
                      std::string_view client_msg_id) {
  std::string key;
  key.reserve(conversation_id.size() + sender.size() + client_msg_id.size() + 2);
  key.append(conversation_id);
  key.push_back('\0');
  key.append(sender);
  key.push_back('\0');
  key.append(client_msg_id);
  return key;
}

} // namespace chorus::storage
