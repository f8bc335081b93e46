// What every routed entity (user, conversation) shares: passivation
// bookkeeping and writes handed to the storage writer.
#pragma once

#include "actors/context.hpp"
#include "actors/messages.hpp"
#include "actors/router.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace chorus {

/// Messages the router routed to this entity and it received; see
/// router.hpp for how passivation uses it. Call touch() in every handler of a
/// message that was sent through the router.
struct entity_clock {
  uint64_t routed = 0;

  void touch() { ++routed; }
};

/// A batch handed to the writer and not yet reported back.
struct pending_write {
  std::function<void()> on_durable;
  std::function<void(const std::string&)> on_failed;
};

/// The writes an entity handed to the writer that were not reported back
/// yet, by number. The table exists only while writes are in flight: most
/// entities are idle most of the time, and an empty std::map is 48 bytes in
/// every actor.
class write_table {
public:
  /// Adds a write; its number.
  uint64_t add(pending_write w) {
    if (!map_)
      map_ = std::make_unique<std::map<uint64_t, pending_write>>();
    map_->emplace(next_, std::move(w));
    return next_++;
  }

  /// Removes write `n` into `out`; false if there is none.
  bool take(uint64_t n, pending_write* out) {
    if (!map_)
      return false;
    auto i = map_->find(n);
    if (i == map_->end())
      return false;
    *out = std::move(i->second);
    map_->erase(i);
    if (map_->empty())
      map_.reset();
    return true;
  }

  bool empty() const noexcept { return !map_; }

private:
  std::unique_ptr<std::map<uint64_t, pending_write>> map_;
  uint64_t next_ = 0;
};

/// Hands a batch to the writer; `ok` or `failed` later runs inside the actor,
/// when it handles (written_atom, n, ok, what) with complete_write().
/// REQUIRES: self->state has `write_table writes`.
template <class Self>
void submit_write(Self* self, const context_ptr& ctx, storage::write_batch batch,
                  std::function<void()> ok, std::function<void(const std::string&)> failed) {
  auto n = self->state.writes.add(pending_write{std::move(ok), std::move(failed)});
  auto me = caf::actor_cast<caf::actor>(self);
  ctx->writer->submit(std::move(batch), [me, n](const storage::status& s) {
    caf::anon_send(me, written_atom::value, n, s.ok(), s.what());
  });
}

/// Handles (written_atom, n, ok, what): runs the callback of write `n`. A
/// failed write marks the entity broken (its in-memory state may be ahead of
/// storage) and is logged as `[<label>:<id>]`.
/// REQUIRES: self->state has `bool broken` and `std::string id`.
template <class Self>
void complete_write(Self* self, const char* label, uint64_t n, bool ok, const std::string& what) {
  pending_write w;
  if (!self->state.writes.take(n, &w))
    return;
  if (ok) {
    w.on_durable();
    return;
  }
  spdlog::get("actors")->error("[{}:{}] write failed: {}", label, self->state.id, what);
  self->state.broken = true;
  if (w.on_failed)
    w.on_failed(what);
}

/// What an entity does on the router's idle tick (router.hpp), which carries
/// the number of messages the router had routed to it when the sweep found it
/// idle: if it received more since, it is in use again and stays (the sweep's
/// ticks are paced, so one may arrive seconds later). Otherwise, if nothing is
/// in progress, it asks the router to forget it, and quits if the router
/// agrees (no message is on its way to it). An entity that stays is ticked
/// again by a later sweep.
/// REQUIRES: self->state has an `entity_clock clock` and `std::string id`.
template <class Self, class Busy>
void check_idle(Self* self, const context_ptr& ctx, entity_kind kind, uint64_t routed_then,
                Busy busy) {
  if (self->state.clock.routed > routed_then || busy())
    return;
  if (ctx->router->passivate(kind, self->state.id, self->address(), self->state.clock.routed))
    self->quit();
}

} // namespace chorus
