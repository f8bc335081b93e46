#include "actors/context.hpp"

#include "cluster/placement.hpp"

#include <fmt/format.h>

namespace chorus {

id_generator::id_generator(const std::string& node_id)
  : node_bits_(static_cast<uint32_t>(cluster::placement::hash(node_id) & 0xffff)) {}

std::string id_generator::next() {
  // Milliseconds in the high bits and a counter in the low 16, never repeating
  // on this node even if the clock steps back.
  auto candidate = static_cast<uint64_t>(now_ms()) << 16;
  auto prev = last_.load(std::memory_order_relaxed);
  uint64_t next;
  do {
    next = candidate > prev ? candidate : prev + 1;
  } while (!last_.compare_exchange_weak(prev, next, std::memory_order_relaxed));
  return fmt::format("{:016x}{:04x}", next, node_bits_);
}

} // namespace chorus
