// JSON <-> pb::Frame. The field names are the contract of docs/protocol.md.
#include "net/codec.hpp"
#include "net/validate.hpp"

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

/// Writes one JSON text front to back. Values go through nlohmann's own
/// serializer, as `json::dump` would write them (strings escaped, invalid
/// UTF-8 replaced by U+FFFD); keys are the protocol's field names, which need
/// no escaping. No document is built: a reply or push is written in one pass,
/// about six times faster than building a `json` and dumping it.
///
/// A message's content is already JSON text, checked by inspect_content when
/// it was sent; it goes in as it is (nlohmann has no raw-value type), so a
/// push does not parse it into a document to write it out again.
class json_writer {
public:
  json_writer()
    : ser_(nlohmann::detail::output_adapter<char>(out_), ' ', json::error_handler_t::replace) {
    out_.reserve(256);
  }

  json_writer& key(const char* k) {
    separate();
    out_ += '"';
    out_ += k;
    out_ += "\":";
    comma_ = false;
    return *this;
  }

  json_writer& value(std::string_view v) {
    separate();
    str_.get_ref<std::string&>().assign(v.data(), v.size());
    ser_.dump(str_, false, false, 0);
    comma_ = true;
    return *this;
  }

  // Not left to a conversion: a string literal would pick value(bool).
  json_writer& value(const char* v) { return value(std::string_view{v}); }
  json_writer& value(const std::string& v) { return value(std::string_view{v}); }

  template <class Int,
            class = std::enable_if_t<std::is_integral_v<Int> && !std::is_same_v<Int, bool>>>
  json_writer& value(Int v) {
    separate();
    num_ = v;
    ser_.dump(num_, false, false, 0);
    comma_ = true;
    return *this;
  }

  json_writer& value(bool v) {
    separate();
    out_ += v ? "true" : "false";
    comma_ = true;
    return *this;
  }

  /// JSON text that is known to be one valid value; empty writes null.
  json_writer& raw(std::string_view text) {
    separate();
    // Content stored before these were refused: a byte order mark, which
    // nlohmann's parser skips, and bytes after a NUL, where it stops. What
    // the parser read then is what is written.
    if (text.substr(0, 3) == "\xEF\xBB\xBF")
      text.remove_prefix(3);
    text = text.substr(0, text.find('\0'));
    if (text.empty())
      out_ += "null";
    else
      out_.append(text);
    comma_ = true;
    return *this;
  }

  json_writer& null() {
    separate();
    out_ += "null";
    comma_ = true;
    return *this;
  }

  template <class T>
  json_writer& field(const char* k, const T& v) {
    return key(k).value(v);
  }

  json_writer& begin_object() { return open('{'); }
  json_writer& end_object() { return close('}'); }
  json_writer& begin_array() { return open('['); }
  json_writer& end_array() { return close(']'); }

  std::string take() { return std::move(out_); }

private:
  void separate() {
    if (comma_)
      out_ += ',';
  }

  json_writer& open(char c) {
    separate();
    out_ += c;
    comma_ = false;
    return *this;
  }

  json_writer& close(char c) {
    out_ += c;
    comma_ = true;
    return *this;
  }

  std::string out_; // before ser_, which writes into it
  nlohmann::detail::serializer<json> ser_;
  json str_ = "";
  json num_ = 0;
  bool comma_ = false;
};

void write_message(json_writer& w, const pb::ChatMessage& m) {
  w.begin_object()
      .field("conversation_id", m.conversation_id())
      .field("seq", m.seq())
      .field("message_id", m.message_id())
      .field("sender", m.sender())
      .field("client_msg_id", m.client_msg_id())
      .field("msg_type", m.msg_type())
      .key("content")
      .raw(m.content())
      .field("timestamp", m.timestamp())
      .field("edited", m.edited())
      .field("recalled", m.recalled());
  switch (m.kind()) {
  case pb::EDIT: w.field("kind", "edit").field("target_seq", m.target_seq()); break;
  case pb::RECALL: w.field("kind", "recall").field("target_seq", m.target_seq()); break;
  default: w.field("kind", "message");
  }
  w.end_object();
}

void write_messages(json_writer& w, const google::protobuf::RepeatedPtrField<pb::ChatMessage>& ms) {
  w.begin_array();
  for (const auto& m : ms)
    write_message(w, m);
  w.end_array();
}

/// A user's place in a conversation, as sync and conversations.list give it.
template <class Conversation>
json_writer& write_position(json_writer& w, const Conversation& c) {
  return w.field("conversation_id", c.conversation_id())
      .field("last_seq", c.last_seq())
      .field("read_seq", c.read_seq())
      .field("unread", c.unread());
}

/// Writes the payload object of a reply or push.
void write_payload(json_writer& w, const pb::Frame& f) {
  using P = pb::Frame::PayloadCase;
  if (f.payload_case() == P::kMessage) { // a message push is the message itself
    write_message(w, f.message());
    return;
  }
  w.begin_object();
  switch (f.payload_case()) {
  case P::kAuthOk:
    w.field("user_id", f.auth_ok().user_id())
        .field("session_id", f.auth_ok().session_id())
        .field("server_time", f.auth_ok().server_time());
    break;
  case P::kSendOk: {
    const auto& x = f.send_ok();
    w.field("client_msg_id", x.client_msg_id())
        .field("conversation_id", x.conversation_id())
        .field("seq", x.seq())
        .field("message_id", x.message_id())
        .field("timestamp", x.timestamp());
    break;
  }
  case P::kEventOk: w.field("seq", f.event_ok().seq()); break;
  case P::kSyncOk:
    w.key("conversations").begin_array();
    for (const auto& c : f.sync_ok().conversations()) {
      write_position(w.begin_object(), c).key("messages");
      write_messages(w, c.messages());
      w.field("has_more", c.has_more()).field("epoch", c.epoch()).end_object();
    }
    w.end_array();
    break;
  case P::kHistoryOk:
    w.key("messages");
    write_messages(w, f.history_ok().messages());
    w.field("has_more", f.history_ok().has_more());
    break;
  case P::kConversationsListOk:
    w.key("conversations").begin_array();
    for (const auto& c : f.conversations_list_ok().conversations()) {
      write_position(w.begin_object(), c).key("last_message");
      if (c.has_last_message())
        write_message(w, c.last_message());
      else
        w.null();
      w.end_object();
    }
    w.end_array();
    break;
  case P::kGroupCreateOk: w.field("conversation_id", f.group_create_ok().conversation_id()); break;
  case P::kPresenceOk:
    w.key("presence").begin_array();
    for (const auto& p : f.presence_ok().presence())
      w.begin_object()
          .field("user_id", p.user_id())
          .field("online", p.online())
          .field("last_seen", p.last_seen())
          .end_object();
    w.end_array();
    break;
  case P::kError: w.field("code", f.error().code()).field("message", f.error().message()); break;
  case P::kChanged: {
    const auto& c = f.changed();
    w.field("conversation_id", c.conversation_id())
        .field("seq", c.seq())
        .field("target_seq", c.target_seq());
    if (!c.content().empty())
      w.key("content").raw(c.content());
    break;
  }
  case P::kReceipt:
    w.field("conversation_id", f.receipt().conversation_id())
        .field("user_id", f.receipt().user_id())
        .field("read_seq", f.receipt().read_seq());
    break;
  case P::kTypingPush:
    w.field("conversation_id", f.typing_push().conversation_id())
        .field("user_id", f.typing_push().user_id());
    break;
  case P::kPresence:
    w.field("user_id", f.presence().user_id())
        .field("online", f.presence().online())
        .field("last_seen", f.presence().last_seen());
    break;
  case P::kSignal:
    w.field("conversation_id", f.signal().conversation_id())
        .field("last_seq", f.signal().last_seq());
    break;
  default: break;
  }
  w.end_object();
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
  if (holds_nul(text))
    return decode_error{errc::bad_request, "frame is not valid JSON", {}};
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
  json_writer w;
  w.begin_object().field("type", f.type());
  if (!f.req_id().empty())
    w.field("req_id", f.req_id());
  w.key("payload");
  write_payload(w, f);
  w.end_object();
  return w.take();
}

std::string encode_json_payload(const pb::Frame& f) {
  json_writer w;
  write_payload(w, f);
  return w.take();
}

std::string encode_json(std::string_view type, const std::string& req_id,
                        std::string_view payload) {
  json_writer w;
  w.begin_object().field("type", type);
  if (!req_id.empty())
    w.field("req_id", req_id);
  w.key("payload").raw(payload);
  w.end_object();
  return w.take();
}

} // namespace chorus::net
