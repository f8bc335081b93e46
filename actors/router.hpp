// The router: one per node; every message to a user or a conversation finds
// its actor through it.
//
// It is a table, not an actor: the sender (a connection, a conversation, a
// user actor) looks the entity up on its own thread and sends to it directly,
// so a message takes one hop from sender to entity. The table is split into
// shards, each behind its own mutex; a lookup is one hash probe.
//
// It activates entities on demand (virtual actors): the first message for a
// key spawns its actor, which loads its state from storage. Keys owned by
// another node (cluster/placement.hpp) are answered with `unavailable` until the
// cluster layer connects that node; entities never need to know which node
// they are on.
//
// Passivation without lost messages: the router counts the messages it hands
// out for each entity (every route() or find() is one message the caller then
// sends), and the entity counts the ones it receives (entity_clock::touch).
// An idle entity asks passivate() with its count; the router forgets it only
// if both counts match, i.e. nothing is on its way to it. A sender that looked
// it up before counted its message before sending, so the entity stays.
//
// Idle entities are found by a sweep every idle-timeout / 2: an entity not
// routed to for at least idle-timeout gets a tick_atom, and checks whether it
// can passivate (entity.hpp). One timer per node, not one per entity.
//
// Memory stays bounded when conversations start faster than they go idle
// (every first message of a pair starts one): while more than
// max-conversations are active, a capacity sweep every second ticks each
// conversation not routed to since the previous one. Those idle for a second
// or more passivate then, by the same rule as above, so nothing is lost; the
// next message reloads them from storage.
//
// A sweep reads only the entities it ticks: each shard keeps its entities in
// the order they were last routed to (moved to the front when a sweep's or a
// capacity check's generation changed since their last route, so at most once
// per generation), and a sweep walks from the back until the first entity
// routed to recently. Walking every entity took about 0.7 us each on the
// node's core: 150 ms at 200,000 conversations every idle-timeout / 2, and
// at the max-conversations cap the capacity check walked all of them every
// second.
//
// A sweep's ticks are paced: a busy node finds hundreds of thousands of
// idle conversations at once (W1 starts one per new pair), and passivating
// them takes several microseconds each on the threads that also serve the
// sockets. Sent all at once they stopped every client for seconds; the timer
// sends them in small chunks spread over half of the time until the next
// sweep, and the sockets are served between chunks.
#pragma once

#include "actors/context.hpp"

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace chorus::cluster {
class placement;
}

namespace chorus {

enum class entity_kind { user, conversation };

class router {
public:
  router(caf::actor_system& sys, context_ptr ctx, std::shared_ptr<const cluster::placement> where);
  /// Stops every entity and waits until each has reported its end.
  /// REQUIRES: the actors are terminating (the node awaits all actors first).
  ~router();

  router(const router&) = delete;
  router& operator=(const router&) = delete;

  /// The actor of entity `id`, activated if needed, for one message the
  /// caller sends to it now. `unavailable` for keys of another node or while
  /// the node stops.
  caf::expected<caf::actor> route(entity_kind k, const std::string& id);

  /// The actor of `id` if it is active (for one message), else an invalid
  /// handle. Used for notifications: a user with no actor has no devices.
  caf::actor find(entity_kind k, const std::string& id);

  /// From the entity `id` (actor `self`) that wants to stop: true, and the
  /// router forgets it, if exactly `received` messages were routed to it.
  bool passivate(entity_kind k, const std::string& id, const caf::actor_addr& self,
                 uint64_t received);

  /// An entity a sweep found idle, with the number of messages routed to it
  /// by then (its tick carries it, see check_idle in entity.hpp).
  struct idle_entity {
    caf::actor handle;
    uint64_t routed = 0;
  };

  /// The entities not routed to for at least the idle timeout: the ones
  /// a sweep ticks. Starts a sweep and walks every shard at once; the
  /// router's timer walks one shard at a time instead (collect_idle_in).
  /// Public for tests.
  std::vector<idle_entity> collect_idle();

  /// The largest number of ticks the timer sends at once, and the shortest
  /// pause between two such chunks: at most 64,000 ticks a second, and a
  /// chunk holds the threads that run the actors for about 0.3 ms.
  static constexpr size_t tick_chunk = 64;
  static constexpr std::chrono::milliseconds tick_pause{1};

  /// Stops every entity and refuses new activations (node shutdown).
  void stop_all();

private:
  struct entry {
    caf::actor handle;
    uint64_t routed = 0;
    uint64_t last_generation = 0; ///< sweep generation of the last route
    uint64_t last_capacity = 0;   ///< capacity sweep count at the last route
    entry* newer = nullptr;       ///< toward the front of its recency list
    entry* older = nullptr;       ///< toward its back
  };

  /// One map's entries, most recently moved first: both generations of
  /// the entries never grow from the front to the back.
  struct recency {
    entry* front = nullptr;
    entry* back = nullptr;
    void push_front(entry* e);
    void unlink(entry* e);
  };

  /// The entities of one kind in a shard: the table and its order.
  struct table {
    std::unordered_map<std::string, entry> map;
    recency order;
  };

  struct shard {
    mutable std::mutex mtx;
    table users;
    table conversations;

    table& of(entity_kind k) { return k == entity_kind::user ? users : conversations; }
  };

  static constexpr size_t shard_count = 64;

  /// The idle entities of shard `i` for the sweep of generation `sweep`
  /// (see collect_idle). A sweep walks the shards one by one, spread over
  /// half of the time to the next sweep: walking every entity at once took
  /// the node's core for about 0.7 us per entity (150 ms with 200,000
  /// conversations, every idle-timeout / 2), while each shard's walk holds
  /// only its own lock.
  std::vector<idle_entity> collect_idle_in(size_t i, uint64_t sweep);

  /// If more conversations are active than max-conversations, each one not
  /// routed to since the previous call; else none. Called every second (or
  /// every idle-timeout / 2 if shorter) by the router's timer.
  std::vector<idle_entity> collect_crowded();

  shard& shard_of(const std::string& id);
  caf::actor spawn_entity(entity_kind k, const std::string& id);
  /// Counts one message to `e` and marks it recently routed; its handle.
  /// REQUIRES: e's shard locked; `t` is e's table.
  caf::actor hand_out(table& t, entry& e);
  /// Forgets entity `id` if `addr` is still its actor (an actor that ended).
  void forget(entity_kind k, const std::string& id, const caf::actor_addr& addr);
  /// Forgets entity `id` if `addr` is still its actor and, when `received`
  /// is given, exactly that many messages were routed to it. False if
  /// messages are on their way.
  bool erase(entity_kind k, const std::string& id, const caf::actor_addr& addr,
             const uint64_t* received);
  std::atomic<int64_t>& gauge(entity_kind k);

  caf::actor_system& sys_;
  context_ptr ctx_;
  std::shared_ptr<const cluster::placement> where_;
  std::array<shard, shard_count> shards_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<uint64_t> capacity_generation_{0};
  std::atomic<bool> stopping_{false};

  /// Entities whose end the router has not heard of yet: an actor runs its
  /// exit functor (forget) after CAF counts it as done, so the destructor
  /// waits for these, not only for the actor system.
  std::mutex ends_mtx_;
  std::condition_variable ends_cv_;
  size_t unended_ = 0;

  std::mutex timer_mtx_;
  std::condition_variable timer_cv_;
  bool timer_stop_ = false;
  std::thread timer_;
};

} // namespace chorus
