#include "actors/conversation_actor.hpp"

#include "actors/conversation_state.hpp"
#include "actors/errors.hpp"
#include "actors/large_group.hpp"
#include "actors/messages.hpp"
#include "actors/push.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <random>

namespace chorus {

std::pair<std::string, std::string> direct_members(const std::string& id) {
  // "d:<a>:<b>"; user ids contain no ':'.
  auto second = id.find(':', 2);
  return {id.substr(2, second - 2), id.substr(second + 1)};
}

namespace {

using self_ptr = caf::stateful_actor<conversation_state>*;

caf::error storage_failure(const storage::status& s) {
  return make_error(errc::internal, s.what());
}

uint64_t random_epoch() {
  // Seeded once per thread: std::random_device costs a system call per use.
  thread_local std::mt19937_64 rng{std::random_device{}()};
  // 53 bits, so that JSON clients (JavaScript numbers) read it exactly.
  return rng() & ((1ULL << 53) - 1);
}

void set_members(conversation_state& st, std::vector<std::string> members) {
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  st.members = std::move(members);
  if (st.beats)
    assign_beats(st);
  if (st.is_group) {
    st.record->clear_members();
    for (const auto& m : st.members)
      st.record->add_members(m);
  }
}

/// Loads the conversation's record and last seq; marks the state broken on
/// a storage failure.
void load(conversation_state& st, const context_ptr& ctx) {
  bool found = false;
  pb::ConversationRecord direct;
  if (st.is_group)
    st.record = std::make_unique<pb::ConversationRecord>();
  auto s = ctx->db->get_conversation(st.id, st.is_group ? st.record.get() : &direct, &found);
  if (s.ok() && found) // the record is stored with (or before) the first entry
    s = ctx->db->last_seq(st.id, &st.last_seq);
  if (!s.ok()) {
    spdlog::get("actors")->error("[conv:{}] cannot load: {}", st.id, s.what());
    st.broken = true;
    return;
  }
  st.exists = found;
  st.durable_seq = st.last_seq;
  st.dedup_stored = st.last_seq > 0;
  if (st.is_group) {
    set_members(st, {st.record->members().begin(), st.record->members().end()});
  } else {
    auto [a, b] = direct_members(st.id);
    set_members(st, {a, b});
  }
}

/// Sends a push to every member's active user actor. `origin` (a device)
/// does not get it; neither does `skip_user`'s any device if given.
void fan_out(self_ptr self, const context_ptr& ctx, const push_ptr& p, uint64_t origin,
             const std::string* skip_user = nullptr) {
  for (const auto& m : self->state.members) {
    if (skip_user != nullptr && m == *skip_user)
      continue;
    if (auto user = ctx->router->find(entity_kind::user, m))
      self->send(user, deliver_atom::value, p, origin);
  }
}

/// Tells every member that the log advanced. Small conversations push the
/// entry itself; large groups signal it (large_group.hpp), and clients pull
/// with history.
void publish_entry(self_ptr self, const context_ptr& ctx, const push_ptr& p, uint64_t origin) {
  if (self->state.members.size() <= ctx->settings.large_group)
    return fan_out(self, ctx, p, origin);
  signal_members(self, ctx);
}

/// Tells the active user actors of `users` that they joined or left.
void notify_members(self_ptr self, const context_ptr& ctx, const std::vector<std::string>& users,
                    bool joined) {
  for (const auto& u : users) {
    auto user = ctx->router->find(entity_kind::user, u);
    if (!user)
      continue; // loads its inbox from storage when activated
    if (joined)
      self->send(user, joined_atom::value, self->state.id);
    else
      self->send(user, left_atom::value, self->state.id);
  }
}

pb::SendOk reply_of(const pb::ChatMessage& m) {
  pb::SendOk ok;
  ok.set_client_msg_id(m.client_msg_id());
  ok.set_conversation_id(m.conversation_id());
  ok.set_seq(m.seq());
  ok.set_message_id(m.message_id());
  ok.set_timestamp(m.timestamp());
  return ok;
}

/// The remembered send `key`, or null.
recent_sends::entry* find_recent(conversation_state& st, const std::string& key) {
  return st.recent ? st.recent->find(key) : nullptr;
}

/// Remembers a send for resends (recent_sends.hpp).
void remember(conversation_state& st, const context_ptr& ctx, const std::string& key, uint64_t seq,
              const std::string& message_id, int64_t timestamp, bool durable) {
  if (!st.recent)
    st.recent = std::make_unique<recent_sends>();
  if (st.recent->remember(key, seq, message_id, timestamp, durable, ctx->settings.dedup_cache))
    st.dedup_stored = true; // a forgotten send is found in storage from now on
}

/// Keeps a durable entry in the in-memory tail if the conversation is a
/// large group (actors/log_tail.hpp).
void keep_in_tail(conversation_state& st, const context_ptr& ctx, const pb::ChatMessage& m) {
  if (st.members.size() <= ctx->settings.large_group) {
    st.tail.reset();
    return;
  }
  if (!st.tail)
    st.tail = std::make_unique<log_tail>(conversation_state::tail_entries);
  st.tail->append(m);
}

/// The current state of entry `seq`, including edits and recalls in flight.
caf::expected<pb::ChatMessage> load_target(conversation_state& st, const context_ptr& ctx,
                                           uint64_t seq) {
  if (st.changed_targets)
    if (auto i = st.changed_targets->find(seq); i != st.changed_targets->end())
      return i->second.second;
  if (seq == 0 || seq > st.last_seq)
    return make_error(errc::not_found, "no message with seq " + std::to_string(seq));
  pb::ChatMessage m;
  bool found = false;
  if (auto s = ctx->db->get_message(st.id, seq, &m, &found); !s.ok())
    return storage_failure(s);
  if (!found)
    return make_error(errc::conflict,
                      "message " + std::to_string(seq) + " is still being stored; retry");
  return m;
}

// Checks shared by every request; an error to answer, or none.
caf::error check(self_ptr self, const std::string& user) {
  auto& st = self->state;
  st.clock.touch();
  if (st.broken)
    return make_error(errc::internal, "conversation storage failed");
  if (st.is_group && !st.exists)
    return make_error(errc::not_found, "no group " + st.id);
  if (!st.is_member(user))
    return make_error(errc::forbidden, "not a member of " + st.id);
  return caf::none;
}

// Appends an edit or recall event and rewrites its target.
caf::result<pb::EventOk> change(self_ptr self, const std::string& user, uint64_t target_seq,
                                bool recall, const std::string& content, uint64_t origin) {
  auto& st = self->state;
  const auto& ctx = st.ctx;
  auto target = load_target(st, ctx, target_seq);
  if (!target)
    return target.error();
  if (target->kind() != pb::MESSAGE)
    return make_error(errc::bad_request, "seq " + std::to_string(target_seq) +
                                             " is an edit or recall event, not a message");
  if (target->sender() != user)
    return make_error(errc::forbidden, "only the author can change a message");
  if (target->recalled())
    return make_error(errc::conflict, "the message was recalled");
  pb::ChatMessage event;
  event.set_conversation_id(st.id);
  event.set_seq(++st.last_seq);
  event.set_message_id(ctx->ids->next());
  event.set_sender(user);
  event.set_timestamp(now_ms());
  event.set_kind(recall ? pb::RECALL : pb::EDIT);
  event.set_target_seq(target_seq);
  if (recall) {
    target->set_recalled(true);
    target->clear_content();
  } else {
    event.set_content(content);
    target->set_content(content);
    target->set_edited(true);
  }
  storage::write_batch batch;
  batch.put_message(event);
  batch.put_message(*target);
  if (!st.changed_targets)
    st.changed_targets = std::make_unique<changed_map>();
  (*st.changed_targets)[target_seq] = {event.seq(), *target};
  auto rp = self->make_response_promise();
  submit_write(
      self, ctx, std::move(batch),
      [self, ctx, rp, origin, event = std::move(event), changed = std::move(*target)]() mutable {
        auto& st = self->state;
        auto target_seq = changed.seq();
        if (auto& changing = st.changed_targets) {
          if (auto i = changing->find(target_seq);
              i != changing->end() && i->second.first == event.seq())
            changing->erase(i); // no later change of it in flight
          if (changing->empty())
            changing.reset();
        }
        ctx->metrics->messages_stored += 1;
        st.durable_seq = std::max(st.durable_seq, event.seq());
        keep_in_tail(st, ctx, event);
        if (st.tail)
          st.tail->rewrite(changed);
        auto p = make_push(event.kind() == pb::RECALL ? "message.recalled" : "message.edited",
                           [&](pb::Frame& f) {
                             auto* c = f.mutable_changed();
                             c->set_conversation_id(event.conversation_id());
                             c->set_seq(event.seq());
                             c->set_target_seq(event.target_seq());
                             c->set_content(event.content());
                           });
        publish_entry(self, ctx, p, origin); // before the ack, as for a message
        pb::EventOk ok;
        ok.set_seq(event.seq());
        rp.deliver(std::move(ok));
      },
      [rp](const std::string& what) mutable { rp.deliver(make_error(errc::internal, what)); });
  return rp;
}

// Applies a membership change of a group: stores the record and the inbox
// entries, then tells the users that joined or left.
caf::result<void> change_members(self_ptr self, std::vector<std::string> joined,
                                 std::vector<std::string> left) {
  auto& st = self->state;
  const auto& ctx = st.ctx;
  std::vector<std::string> members = st.members;
  members.insert(members.end(), joined.begin(), joined.end());
  members.erase(std::remove_if(members.begin(), members.end(),
                               [&](const std::string& m) {
                                 return std::find(left.begin(), left.end(), m) != left.end();
                               }),
                members.end());
  if (members.size() > ctx->settings.max_group_members)
    return make_error(errc::too_large, "a group has at most " +
                                           std::to_string(ctx->settings.max_group_members) +
                                           " members");
  bool was_large = st.members.size() > ctx->settings.large_group;
  set_members(st, std::move(members));
  if (!st.members.empty() && !st.is_member(st.record->owner()))
    st.record->set_owner(st.members.front()); // the owner left: the next member owns it
  storage::write_batch batch;
  batch.put_conversation(st.id, *st.record);
  for (const auto& u : joined)
    batch.put_inbox(u, st.id, pb::InboxEntry{});
  for (const auto& u : left)
    batch.erase_inbox(u, st.id);
  auto rp = self->make_response_promise();
  submit_write(
      self, ctx, std::move(batch),
      [self, ctx, rp, was_large, joined = std::move(joined), left = std::move(left)]() mutable {
        notify_members(self, ctx, joined, true);
        notify_members(self, ctx, left, false);
        if (!was_large && self->state.members.size() > ctx->settings.large_group)
          became_large(self, ctx);
        rp.deliver(caf::unit);
      },
      [rp](const std::string& what) mutable { rp.deliver(make_error(errc::internal, what)); });
  return rp;
}

} // namespace

// An active conversation's largest allocation: kept within jemalloc's
// 1,280-byte size class (was 1,456 bytes, in the 1,536-byte class, before its
// occasional parts moved behind pointers).
static_assert(sizeof(caf::actor_storage<caf::stateful_actor<conversation_state>>) <= 1280,
              "the conversation actor outgrew its size class");

caf::behavior conversation_actor(self_ptr self, std::string id, context_ptr ctx) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.id = std::move(id);
  st.is_group = st.id.rfind("g:", 0) == 0;
  load(st, st.ctx);

  return {
      [self](send_atom, const std::string& user, pb::Send& req, uint64_t quote_seq,
             uint64_t origin) -> caf::result<pb::SendOk> {
        const auto& ctx = self->state.ctx;
        if (auto err = check(self, user))
          return err;
        auto& st = self->state;
        auto key = recent_sends::key(user, req.client_msg_id());
        if (auto i = find_recent(st, key)) {
          if (i->durable)
            return recent_sends::reply(st.id, *i);
          auto rp = self->make_response_promise();
          i->waiters.push_back(rp);
          return rp;
        }
        pb::DedupEntry seen;
        bool found = false;
        if (st.dedup_stored) {
          if (auto s = ctx->db->get_dedup(st.id, user, req.client_msg_id(), &seen, &found); !s.ok())
            return storage_failure(s);
        }
        if (found) { // remembered again, newest: its reply is built from the slot
          remember(st, ctx, key, seen.seq(), seen.message_id(), seen.timestamp(), true);
          return recent_sends::reply(st.id, *find_recent(st, key));
        }
        if (quote_seq > st.last_seq)
          return make_error(errc::bad_request,
                            "quote_message_seq " + std::to_string(quote_seq) + " does not exist");
        pb::ChatMessage m;
        m.set_conversation_id(st.id);
        m.set_seq(++st.last_seq);
        m.set_message_id(ctx->ids->next());
        m.set_sender(user);
        m.set_client_msg_id(req.client_msg_id());
        m.set_msg_type(req.msg_type());
        m.set_content(std::move(*req.mutable_content()));
        m.set_timestamp(now_ms());
        storage::write_batch batch;
        batch.put_message(m);
        pb::DedupEntry dedup;
        dedup.set_seq(m.seq());
        dedup.set_message_id(m.message_id());
        dedup.set_timestamp(m.timestamp());
        dedup.set_expires(m.timestamp() + ctx->settings.dedup_ttl_ms);
        batch.put_dedup(st.id, user, m.client_msg_id(), dedup);
        // The first message of a direct conversation creates it. Its members
        // learn of it from the message's push (user_actor.cpp, learn()).
        if (!st.exists) {
          st.exists = true;
          pb::ConversationRecord record;
          record.set_type(pb::DIRECT);
          record.set_created(m.timestamp());
          record.set_epoch(random_epoch());
          for (const auto& u : st.members)
            record.add_members(u);
          batch.put_conversation(st.id, record);
          for (const auto& u : st.members)
            batch.put_inbox(u, st.id, pb::InboxEntry{});
        }
        auto rp = self->make_response_promise();
        remember(st, ctx, key, m.seq(), m.message_id(), m.timestamp(), false);
        submit_write(
            self, ctx, std::move(batch),
            [self, ctx, rp, origin, key, m = std::move(m)]() mutable {
              auto& st = self->state;
              ctx->metrics->messages_stored += 1;
              st.durable_seq = std::max(st.durable_seq, m.seq());
              keep_in_tail(st, ctx, m);
              auto reply = reply_of(m);
              // The members hear of the entry before the sender does, so
              // that whoever learns of the ack finds it in every member's
              // sync and conversation list (user_state.hpp).
              auto p = make_push("message.new",
                                 [&](pb::Frame& f) { *f.mutable_message() = std::move(m); });
              publish_entry(self, ctx, p, origin);
              if (auto i = find_recent(st, key)) {
                i->durable = true;
                for (auto& w : i->waiters)
                  w.deliver(reply);
                i->waiters.clear();
              }
              rp.deliver(std::move(reply));
            },
            [self, rp, key](const std::string& what) mutable {
              auto err = make_error(errc::internal, what);
              auto& st = self->state;
              if (auto i = find_recent(st, key)) {
                for (auto& w : i->waiters)
                  w.deliver(err);
                st.recent->erase(key);
              }
              rp.deliver(err);
            });
        return rp;
      },
      [self](edit_atom, const std::string& user, const pb::Edit& req,
             uint64_t origin) -> caf::result<pb::EventOk> {
        if (auto err = check(self, user))
          return err;
        return change(self, user, req.seq(), false, req.content(), origin);
      },
      [self](recall_atom, const std::string& user, const pb::Recall& req,
             uint64_t origin) -> caf::result<pb::EventOk> {
        if (auto err = check(self, user))
          return err;
        return change(self, user, req.seq(), true, {}, origin);
      },
      [self](history_atom, const std::string& user,
             const pb::History& q) -> caf::result<shared_reply_ptr> {
        const auto& ctx = self->state.ctx;
        if (auto err = check(self, user))
          return err;
        auto& cfg = ctx->settings;
        storage::range_query rq;
        rq.limit = q.has_limit() ? q.limit() : cfg.history_limit_default;
        if (rq.limit == 0 || rq.limit > cfg.history_limit_max)
          return make_error(errc::bad_request,
                            "limit must be between 1 and " + std::to_string(cfg.history_limit_max));
        rq.after_seq = q.has_after_seq() ? q.after_seq() : 0;
        rq.before_seq = q.has_before_seq() ? q.before_seq() : 0;
        rq.newest_first = !q.has_after_seq();
        pb::Frame f;
        f.set_type("history.ok");
        auto& ok = *f.mutable_history_ok();
        if (q.has_before_seq() && q.before_seq() <= rq.after_seq + 1)
          return std::make_shared<const shared_reply>(std::move(f)); // an empty range
        if (q.has_after_seq() && !q.has_before_seq() && self->state.tail)
          if (auto r = self->state.tail->pull(rq.after_seq, rq.limit, self->state.durable_seq))
            return r; // a large group's members pulling what a signal announced
        std::vector<pb::ChatMessage> messages;
        bool has_more = false;
        if (auto s = ctx->db->read_messages(self->state.id, rq, &messages, &has_more); !s.ok())
          return storage_failure(s);
        for (auto& m : messages)
          *ok.add_messages() = std::move(m);
        ok.set_has_more(has_more);
        return std::make_shared<const shared_reply>(std::move(f));
      },
      [self](typing_atom, const std::string& user, uint64_t origin) -> caf::result<void> {
        const auto& ctx = self->state.ctx;
        if (auto err = check(self, user))
          return err;
        if (self->state.members.size() > ctx->settings.large_group)
          return caf::unit; // not pushed in large groups: it would cost O(members) per keystroke
        auto p = make_push("typing", [&](pb::Frame& f) {
          f.mutable_typing_push()->set_conversation_id(self->state.id);
          f.mutable_typing_push()->set_user_id(user);
        });
        fan_out(self, ctx, p, origin, &user);
        return caf::unit;
      },
      [self](read_atom, const std::string& user, uint64_t read_seq,
             uint64_t origin) -> caf::result<void> {
        const auto& ctx = self->state.ctx;
        if (auto err = check(self, user))
          return err;
        auto& st = self->state;
        if (read_seq > st.last_seq)
          return make_error(errc::bad_request, "read_seq " + std::to_string(read_seq) +
                                                   " is beyond last_seq " +
                                                   std::to_string(st.last_seq));
        auto reader = ctx->router->route(entity_kind::user, user);
        if (!reader)
          return reader.error();
        auto rp = self->make_response_promise();
        st.waiting_replies += 1;
        self->request(*reader, caf::infinite, set_read_atom::value, st.id, read_seq)
            .then(
                [self, ctx, rp, user, read_seq, origin](bool advanced) mutable {
                  self->state.waiting_replies -= 1;
                  rp.deliver(caf::unit);
                  if (!advanced)
                    return;
                  auto p = make_push("receipt.read", [&](pb::Frame& f) {
                    auto* r = f.mutable_receipt();
                    r->set_conversation_id(self->state.id);
                    r->set_user_id(user);
                    r->set_read_seq(read_seq);
                  });
                  if (self->state.members.size() <= ctx->settings.large_group)
                    fan_out(self, ctx, p, origin);
                  else if (auto reader = ctx->router->find(entity_kind::user, user))
                    self->send(reader, deliver_atom::value, p, origin); // only the reader's devices
                },
                [self, rp](caf::error& err) mutable {
                  self->state.waiting_replies -= 1;
                  rp.deliver(std::move(err));
                });
        return rp;
      },
      [self](create_atom, const std::string& user,
             const pb::GroupCreate& req) -> caf::result<pb::GroupCreateOk> {
        const auto& ctx = self->state.ctx;
        auto& st = self->state;
        st.clock.touch();
        if (st.broken)
          return make_error(errc::internal, "conversation storage failed");
        if (!st.is_group)
          return make_error(errc::bad_request, "not a group id: " + st.id);
        if (st.exists)
          return make_error(errc::conflict, "group " + st.id + " exists");
        std::vector<std::string> members{req.members().begin(), req.members().end()};
        members.push_back(user);
        std::sort(members.begin(), members.end());
        members.erase(std::unique(members.begin(), members.end()), members.end());
        if (members.size() > ctx->settings.max_group_members)
          return make_error(errc::too_large, "a group has at most " +
                                                 std::to_string(ctx->settings.max_group_members) +
                                                 " members");
        st.exists = true;
        st.record->set_type(pb::GROUP);
        st.record->set_created(now_ms());
        st.record->set_title(req.title());
        st.record->set_owner(user);
        st.record->set_epoch(random_epoch());
        set_members(st, members);
        storage::write_batch batch;
        batch.put_conversation(st.id, *st.record);
        for (const auto& u : st.members)
          batch.put_inbox(u, st.id, pb::InboxEntry{});
        auto rp = self->make_response_promise();
        submit_write(
            self, ctx, std::move(batch),
            [self, ctx, rp, members = std::move(members)]() mutable {
              notify_members(self, ctx, members, true);
              pb::GroupCreateOk ok;
              ok.set_conversation_id(self->state.id);
              rp.deliver(std::move(ok));
            },
            [rp](const std::string& what) mutable {
              rp.deliver(make_error(errc::internal, what));
            });
        return rp;
      },
      [self](add_atom, const std::string& user,
             const std::vector<std::string>& users) -> caf::result<void> {
        if (auto err = check(self, user))
          return err;
        if (!self->state.is_group)
          return make_error(errc::bad_request, "a direct conversation has no members to change");
        std::vector<std::string> joined;
        for (const auto& u : users)
          if (!self->state.is_member(u) &&
              std::find(joined.begin(), joined.end(), u) == joined.end())
            joined.push_back(u);
        if (joined.empty())
          return caf::unit;
        return change_members(self, std::move(joined), {});
      },
      [self](remove_atom, const std::string& user,
             const std::vector<std::string>& users) -> caf::result<void> {
        if (auto err = check(self, user))
          return err;
        auto& st = self->state;
        if (!st.is_group)
          return make_error(errc::bad_request, "a direct conversation has no members to change");
        bool only_self = std::all_of(users.begin(), users.end(),
                                     [&](const std::string& u) { return u == user; });
        if (!only_self && st.record->owner() != user)
          return make_error(errc::forbidden, "only the owner can remove other members");
        std::vector<std::string> left;
        for (const auto& u : users)
          if (st.is_member(u) && std::find(left.begin(), left.end(), u) == left.end())
            left.push_back(u);
        if (left.empty())
          return caf::unit;
        return change_members(self, {}, std::move(left));
      },
      [self](leave_atom, const std::string& user) -> caf::result<void> {
        if (auto err = check(self, user))
          return err;
        if (!self->state.is_group)
          return make_error(errc::bad_request, "cannot leave a direct conversation");
        return change_members(self, {}, {user});
      },
      [self](written_atom, uint64_t n, bool ok, const std::string& what) {
        complete_write(self, "conv", n, ok, what);
      },
      [self](signal_atom, int beat) { signal_beat(self, self->state.ctx, beat); },
      [self](tick_atom, uint64_t routed_then) {
        const auto& ctx = self->state.ctx;
        check_idle(self, ctx, entity_kind::conversation, routed_then,
                   [self] { return self->state.busy(); });
      },
  };
}

} // namespace chorus
