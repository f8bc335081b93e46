#include "node/token.hpp"

#include <catch2/catch.hpp>

using namespace chorus::node;

TEST_CASE("tokens verify under their secret and until they expire", "[node]") {
  auto t = make_token("k", "alice", 2000);
  CHECK(verify_token("k", t, 1999) == std::optional<std::string>{"alice"});
  CHECK_FALSE(verify_token("k", t, 2001));
  CHECK_FALSE(verify_token("other", t, 1000));
  CHECK(verify_token("k", make_token("k", "a.b", 0), 1LL << 40) ==
        std::optional<std::string>{"a.b"});
}

TEST_CASE("tampered or malformed tokens are rejected", "[node]") {
  auto t = make_token("k", "alice", 0);
  auto forged = "mallory" + t.substr(5);
  CHECK_FALSE(verify_token("k", forged, 0));
  CHECK_FALSE(verify_token("k", "", 0));
  CHECK_FALSE(verify_token("k", "alice", 0));
  CHECK_FALSE(verify_token("k", "alice.0", 0));
  CHECK_FALSE(verify_token("k", "alice.x." + t.substr(t.rfind('.') + 1), 0));
}
