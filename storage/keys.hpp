// Key layout of the RocksDB column families (docs/storage-format.md).
//
// Ids never contain a NUL byte (net/validate.cpp rejects them), so NUL
// separates the parts of a key and keeps range scans inside one id: every key of
// conversation "g:a" starts with "g:a\0", which no key of "g:ab" does. Numbers
// are 8-byte big-endian so that byte order is numeric order.
//
// Do not change these encodings: they are on disk.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace chorus::storage {

/// messages: `conversation_id \0 seq(8, BE)`.
std::string message_key(std::string_view conversation_id, uint64_t seq);

/// The prefix shared by every message key of a conversation.
std::string message_prefix(std::string_view conversation_id);

/// The seq of a message key. REQUIRES: `key` came from message_key().
uint64_t seq_of_message_key(std::string_view key);

/// inbox: `user_id \0 conversation_id`.
std::string inbox_key(std::string_view user_id, std::string_view conversation_id);

/// The prefix shared by every inbox key of a user.
std::string inbox_prefix(std::string_view user_id);

/// The conversation id of an inbox key. REQUIRES: `key` came from inbox_key().
std::string_view conversation_of_inbox_key(std::string_view key);

/// dedup: `conversation_id \0 sender \0 client_msg_id`.
std::string dedup_key(std::string_view conversation_id, std::string_view sender,
                      std::string_view client_msg_id);

/// Appends `x` as 8 bytes big-endian.
void put_be64(std::string& out, uint64_t x);

/// Reads 8 bytes big-endian. REQUIRES: `in.size() >= 8`.
uint64_t get_be64(std::string_view in);

} // namespace chorus::storage
