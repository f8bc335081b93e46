#include "actors/user_actor.hpp"

#include "actors/errors.hpp"
#include "actors/messages.hpp"
#include "actors/push.hpp"
#include "actors/user_state.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

namespace chorus {

namespace {

using self_ptr = caf::stateful_actor<user_state>*;

caf::error storage_failure(const storage::status& s) {
  return make_error(errc::internal, s.what());
}

/// Pushes to one device: straight into its socket's queue when the device is
/// on this node (one actor hop less per delivery), else via its connection.
void push_to(self_ptr self, const device& d, const push_ptr& p) {
  if (d.sink)
    d.sink->send_push(p);
  else
    self->send(d.conn, push_atom::value, p);
}

/// Stores the user's cursors for one conversation; `done` runs once durable.
caf::response_promise store_cursor(self_ptr self, const context_ptr& ctx, const std::string& conv,
                                   std::function<void(caf::response_promise&)> done) {
  storage::write_batch batch;
  const auto& c = self->state.inbox[conv];
  pb::InboxEntry entry;
  entry.set_delivered_seq(c.delivered_seq);
  entry.set_read_seq(c.read_seq);
  batch.put_inbox(self->state.id, conv, entry);
  auto rp = self->make_response_promise();
  submit_write(
      self, ctx, std::move(batch), [rp, done]() mutable { done(rp); },
      [rp](const std::string& what) mutable { rp.deliver(make_error(errc::internal, what)); });
  return rp;
}

/// What an entry a conversation published says of its log.
struct entry_news {
  enum kind_t { message, change, signal } kind;
  uint64_t seq;
  int64_t time = 0; ///< the message's, for kind message
};

/// Learns how far a conversation of the inbox reaches (see `cursors`). A
/// new message is the newest one; an edit or recall leaves the newest
/// message as it was; a signal says nothing of the entries it covers.
///
/// Only members hear of a conversation's entries, so news of one the inbox
/// does not hold yet is how a member learns of a direct conversation that its
/// first message created (no `joined` comes for it). A member that leaves
/// hears `left` after every entry published to it before. Returns the
/// conversation's cursors.
cursors* learn(user_state& st, const std::string& conv, const entry_news& news) {
  auto& c = st.inbox.try_emplace(conv).first->second;
  bool advanced = c.last_seq == cursors::unknown_seq || news.seq > c.last_seq;
  if (advanced)
    c.last_seq = news.seq;
  // Entries are pushed only where every one is (see cursors).
  c.exact = news.kind != entry_news::signal;
  if (news.kind == entry_news::message)
    c.last_activity = std::max(c.last_activity, news.time);
  else if (news.kind == entry_news::signal && advanced)
    c.last_activity = cursors::unknown_activity;
  return &c;
}

/// Learns from a push of one of the log's entries, or a large group's
/// signal; other pushes say nothing.
void learn(user_state& st, const pb::Frame& f) {
  if (f.has_signal()) {
    learn(st, f.signal().conversation_id(), {entry_news::signal, f.signal().last_seq()});
  } else if (f.has_message()) {
    const auto& m = f.message();
    learn(st, m.conversation_id(), {entry_news::message, m.seq(), m.timestamp()});
  } else if (f.has_changed()) {
    const auto& change = f.changed();
    auto* c = learn(st, change.conversation_id(), {entry_news::change, change.seq()});
    // A recalled message no longer counts as unread; whether it did (it may
    // be the user's own) is for a new count to find.
    if (f.type() == "message.recalled" && c->counted_to != cursors::unknown_seq &&
        change.target_seq() > c->read_seq && change.target_seq() <= c->counted_to)
      c->counted_to = cursors::unknown_seq;
  }
}

/// The conversation's last seq, read from storage if the actor does not
/// know it exactly.
storage::status known_last_seq(const context_ptr& ctx, const std::string& conv, cursors& c) {
  if (!c.needs_read(conv))
    return {};
  uint64_t last = 0;
  auto s = ctx->db->last_seq(conv, &last);
  if (s.ok() && (c.last_seq == cursors::unknown_seq || last > c.last_seq))
    c.last_seq = last;
  return s;
}

/// Reads where the logs of `convs` end (with their newest message when
/// `look_back` > 0, see store::log_ends) and learns their last seqs into
/// `entries`, their cursors.
storage::status read_log_ends(const context_ptr& ctx, const std::vector<std::string_view>& convs,
                              const std::vector<cursors*>& entries, uint32_t look_back,
                              std::vector<storage::log_end>* ends) {
  auto s = ctx->db->log_ends(convs, look_back, ends);
  for (size_t i = 0; s.ok() && i < entries.size(); ++i) {
    auto& c = *entries[i];
    if (c.last_seq == cursors::unknown_seq || (*ends)[i].last_seq > c.last_seq)
      c.last_seq = (*ends)[i].last_seq;
  }
  return s;
}

/// Learns the last seq of every conversation of the inbox the actor does not
/// know it of exactly (after it started, every one; then the large groups),
/// in one pass over storage.
storage::status learn_last_seqs(const context_ptr& ctx, user_state& st) {
  std::vector<std::string_view> convs;
  std::vector<cursors*> entries;
  for (auto& [conv, entry] : st.inbox)
    if (entry.needs_read(conv)) {
      convs.push_back(conv);
      entries.push_back(&entry);
    }
  std::vector<storage::log_end> ends;
  return read_log_ends(ctx, convs, entries, 0, &ends);
}

/// The user's unread messages in the conversation, up to
/// `limits.unread-max` (see `cursors`): counted from storage over the entries
/// not counted yet. Needs the last seq known.
storage::status unread_count(const context_ptr& ctx, const std::string& user,
                             const std::string& conv, cursors& c, uint64_t* out) {
  auto max = ctx->settings.unread_max;
  if (c.counted_to == cursors::unknown_seq) {
    c.unread = 0;
    c.counted_to = c.read_seq;
  }
  if (c.unread < max && c.last_seq > c.counted_to) {
    uint64_t more = 0;
    uint64_t scanned = 0;
    auto s = ctx->db->count_unread(conv, c.counted_to, user, max - c.unread, &more, &scanned);
    if (!s.ok()) {
      c.counted_to = cursors::unknown_seq;
      return s;
    }
    c.unread += static_cast<uint32_t>(more); // more <= max - unread
    c.counted_to = scanned;
  }
  *out = c.unread;
  return {};
}

/// Reads the newest message of each of `convs` (whose cursors are
/// `entries`) into `out`, and learns the conversation's last seq and its
/// last activity: the message's time, or for a conversation without one
/// among its last entries, the time it was created. One pass over storage.
storage::status newest_messages(const context_ptr& ctx, const std::vector<std::string_view>& convs,
                                const std::vector<cursors*>& entries,
                                std::vector<std::optional<pb::ChatMessage>>* out) {
  // Edits and recalls are entries too; a message is looked for this far back.
  constexpr uint32_t look_back = 16;
  std::vector<storage::log_end> ends;
  auto s = read_log_ends(ctx, convs, entries, look_back, &ends);
  out->clear();
  for (size_t i = 0; s.ok() && i < convs.size(); ++i) {
    auto& c = *entries[i];
    auto& end = ends[i];
    if (end.newest_message) {
      c.last_activity = std::max(c.last_activity, end.newest_message->timestamp());
    } else {
      pb::ConversationRecord rec;
      bool found = false;
      s = ctx->db->get_conversation(convs[i], &rec, &found);
      if (s.ok())
        c.last_activity = std::max(c.last_activity, rec.created());
    }
    out->push_back(std::move(end.newest_message));
  }
  return s;
}

/// Removes the devices `gone` selects; when the last one goes, stores the
/// time the user was last seen.
template <class Pred>
void drop_devices(self_ptr self, const context_ptr& ctx, Pred gone) {
  auto& devs = self->state.devices;
  auto end = std::remove_if(devs.begin(), devs.end(), gone);
  if (end == devs.end())
    return;
  devs.erase(end, devs.end());
  if (!devs.empty())
    return;
  self->state.last_seen = now_ms();
  pb::UserRecord rec;
  rec.set_last_seen(self->state.last_seen);
  storage::write_batch batch;
  batch.put_user(self->state.id, rec);
  submit_write(self, ctx, std::move(batch), [] {}, {});
}

} // namespace

// An idle connection's largest allocation: kept within jemalloc's 1,280-byte
// size class, below the connection actor's (see size_class_pad in
// connection_actor.cpp).
static_assert(sizeof(caf::actor_storage<caf::stateful_actor<user_state>>) <= 1280,
              "the user actor outgrew its size class");

caf::behavior user_actor(self_ptr self, std::string id, context_ptr context) {
  auto& st = self->state;
  st.id = std::move(id);
  st.ctx = std::move(context);
  // The handlers capture only `self` and find the context in the state: every
  // capture is stored once per handler per actor (a user actor lives as long
  // as its user is online).
  const auto& ctx = st.ctx;
  {
    std::vector<std::pair<std::string, pb::InboxEntry>> entries;
    pb::UserRecord rec;
    bool found = false;
    auto s = ctx->db->load_inbox(st.id, &entries);
    if (s.ok())
      s = ctx->db->get_user(st.id, &rec, &found);
    if (!s.ok()) {
      spdlog::get("actors")->error("[user:{}] cannot load: {}", st.id, s.what());
      st.broken = true;
    }
    for (auto& [conv, entry] : entries)
      st.inbox.emplace(std::move(conv), cursors{entry.delivered_seq(), entry.read_seq()});
    st.last_seen = found ? rec.last_seen() : 0;
  }
  self->set_down_handler([self](caf::down_msg& dm) {
    drop_devices(self, self->state.ctx,
                 [&](const device& d) { return d.conn.address() == dm.source; });
  });

  return {
      [self](attach_atom, uint64_t id, const caf::actor& conn,
             const sink_ptr& sink) -> caf::result<void> {
        auto& st = self->state;
        st.clock.touch();
        if (st.broken)
          return make_error(errc::internal, "user storage failed");
        if (sink) {
          st.devices.push_back(device{id, {}, sink});
        } else {
          self->monitor(conn);
          st.devices.push_back(device{id, conn, {}});
        }
        return caf::unit;
      },
      [self](detach_atom, uint64_t id) {
        const auto& ctx = self->state.ctx;
        self->state.clock.touch();
        drop_devices(self, ctx, [id](const device& d) { return d.id == id; });
      },
      [self](deliver_atom, const push_ptr& p, uint64_t origin) {
        const auto& ctx = self->state.ctx;
        self->state.clock.touch();
        learn(self->state, p->frame());
        for (const auto& d : self->state.devices)
          if (d.id != origin) {
            push_to(self, d, p);
            ctx->metrics->deliveries += 1;
          }
      },
      [self](signal_atom, const std::string& conv, uint64_t last_seq) {
        // A group turned large (large_group.hpp): no more pushes from it.
        self->state.clock.touch();
        learn(self->state, conv, {entry_news::signal, last_seq});
      },
      [self](joined_atom, const std::string& conv) {
        self->state.clock.touch();
        self->state.inbox.try_emplace(conv);
      },
      [self](left_atom, const std::string& conv) {
        self->state.clock.touch();
        self->state.inbox.erase(conv);
      },
      [self](ack_atom, const std::string& conv, uint64_t seq) -> caf::result<void> {
        const auto& ctx = self->state.ctx;
        auto& st = self->state;
        st.clock.touch();
        auto i = st.inbox.find(conv);
        if (i == st.inbox.end())
          return make_error(errc::forbidden, "not a member of " + conv);
        auto& c = i->second;
        if (c.last_seq == cursors::unknown_seq || seq > c.last_seq) {
          // Unknown, or the client heard of the entry before this actor
          // (a pull in a large group): storage has the last word.
          c.last_seq = cursors::unknown_seq;
          if (auto s = known_last_seq(ctx, conv, c); !s.ok())
            return storage_failure(s);
          if (seq > c.last_seq)
            return make_error(errc::bad_request, "seq " + std::to_string(seq) +
                                                     " is beyond last_seq " +
                                                     std::to_string(c.last_seq));
        }
        if (seq <= i->second.delivered_seq)
          return caf::unit;
        i->second.delivered_seq = seq;
        return store_cursor(self, ctx, conv,
                            [](caf::response_promise& rp) { rp.deliver(caf::unit); });
      },
      [self](set_read_atom, const std::string& conv, uint64_t read_seq) -> caf::result<bool> {
        const auto& ctx = self->state.ctx;
        auto& st = self->state;
        st.clock.touch();
        auto& entry = st.inbox[conv]; // the conversation vouched for membership
        if (read_seq <= entry.read_seq)
          return false;
        entry.read_seq = read_seq;
        entry.counted_to = cursors::unknown_seq; // counted from read_seq
        if (entry.delivered_seq < read_seq)
          entry.delivered_seq = read_seq; // what was read was received
        return store_cursor(self, ctx, conv, [](caf::response_promise& rp) { rp.deliver(true); });
      },
      [self](sync_atom, const pb::SyncRequest& req) -> caf::result<pb::SyncOk> {
        const auto& ctx = self->state.ctx;
        auto& st = self->state;
        st.clock.touch();
        if (st.broken)
          return make_error(errc::internal, "user storage failed");
        for (const auto& [conv, seq] : req.cursors())
          if (st.inbox.count(conv) == 0)
            return make_error(errc::forbidden, "not a member of " + conv);
        auto& cfg = ctx->settings;
        size_t limit = req.has_limit() ? req.limit() : cfg.sync_limit_default;
        if (limit == 0 || limit > cfg.sync_limit_max)
          return make_error(errc::bad_request,
                            "limit must be between 1 and " + std::to_string(cfg.sync_limit_max));
        // The conversations changed since their cursors, in id order: only
        // they are sorted, so a sync with little new stays cheap in a long
        // inbox.
        struct changed {
          const std::string* conv;
          cursors* entry;
          uint64_t cursor;
        };
        if (auto s = learn_last_seqs(ctx, st); !s.ok())
          return storage_failure(s);
        std::vector<changed> order;
        for (auto& [conv, entry] : st.inbox) {
          auto c = req.cursors().find(conv);
          uint64_t cursor = c != req.cursors().end() ? c->second : entry.delivered_seq;
          if (entry.last_seq > cursor)
            order.push_back({&conv, &entry, cursor});
        }
        std::sort(order.begin(), order.end(),
                  [](const changed& a, const changed& b) { return *a.conv < *b.conv; });
        pb::SyncOk ok;
        for (auto [conv_ptr, entry_ptr, cursor] : order) {
          const auto& conv = *conv_ptr;
          auto& entry = *entry_ptr;
          storage::range_query q;
          q.after_seq = cursor;
          q.limit = limit;
          std::vector<pb::ChatMessage> messages;
          bool has_more = false;
          uint64_t unread = 0;
          pb::ConversationRecord rec;
          bool found = false;
          auto s = ctx->db->read_messages(conv, q, &messages, &has_more);
          // An entry stored since the actor heard of the last one (its push
          // is on the way) counts too.
          if (!messages.empty())
            entry.last_seq = std::max(entry.last_seq, messages.back().seq());
          if (s.ok())
            s = unread_count(ctx, st.id, conv, entry, &unread);
          if (s.ok())
            s = ctx->db->get_conversation(conv, &rec, &found);
          if (!s.ok())
            return storage_failure(s);
          auto* out = ok.add_conversations();
          out->set_conversation_id(conv);
          out->set_last_seq(entry.last_seq);
          out->set_read_seq(entry.read_seq);
          for (auto& m : messages)
            *out->add_messages() = std::move(m);
          out->set_has_more(has_more);
          out->set_unread(unread);
          out->set_epoch(rec.epoch());
        }
        return ok;
      },
      [self](list_atom, uint32_t limit) -> caf::result<pb::ConversationsListOk> {
        const auto& ctx = self->state.ctx;
        auto& st = self->state;
        st.clock.touch();
        if (st.broken)
          return make_error(errc::internal, "user storage failed");
        // Every conversation is placed by what the actor knows (its newest
        // message is read for those it does not); only the `limit` shown
        // are read further.
        struct row {
          const std::string* conv;
          cursors* entry;
          std::optional<pb::ChatMessage> last; ///< its newest message, once read
          bool read = false;                   ///< whether `last` was read
        };
        std::vector<row> rows;
        rows.reserve(st.inbox.size());
        for (auto& [conv, entry] : st.inbox)
          rows.push_back(row{&conv, &entry, {}, false});
        // Reads the newest message of the rows [first, last) that `pick`
        // selects and have not been read, all in one pass.
        auto read_newest = [&](auto first, auto last, auto pick) {
          std::vector<std::string_view> convs;
          std::vector<cursors*> entries;
          std::vector<row*> picked;
          for (auto r = first; r != last; ++r)
            if (!r->read && pick(*r)) {
              convs.push_back(*r->conv);
              entries.push_back(r->entry);
              picked.push_back(&*r);
            }
          std::vector<std::optional<pb::ChatMessage>> found;
          auto s = newest_messages(ctx, convs, entries, &found);
          for (size_t i = 0; s.ok() && i < picked.size(); ++i) {
            picked[i]->last = std::move(found[i]);
            picked[i]->read = true;
          }
          return s;
        };
        auto unplaced = [](const row& r) {
          return r.entry->last_activity == cursors::unknown_activity ||
                 r.entry->needs_read(*r.conv);
        };
        if (auto s = read_newest(rows.begin(), rows.end(), unplaced); !s.ok())
          return storage_failure(s);
        auto shown = std::min<size_t>(limit, rows.size());
        auto shown_end = rows.begin() + static_cast<std::ptrdiff_t>(shown);
        std::partial_sort(rows.begin(), shown_end, rows.end(), [](const row& a, const row& b) {
          if (a.entry->last_activity != b.entry->last_activity)
            return a.entry->last_activity > b.entry->last_activity;
          return *a.conv < *b.conv;
        });
        if (auto s = read_newest(rows.begin(), shown_end, [](const row&) { return true; }); !s.ok())
          return storage_failure(s);
        pb::ConversationsListOk ok;
        for (size_t i = 0; i < shown; ++i) {
          auto& [conv, entry, last, read] = rows[i];
          uint64_t unread = 0; // the last seq is known: the row was read
          if (auto s = unread_count(ctx, st.id, *conv, *entry, &unread); !s.ok())
            return storage_failure(s);
          auto* out = ok.add_conversations();
          out->set_conversation_id(*conv);
          out->set_read_seq(entry->read_seq);
          out->set_last_seq(entry->last_seq);
          out->set_unread(unread);
          if (last)
            *out->mutable_last_message() = std::move(*last);
        }
        return ok;
      },
      [self](presence_atom) -> pb::Presence {
        auto& st = self->state;
        st.clock.touch();
        pb::Presence p;
        p.set_user_id(st.id);
        p.set_online(!st.devices.empty());
        p.set_last_seen(st.devices.empty() ? st.last_seen : now_ms());
        return p;
      },
      [self](written_atom, uint64_t n, bool ok, const std::string& what) {
        complete_write(self, "user", n, ok, what);
      },
      [self](tick_atom, uint64_t routed_then) {
        const auto& ctx = self->state.ctx;
        check_idle(self, ctx, entity_kind::user, routed_then,
                   [self] { return self->state.busy(); });
      },
  };
}

} // namespace chorus
