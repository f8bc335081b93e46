// JSON <-> pb::Frame. The field names are the contract of docs/protocol.md.
#include "net/codec.hpp"

#include <nlohmann/json.hpp>

namespace chorus::net {

namespace {

using json = nlohmann::json;

/// Reads typed fields of a payload object; the first problem ends decoding.
class fields {
public:
  explicit fields(const json& obj) : obj_(obj) {}

  const std::optional<decode_error>& error() const { return error_; }

  /// A string field. Absent and not required: leaves *out alone.
  bool str(const char* key, std::string* out, bool required) {
    auto* v = find(key, required);
    if (v == nullptr)
      return error_ == std::nullopt;
    if (!v->is_string())
      return wrong(key, "a string");
    *out = v->get<std::string>();
    return true;
  }

  /// An unsigned integer field; `set` is called only if present.
  template <class Set>
  bool u64(const char* key, bool required, Set set) {
    auto* v = find(key, required);
    if (v == nullptr)
      return error_ == std::nullopt;
    if (!v->is_number_unsigned() && !(v->is_number_integer() && v->get<int64_t>() >= 0))
      return wrong(key, "a non-negative integer");
    set(v->get<uint64_t>());
    return true;
  }

  template <class Set>
  bool u32(const char* key, bool required, Set set) {
    return u64(key, required, [&](uint64_t x) {
      if (x > UINT32_MAX)
        wrong(key, "at most 4294967295");
      else
        set(static_cast<uint32_t>(x));
    });
  }

  template <class Set>
  bool i32(const char* key, bool required, Set set) {
    auto* v = find(key, required);
    if (v == nullptr)
      return error_ == std::nullopt;
    if (!v->is_number_integer() || v->get<int64_t>() < INT32_MIN || v->get<int64_t>() > INT32_MAX)
      return wrong(key, "a 32-bit integer");
    set(v->get<int32_t>());
    return true;
  }

  /// A list of strings.
  bool strings(const char* key, google::protobuf::RepeatedPtrField<std::string>* out,
               bool required) {
    auto* v = find(key, required);
    if (v == nullptr)
      return error_ == std::nullopt;
    if (!v->is_array())
      return wrong(key, "an array of strings");
    for (const auto& x : *v) {
      if (!x.is_string())
        return wrong(key, "an array of strings");
      out->Add(x.get<std::string>());
    }
    return true;
  }

  /// Any JSON value but null, kept as its JSON text.
  bool content(const char* key, std::string* out) {
    auto* v = find(key, true);
    if (v == nullptr)
      return false;
    if (v->is_null())
      return wrong(key, "a JSON value other than null");
    *out = v->dump();
    return true;
  }

  /// Fields a client must not set.
  bool forbid(const char* key, const char* why) {
    if (obj_.contains(key)) {
      error_ = decode_error{errc::bad_request, std::string{"field '"} + key + "' " + why, {}};
      return false;
    }
    return true;
  }

  bool fail(std::string message) {
    error_ = decode_error{errc::bad_request, std::move(message), {}};
    return false;
  }

private:
  const json* find(const char* key, bool required) {
    auto i = obj_.find(key);
    if (i == obj_.end() || (i->is_null() && !required)) {
      if (required)
        error_ =
            decode_error{errc::bad_request, std::string{"field '"} + key + "' is required", {}};
      return nullptr;
    }
    return &*i;
  }

  bool wrong(const char* key, const char* what) {
    error_ =
        decode_error{errc::bad_request, std::string{"field '"} + key + "' must be " + what, {}};
    return false;
  }

  const json& obj_;
  std::optional<decode_error> error_;
};

json message_json(const pb::ChatMessage& m) {
  json content = nullptr;
  if (!m.content().empty())
    content = json::parse(m.content(), nullptr, false);
  json out = {{"conversation_id", m.conversation_id()},
              {"seq", m.seq()},
              {"message_id", m.message_id()},
              {"sender", m.sender()},
              {"client_msg_id", m.client_msg_id()},
              {"msg_type", m.msg_type()},
              {"content", std::move(content)},
              {"timestamp", m.timestamp()},
              {"edited", m.edited()},
              {"recalled", m.recalled()}};
  switch (m.kind()) {
  case pb::EDIT:
    out["kind"] = "edit";
    out["target_seq"] = m.target_seq();
    break;
  case pb::RECALL:
    out["kind"] = "recall";
    out["target_seq"] = m.target_seq();
    break;
  default: out["kind"] = "message";
  }
  return out;
}

json messages_json(const google::protobuf::RepeatedPtrField<pb::ChatMessage>& ms) {
  json out = json::array();
  for (const auto& m : ms)
    out.push_back(message_json(m));
  return out;
}

json payload_of(const pb::Frame& f) {
  using P = pb::Frame::PayloadCase;
  switch (f.payload_case()) {
  case P::kAuthOk:
    return {{"user_id", f.auth_ok().user_id()},
            {"session_id", f.auth_ok().session_id()},
            {"server_time", f.auth_ok().server_time()}};
  case P::kSendOk: {
    const auto& x = f.send_ok();
    return {{"client_msg_id", x.client_msg_id()},
            {"conversation_id", x.conversation_id()},
            {"seq", x.seq()},
            {"message_id", x.message_id()},
            {"timestamp", x.timestamp()}};
  }
  case P::kEventOk: return {{"seq", f.event_ok().seq()}};
  case P::kSyncOk: {
    json list = json::array();
    for (const auto& c : f.sync_ok().conversations())
      list.push_back({{"conversation_id", c.conversation_id()},
                      {"last_seq", c.last_seq()},
                      {"read_seq", c.read_seq()},
                      {"unread", c.unread()},
                      {"messages", messages_json(c.messages())},
                      {"has_more", c.has_more()},
                      {"epoch", c.epoch()}});
    return {{"conversations", std::move(list)}};
  }
  case P::kHistoryOk:
    return {{"messages", messages_json(f.history_ok().messages())},
            {"has_more", f.history_ok().has_more()}};
  case P::kConversationsListOk: {
    json list = json::array();
    for (const auto& c : f.conversations_list_ok().conversations())
      list.push_back({{"conversation_id", c.conversation_id()},
                      {"last_seq", c.last_seq()},
                      {"read_seq", c.read_seq()},
                      {"unread", c.unread()},
                      {"last_message",
                       c.has_last_message() ? message_json(c.last_message()) : json(nullptr)}});
    return {{"conversations", std::move(list)}};
  }
  case P::kGroupCreateOk: return {{"conversation_id", f.group_create_ok().conversation_id()}};
  case P::kPresenceOk: {
    json list = json::array();
    for (const auto& p : f.presence_ok().presence())
      list.push_back(
          {{"user_id", p.user_id()}, {"online", p.online()}, {"last_seen", p.last_seen()}});
    return {{"presence", std::move(list)}};
  }
  case P::kError: return {{"code", f.error().code()}, {"message", f.error().message()}};
  case P::kMessage: return message_json(f.message());
  case P::kChanged: {
    const auto& c = f.changed();
    json out = {
        {"conversation_id", c.conversation_id()}, {"seq", c.seq()}, {"target_seq", c.target_seq()}};
    if (!c.content().empty())
      out["content"] = json::parse(c.content(), nullptr, false);
    return out;
  }
  case P::kReceipt:
    return {{"conversation_id", f.receipt().conversation_id()},
            {"user_id", f.receipt().user_id()},
            {"read_seq", f.receipt().read_seq()}};
  case P::kTypingPush:
    return {{"conversation_id", f.typing_push().conversation_id()},
            {"user_id", f.typing_push().user_id()}};
  case P::kPresence:
    return {{"user_id", f.presence().user_id()},
            {"online", f.presence().online()},
            {"last_seen", f.presence().last_seen()}};
  case P::kSignal:
    return {{"conversation_id", f.signal().conversation_id()}, {"last_seq", f.signal().last_seq()}};
  default: return json::object();
  }
}

} // namespace

std::optional<decode_error> decode_json_payload(std::string_view type, const json& p,
                                                pb::Frame* out) {
  if (!p.is_object())
    return decode_error{errc::bad_request, "payload must be an object", out->req_id()};
  fields r{p};
  if (type == "auth") {
    auto* x = out->mutable_auth();
    r.str("user_id", x->mutable_user_id(), true) && r.str("token", x->mutable_token(), true);
  } else if (type == "ping") {
    // no payload
  } else if (type == "message.send") {
    auto* x = out->mutable_send();
    r.forbid("sender", "is set by the server and must not be sent") &&
        r.forbid("from", "is set by the server and must not be sent") &&
        r.str("client_msg_id", x->mutable_client_msg_id(), true) &&
        r.str("conversation_id", x->mutable_conversation_id(), false) &&
        r.str("to", x->mutable_to(), false) &&
        r.i32("msg_type", true, [&](int32_t v) { x->set_msg_type(v); }) &&
        r.content("content", x->mutable_content()) &&
        (!x->conversation_id().empty() || !x->to().empty() ||
         r.fail("field 'conversation_id' or 'to' is required"));
  } else if (type == "message.ack") {
    auto* x = out->mutable_ack();
    r.str("conversation_id", x->mutable_conversation_id(), true) &&
        r.u64("seq", true, [&](uint64_t v) { x->set_seq(v); });
  } else if (type == "message.read") {
    auto* x = out->mutable_read();
    r.str("conversation_id", x->mutable_conversation_id(), true) &&
        r.u64("read_seq", true, [&](uint64_t v) { x->set_read_seq(v); });
  } else if (type == "message.typing") {
    r.str("conversation_id", out->mutable_typing()->mutable_conversation_id(), true);
  } else if (type == "message.edit") {
    auto* x = out->mutable_edit();
    r.str("conversation_id", x->mutable_conversation_id(), true) &&
        r.u64("seq", true, [&](uint64_t v) { x->set_seq(v); }) &&
        r.content("content", x->mutable_content());
  } else if (type == "message.recall") {
    auto* x = out->mutable_recall();
    r.str("conversation_id", x->mutable_conversation_id(), true) &&
        r.u64("seq", true, [&](uint64_t v) { x->set_seq(v); });
  } else if (type == "sync") {
    auto* x = out->mutable_sync();
    if (auto c = p.find("cursors"); c != p.end() && !c->is_null()) {
      if (!c->is_object())
        return decode_error{errc::bad_request,
                            "field 'cursors' must be an object of conversation_id: seq",
                            out->req_id()};
      for (const auto& [id, seq] : c->items()) {
        if (!seq.is_number_unsigned() && !(seq.is_number_integer() && seq.get<int64_t>() >= 0))
          return decode_error{errc::bad_request, "cursor of '" + id + "' must be a seq",
                              out->req_id()};
        (*x->mutable_cursors())[id] = seq.get<uint64_t>();
      }
    }
    r.u32("limit", false, [&](uint32_t v) { x->set_limit(v); });
  } else if (type == "history") {
    auto* x = out->mutable_history();
    r.str("conversation_id", x->mutable_conversation_id(), true) &&
        r.u64("after_seq", false, [&](uint64_t v) { x->set_after_seq(v); }) &&
        r.u64("before_seq", false, [&](uint64_t v) { x->set_before_seq(v); }) &&
        r.u32("limit", false, [&](uint32_t v) { x->set_limit(v); });
  } else if (type == "conversations.list") {
    r.u32("limit", false, [&](uint32_t v) { out->mutable_conversations_list()->set_limit(v); });
  } else if (type == "group.create") {
    auto* x = out->mutable_group_create();
    r.str("group_id", x->mutable_group_id(), false) && r.str("title", x->mutable_title(), false) &&
        r.strings("members", x->mutable_members(), false);
  } else if (type == "group.add_members" || type == "group.remove_members") {
    auto* x = out->mutable_group_members();
    r.str("conversation_id", x->mutable_conversation_id(), true) &&
        r.strings("members", x->mutable_members(), true);
  } else if (type == "group.leave") {
    r.str("conversation_id", out->mutable_group_leave()->mutable_conversation_id(), true);
  } else if (type == "presence.query") {
    r.strings("user_ids", out->mutable_presence_query()->mutable_user_ids(), true);
  } else {
    return decode_error{errc::bad_request, "unknown type '" + std::string{type} + "'",
                        out->req_id()};
  }
  if (auto err = r.error()) {
    err->req_id = out->req_id();
    return err;
  }
  return std::nullopt;
}

std::optional<decode_error> decode_json(std::string_view text, pb::Frame* out) {
  auto doc = json::parse(text.begin(), text.end(), nullptr, false);
  if (doc.is_discarded())
    return decode_error{errc::bad_request, "frame is not valid JSON", {}};
  if (!doc.is_object())
    return decode_error{errc::bad_request, "frame must be a JSON object", {}};
  if (auto r = doc.find("req_id"); r != doc.end() && !r->is_null()) {
    if (!r->is_string())
      return decode_error{errc::bad_request, "field 'req_id' must be a string", {}};
    out->set_req_id(r->get<std::string>());
  }
  auto t = doc.find("type");
  if (t == doc.end() || !t->is_string())
    return decode_error{errc::bad_request, "field 'type' is required and must be a string",
                        out->req_id()};
  out->set_type(t->get<std::string>());
  static const json empty = json::object();
  auto p = doc.find("payload");
  return decode_json_payload(out->type(), p == doc.end() || p->is_null() ? empty : *p, out);
}

std::string encode_json(const pb::Frame& f) {
  json out = {{"type", f.type()}};
  if (!f.req_id().empty())
    out["req_id"] = f.req_id();
  out["payload"] = payload_of(f);
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string encode_json_payload(const pb::Frame& f) {
  return payload_of(f).dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace chorus::net
