#include "actors/router.hpp"

#include "actors/conversation_actor.hpp"
#include "actors/conversation_state.hpp"
#include "actors/errors.hpp"
#include "actors/messages.hpp"
#include "actors/user_actor.hpp"
#include "actors/user_state.hpp"
#include "cluster/placement.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace chorus {

router::router(caf::actor_system& sys, context_ptr ctx,
               std::shared_ptr<const cluster::placement> where)
  : sys_(sys), ctx_(std::move(ctx)), where_(std::move(where)) {
  // Sweeps every idle/2; an entity is ticked after 3 generations without a
  // message, i.e. after idle to 1.5 x idle. Capacity is checked every second.
  using clock = std::chrono::steady_clock;
  auto period = std::chrono::duration_cast<clock::duration>(ctx_->settings.idle_timeout / 2) +
                std::chrono::milliseconds{1};
  auto check = std::min<clock::duration>(period, std::chrono::seconds{1});
  timer_ = std::thread([this, period, check] {
    auto next_sweep = clock::now() + period;
    auto next_check = clock::now() + check;
    // The sweep in progress walks shard `walk` next, at `next_walk`; a
    // sweep walks its shards over half of the time to the next one.
    size_t walk = shard_count;
    uint64_t sweep = 0;
    auto next_walk = next_sweep;
    auto walk_pause = std::chrono::duration_cast<clock::duration>(period / 2) / shard_count;
    std::vector<idle_entity> due; // ticks to send, from `sent` on
    size_t sent = 0;
    clock::duration pause{};
    std::unique_lock<std::mutex> guard{timer_mtx_};
    for (;;) {
      auto wake = sent < due.size()    ? clock::now() + pause
                  : walk < shard_count ? std::min(next_walk, next_check)
                                       : std::min(next_sweep, next_check);
      if (timer_cv_.wait_until(guard, wake, [this] { return timer_stop_; }))
        return;
      guard.unlock();
      auto now = clock::now();
      if (sent < due.size()) {
        auto end = std::min(due.size(), sent + tick_chunk);
        for (; sent < end; ++sent)
          caf::anon_send(due[sent].handle, tick_atom::value, due[sent].routed);
        if (sent == due.size())
          due = {}; // the handles would keep ended actors' memory
      } else if (now >= next_check) {
        // Ticks of a capacity check go out over half of the time to the
        // next check.
        due = collect_crowded();
        sent = 0;
        next_check = now + check;
        auto chunks = (due.size() + tick_chunk - 1) / tick_chunk;
        pause = chunks > 1 ? std::max<clock::duration>(tick_pause, (check / 2) / chunks)
                           : clock::duration{};
      } else if (walk < shard_count && now >= next_walk) {
        // The shard's ticks go out before the next shard's walk.
        due = collect_idle_in(walk++, sweep);
        sent = 0;
        auto chunks = (due.size() + tick_chunk - 1) / tick_chunk;
        pause = chunks > 1 ? std::max<clock::duration>(tick_pause, walk_pause / chunks)
                           : clock::duration{};
        next_walk = now + walk_pause;
      } else if (walk == shard_count && now >= next_sweep) {
        // A sweep that came due while the previous one was still walking
        // starts now.
        sweep = generation_.fetch_add(1) + 1;
        walk = 0;
        next_walk = now;
        next_sweep = now + period;
      }
      guard.lock();
    }
  });
}

router::~router() {
  stop_all();
  std::unique_lock<std::mutex> guard{ends_mtx_};
  ends_cv_.wait(guard, [this] { return unended_ == 0; });
}

router::shard& router::shard_of(const std::string& id) {
  return shards_[std::hash<std::string>{}(id) % shard_count];
}

std::atomic<int64_t>& router::gauge(entity_kind k) {
  return k == entity_kind::user ? ctx_->metrics->active_users : ctx_->metrics->active_conversations;
}

caf::actor router::spawn_entity(entity_kind k, const std::string& id) {
  return k == entity_kind::user ? sys_.spawn(user_actor, id, ctx_)
                                : sys_.spawn(conversation_actor, id, ctx_);
}

caf::expected<caf::actor> router::route(entity_kind k, const std::string& id) {
  if (!where_->is_local(id))
    return make_error(errc::unavailable, "the owner node '" + where_->owner_of(id) + "' of '" + id +
                                             "' is not connected");
  auto& s = shard_of(id);
  caf::actor spawned;
  {
    std::lock_guard<std::mutex> guard{s.mtx};
    auto& t = s.of(k);
    if (auto i = t.map.find(id); i != t.map.end())
      return hand_out(t, i->second);
    if (stopping_.load())
      return make_error(errc::unavailable, "the node is stopping");
    spawned = spawn_entity(k, id);
    auto i = t.map
                 .emplace(id, entry{spawned, 1, generation_.load(std::memory_order_relaxed),
                                    capacity_generation_.load(std::memory_order_relaxed)})
                 .first;
    t.order.push_front(&i->second);
  }
  gauge(k) += 1;
  {
    std::lock_guard<std::mutex> guard{ends_mtx_};
    ++unended_;
  }
  // Outside the lock: if the actor already ended, the functor runs right here.
  spawned->attach_functor([this, k, id, addr = spawned.address()](const caf::error&) {
    forget(k, id, addr);
    std::lock_guard<std::mutex> guard{ends_mtx_};
    --unended_;
    ends_cv_.notify_all(); // under the lock: the destructor cannot run yet
  });
  return spawned;
}

caf::actor router::find(entity_kind k, const std::string& id) {
  auto& s = shard_of(id);
  std::lock_guard<std::mutex> guard{s.mtx};
  auto& t = s.of(k);
  auto i = t.map.find(id);
  return i == t.map.end() ? caf::actor{} : hand_out(t, i->second);
}

caf::actor router::hand_out(table& t, entry& e) {
  ++e.routed;
  // Loaded under the shard's lock, so an entry moved later never holds an
  // older generation than one moved before it.
  auto generation = generation_.load(std::memory_order_relaxed);
  auto capacity = capacity_generation_.load(std::memory_order_relaxed);
  if (e.last_generation != generation || e.last_capacity != capacity) {
    e.last_generation = generation;
    e.last_capacity = capacity;
    t.order.unlink(&e);
    t.order.push_front(&e);
  }
  return e.handle;
}

void router::recency::push_front(entry* e) {
  e->newer = nullptr;
  e->older = front;
  if (front != nullptr)
    front->newer = e;
  else
    back = e;
  front = e;
}

void router::recency::unlink(entry* e) {
  (e->newer != nullptr ? e->newer->older : front) = e->older;
  (e->older != nullptr ? e->older->newer : back) = e->newer;
  e->newer = e->older = nullptr;
}

bool router::passivate(entity_kind k, const std::string& id, const caf::actor_addr& self,
                       uint64_t received) {
  return erase(k, id, self, &received);
}

void router::forget(entity_kind k, const std::string& id, const caf::actor_addr& addr) {
  erase(k, id, addr, nullptr);
}

bool router::erase(entity_kind k, const std::string& id, const caf::actor_addr& addr,
                   const uint64_t* received) {
  auto& s = shard_of(id);
  {
    std::lock_guard<std::mutex> guard{s.mtx};
    auto& t = s.of(k);
    auto i = t.map.find(id);
    if (i == t.map.end() || i->second.handle.address() != addr)
      return true; // forgotten already, or a newer incarnation: nobody routes to it
    if (received != nullptr && i->second.routed != *received)
      return false; // messages are on their way to it
    t.order.unlink(&i->second);
    t.map.erase(i);
  }
  gauge(k) -= 1;
  return true;
}

std::vector<router::idle_entity> router::collect_idle() {
  auto sweep = generation_.fetch_add(1) + 1;
  std::vector<idle_entity> idle;
  for (size_t i = 0; i < shard_count; ++i) {
    auto part = collect_idle_in(i, sweep);
    idle.insert(idle.end(), part.begin(), part.end());
  }
  return idle;
}

std::vector<router::idle_entity> router::collect_idle_in(size_t i, uint64_t sweep) {
  std::vector<idle_entity> idle;
  auto& s = shards_[i];
  std::lock_guard<std::mutex> guard{s.mtx};
  for (auto* t : {&s.users, &s.conversations})
    for (auto* e = t->order.back; e != nullptr && sweep >= e->last_generation + 3; e = e->newer)
      idle.push_back({e->handle, e->routed});
  return idle;
}

std::vector<router::idle_entity> router::collect_crowded() {
  auto limit = static_cast<int64_t>(ctx_->settings.max_conversations);
  if (ctx_->metrics->active_conversations.load() <= limit)
    return {};
  ctx_->metrics->capacity_sweeps += 1;
  // Routed to before the previous capacity sweep: idle for at least one
  // interval. The first sweep of a crowded period only starts the count.
  auto now = capacity_generation_.fetch_add(1) + 1;
  std::vector<idle_entity> idle;
  for (auto& s : shards_) {
    std::lock_guard<std::mutex> guard{s.mtx};
    for (auto* e = s.conversations.order.back; e != nullptr && now >= e->last_capacity + 2;
         e = e->newer)
      idle.push_back({e->handle, e->routed});
  }
  return idle;
}

void router::stop_all() {
  {
    std::lock_guard<std::mutex> guard{timer_mtx_};
    timer_stop_ = true;
  }
  timer_cv_.notify_all();
  if (timer_.joinable())
    timer_.join();
  stopping_ = true;
  std::vector<caf::actor> all;
  for (auto& s : shards_) {
    std::lock_guard<std::mutex> guard{s.mtx};
    for (auto* t : {&s.users, &s.conversations})
      for (auto& [id, e] : t->map)
        all.push_back(e.handle);
  }
  for (auto& h : all)
    caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
}

} // namespace chorus
