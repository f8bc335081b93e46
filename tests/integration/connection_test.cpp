// Quiet devices: a connected device that sends nothing gives up its
// connection actor, and its next frame starts a new one. Checked through real
// clients: nothing a client sees may change, and no frame may be lost or
// answered twice around an actor's stop. And a node out of file descriptors
// waits to accept again instead of spinning, and serves once some are free.
#include "node_process.hpp"

#include "bench/load/proc.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <atomic>
#include <dirent.h>
#include <netinet/in.h>
#include <random>
#include <set>
#include <sys/resource.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

using namespace chorus::test;
using chorus::client::json;
using chorus::client::transport;
using namespace std::chrono_literals;

namespace {

/// Waits until the node runs `n` connection actors; false after 5 s.
bool wait_for_connection_actors(const node_process& node, double n) {
  for (int i = 0; i < 250; ++i) {
    if (metric(node, "chorus_connection_actors") == n)
      return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

} // namespace

TEST_CASE("a quiet device gives up its connection actor and keeps its session, pushes and "
          "presence",
          "[integration]") {
  node_process node{{"--actors.connection-idle=100ms"}};
  auto alice = node.connect("alice");
  auto bob = node.connect("bob", transport::tcp);
  REQUIRE(metric(node, "chorus_connection_actors") == 2);

  // Both devices quiet: neither has an actor, both stay connected.
  REQUIRE(wait_for_connection_actors(node, 0));
  CHECK(metric(node, "chorus_connections_open") == 2);

  // A push reaches a device without an actor.
  auto p = text_message("b1", "while you were quiet");
  p["to"] = "alice";
  REQUIRE(bob->request("message.send", p)["type"] == "message.send.ok");
  auto got = alice->wait_for("message.new");
  REQUIRE(got);
  CHECK((*got)["payload"]["content"]["text"] == "while you were quiet");

  // The quiet device is online, and answers as the same user afterwards.
  REQUIRE(wait_for_connection_actors(node, 0));
  auto presence = bob->request("presence.query", {{"user_ids", {"alice"}}});
  CHECK(presence["payload"]["presence"][0]["online"] == true);
  auto resumes = metric(node, "chorus_connection_resumes_total");
  auto r = text_message("a1", "back");
  r["conversation_id"] = "d:alice:bob";
  auto ok = alice->request("message.send", r);
  REQUIRE(ok["type"] == "message.send.ok");
  CHECK(ok["payload"]["seq"] == 2);
  CHECK(metric(node, "chorus_connection_resumes_total") == resumes + 1);
  got = bob->wait_for("message.new");
  REQUIRE(got);
  CHECK((*got)["payload"]["sender"] == "alice");      // the session's user, kept while quiet
  CHECK_FALSE(alice->wait_for("message.new", 200ms)); // still the sending device: no echo
  // A resend from the resumed actor is the same message (dedup is per user).
  CHECK(alice->request("message.send", r)["payload"]["seq"] == 2);

  // A quiet device that disconnects goes offline.
  REQUIRE(wait_for_connection_actors(node, 0));
  alice.reset();
  bool offline = false;
  for (int i = 0; i < 100 && !offline; ++i) {
    auto q = bob->request("presence.query", {{"user_ids", {"alice"}}});
    offline = q["payload"]["presence"][0]["online"] == false;
    if (!offline)
      std::this_thread::sleep_for(20ms);
  }
  CHECK(offline);
  CHECK(metric(node, "chorus_connections_open") == 1);
}

TEST_CASE("frames that race a connection actor's stop are each answered exactly once",
          "[integration]") {
  // The actor stops 50-100 ms after a device's last frame; the clients send at
  // random moments around that, so frames arrive just before, during and after
  // stops. (A frame that reaches the connection while its actor is deciding
  // to stop is the narrowest case: the frame counts settle it.)
  node_process node{{"--actors.connection-idle=50ms", "--limits.sends-per-second=0"}};
  constexpr int clients = 8;
  constexpr int rounds = 40;
  constexpr int per_round = 2; // pipelined: more frames in flight at a stop
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      try {
        auto t = c % 2 == 0 ? transport::tcp : transport::websocket_json;
        auto me = node.connect("racer" + std::to_string(c), t);
        std::mt19937 rng(static_cast<unsigned>(c));
        std::uniform_int_distribution<int> pause(30, 120);
        int n = 0;
        for (int i = 0; i < rounds; ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds{pause(rng)});
          for (int k = 0; k < per_round; ++k) {
            auto p = text_message("m" + std::to_string(n + k), "text");
            p["to"] = "sink";
            me->send({{"type", "message.send"}, {"req_id", std::to_string(n + k)}, {"payload", p}});
          }
          for (int k = 0; k < per_round; ++k, ++n) {
            auto ok = me->next(5s);
            if (!ok || (*ok)["type"] != "message.send.ok" || (*ok)["req_id"] != std::to_string(n) ||
                (*ok)["payload"]["seq"] != n + 1)
              ++failures;
          }
        }
        // Nothing extra arrived: no reply was sent twice.
        if (me->next(200ms))
          ++failures;
      } catch (const std::exception&) {
        ++failures;
      }
    });
  for (auto& t : threads)
    t.join();
  CHECK(failures == 0);
  CHECK(metric(node, "chorus_connection_resumes_total") > 0); // the race did happen

  // Every send is stored once, in order.
  auto sink = node.connect("sink");
  for (int c = 0; c < clients; ++c) {
    auto conv = "d:racer" + std::to_string(c) + ":sink";
    auto h = sink->request("history", {{"conversation_id", conv}, {"limit", 100}});
    REQUIRE(h["type"] == "history.ok");
    auto& ms = h["payload"]["messages"];
    REQUIRE(ms.size() == rounds * per_round);
    for (int i = 0; i < rounds * per_round; ++i)
      CHECK(ms[i]["client_msg_id"] == "m" + std::to_string(i));
  }
}

namespace {

int open_fds(pid_t pid) {
  int n = 0;
  if (DIR* d = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str())) {
    while (readdir(d) != nullptr)
      ++n;
    closedir(d);
  }
  return n - 2; // . and ..
}

} // namespace

TEST_CASE("a node out of file descriptors waits to accept again, and serves when some are free",
          "[integration]") {
  node_process node{};
  auto before = node.connect("fd-before", transport::tcp);
  REQUIRE(before);

  // Leave the node five descriptors, then knock twenty times.
  rlimit saved{};
  REQUIRE(prlimit(node.pid(), RLIMIT_NOFILE, nullptr, &saved) == 0);
  rlimit low = saved;
  low.rlim_cur = static_cast<rlim_t>(open_fds(node.pid()) + 5);
  REQUIRE(prlimit(node.pid(), RLIMIT_NOFILE, &low, nullptr) == 0);
  std::vector<int> knocks;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(node.tcp_port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < 20; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    knocks.push_back(fd);
  }

  // Accepts fail now (EMFILE) with connections still queued; a node that
  // retried at once would spin a core. It retries every 100 ms instead.
  std::this_thread::sleep_for(300ms);
  auto t0 = chorus::bench::sample_process(node.pid()).cpu_seconds;
  std::this_thread::sleep_for(1s);
  auto used = chorus::bench::sample_process(node.pid()).cpu_seconds - t0;
  CHECK(used < 0.5); // under half a core

  // The connected client is still served.
  CHECK(before->request("ping")["type"] == "ping.ok");

  // Descriptors free again: the queued connections are taken (and end, as
  // their clients leave), and new clients are served.
  for (int fd : knocks)
    ::close(fd);
  REQUIRE(prlimit(node.pid(), RLIMIT_NOFILE, &saved, nullptr) == 0);
  auto after = node.connect("fd-after", transport::tcp);
  REQUIRE(after);
  auto send = text_message("m1", "back");
  send["to"] = "fd-before";
  CHECK(after->request("message.send", send)["type"] == "message.send.ok");
  CHECK(node.stop());
}
