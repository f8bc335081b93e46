// Where an entity lives: shard = hash(key) mod shard_count, and each shard is
// owned by the member with the highest rendezvous score. Every node computes the
// same map from the same configuration, so any node can route any message
// without asking anyone. With one member every shard is local.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace chorus::cluster {

class placement {
public:
  /// REQUIRES: `members` is not empty and contains `self`; shard_count > 0.
  placement(std::vector<std::string> members, std::string self, uint32_t shard_count = 1024);

  /// The shard of an entity key (a user id or a conversation id).
  uint32_t shard_of(std::string_view key) const noexcept;

  /// The member that owns a shard.
  const std::string& owner_of_shard(uint32_t shard) const noexcept;

  /// The member that owns an entity.
  const std::string& owner_of(std::string_view key) const noexcept {
    return owner_of_shard(shard_of(key));
  }

  bool is_local(std::string_view key) const noexcept { return owner_of(key) == self_; }

  const std::string& self() const noexcept { return self_; }
  const std::vector<std::string>& members() const noexcept { return members_; }
  uint32_t shard_count() const noexcept { return static_cast<uint32_t>(owners_.size()); }

  /// A stable 64-bit hash (FNV-1a), the same on every node and build.
  static uint64_t hash(std::string_view key) noexcept;

private:
  std::vector<std::string> members_;
  std::string self_;
  std::vector<uint32_t> owners_; // shard -> index into members_
};

} // namespace chorus::cluster
