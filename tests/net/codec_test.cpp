#include "net/codec.hpp"
#include "net/validate.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <random>

using namespace chorus;
using json = nlohmann::json;

namespace {

std::optional<net::decode_error> decode(const std::string& text, pb::Frame* f) {
  return net::decode_json(text, f);
}

} // namespace

TEST_CASE("a JSON send decodes into the Send payload with content as JSON text", "[net]") {
  pb::Frame f;
  auto err = decode(R"({"type":"message.send","req_id":"r1","payload":{"client_msg_id":"c1",
    "to":"bob","msg_type":1,"content":{"text":"hi","n":[1,2]}}})",
                    &f);
  REQUIRE_FALSE(err);
  CHECK(f.type() == "message.send");
  CHECK(f.req_id() == "r1");
  CHECK(f.send().to() == "bob");
  CHECK(f.send().msg_type() == 1);
  CHECK(json::parse(f.send().content()) == json{{"text", "hi"}, {"n", {1, 2}}});
}

TEST_CASE("malformed frames and fields are bad_request with a message naming them", "[net]") {
  struct row {
    const char* text;
    const char* message_part;
  };
  row rows[] = {
      {"{nope", "not valid JSON"},
      {"[1,2]", "JSON object"},
      {R"({"payload":{}})", "'type'"},
      {R"({"type":7})", "'type'"},
      {R"({"type":"ping","req_id":5})", "'req_id'"},
      {R"({"type":"no.such"})", "unknown type"},
      {R"({"type":"auth","payload":{"user_id":"a"}})", "'token'"},
      {R"({"type":"message.send","payload":{"client_msg_id":"c","to":"b","msg_type":"1","content":1}})",
       "'msg_type'"},
      {R"({"type":"message.send","payload":{"client_msg_id":"c","to":"b","msg_type":1}})",
       "'content'"},
      {R"({"type":"message.send","payload":{"client_msg_id":"c","to":"b","msg_type":1,"content":null}})",
       "'content'"},
      {R"({"type":"message.send","payload":{"client_msg_id":"c","msg_type":1,"content":1}})",
       "'conversation_id' or 'to'"},
      {R"({"type":"message.send","payload":{"client_msg_id":"c","to":"b","msg_type":1,"content":1,"sender":"x"}})",
       "'sender'"},
      {R"({"type":"message.ack","payload":{"conversation_id":"d:a:b","seq":-1}})", "'seq'"},
      {R"({"type":"message.ack","payload":{"conversation_id":"d:a:b","seq":1.5}})", "'seq'"},
      {R"({"type":"message.ack","payload":{"conversation_id":"d:a:b","seq":"3"}})", "'seq'"},
      {R"({"type":"history","payload":{"conversation_id":"g:x","limit":true}})", "'limit'"},
      {R"({"type":"sync","payload":{"cursors":{"g:x":"1"}}})", "cursor"},
      {R"({"type":"group.create","payload":{"members":"bob"}})", "'members'"},
      {R"({"type":"ping","payload":[]})", "payload"},
  };
  // A NUL byte ends nlohmann's input: what follows one must not be ignored.
  std::string nul_tail{R"({"type":"ping"})"};
  nul_tail += '\0';
  nul_tail += "garbage";
  pb::Frame f;
  auto nul_err = decode(nul_tail, &f);
  REQUIRE(nul_err);
  CHECK(nul_err->code == errc::bad_request);
  CHECK_THAT(nul_err->message, Catch::Contains("not valid JSON"));
  for (const auto& r : rows) {
    INFO(r.text);
    pb::Frame f;
    auto err = decode(r.text, &f);
    REQUIRE(err);
    CHECK(err->code == errc::bad_request);
    CHECK_THAT(err->message, Catch::Contains(r.message_part));
  }
}

TEST_CASE("decode errors echo the req_id when the frame got that far", "[net]") {
  pb::Frame f;
  auto err = decode(R"({"type":"message.ack","req_id":"r9","payload":{}})", &f);
  REQUIRE(err);
  CHECK(err->req_id == "r9");
}

TEST_CASE("replies and pushes encode with the protocol's field names and JSON numbers", "[net]") {
  pb::Frame f;
  f.set_type("message.new");
  auto* m = f.mutable_message();
  m->set_conversation_id("d:a:b");
  m->set_seq(7);
  m->set_message_id("mid");
  m->set_sender("a");
  m->set_client_msg_id("c7");
  m->set_msg_type(1);
  m->set_content(R"({"type":"text","text":"hi"})");
  m->set_timestamp(1700000000000);
  auto j = json::parse(net::encode_json(f));
  CHECK(j["type"] == "message.new");
  CHECK_FALSE(j.contains("req_id"));
  auto& p = j["payload"];
  CHECK(p["seq"].is_number_unsigned());
  CHECK(p["seq"] == 7);
  CHECK(p["timestamp"] == 1700000000000);
  CHECK(p["content"]["text"] == "hi");
  CHECK(p["edited"] == false);
  CHECK(p["recalled"] == false);

  pb::Frame e;
  e.set_type("error");
  e.set_req_id("r1");
  e.mutable_error()->set_code("forbidden");
  e.mutable_error()->set_message("no");
  auto ej = json::parse(net::encode_json(e));
  CHECK(ej == json{{"type", "error"},
                   {"req_id", "r1"},
                   {"payload", {{"code", "forbidden"}, {"message", "no"}}}});
}

TEST_CASE("binary frames must carry the payload that belongs to their type", "[net]") {
  pb::Frame f;
  f.set_type("message.ack");
  f.mutable_send()->set_to("x");
  pb::Frame out;
  auto err = net::decode_binary(f.SerializeAsString(), &out);
  REQUIRE(err);
  CHECK(err->code == errc::bad_request);

  pb::Frame ok;
  ok.set_type("message.ack");
  ok.mutable_ack()->set_conversation_id("d:a:b");
  ok.mutable_ack()->set_seq(3);
  REQUIRE_FALSE(net::decode_binary(ok.SerializeAsString(), &out));
  CHECK(out.ack().seq() == 3);

  CHECK(net::decode_binary("\xff\xff\xff garbage", &out));
}

TEST_CASE("every reply and push encodes as the JSON document the protocol describes", "[net]") {
  // Strings that need escaping, and bytes that are not UTF-8 (replaced by
  // U+FFFD, never a broken frame).
  const std::string odd = "q\"b\\s/\n\t\x01\xC3\xA9\xF0\x9F\x98\x80";
  const std::string broken = "a\xC3\x28z";
  auto frame_json = [](const pb::Frame& f) {
    auto text = net::encode_json(f);
    auto j = json::parse(text, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());
    CHECK(json::parse(net::encode_json_payload(f)) == j["payload"]);
    return j;
  };
  auto fill = [&](pb::ChatMessage* m, uint64_t seq) {
    m->set_conversation_id("g:" + std::to_string(seq));
    m->set_seq(seq);
    m->set_message_id(odd);
    m->set_sender("alice");
    m->set_client_msg_id(broken);
    m->set_msg_type(-3);
    m->set_content(" [1, {\"t\": \"\\u00e9\"}] ");
    m->set_timestamp(-5);
    m->set_edited(true);
  };
  const json message = {{"conversation_id", "g:18446744073709551615"},
                        {"seq", UINT64_MAX},
                        {"message_id", odd},
                        {"sender", "alice"},
                        {"client_msg_id", "a\xEF\xBF\xBD(z"},
                        {"msg_type", -3},
                        {"content", {1, {{"t", "\xC3\xA9"}}}},
                        {"timestamp", -5},
                        {"edited", true},
                        {"recalled", false},
                        {"kind", "message"}};

  pb::Frame push;
  push.set_type("message.new");
  fill(push.mutable_message(), UINT64_MAX);
  CHECK(frame_json(push) == json{{"type", "message.new"}, {"payload", message}});

  pb::Frame recall;
  recall.set_type("message.new");
  fill(recall.mutable_message(), UINT64_MAX);
  recall.mutable_message()->set_kind(pb::RECALL);
  recall.mutable_message()->set_target_seq(4);
  recall.mutable_message()->clear_content();
  auto r = frame_json(recall)["payload"];
  CHECK(r["kind"] == "recall");
  CHECK(r["target_seq"] == 4);
  CHECK(r["content"].is_null());

  pb::Frame history;
  history.set_type("history.ok");
  history.set_req_id(odd);
  fill(history.mutable_history_ok()->add_messages(), UINT64_MAX);
  fill(history.mutable_history_ok()->add_messages(), UINT64_MAX);
  history.mutable_history_ok()->set_has_more(true);
  CHECK(frame_json(history) ==
        json{{"type", "history.ok"},
             {"req_id", odd},
             {"payload", {{"messages", {message, message}}, {"has_more", true}}}});

  pb::Frame sync;
  sync.set_type("sync.ok");
  auto* c = sync.mutable_sync_ok()->add_conversations();
  c->set_conversation_id("d:a:b");
  c->set_last_seq(9);
  c->set_read_seq(2);
  c->set_unread(7);
  c->set_epoch(3);
  sync.mutable_sync_ok()->add_conversations()->set_conversation_id("g:x");
  CHECK(frame_json(sync)["payload"] == json{{"conversations",
                                             {{{"conversation_id", "d:a:b"},
                                               {"last_seq", 9},
                                               {"read_seq", 2},
                                               {"unread", 7},
                                               {"messages", json::array()},
                                               {"has_more", false},
                                               {"epoch", 3}},
                                              {{"conversation_id", "g:x"},
                                               {"last_seq", 0},
                                               {"read_seq", 0},
                                               {"unread", 0},
                                               {"messages", json::array()},
                                               {"has_more", false},
                                               {"epoch", 0}}}}});

  pb::Frame list;
  list.set_type("conversations.list.ok");
  auto* s = list.mutable_conversations_list_ok()->add_conversations();
  s->set_conversation_id("g:1");
  fill(s->mutable_last_message(), UINT64_MAX);
  list.mutable_conversations_list_ok()->add_conversations()->set_conversation_id("g:2");
  auto l = frame_json(list)["payload"]["conversations"];
  REQUIRE(l.size() == 2);
  CHECK(l[0]["last_message"] == message);
  CHECK(l[1]["last_message"].is_null());
  CHECK(l[1]["unread"] == 0);

  pb::Frame auth;
  auth.set_type("auth.ok");
  auth.mutable_auth_ok()->set_user_id("alice");
  auth.mutable_auth_ok()->set_session_id(broken);
  auth.mutable_auth_ok()->set_server_time(INT64_MAX);
  CHECK(frame_json(auth)["payload"] ==
        json{{"user_id", "alice"}, {"session_id", "a\xEF\xBF\xBD(z"}, {"server_time", INT64_MAX}});

  pb::Frame ok;
  ok.set_type("message.send.ok");
  ok.set_req_id("r");
  auto* so = ok.mutable_send_ok();
  so->set_client_msg_id(odd);
  so->set_conversation_id("d:a:b");
  so->set_seq(1);
  so->set_message_id("m");
  so->set_timestamp(1700000000000);
  CHECK(frame_json(ok) == json{{"type", "message.send.ok"},
                               {"req_id", "r"},
                               {"payload",
                                {{"client_msg_id", odd},
                                 {"conversation_id", "d:a:b"},
                                 {"seq", 1},
                                 {"message_id", "m"},
                                 {"timestamp", 1700000000000}}}});

  pb::Frame event;
  event.set_type("message.edit.ok");
  event.mutable_event_ok()->set_seq(12);
  CHECK(frame_json(event)["payload"] == json{{"seq", 12}});

  pb::Frame group;
  group.set_type("group.create.ok");
  group.mutable_group_create_ok()->set_conversation_id("g:team");
  CHECK(frame_json(group)["payload"] == json{{"conversation_id", "g:team"}});

  pb::Frame presence;
  presence.set_type("presence.query.ok");
  auto* p = presence.mutable_presence_ok()->add_presence();
  p->set_user_id("bob");
  p->set_online(true);
  p->set_last_seen(42);
  presence.mutable_presence_ok()->add_presence()->set_user_id("carol");
  CHECK(frame_json(presence)["payload"] ==
        json{{"presence",
              {{{"user_id", "bob"}, {"online", true}, {"last_seen", 42}},
               {{"user_id", "carol"}, {"online", false}, {"last_seen", 0}}}}});

  pb::Frame empty_list;
  empty_list.set_type("presence.query.ok");
  empty_list.mutable_presence_ok();
  CHECK(frame_json(empty_list)["payload"] == json{{"presence", json::array()}});

  pb::Frame changed;
  changed.set_type("message.edited");
  changed.mutable_changed()->set_conversation_id("g:x");
  changed.mutable_changed()->set_seq(5);
  changed.mutable_changed()->set_target_seq(3);
  changed.mutable_changed()->set_content("\xEF\xBB\xBF\"new\""); // stored before BOMs were refused
  CHECK(frame_json(changed)["payload"] ==
        json{{"conversation_id", "g:x"}, {"seq", 5}, {"target_seq", 3}, {"content", "new"}});
  // stored before NULs were refused: what the parser read, and no more
  changed.mutable_changed()->set_content(std::string{"[1]\0,\"x\":2", 11});
  CHECK(frame_json(changed)["payload"]["content"] == json{1});
  changed.mutable_changed()->clear_content();
  CHECK_FALSE(frame_json(changed)["payload"].contains("content"));

  pb::Frame receipt;
  receipt.set_type("receipt.read");
  receipt.mutable_receipt()->set_conversation_id("g:x");
  receipt.mutable_receipt()->set_user_id("bob");
  receipt.mutable_receipt()->set_read_seq(8);
  CHECK(frame_json(receipt)["payload"] ==
        json{{"conversation_id", "g:x"}, {"user_id", "bob"}, {"read_seq", 8}});

  pb::Frame typing;
  typing.set_type("typing");
  typing.mutable_typing_push()->set_conversation_id("g:x");
  typing.mutable_typing_push()->set_user_id("bob");
  CHECK(frame_json(typing)["payload"] == json{{"conversation_id", "g:x"}, {"user_id", "bob"}});

  pb::Frame online;
  online.set_type("presence");
  online.mutable_presence()->set_user_id("bob");
  online.mutable_presence()->set_online(true);
  online.mutable_presence()->set_last_seen(0);
  CHECK(frame_json(online)["payload"] ==
        json{{"user_id", "bob"}, {"online", true}, {"last_seen", 0}});

  pb::Frame signal;
  signal.set_type("conversation.signal");
  signal.mutable_signal()->set_conversation_id("g:big");
  signal.mutable_signal()->set_last_seq(77);
  CHECK(frame_json(signal)["payload"] == json{{"conversation_id", "g:big"}, {"last_seq", 77}});

  pb::Frame pong;
  pong.set_type("pong");
  CHECK(frame_json(pong) == json{{"type", "pong"}, {"payload", json::object()}});
}

TEST_CASE("JSON frames stay valid JSON whatever bytes their strings hold", "[net]") {
  std::mt19937 rng{20261201};
  auto random_bytes = [&] {
    std::string s(rng() % 12, '\0');
    for (auto& c : s) // mostly printable, sometimes quotes, controls or any byte
      c = static_cast<char>(rng() % 4 == 0 ? rng() % 256 : 32 + rng() % 95);
    return s;
  };
  // What nlohmann itself makes of a string: invalid UTF-8 becomes U+FFFD.
  auto as_json = [](const std::string& s) {
    return json::parse(json(s).dump(-1, ' ', false, json::error_handler_t::replace));
  };
  std::function<json(int)> random_value = [&](int depth) -> json {
    switch (depth > 2 ? rng() % 4 : rng() % 6) {
    case 0: return as_json(random_bytes());
    case 1: return static_cast<int64_t>(rng()) - INT32_MAX;
    case 2: return rng() % 2 == 0;
    case 3: return 0.5 * static_cast<double>(rng() % 1000);
    case 4: {
      json a = json::array();
      for (auto n = rng() % 4; n > 0; --n)
        a.push_back(random_value(depth + 1));
      return a;
    }
    default: {
      json o = json::object();
      for (auto n = rng() % 4; n > 0; --n)
        o[as_json(random_bytes()).get<std::string>()] = random_value(depth + 1);
      return o;
    }
    }
  };
  for (int i = 0; i < 2000; ++i) {
    pb::Frame f;
    f.set_type("history.ok");
    f.set_req_id(random_bytes());
    f.mutable_history_ok();
    json expected = json::array();
    for (auto n = rng() % 3; n > 0; --n) {
      auto* m = f.mutable_history_ok()->add_messages();
      m->set_conversation_id(random_bytes());
      m->set_seq((uint64_t{rng()} << 32) | rng());
      m->set_message_id(random_bytes());
      m->set_sender(random_bytes());
      m->set_client_msg_id(random_bytes());
      auto content = random_value(0);
      auto text = content.dump(rng() % 2 == 0 ? -1 : 1);
      net::content_info info; // content reaches the codec only once checked
      REQUIRE_FALSE(net::inspect_content(text, 1 << 20, &info));
      m->set_content(text);
      expected.push_back({{"conversation_id", as_json(m->conversation_id())},
                          {"seq", m->seq()},
                          {"message_id", as_json(m->message_id())},
                          {"sender", as_json(m->sender())},
                          {"client_msg_id", as_json(m->client_msg_id())},
                          {"msg_type", 0},
                          {"content", content},
                          {"timestamp", 0},
                          {"edited", false},
                          {"recalled", false},
                          {"kind", "message"}});
    }
    auto text = net::encode_json(f);
    auto doc = json::parse(text, nullptr, false);
    CAPTURE(text);
    REQUIRE_FALSE(doc.is_discarded());
    if (!f.req_id().empty())
      CHECK(doc["req_id"] == as_json(f.req_id()));
    CHECK(doc["payload"]["messages"] == expected);
  }
}
