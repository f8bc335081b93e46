#include "actors/router.hpp"

#include "actors/conversation_actor.hpp"
#include "actors/conversation_state.hpp"
#include "actors/errors.hpp"
#include "actors/messages.hpp"
#include "actors/user_actor.hpp"
#include "actors/user_state.hpp"
#include "cluster/placement.hpp"

#include <caf/actor_addr.hpp>
#include <caf/all.hpp>

#include <unordered_map>

namespace chorus {

namespace {

enum class kind { user, conversation };

struct entry {
  caf::actor handle;
  uint64_t forwarded = 0;
};

} // namespace

struct router_state {
  static inline const char* name = "router";
  std::unordered_map<std::string, entry> users;
  std::unordered_map<std::string, entry> conversations;
  std::unordered_map<caf::actor_addr, std::pair<kind, std::string>> by_addr;

  std::unordered_map<std::string, entry>& map_of(kind k) {
    return k == kind::user ? users : conversations;
  }
};

caf::behavior router_actor(caf::stateful_actor<router_state>* self, context_ptr ctx,
                           std::shared_ptr<const cluster::placement> where);

caf::actor spawn_router(caf::actor_system& sys, context_ptr ctx,
                        std::shared_ptr<const cluster::placement> where) {
  return sys.spawn(router_actor, std::move(ctx), std::move(where));
}

caf::behavior router_actor(caf::stateful_actor<router_state>* self, context_ptr ctx,
                           std::shared_ptr<const cluster::placement> where) {
  auto gauge = [ctx](kind k) -> std::atomic<int64_t>& {
    return k == kind::user ? ctx->metrics->active_users : ctx->metrics->active_conversations;
  };

  // Forgets the entity behind `addr`. True if it was known.
  auto forget = [self, gauge](const caf::actor_addr& addr) {
    auto i = self->state.by_addr.find(addr);
    if (i == self->state.by_addr.end())
      return;
    auto [k, id] = std::move(i->second);
    self->state.by_addr.erase(i);
    self->state.map_of(k).erase(id);
    gauge(k) -= 1;
  };

  self->set_down_handler([forget](caf::down_msg& dm) { forget(dm.source); });

  // On shutdown, every entity stops with the router.
  self->set_exit_handler([self](caf::exit_msg& em) {
    for (auto* m : {&self->state.users, &self->state.conversations})
      for (auto& [id, e] : *m)
        self->send_exit(e.handle, em.reason);
    self->quit(em.reason);
  });

  auto activate = [self, ctx, gauge](kind k, const std::string& id) -> entry& {
    auto& m = self->state.map_of(k);
    auto i = m.find(id);
    if (i != m.end())
      return i->second;
    auto me = caf::actor_cast<caf::actor>(self);
    caf::actor handle = k == kind::user ? self->spawn(user_actor, id, ctx, me)
                                        : self->spawn(conversation_actor, id, ctx, me);
    self->monitor(handle);
    gauge(k) += 1;
    self->state.by_addr.emplace(handle.address(), std::make_pair(k, id));
    return m.emplace(id, entry{std::move(handle), 0}).first->second;
  };

  auto route = [self, where, activate](kind k, const std::string& id,
                                       caf::message& inner) -> caf::result<caf::message> {
    if (!where->is_local(id))
      return make_error(errc::unavailable, "the owner node '" + where->owner_of(id) + "' of '" +
                                               id + "' is not connected");
    auto& e = activate(k, id);
    ++e.forwarded;
    return self->delegate(e.handle, std::move(inner));
  };

  return {
      [route](conv_atom, const std::string& id, caf::message& inner) {
        return route(kind::conversation, id, inner);
      },
      [route](user_atom, const std::string& id, caf::message& inner) {
        return route(kind::user, id, inner);
      },
      [self](notify_atom, const std::string& id, caf::message& inner) {
        auto i = self->state.users.find(id);
        if (i == self->state.users.end())
          return;
        ++i->second.forwarded;
        self->send(i->second.handle, std::move(inner));
      },
      [self, forget](passivate_atom, uint64_t routed) -> bool {
        auto addr = caf::actor_cast<caf::actor_addr>(self->current_sender());
        auto i = self->state.by_addr.find(addr);
        if (i == self->state.by_addr.end())
          return true; // nobody routes to it any more
        auto& m = self->state.map_of(i->second.first);
        auto j = m.find(i->second.second);
        if (j != m.end() && j->second.forwarded != routed)
          return false; // messages are on their way to it
        forget(addr);
        return true;
      },
  };
}

} // namespace chorus
