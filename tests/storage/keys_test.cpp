#include "storage/keys.hpp"

#include <catch2/catch.hpp>

using namespace chorus::storage;

TEST_CASE("message keys sort by conversation, then numerically by seq", "[storage]") {
  CHECK(message_key("g:a", 2) < message_key("g:a", 10));
  CHECK(message_key("g:a", 255) < message_key("g:a", 256));
  CHECK(message_key("g:a", UINT64_MAX) < message_key("g:ab", 0));
  CHECK(seq_of_message_key(message_key("d:x:y", 123456789)) == 123456789);
  CHECK(message_key("g:a", 1).rfind(message_prefix("g:a"), 0) == 0);
  CHECK(message_key("g:ab", 1).rfind(message_prefix("g:a"), 0) == std::string::npos);
}

TEST_CASE("inbox keys give back their conversation", "[storage]") {
  auto key = inbox_key("alice", "d:alice:bob");
  CHECK(key.rfind(inbox_prefix("alice"), 0) == 0);
  CHECK(conversation_of_inbox_key(key) == "d:alice:bob");
  CHECK(key.rfind(inbox_prefix("ali"), 0) == std::string::npos);
}

TEST_CASE("big-endian helpers round-trip", "[storage]") {
  for (uint64_t x : {0ULL, 1ULL, 0x0102030405060708ULL, ~0ULL}) {
    std::string s;
    put_be64(s, x);
    REQUIRE(s.size() == 8);
    CHECK(get_be64(s) == x);
  }
}
