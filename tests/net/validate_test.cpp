#include "net/validate.hpp"

#include <catch2/catch.hpp>

using namespace chorus;
using namespace chorus::net;

TEST_CASE("user and group ids accept the documented characters only", "[net]") {
  CHECK(valid_user_id("alice"));
  CHECK(valid_user_id("a.b-c_d@e"));
  CHECK_FALSE(valid_user_id(""));
  CHECK_FALSE(valid_user_id("a:b"));
  CHECK_FALSE(valid_user_id(std::string(65, 'a')));
  CHECK_FALSE(valid_user_id(std::string("a\0b", 3)));
  CHECK(valid_group_id("room-1"));
  CHECK_FALSE(valid_group_id("room 1"));
}

TEST_CASE("direct conversation ids name two users in byte order", "[net]") {
  CHECK(direct_conversation_id("bob", "alice") == "d:alice:bob");
  CHECK(check_conversation_id("d:alice:bob").empty());
  CHECK_FALSE(check_conversation_id("d:bob:alice").empty());
  CHECK_FALSE(check_conversation_id("d:alice:alice").empty());
  CHECK_FALSE(check_conversation_id("d:alice").empty());
  CHECK_FALSE(check_conversation_id("x:1").empty());
  CHECK(check_conversation_id("g:room").empty());
  CHECK_FALSE(check_conversation_id("g:").empty());
}

TEST_CASE("content is checked for size, JSON and the fields the server reads", "[net]") {
  content_info info;
  CHECK_FALSE(inspect_content(R"({"text":"hi"})", 100, &info));
  auto big = inspect_content(R"({"text":"0123456789"})", 10, &info);
  REQUIRE(big);
  CHECK(big->code == errc::too_large);
  auto bad = inspect_content("{oops", 100, &info);
  REQUIRE(bad);
  CHECK(bad->code == errc::bad_request);
  CHECK(inspect_content("null", 100, &info));
  CHECK(inspect_content(R"({"quote_message_seq":-1})", 100, &info));
  CHECK(inspect_content(R"({"quote_message_seq":"3"})", 100, &info));

  content_info rich;
  REQUIRE_FALSE(inspect_content(
      R"({"type":"rich_text","mention_type":"all","quote_message_seq":4,
        "parts":[{"type":"text","text":"hi "},{"type":"mention","user_id":"bob"}]})",
      1000, &rich));
  CHECK(rich.quote_seq == 4);
  CHECK(rich.mention_all);
  REQUIRE(rich.mentions.size() == 1);
  CHECK(rich.mentions[0] == "bob");
}
