#include "cluster/placement.hpp"

#include <algorithm>

namespace chorus::cluster {

namespace {

uint64_t mix(uint64_t x) noexcept { // splitmix64 finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

} // namespace

uint64_t placement::hash(std::string_view key) noexcept {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : key) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

placement::placement(std::vector<std::string> members, std::string self, uint32_t shard_count)
  : members_(std::move(members)), self_(std::move(self)), owners_(shard_count) {
  std::sort(members_.begin(), members_.end());
  std::vector<uint64_t> member_hashes;
  for (const auto& m : members_)
    member_hashes.push_back(hash(m));
  for (uint32_t shard = 0; shard < shard_count; ++shard) {
    uint64_t best = 0;
    uint32_t best_index = 0;
    for (uint32_t i = 0; i < members_.size(); ++i) {
      auto score = mix(member_hashes[i] ^ mix(shard + 1));
      if (i == 0 || score > best) {
        best = score;
        best_index = i;
      }
    }
    owners_[shard] = best_index;
  }
}

uint32_t placement::shard_of(std::string_view key) const noexcept {
  return static_cast<uint32_t>(mix(hash(key)) % owners_.size());
}

const std::string& placement::owner_of_shard(uint32_t shard) const noexcept {
  return members_[owners_[shard]];
}

} // namespace chorus::cluster
