#include "net/validate.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

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
  // Refused: what nlohmann's parser would skip or a JSON document cannot hold.
  CHECK(inspect_content("\xEF\xBB\xBF{}", 100, &info));
  CHECK(inspect_content("\"\xC3\x28\"", 100, &info));
  CHECK(inspect_content("\"\xED\xA0\x80\"", 100, &info)); // a UTF-16 surrogate
  CHECK(inspect_content("{} {}", 100, &info));
  CHECK(inspect_content("{/* c */}", 100, &info));
  // nlohmann's parser stops at a NUL byte: "0\0..." would pass as 0 and be
  // written into pushes with the bytes after it.
  CHECK(inspect_content(std::string{"0\0,\"x\":1", 8}, 100, &info));
  CHECK(inspect_content(std::string{"{}\0", 3}, 100, &info));

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

TEST_CASE("accepted content can stand as it is inside another JSON document", "[net]") {
  // JSON clients receive content as it was sent (net/json_codec.cpp).
  for (std::string c :
       {"1", " \n{ \"a\" : [ 1 , 2 ] }\t", "\"\\u00e9\\\"\\n\"", "\"\xC3\xA9\xF0\x9F\x98\x80\"",
        "-0.5e+3", "true", "[]", "\"\\ud83d\\ude00\""}) {
    CAPTURE(c);
    content_info info;
    REQUIRE_FALSE(inspect_content(c, 100, &info));
    auto doc = nlohmann::json::parse("{\"x\":" + c + "}", nullptr, false);
    REQUIRE_FALSE(doc.is_discarded());
    CHECK(doc["x"] == nlohmann::json::parse(c));
  }
}

TEST_CASE("content fields are read as a parsed document would give them", "[net]") {
  SECTION("a repeated key counts with its last value") {
    content_info info;
    CHECK_FALSE(inspect_content(R"({"quote_message_seq":"x","quote_message_seq":7})", 100, &info));
    CHECK(info.quote_seq == 7);
    CHECK(inspect_content(R"({"quote_message_seq":7,"quote_message_seq":0})", 100, &info));
    content_info cleared;
    CHECK_FALSE(
        inspect_content(R"({"quote_message_seq":7,"quote_message_seq":null})", 100, &cleared));
    CHECK(cleared.quote_seq == 0);
    content_info all;
    CHECK_FALSE(inspect_content(R"({"mention_type":"all","mention_type":{"a":1}})", 100, &all));
    CHECK_FALSE(all.mention_all);
  }
  SECTION("only the top object's quote and mention_type count") {
    content_info info;
    CHECK_FALSE(
        inspect_content(R"({"inner":{"quote_message_seq":-1,"mention_type":"all"}})", 100, &info));
    CHECK(info.quote_seq == 0);
    CHECK_FALSE(info.mention_all);
    CHECK_FALSE(inspect_content(R"([{"quote_message_seq":-1}])", 100, &info));
  }
  SECTION("numbers that are not positive integers are refused as a quote") {
    content_info info;
    for (const char* q : {"1.0", "-0", "1e2", "18446744073709551616", "true", "[1]", "{}"}) {
      auto json = std::string{R"({"quote_message_seq":)"} + q + "}";
      CAPTURE(json);
      auto err = inspect_content(json, 100, &info);
      REQUIRE(err);
      CHECK(err->code == errc::bad_request);
    }
    CHECK_FALSE(inspect_content(R"({"quote_message_seq":18446744073709551615})", 100, &info));
    CHECK(info.quote_seq == 18446744073709551615u);
  }
  SECTION("mentions are found in document order, wherever they nest") {
    content_info info;
    REQUIRE_FALSE(inspect_content(
        R"({"parts":[{"type":"mention","user_id":"carol"},
                     {"user_id":"dave","type":"mention","more":[{"type":"mention","user_id":"erin"}]},
                     {"type":"text","user_id":"frank"},
                     {"type":"mention","user_id":7},
                     {"type":"mention"}],
            "z":{"type":"mention","user_id":"gina"}})",
        1000, &info));
    CHECK(info.mentions == std::vector<std::string>{"carol", "dave", "erin", "gina"});
  }
  SECTION("mentions deeper than 16 containers are not looked for") {
    auto nested = [](int depth) {
      std::string s;
      for (int i = 0; i < depth; ++i)
        s += "[";
      s += R"({"type":"mention","user_id":"deep"})";
      for (int i = 0; i < depth; ++i)
        s += "]";
      return s;
    };
    content_info at16;
    REQUIRE_FALSE(inspect_content(nested(16), 1000, &at16));
    CHECK(at16.mentions.size() == 1);
    content_info at17;
    REQUIRE_FALSE(inspect_content(nested(17), 1000, &at17));
    CHECK(at17.mentions.empty());
  }
  SECTION("any JSON value but null is content; trailing text is not") {
    content_info info;
    CHECK_FALSE(inspect_content(R"("just text")", 100, &info));
    CHECK_FALSE(inspect_content("42", 100, &info));
    CHECK_FALSE(inspect_content("[null]", 100, &info));
    CHECK_FALSE(inspect_content(R"({"a":null})", 100, &info));
    CHECK(inspect_content(R"({"a":1} x)", 100, &info));
    CHECK(inspect_content("", 100, &info));
    CHECK(inspect_content(R"({"a":)", 100, &info));
  }
}
