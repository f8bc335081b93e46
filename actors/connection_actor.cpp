#include "actors/connection_actor.hpp"

#include "actors/deadlines.hpp"
#include "actors/errors.hpp"
#include "actors/messages.hpp"
#include "actors/router.hpp"
#include "net/validate.hpp"
#include "node/token.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <optional>
#include <random>

namespace chorus {

/// Counts a running connection actor in a gauge for as long as it lives.
struct gauge_count {
  std::atomic<int64_t>* gauge = nullptr;
  gauge_count() = default;
  gauge_count(const gauge_count&) = delete;
  gauge_count& operator=(const gauge_count&) = delete;
  ~gauge_count() {
    if (gauge != nullptr)
      *gauge -= 1;
  }
};

struct connection_state {
  static inline const char* name = "connection";
  gauge_count counted;
  sink_ptr sink;
  connection_ptr conn;
  bool authed = false;
  bool attaching = false; ///< the attach request is sent (a close must detach)
  bool user_local = false;
  device_session session;

  request_deadlines deadlines; ///< requests forwarded and not yet answered
  bool timer_armed = false;    ///< an expire_atom is on its way
  uint64_t handled = 0;        ///< frames handled (see connection::passivate)
  uint64_t handled_at_check = 0;
  /// Keeps the connection actor out of the user actor's allocator size
  /// class. Both would be about 1,260 bytes, jemalloc's 1,280-byte class,
  /// and they are allocated on the same thread as devices connect: the
  /// connection actors that quiet devices stop would leave holes in slabs
  /// the user actors keep, and none of those pages would go back to the
  /// system (4.4 instead of 3.5 KB per idle connection). The next class is
  /// 1,536 bytes; a running connection actor pays for it, an idle one not.
  char size_class_pad[32];
};

// See size_class_pad; user_actor.cpp asserts the user actor's side.
static_assert(sizeof(caf::actor_storage<caf::stateful_actor<connection_state>>) > 1280,
              "the connection actor must not share the user actor's size class");

pb::Frame error_frame(const context_ptr& ctx, const std::string& req_id, errc code,
                      const std::string& message) {
  ctx->metrics->errors[static_cast<size_t>(code)] += 1;
  pb::Frame f;
  f.set_type("error");
  f.set_req_id(req_id);
  f.mutable_error()->set_code(code_name(code));
  f.mutable_error()->set_message(message);
  return f;
}

namespace {

using self_ptr = caf::stateful_actor<connection_state>*;

uint64_t new_device_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t id = 0;
  while (id == 0)
    id = rng();
  return id;
}

std::string session_id_of(uint64_t device) {
  char buf[17];
  snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(device));
  return buf;
}

/// Takes one token from the connection's bucket: `rate` per second, bursts
/// of twice that. False if the bucket is empty.
bool take_token(device_session& s, uint32_t rate) {
  if (rate == 0)
    return true;
  auto now = std::chrono::steady_clock::now();
  double elapsed = std::chrono::duration<double>(now - s.refilled).count();
  s.refilled = now;
  s.tokens = std::min<double>(2.0 * rate, s.tokens + elapsed * rate);
  if (s.tokens < 1.0)
    return false;
  s.tokens -= 1.0;
  return true;
}

/// Every settings.connection_idle: stops the actor of a device that sent
/// nothing since the last check and waits for no answer (see the header).
void check_idle(self_ptr self, const context_ptr& ctx) {
  auto& st = self->state;
  bool quiet = st.handled == st.handled_at_check && st.deadlines.next_deadline() == std::nullopt;
  st.handled_at_check = st.handled;
  if (quiet && st.conn->passivate(st.handled, st.session)) {
    st.sink->quiet();
    self->quit();
    return;
  }
  self->delayed_send(self, ctx->settings.connection_idle, idle_atom::value);
}

/// Starts the deadline of a forwarded request; returns its number.
uint64_t track_request(self_ptr self, const context_ptr& ctx, const std::string& req_id,
                       node::request_kind kind) {
  auto& st = self->state;
  auto timeout = ctx->settings.request_timeout;
  auto n = st.deadlines.open(req_id, std::chrono::steady_clock::now() + timeout,
                             static_cast<uint8_t>(kind));
  if (!st.timer_armed) {
    st.timer_armed = true;
    self->delayed_send(self, timeout, expire_atom::value);
  }
  return n;
}

/// Records how long a forwarded request took to be answered, or to time out.
void observe_latency(const actor_context& ctx, uint8_t kind, caf::timespan took) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(took).count();
  ctx.metrics->request_seconds[kind].observe(us > 0 ? static_cast<uint64_t>(us) : 0);
}

/// Marks request `n` answered and records its latency; false if it was
/// answered already (it expired), so its late result must be dropped.
bool settle_request(self_ptr self, const actor_context& ctx, uint64_t n, node::request_kind kind) {
  auto deadline = self->state.deadlines.settle(n);
  if (!deadline)
    return false;
  auto opened = *deadline - ctx.settings.request_timeout;
  observe_latency(ctx, static_cast<uint8_t>(kind), std::chrono::steady_clock::now() - opened);
  return true;
}

/// Answers every request past its deadline with `unavailable`; re-arms the
/// timer for the next deadline.
void expire_requests(self_ptr self, const context_ptr& ctx) {
  auto& st = self->state;
  st.timer_armed = false;
  auto now = std::chrono::steady_clock::now();
  st.deadlines.expire(now, [&](const std::string& req_id, uint8_t kind) {
    observe_latency(*ctx, kind, ctx->settings.request_timeout);
    st.sink->send_reply(error_frame(ctx, req_id, errc::unavailable, "request timed out"));
  });
  if (auto next = st.deadlines.next_deadline()) {
    st.timer_armed = true;
    self->delayed_send(self, std::max<caf::timespan>(*next - now, std::chrono::milliseconds{1}),
                       expire_atom::value);
  }
}

/// Handles one request frame of an authenticated session.
class dispatcher {
public:
  dispatcher(self_ptr self, context_ptr ctx) : self_(self), ctx_(std::move(ctx)) {}

  void handle(pb::Frame& f);

private:
  void reply(pb::Frame&& f) { self_->state.sink->send_reply(f); }

  void fail(const std::string& req_id, errc code, const std::string& message) {
    reply(error_frame(ctx_, req_id, code, message));
  }

  void ok(const std::string& req_id, const std::string& type) {
    pb::Frame f;
    f.set_type(type + ".ok");
    f.set_req_id(req_id);
    reply(std::move(f));
  }

  /// Sends `xs...` to entity `key` (through the router); on success answers
  /// with `<type>.ok` and the payload `fill(frame, reply)` sets.
  template <class T, class Fill, class... Ts>
  void ask(entity_kind kind, const std::string& key, const pb::Frame& req, Fill fill, Ts&&... xs) {
    auto target = ctx_->router->route(kind, key);
    if (!target) {
      auto info = describe(target.error());
      return fail(req.req_id(), info.code, info.message);
    }
    auto req_kind = node::request_kind_of(req.type());
    auto n = track_request(self_, ctx_, req.req_id(), req_kind);
    auto self = self_;
    auto ctx = ctx_;
    auto on_error = [self, ctx, req_id = req.req_id(), n, req_kind](caf::error& err) {
      auto& st = self->state;
      if (!settle_request(self, *ctx, n, req_kind))
        return;
      auto info = describe(err);
      st.sink->send_reply(error_frame(ctx, req_id, info.code, info.message));
    };
    auto handle = self_->request(*target, caf::infinite, std::forward<Ts>(xs)...);
    // The context outlives every actor: a plain pointer spares each request
    // a reference count.
    auto answer = [self, c = ctx_.get(), req_id = req.req_id(), type = req.type() + ".ok", n,
                   req_kind](auto fill_frame) {
      if (!settle_request(self, *c, n, req_kind))
        return;
      pb::Frame f;
      f.set_type(type);
      f.set_req_id(req_id);
      fill_frame(f);
      self->state.sink->send_reply(f);
    };
    if constexpr (std::is_void_v<T>) {
      handle.then([answer, fill]() { answer(fill); }, on_error);
    } else if constexpr (std::is_same_v<T, shared_reply_ptr>) {
      // Built whole by the entity and shared with other requests: only the
      // req_id is this request's (`fill` is unused).
      handle.then(
          [self, c = ctx_.get(), req_id = req.req_id(), n, req_kind](T& x) {
            if (settle_request(self, *c, n, req_kind))
              self->state.sink->send_reply(req_id, x);
          },
          on_error);
    } else {
      handle.then([answer, fill](T& x) { answer([&](pb::Frame& f) { fill(f, x); }); }, on_error);
    }
  }

  /// The conversation a request names, or an error already answered.
  bool conversation_of(const pb::Frame& f, const std::string& id, std::string* out) {
    if (id.empty()) {
      fail(f.req_id(), errc::bad_request, "conversation_id is required");
      return false;
    }
    if (auto why = net::check_conversation_id(id); !why.empty()) {
      fail(f.req_id(), errc::bad_request, why);
      return false;
    }
    *out = id;
    return true;
  }

  bool rate_ok(const pb::Frame& f) {
    if (take_token(self_->state.session, ctx_->settings.sends_per_second))
      return true;
    fail(f.req_id(), errc::rate_limited,
         "at most " + std::to_string(ctx_->settings.sends_per_second) +
             " sends per second per connection");
    return false;
  }

  void send(pb::Frame& f);
  void members(pb::Frame& f, bool add);
  void group_create(pb::Frame& f);

  self_ptr self_;
  context_ptr ctx_;
};

auto no_payload = [](pb::Frame&) {};

void dispatcher::send(pb::Frame& f) {
  auto& req = *f.mutable_send();
  const auto& user = self_->state.session.user;
  if (!net::valid_client_msg_id(req.client_msg_id()))
    return fail(f.req_id(), errc::bad_request,
                "client_msg_id must be 1-128 printable ASCII characters");
  std::string conv;
  if (!req.to().empty()) {
    if (!req.conversation_id().empty())
      return fail(f.req_id(), errc::bad_request, "give either to or conversation_id, not both");
    if (!net::valid_user_id(req.to()))
      return fail(f.req_id(), errc::bad_request, "to must be a valid user id");
    if (req.to() == user)
      return fail(f.req_id(), errc::bad_request, "cannot send a message to oneself");
    conv = net::direct_conversation_id(user, req.to());
    req.set_conversation_id(conv);
  } else if (!conversation_of(f, req.conversation_id(), &conv)) {
    return;
  }
  net::content_info info;
  if (auto err = net::inspect_content(req.content(), ctx_->settings.max_content_bytes, &info))
    return fail(f.req_id(), err->code, err->message);
  if (!rate_ok(f))
    return;
  auto origin = self_->state.session.device;
  ask<pb::SendOk>(
      entity_kind::conversation, conv, f,
      [](pb::Frame& out, pb::SendOk& x) { *out.mutable_send_ok() = std::move(x); },
      send_atom::value, user, std::move(req), info.quote_seq, origin);
}

void dispatcher::group_create(pb::Frame& f) {
  auto& req = *f.mutable_group_create();
  const auto& user = self_->state.session.user;
  if (req.group_id().empty())
    req.set_group_id(ctx_->ids->next());
  if (!net::valid_group_id(req.group_id()))
    return fail(f.req_id(), errc::bad_request,
                "group_id must be 1-64 characters of [A-Za-z0-9_.-]");
  for (const auto& m : req.members())
    if (!net::valid_user_id(m))
      return fail(f.req_id(), errc::bad_request, "members must be valid user ids");
  ask<pb::GroupCreateOk>(
      entity_kind::conversation, "g:" + req.group_id(), f,
      [](pb::Frame& out, pb::GroupCreateOk& x) { *out.mutable_group_create_ok() = std::move(x); },
      create_atom::value, user, req);
}

void dispatcher::members(pb::Frame& f, bool add) {
  auto& req = *f.mutable_group_members();
  std::string conv;
  if (!conversation_of(f, req.conversation_id(), &conv))
    return;
  if (req.members().empty())
    return fail(f.req_id(), errc::bad_request, "members must name at least one user");
  std::vector<std::string> users;
  for (const auto& m : req.members()) {
    if (!net::valid_user_id(m))
      return fail(f.req_id(), errc::bad_request, "members must be valid user ids");
    users.push_back(m);
  }
  if (add)
    ask<void>(entity_kind::conversation, conv, f, no_payload, add_atom::value,
              self_->state.session.user, std::move(users));
  else
    ask<void>(entity_kind::conversation, conv, f, no_payload, remove_atom::value,
              self_->state.session.user, std::move(users));
}

void dispatcher::handle(pb::Frame& f) {
  const auto& type = f.type();
  const auto& user = self_->state.session.user;
  auto origin = self_->state.session.device;
  std::string conv;
  if (type == "ping") {
    ok(f.req_id(), type);
  } else if (type == "message.send") {
    send(f);
  } else if (type == "message.ack") {
    if (!conversation_of(f, f.ack().conversation_id(), &conv))
      return;
    ask<void>(entity_kind::user, user, f, no_payload, ack_atom::value, conv, f.ack().seq());
  } else if (type == "message.read") {
    if (!conversation_of(f, f.read().conversation_id(), &conv))
      return;
    ask<void>(entity_kind::conversation, conv, f, no_payload, read_atom::value, user,
              f.read().read_seq(), origin);
  } else if (type == "message.typing") {
    if (!conversation_of(f, f.typing().conversation_id(), &conv) || !rate_ok(f))
      return;
    ask<void>(entity_kind::conversation, conv, f, no_payload, typing_atom::value, user, origin);
  } else if (type == "message.edit") {
    if (!conversation_of(f, f.edit().conversation_id(), &conv))
      return;
    net::content_info info;
    if (auto err =
            net::inspect_content(f.edit().content(), ctx_->settings.max_content_bytes, &info))
      return fail(f.req_id(), err->code, err->message);
    if (!rate_ok(f))
      return;
    ask<pb::EventOk>(
        entity_kind::conversation, conv, f,
        [](pb::Frame& out, pb::EventOk& x) { *out.mutable_event_ok() = x; }, edit_atom::value, user,
        f.edit(), origin);
  } else if (type == "message.recall") {
    if (!conversation_of(f, f.recall().conversation_id(), &conv) || !rate_ok(f))
      return;
    ask<pb::EventOk>(
        entity_kind::conversation, conv, f,
        [](pb::Frame& out, pb::EventOk& x) { *out.mutable_event_ok() = x; }, recall_atom::value,
        user, f.recall(), origin);
  } else if (type == "sync") {
    for (const auto& [id, seq] : f.sync().cursors())
      if (!conversation_of(f, id, &conv))
        return;
    ask<pb::SyncOk>(
        entity_kind::user, user, f,
        [](pb::Frame& out, pb::SyncOk& x) { *out.mutable_sync_ok() = std::move(x); },
        sync_atom::value, f.sync());
  } else if (type == "history") {
    if (!conversation_of(f, f.history().conversation_id(), &conv))
      return;
    ask<shared_reply_ptr>(entity_kind::conversation, conv, f, no_payload, history_atom::value, user,
                          f.history());
  } else if (type == "conversations.list") {
    auto& cfg = ctx_->settings;
    uint32_t limit =
        f.conversations_list().has_limit() ? f.conversations_list().limit() : cfg.list_limit_max;
    if (limit == 0 || limit > cfg.list_limit_max)
      return fail(f.req_id(), errc::bad_request,
                  "limit must be between 1 and " + std::to_string(cfg.list_limit_max));
    ask<pb::ConversationsListOk>(
        entity_kind::user, user, f,
        [](pb::Frame& out, pb::ConversationsListOk& x) {
          *out.mutable_conversations_list_ok() = std::move(x);
        },
        list_atom::value, limit);
  } else if (type == "group.create") {
    group_create(f);
  } else if (type == "group.add_members") {
    members(f, true);
  } else if (type == "group.remove_members") {
    members(f, false);
  } else if (type == "group.leave") {
    if (!conversation_of(f, f.group_leave().conversation_id(), &conv))
      return;
    ask<void>(entity_kind::conversation, conv, f, no_payload, leave_atom::value, user);
  } else if (type == "presence.query") {
    const auto& ids = f.presence_query().user_ids();
    if (ids.empty() || ids.size() > 100)
      return fail(f.req_id(), errc::bad_request, "user_ids must name 1 to 100 users");
    for (const auto& id : ids)
      if (!net::valid_user_id(id))
        return fail(f.req_id(), errc::bad_request, "user_ids must be valid user ids");
    // One request per user; the reply is sent when all have answered.
    auto out = std::make_shared<pb::Frame>();
    out->set_type("presence.query.ok");
    out->set_req_id(f.req_id());
    out->mutable_presence_ok()->mutable_presence()->Reserve(ids.size());
    for (int i = 0; i < ids.size(); ++i)
      out->mutable_presence_ok()->add_presence()->set_user_id(ids[i]);
    auto remaining = std::make_shared<int>(ids.size());
    // One deadline for the whole query; the first error or the last answer
    // settles it, and anything later is dropped.
    constexpr auto kind = node::request_kind::other;
    auto n = track_request(self_, ctx_, f.req_id(), kind);
    auto self = self_;
    auto ctx = ctx_;
    for (int i = 0; i < ids.size(); ++i) {
      auto target = ctx_->router->route(entity_kind::user, ids[i]);
      if (!target) {
        settle_request(self, *ctx, n, kind); // answered here; earlier answers are dropped
        auto info = describe(target.error());
        return fail(f.req_id(), info.code, info.message);
      }
      self_->request(*target, caf::infinite, presence_atom::value)
          .then(
              [self, ctx, out, remaining, i, n](pb::Presence& p) {
                *out->mutable_presence_ok()->mutable_presence(i) = std::move(p);
                if (--*remaining == 0 && settle_request(self, *ctx, n, kind))
                  self->state.sink->send_reply(*out);
              },
              [self, ctx, out, n](caf::error& err) {
                if (!settle_request(self, *ctx, n, kind))
                  return;
                auto info = describe(err);
                self->state.sink->send_reply(
                    error_frame(ctx, out->req_id(), info.code, info.message));
              });
    }
  } else if (type == "auth") {
    fail(f.req_id(), errc::conflict, "this connection is already authenticated");
  } else {
    fail(f.req_id(), errc::bad_request, "unknown type '" + type + "'");
  }
}

/// Authenticates the session with its first frame and attaches the device to
/// its user actor; auth.ok once attached.
void authenticate(self_ptr self, const context_ptr& ctx, pb::Frame& f) {
  auto& st = self->state;
  if (f.type() != "auth") {
    st.sink->send_reply(
        error_frame(ctx, f.req_id(), errc::unauthenticated, "the first frame must be auth"));
    return;
  }
  const auto& a = f.auth();
  if (!net::valid_user_id(a.user_id())) {
    st.sink->send_reply(error_frame(ctx, f.req_id(), errc::bad_request,
                                    "user_id must be 1-64 characters of [A-Za-z0-9_.@-]"));
    return;
  }
  if (!ctx->settings.dev_mode) {
    auto who = node::verify_token(ctx->settings.secret, a.token(), now_ms() / 1000);
    if (!who || *who != a.user_id()) {
      st.sink->send_reply(error_frame(ctx, f.req_id(), errc::unauthenticated,
                                      "invalid or expired token for this user_id"));
      return;
    }
  }
  st.authed = true; // further frames queue behind the attach below
  st.session.user = a.user_id();
  st.session.device = new_device_id();
  auto req_id = f.req_id();
  auto user = ctx->router->route(entity_kind::user, st.session.user);
  if (!user) {
    st.authed = false;
    auto info = describe(user.error());
    st.sink->send_reply(error_frame(ctx, req_id, info.code, info.message));
    return;
  }
  st.user_local = user->node() == self->node();
  st.attaching = true;
  // A sink only works on this node; a user actor elsewhere pushes through
  // this actor instead.
  self->request(*user, ctx->settings.request_timeout, attach_atom::value, st.session.device,
                caf::actor_cast<caf::actor>(self), st.user_local ? st.sink : sink_ptr{})
      .then(
          [self, ctx, req_id]() {
            auto& st = self->state;
            pb::Frame ok;
            ok.set_type("auth.ok");
            ok.set_req_id(req_id);
            auto* p = ok.mutable_auth_ok();
            p->set_user_id(st.session.user);
            p->set_session_id(session_id_of(st.session.device));
            p->set_server_time(now_ms());
            st.sink->send_reply(ok);
            if (st.user_local)
              self->delayed_send(self, ctx->settings.connection_idle, idle_atom::value);
          },
          [self, ctx, req_id](caf::error& err) {
            auto& st = self->state;
            st.authed = false;
            st.attaching = false;
            auto info = describe(err);
            st.sink->send_reply(error_frame(ctx, req_id, info.code, info.message));
          });
}

} // namespace

caf::behavior connection_actor(self_ptr self, sink_ptr sink, context_ptr ctx, connection_ptr conn,
                               bool http, std::optional<device_session> resumed) {
  auto& st = self->state;
  st.counted.gauge = &ctx->metrics->connection_actors;
  *st.counted.gauge += 1;
  st.sink = std::move(sink);
  st.conn = std::move(conn);
  if (resumed) {
    st.session = std::move(*resumed);
    st.authed = st.attaching = st.user_local = true;
    self->delayed_send(self, ctx->settings.connection_idle, idle_atom::value);
  } else {
    st.session.tokens = 2.0 * ctx->settings.sends_per_second;
    st.session.refilled = std::chrono::steady_clock::now();
    if (!http)
      self->delayed_send(self, ctx->settings.auth_timeout, tick_atom::value);
  }
  auto d = std::make_shared<dispatcher>(self, ctx);
  return {
      [self, ctx, d](request_atom, pb::Frame& f) {
        auto& st = self->state;
        ++st.handled;
        if (st.authed)
          d->handle(f);
        else
          authenticate(self, ctx, f);
      },
      [self, d](http_atom, const std::string& user, pb::Frame& f) {
        auto& st = self->state;
        ++st.handled;
        st.authed = true;
        st.session.user = user;
        d->handle(f);
      },
      [self](push_atom, const push_ptr& p) { self->state.sink->send_push(p); },
      [self, ctx](closed_atom) {
        auto& st = self->state;
        // Sent after the attach request, so the user actor sees it after it.
        if (st.attaching)
          detach_device(ctx, st.session.user, st.session.device);
        self->quit();
      },
      [self, ctx](expire_atom) { expire_requests(self, ctx); },
      [self, ctx](idle_atom) { check_idle(self, ctx); },
      [self](tick_atom) {
        if (!self->state.authed) {
          self->state.sink->close("authentication timeout");
          self->quit();
        }
      },
  };
}

caf::actor spawn_connection_actor(caf::actor_system& sys, sink_ptr sink, context_ptr ctx,
                                  connection_ptr conn, bool http,
                                  std::optional<device_session> resumed) {
  return sys.spawn(connection_actor, std::move(sink), std::move(ctx), std::move(conn), http,
                   std::move(resumed));
}

} // namespace chorus
