#include "cluster/placement.hpp"

#include <catch2/catch.hpp>

#include <map>

using chorus::cluster::placement;

TEST_CASE("one member owns every shard", "[cluster]") {
  placement p{{"n1"}, "n1", 64};
  for (auto key : {"alice", "bob", "g:room", "d:a:b"})
    CHECK(p.is_local(key));
}

TEST_CASE("every node computes the same map, spread over members", "[cluster]") {
  placement a{{"n1", "n2", "n3"}, "n1"};
  placement b{{"n3", "n1", "n2"}, "n2"}; // order of members does not matter
  std::map<std::string, int> owned;
  for (uint32_t s = 0; s < a.shard_count(); ++s) {
    CHECK(a.owner_of_shard(s) == b.owner_of_shard(s));
    owned[a.owner_of_shard(s)]++;
  }
  REQUIRE(owned.size() == 3);
  for (auto& [node, n] : owned)
    CHECK(n > 1024 / 3 - 120);
}

TEST_CASE("removing a member moves only that member's shards", "[cluster]") {
  placement three{{"n1", "n2", "n3"}, "n1"};
  placement two{{"n1", "n2"}, "n1"};
  for (uint32_t s = 0; s < three.shard_count(); ++s)
    if (three.owner_of_shard(s) != "n3")
      CHECK(two.owner_of_shard(s) == three.owner_of_shard(s));
}

TEST_CASE("the key hash is stable across builds", "[cluster]") {
  CHECK(placement::hash("") == 0xcbf29ce484222325ULL);
  CHECK(placement::hash("a") == 0xaf63dc4c8601ec8cULL);
}
