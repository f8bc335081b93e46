// Requests of every type with random, often absurd, field values, from three
// clients on the three wire formats at once. Each one gets exactly one reply:
// its `<type>.ok` or an error with one of the protocol's codes for bad input
// (never `internal` or `unavailable`, which would mean a failure or a hang).
// Afterwards every client still works, every conversation's log has each seq
// from 1 to its last exactly once, and the node stops cleanly.
#include "node_process.hpp"
#include "proto/chorus.pb.h"

#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <set>

using namespace chorus::test;
using chorus::client::client_error;
using chorus::client::json;
using chorus::client::transport;

namespace {

const std::vector<std::string> users = {"alice", "bob", "carol"};

/// Random requests over a small world of users, conversations and seqs, so
/// that many of them reach the actors instead of stopping at validation.
class request_maker {
public:
  explicit request_maker(uint64_t seed) : rng_(seed) {}

  /// One of `v`.
  template <class T>
  const T& pick(const std::vector<T>& v) {
    return v[rng_() % v.size()];
  }

  /// A request type: mostly known ones, sometimes not.
  std::string type() {
    static const std::vector<std::string> types = {"message.send",
                                                   "message.send",
                                                   "message.send",
                                                   "message.ack",
                                                   "message.read",
                                                   "message.typing",
                                                   "message.edit",
                                                   "message.recall",
                                                   "sync",
                                                   "history",
                                                   "history",
                                                   "conversations.list",
                                                   "group.create",
                                                   "group.add_members",
                                                   "group.remove_members",
                                                   "group.leave",
                                                   "presence.query",
                                                   "ping",
                                                   "auth",
                                                   "message.nope",
                                                   "",
                                                   "message.send.ok",
                                                   "error",
                                                   "message.new"};
    return pick(types);
  }

  /// A payload for `type`. With `typed` false (JSON), field values may have
  /// any JSON type; with `typed` true (protobuf) they keep the field's type.
  json payload(const std::string& type, bool typed) {
    json p = json::object();
    auto maybe = [&](const char* key, auto make) {
      if (chance(92))
        p[key] = make();
    };
    if (type == "message.send") {
      maybe("client_msg_id", [&] { return client_msg_id(); });
      if (chance(50))
        p["to"] = value(typed, [&] { return user(); });
      else
        p["conversation_id"] = value(typed, [&] { return conversation(); });
      maybe("msg_type", [&] { return value(typed, [&] { return json(small_int()); }); });
      maybe("content", [&] { return content(typed); });
    } else if (type == "message.ack" || type == "message.read" || type == "message.edit" ||
               type == "message.recall") {
      maybe("conversation_id", [&] { return value(typed, [&] { return conversation(); }); });
      const char* key = type == "message.read" ? "read_seq" : "seq";
      maybe(key, [&] { return value(typed, [&] { return json(seq()); }); });
      if (type == "message.edit")
        maybe("content", [&] { return content(typed); });
    } else if (type == "message.typing" || type == "group.leave") {
      maybe("conversation_id", [&] { return value(typed, [&] { return conversation(); }); });
    } else if (type == "history") {
      maybe("conversation_id", [&] { return value(typed, [&] { return conversation(); }); });
      if (chance(50))
        p["after_seq"] = value(typed, [&] { return json(seq()); });
      if (chance(30))
        p["before_seq"] = value(typed, [&] { return json(seq()); });
      if (chance(50))
        p["limit"] = value(typed, [&] { return json(limit()); });
    } else if (type == "sync") {
      if (chance(60)) {
        json cursors = json::object();
        for (int i = 0, n = small(4); i < n; ++i)
          cursors[conversation()] = value(typed, [&] { return json(seq()); });
        p["cursors"] = value(typed, [&] { return cursors; });
      }
      if (chance(40))
        p["limit"] = value(typed, [&] { return json(limit()); });
    } else if (type == "conversations.list") {
      if (chance(50))
        p["limit"] = value(typed, [&] { return json(limit()); });
    } else if (type == "group.create" || type == "group.add_members" ||
               type == "group.remove_members") {
      if (type == "group.create") {
        if (chance(60))
          p["group_id"] = value(typed, [&] { return json(group_id()); });
        if (chance(40))
          p["title"] = value(typed, [&] { return json(text()); });
      } else {
        maybe("conversation_id", [&] { return value(typed, [&] { return conversation(); }); });
      }
      maybe("members", [&] { return value(typed, [&] { return members(); }); });
    } else if (type == "presence.query") {
      maybe("user_ids", [&] { return value(typed, [&] { return members(); }); });
    } else if (type == "auth") {
      maybe("user_id", [&] { return user(); });
      maybe("token", [&] { return text(); });
    }
    if (!typed && chance(5))
      p["unknown_field"] = any();
    if (!typed && chance(3))
      return any();
    return p;
  }

  bool chance(int percent) { return static_cast<int>(rng_() % 100) < percent; }

  /// A query value for the HTTP API.
  std::string query_value() {
    static const std::vector<std::string> v = {
        "0",   "1", "50", "100", "101", "-1", "abc", "", "1.5", "%zz", "99999999999999999999999",
        "2%00"};
    return pick(v);
  }

  /// A conversation id as an HTTP path segment, sometimes %-escaped.
  std::string path_conversation() {
    auto c = conversation();
    if (chance(30))
      for (size_t at; (at = c.find(':')) != std::string::npos;)
        c.replace(at, 1, "%3A");
    if (chance(5))
      c += "%";
    return c;
  }

private:
  int small(int n) { return static_cast<int>(rng_() % static_cast<uint64_t>(n)); }

  std::string user() {
    static const std::vector<std::string> odd = {
        "", "dave", "a:b", "ALICE", std::string(65, 'u'), "al ice", "é"};
    return chance(92) ? pick(users) : pick(odd);
  }

  std::string group_id() {
    static const std::vector<std::string> ids = {
        "room1", "room2", "room3", "", "bad id", std::string(65, 'g'), "x.y-z_1"};
    return pick(ids);
  }

  std::string conversation() {
    static const std::vector<std::string> valid = {"d:alice:bob", "d:alice:carol", "d:bob:carol",
                                                   "g:room1",     "g:room2",       "g:room3"};
    static const std::vector<std::string> odd = {
        "d:bob:alice",  "d:alice:alice",      "d:alice", "g:", "x:y", "", "d:alice:dave",
        "g:nosuchroom", std::string(300, 'd')};
    return chance(80) ? pick(valid) : pick(odd);
  }

  json seq() {
    static const std::vector<json> seqs = {
        0, 1, 1, 2, 3, 5, 10, 40, 1000, 9007199254740991ull, 18446744073709551615ull};
    return pick(seqs);
  }

  json limit() {
    static const std::vector<json> valid = {1, 2, 50, 100};
    static const std::vector<json> odd = {0, 101, 1000, 4294967295ull};
    return chance(75) ? pick(valid) : pick(odd);
  }

  int small_int() {
    static const std::vector<int> v = {0, 1, 2, -1, 2147483647, -2147483647 - 1};
    return pick(v);
  }

  std::string client_msg_id() {
    static const std::vector<std::string> ids = {"",        " ", std::string(129, 'c'),
                                                 "tab\tid", "ü", std::string(128, 'k')};
    if (chance(85))
      return "m" + std::to_string(rng_() % 60); // repeats: resends and dedup
    return pick(ids);
  }

  std::string text() {
    // Valid UTF-8 only: neither wire can carry anything else in a string
    // (the broken frames at the end send some).
    static const std::vector<std::string> texts = {"", "hello", std::string(5000, 'x'),
                                                   std::string("nul\0inside", 10),
                                                   "emoji \xf0\x9f\x98\x80"};
    return pick(texts);
  }

  json members() {
    json m = json::array();
    for (int i = 0, n = small(6); i < n; ++i)
      m.push_back(user());
    if (chance(5))
      for (int i = 0; i < 150; ++i)
        m.push_back("u" + std::to_string(i));
    return m;
  }

  /// A content value; as protobuf carries content as JSON text, the typed
  /// form may also be text that is not JSON.
  json content(bool typed) {
    switch (small(8)) {
    case 0: return json{{"text", text()}};
    case 1: return json{{"text", "q"}, {"quote_message_seq", seq()}};
    case 2: return json{{"type", "mention"}, {"user_id", user()}, {"mention_type", "all"}};
    case 3: return json(text());
    case 4: return typed ? json{{"n", small_int()}} : json(nullptr);
    case 5: return json::array({1, json::array({2, json::object({{"a", nullptr}})})});
    case 6: return json{{"big", std::string(70000, 'b')}};
    default: return any();
    }
  }

  /// Any JSON value, nested a little.
  json any(int depth = 0) {
    switch (small(depth > 2 ? 6 : 8)) {
    case 0: return nullptr;
    case 1: return chance(50);
    case 2: return small_int();
    case 3: return -1.5;
    case 4: return text();
    case 5: return seq();
    case 6: {
      json a = json::array();
      for (int i = 0, n = small(3); i < n; ++i)
        a.push_back(any(depth + 1));
      return a;
    }
    default: {
      json o = json::object();
      for (int i = 0, n = small(3); i < n; ++i)
        o["k" + std::to_string(i)] = any(depth + 1);
      return o;
    }
    }
  }

  /// `make()` for a typed wire; for JSON mostly `make()`, sometimes a value
  /// of any type.
  template <class F>
  json value(bool typed, F make) {
    return typed ? json(make()) : any_or(make);
  }

  /// Mostly `make()`, sometimes a value of any type.
  template <class F>
  json any_or(F make) {
    return chance(90) ? json(make()) : any();
  }

  std::mt19937_64 rng_;
};

const std::set<std::string> input_codes = {"bad_request", "forbidden", "not_found", "too_large",
                                           "conflict"};

} // namespace

TEST_CASE("random requests of every type each get one reply with a protocol code",
          "[integration]") {
  uint64_t seed = GENERATE(1, 2, 3);
  CAPTURE(seed);
  node_process node{{"--limits.sends-per-second=0"}};
  struct peer {
    std::string user;
    std::unique_ptr<chorus::client::client> conn;
  };
  std::vector<peer> peers;
  peers.push_back({"alice", node.connect("alice", transport::websocket_json)});
  peers.push_back({"bob", node.connect("bob", transport::tcp)});
  peers.push_back({"carol", node.connect("carol", transport::websocket_binary)});

  request_maker make{seed};
  std::map<std::string, int> replies; // "<type> <ok|code>" -> count
  int not_encodable = 0;
  for (int i = 0; i < 800; ++i) {
    auto& p = peers[static_cast<size_t>(i) % peers.size()];
    bool typed = p.conn->kind() != transport::websocket_json;
    auto type = make.type();
    auto payload = make.payload(type, typed);
    CAPTURE(i, p.user, type, payload.dump());
    json reply;
    try {
      reply = p.conn->request(type, payload);
    } catch (const client_error& e) {
      // The client's own codec refuses what protobuf cannot carry (a
      // string where a number goes); nothing was sent. A missing reply is
      // a failure.
      std::string what = e.what();
      REQUIRE(what.rfind("no reply", 0) != 0);
      ++not_encodable;
      continue;
    }
    if (reply["type"] == "error") {
      std::string code = reply["payload"]["code"];
      CAPTURE(reply.dump());
      if (type == "auth") // the connection is authenticated already
        CHECK((code == "conflict" || code == "bad_request"));
      else
        CHECK(input_codes.count(code) == 1);
      CHECK_FALSE(reply["payload"]["message"].get<std::string>().empty());
      ++replies[type + " " + code];
    } else {
      CHECK(reply["type"] == type + ".ok");
      ++replies[type + " ok"];
    }
    for (auto& q : peers) // pushes are not looked at here; keep the queues short
      for (const char* push : {"message.new", "message.edited", "message.recalled", "receipt.read",
                               "typing", "conversation.signal"})
        q.conn->discard(push);
  }
  // Nothing more came for any request: what is left is pushes.
  for (auto& p : peers)
    while (auto f = p.conn->next(std::chrono::milliseconds{300})) {
      CAPTURE(f->dump());
      CHECK(f->find("req_id") == f->end());
    }

  // Broken frames on each wire: an error reply each, and the stream goes on.
  peers[0].conn->send_raw_text("{\"type\":\"message.send\",\"req_id\":\"x\",\"payload\":");
  peers[1].conn->send_raw_binary(std::string("\x0a\xff\xff\xff\xff\x0f", 6));
  peers[2].conn->send_raw_binary("\x12\x03abc\x1a");
  for (auto& p : peers) {
    auto r = p.conn->wait_for("error");
    REQUIRE(r);
    CHECK((*r)["payload"]["code"] == "bad_request");
  }
  // Strings that are not UTF-8: a protobuf frame with one is bad_request; a
  // WebSocket text frame with one is a protocol violation the WebSocket
  // layer answers by closing that socket (1007), as RFC 6455 requires.
  chorus::pb::Frame bad_utf8;
  bad_utf8.set_type("ping");
  bad_utf8.set_req_id("\xff\xfe");
  std::string bytes;
  REQUIRE(bad_utf8.SerializePartialToString(&bytes));
  for (size_t i : {1, 2}) {
    peers[i].conn->send_raw_binary(bytes);
    auto r = peers[i].conn->wait_for("error");
    REQUIRE(r);
    CHECK((*r)["payload"]["code"] == "bad_request");
  }
  auto text_peer = node.connect("alice");
  text_peer->send_raw_text("{\"type\":\"ping\",\"req_id\":\"u\",\"payload\":{\"x\":\"\xff\"}}");
  CHECK(text_peer->wait_closed());

  // The run reached the actors, not only validation.
  CHECK(replies["message.send ok"] > 10);
  CHECK(replies["history ok"] > 5);
  CHECK(replies["message.send bad_request"] > 5);
  INFO(not_encodable << " requests the binary clients could not encode");

  // Every client still works, and every conversation's log is whole: each
  // seq from 1 to last exactly once.
  for (auto& p : peers) {
    CHECK(p.conn->request("ping")["type"] == "ping.ok");
    auto list = p.conn->request("conversations.list", {{"limit", 1000}});
    REQUIRE(list["type"] == "conversations.list.ok");
    for (const auto& c : list["payload"]["conversations"]) {
      std::string conv = c["conversation_id"];
      uint64_t last = c["last_seq"];
      uint64_t expected = 1;
      for (;;) {
        auto h = p.conn->request(
            "history", {{"conversation_id", conv}, {"after_seq", expected - 1}, {"limit", 100}});
        REQUIRE(h["type"] == "history.ok");
        for (const auto& m : h["payload"]["messages"])
          CHECK(m["seq"].get<uint64_t>() == expected++);
        if (!h["payload"]["has_more"].get<bool>())
          break;
      }
      CHECK(expected == last + 1);
    }
  }
  auto hello = text_message("after-the-storm", "hello");
  hello["to"] = "bob";
  CHECK(peers[0].conn->request("message.send", hello)["type"] == "message.send.ok");
  auto got = peers[1].conn->wait_for("message.new");
  REQUIRE(got);
  CHECK((*got)["payload"]["client_msg_id"] == "after-the-storm");
  peers.clear();
  CHECK(node.stop());
}

TEST_CASE("random HTTP API requests get a JSON reply with a documented status", "[integration]") {
  uint64_t seed = GENERATE(1, 2);
  CAPTURE(seed);
  node_process node{{"--limits.sends-per-second=0"}};
  request_maker make{seed};
  const std::vector<std::string> methods = {"GET", "GET", "POST", "POST", "PUT", "DELETE"};
  const std::set<int> input_statuses = {400, 401, 403, 404, 409, 413};
  std::map<int, int> statuses;
  for (int i = 0; i < 300; ++i) {
    auto method = make.pick(methods);
    std::string target;
    std::string body;
    switch (i % 5) {
    case 0:
      target = "/v1/messages";
      body = make.payload("message.send", false).dump();
      break;
    case 1:
      target = "/v1/conversations/" + make.path_conversation() + "/messages";
      if (make.chance(70))
        target += "?after_seq=" + make.query_value() + "&limit=" + make.query_value();
      break;
    case 2:
      target = "/v1/sync";
      if (make.chance(50))
        target += "?limit=" + make.query_value();
      break;
    case 3: {
      target = "/v1/rpc";
      auto type = make.type();
      json frame = {{"type", type},
                    {"req_id", "h" + std::to_string(i)},
                    {"payload", make.payload(type, false)}};
      body = make.chance(90) ? frame.dump() : frame.dump().substr(0, 7);
      break;
    }
    default: {
      static const std::vector<std::string> odd = {"/",
                                                   "/v1",
                                                   "/v1/",
                                                   "/v1/conversations//messages",
                                                   "/v2/sync",
                                                   "/v1/sync/extra",
                                                   "/v1/conversations/d:alice:bob",
                                                   "/%",
                                                   std::string(3000, 'p'),
                                                   "/ws"};
      target = make.pick(odd);
      body = make.chance(50) ? std::string("\x01\x02 not json") : std::string{};
    }
    }
    auto token = make.chance(90) ? token_for(make.pick(users)) : std::string{"bad.token.x"};
    CAPTURE(i, method, target, body.substr(0, 200));
    auto [status, reply] = http(node.ws_port(), method, target, token, body);
    CAPTURE(status, reply.substr(0, 300));
    ++statuses[status];
    if (status == 200)
      continue;
    CHECK(input_statuses.count(status) == 1);
    auto parsed = json::parse(reply, nullptr, false);
    REQUIRE_FALSE(parsed.is_discarded());
    // The error payload, or for /v1/rpc the whole error frame.
    auto& err = parsed.contains("payload") ? parsed["payload"] : parsed;
    CHECK(input_codes.count(err["code"].get<std::string>()) + (status == 401) == 1);
  }
  CHECK(statuses[200] > 10);
  CHECK(statuses[400] > 20);
  CHECK(http(node.ws_port(), "GET", "/healthz", "").first == 200);
  auto alice = node.connect("alice");
  CHECK(alice->request("ping")["type"] == "ping.ok");
  CHECK(node.stop());
}
