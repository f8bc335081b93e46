#include "actors/log_tail.hpp"
#include "actors/push.hpp"
#include "net/codec.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace chorus;

namespace {

pb::ChatMessage entry(uint64_t seq) {
  pb::ChatMessage m;
  m.set_conversation_id("g:big");
  m.set_seq(seq);
  m.set_message_id("m-" + std::to_string(seq));
  m.set_sender("alice");
  m.set_client_msg_id("c-" + std::to_string(seq));
  m.set_content(R"({"type":"text","text":"caf\u00e9 \"quoted\""})");
  m.set_timestamp(1700000000000 + static_cast<int64_t>(seq));
  return m;
}

pb::Frame history_frame(std::initializer_list<uint64_t> seqs, bool has_more) {
  pb::Frame f;
  f.set_type("history.ok");
  auto* ok = f.mutable_history_ok();
  for (auto seq : seqs)
    *ok->add_messages() = entry(seq);
  ok->set_has_more(has_more);
  return f;
}

} // namespace

TEST_CASE("a shared reply reads as the whole frame with each request's req_id on both wires") {
  auto shared = std::make_shared<const shared_reply>(history_frame({7, 8}, true));
  for (std::string req_id : {"r-1", "another request", ""}) {
    auto whole = history_frame({7, 8}, true);
    whole.set_req_id(req_id);
    // JSON: the same text as the whole frame's.
    CHECK(shared->json(req_id) == net::encode_json(whole));
    // Protobuf: the req_id frame and the shared bytes parse as the whole frame.
    pb::Frame parsed;
    REQUIRE(parsed.ParseFromString(shared->binary(req_id)));
    CHECK(parsed.req_id() == req_id);
    CHECK(parsed.SerializeAsString() == whole.SerializeAsString());
  }
  // An empty history (an empty range) still carries its payload object.
  pb::Frame empty;
  empty.set_type("history.ok");
  empty.mutable_history_ok();
  auto none = std::make_shared<const shared_reply>(empty);
  empty.set_req_id("r-2");
  CHECK(none->json("r-2") == net::encode_json(empty));
  CHECK(none->json("r-2").find("\"payload\":{") != std::string::npos);
}

TEST_CASE("pulls from a log tail share a reply until the tail changes") {
  log_tail tail{4};
  for (uint64_t seq = 1; seq <= 6; ++seq)
    tail.append(entry(seq)); // holds 3..6
  auto a = tail.pull(4, 10, 6);
  REQUIRE(a);
  REQUIRE(a->frame().history_ok().messages_size() == 2);
  CHECK(a->frame().history_ok().messages(0).seq() == 5);
  CHECK_FALSE(a->frame().history_ok().has_more());
  CHECK(tail.pull(4, 10, 6) == a); // the same pull: the same reply
  CHECK(tail.pull(4, 1, 6) != a);  // another limit: its own
  CHECK(tail.pull(4, 1, 6)->frame().history_ok().has_more());
  CHECK(tail.pull(3, 10, 6) != a);  // another cursor: its own
  CHECK_FALSE(tail.pull(1, 10, 6)); // seq 2 is only in storage
  CHECK_FALSE(tail.pull(4, 10, 7)); // seq 7 is durable but not held

  auto edited = entry(5);
  edited.set_content(R"({"type":"text","text":"edited"})");
  edited.set_edited(true);
  tail.rewrite(edited);
  auto b = tail.pull(4, 10, 6);
  REQUIRE(b);
  CHECK(b != a);
  CHECK(b->frame().history_ok().messages(0).edited());
  CHECK_FALSE(a->frame().history_ok().messages(0).edited()); // a reply never changes

  tail.append(entry(7));
  auto c = tail.pull(4, 10, 7);
  REQUIRE(c);
  CHECK(c != b);
  CHECK(c->frame().history_ok().messages_size() == 3);
}
