// Quiet devices: a connected device that sends nothing gives up its
// connection actor, and its next frame starts a new one. Checked through real
// clients: nothing a client sees may change, and no frame may be lost or
// answered twice around an actor's stop. And a node out of file descriptors
// waits to accept again instead of spinning, and serves once some are free.
#include "node_process.hpp"

#include "bench/load/proc.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <dirent.h>
#include <fstream>
#include <netinet/in.h>
#include <random>
#include <set>
#include <sstream>
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

namespace {

/// The kernel timer armed on each established server-side socket of `port`
/// (from /proc/net/tcp: 0 none, 1 retransmit, 2 keepalive, ...).
std::vector<int> server_socket_timers(uint16_t port) {
  std::vector<int> timers;
  std::ifstream in{"/proc/net/tcp"};
  std::string line;
  std::getline(in, line); // the header
  while (std::getline(in, line)) {
    std::istringstream fields{line};
    std::string slot, local, remote, state, queues, timer;
    fields >> slot >> local >> remote >> state >> queues >> timer;
    auto colon = local.find(':');
    if (colon == std::string::npos || state != "01") // 01: established
      continue;
    if (std::stoul(local.substr(colon + 1), nullptr, 16) != port)
      continue;
    timers.push_back(std::stoi(timer.substr(0, timer.find(':')), nullptr, 16));
  }
  return timers;
}

/// Waits up to 2 s until every established socket of `port` has `timer`.
bool all_timers_become(uint16_t port, size_t sockets, int timer) {
  for (int i = 0; i < 100; ++i) {
    auto timers = server_socket_timers(port);
    if (timers.size() == sockets &&
        std::all_of(timers.begin(), timers.end(), [&](int t) { return t == timer; }))
      return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

} // namespace

TEST_CASE("the node has the kernel probe silent clients on both ports (TCP keepalive)",
          "[integration]") {
  // A client gone without closing its connection (machine off, network cut)
  // answers no keepalive probe, and the kernel ends the connection, which
  // ends the session and its device. Seen here: the keepalive timer armed on
  // the node's end of idle WebSocket and TCP connections, and clients that
  // answer the probes kept. With net.keepalive=0s no timer is armed.
  for (auto [option, timer] : {std::pair{"--net.keepalive=1s", 2}, {"--net.keepalive=0s", 0}}) {
    INFO(option);
    node_process node{{option}};
    auto ws = node.connect("alice");
    auto tcp = node.connect("bob", transport::tcp);
    CHECK(all_timers_become(node.ws_port(), 1, timer));
    CHECK(all_timers_become(node.tcp_port(), 1, timer));
    if (timer == 2) {
      std::this_thread::sleep_for(2500ms); // past the first probe of each
      CHECK(ws->request("ping")["type"] == "ping.ok");
      CHECK(tcp->request("ping")["type"] == "ping.ok");
    }
    CHECK(node.stop());
  }
}
