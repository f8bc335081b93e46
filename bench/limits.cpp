// chorus-limits: what this machine allows, measured the way the node uses it,
// so the node's figures can be read against them (docs/benchmarks.md):
//
// - socket writes: one thread on the node's core writes small frames to many
//   loopback TCP connections, one send() each, as the node writes a reply or
//   a push; a thread on the other core drains them. Sends a second and CPU
//   per send on the writing core (the loopback delivery runs there too).
// - socket reads: the other core writes frames, one send() each, round robin;
//   the node's core waits in epoll and reads what each ready socket holds,
//   as the node's sessions do. CPU per frame read on the node's core.
// - WAL syncs: 4 KiB written and fdatasync()ed at a time into a file whose
//   space is reserved and counted in its size (fallocate, as the node's WAL
//   files are: storage/store.cpp), into one whose blocks were written before,
//   and into a new file that grows with each write (every sync then writes
//   the inode too). --sync-bytes sets the size of a write (a group commit of
//   a few W1 messages writes about 1,500 bytes): in the reserved file a sync
//   that reaches a block not written before also writes the inode, since the
//   block changes from reserved to written.
//
//   chorus-limits [--connections=1000] [--frame-bytes=100] [--seconds=3]
//                 [--syncs=2000] [--sync-bytes=4096] [--dir=/tmp] [--node-cpu=0]
//                 [--load-cpu=1] [--json=FILE] [--syncs-only]
//
// --syncs-only measures the WAL syncs alone: `bench/run.sh w1` does so right
// before its latency run, whose synced acks cannot be faster than the disk.

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

struct options {
  int connections = 1000;
  int frame_bytes = 100;
  double seconds = 3;
  int syncs = 2000;
  int sync_bytes = 4096;
  std::string dir = "/tmp";
  int node_cpu = 0;
  int load_cpu = 1;
  std::string json;
  bool syncs_only = false;
};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "chorus-limits: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto eq = a.find('=');
    auto key = a.substr(0, eq);
    auto val = eq == std::string::npos ? std::string{} : a.substr(eq + 1);
    if (key == "--connections")
      o.connections = std::stoi(val);
    else if (key == "--frame-bytes")
      o.frame_bytes = std::stoi(val);
    else if (key == "--seconds")
      o.seconds = std::stod(val);
    else if (key == "--syncs")
      o.syncs = std::stoi(val);
    else if (key == "--sync-bytes")
      o.sync_bytes = std::stoi(val);
    else if (key == "--dir")
      o.dir = val;
    else if (key == "--node-cpu")
      o.node_cpu = std::stoi(val);
    else if (key == "--load-cpu")
      o.load_cpu = std::stoi(val);
    else if (key == "--json")
      o.json = val;
    else if (key == "--syncs-only")
      o.syncs_only = true;
    else {
      std::fprintf(stderr,
                   "chorus-limits: unknown option %s (see the header of bench/limits.cpp)\n",
                   a.c_str());
      std::exit(2);
    }
  }
  if (o.connections < 1 || o.frame_bytes < 1 || o.seconds <= 0 || o.syncs < 1 || o.sync_bytes < 1) {
    std::fprintf(stderr, "chorus-limits: counts and sizes must be positive\n");
    std::exit(2);
  }
  return o;
}

void pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

using clock_type = std::chrono::steady_clock;

double since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

/// `n` loopback TCP connections: node[i] is the accepted end, peer[i] the
/// connecting one; both non-blocking, with TCP_NODELAY as the node sets it.
void connect_pairs(int n, std::vector<int>& node, std::vector<int>& peer) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  if (listener < 0)
    die("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listener, 1024) != 0)
    die("listen");
  socklen_t len = sizeof(addr);
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  int one = 1;
  for (int i = 0; i < n; ++i) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
      die("connect (raise the open file limit or lower --connections)");
    int s = accept(listener, nullptr, nullptr);
    if (s < 0)
      die("accept");
    for (int fd : {c, s}) {
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    node.push_back(s);
    peer.push_back(c);
  }
  close(listener);
}

/// Reads everything each ready socket holds until `stop`; returns bytes read.
uint64_t drain(const std::vector<int>& fds, const std::atomic<bool>& stop) {
  int ep = epoll_create1(0);
  for (size_t i = 0; i < fds.size(); ++i) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fds[i];
    epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
  }
  std::vector<epoll_event> ready(256);
  std::vector<char> buf(64 * 1024);
  uint64_t bytes = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    int n = epoll_wait(ep, ready.data(), static_cast<int>(ready.size()), 50);
    for (int i = 0; i < n; ++i) {
      auto r = recv(ready[i].data.fd, buf.data(), buf.size(), 0);
      if (r > 0)
        bytes += static_cast<uint64_t>(r);
    }
  }
  close(ep);
  return bytes;
}

/// Sends `frame_bytes`-byte frames round robin over `fds`, one send() each,
/// until `done()` (asked every 1,024 attempts); returns the frames sent.
template <class Done>
uint64_t send_round_robin(const std::vector<int>& fds, int frame_bytes, Done done) {
  std::string frame(static_cast<size_t>(frame_bytes), 'x');
  uint64_t sent = 0;
  for (uint64_t attempt = 0;; ++attempt) {
    if ((attempt & 1023) == 0 && done())
      return sent;
    if (send(fds[attempt % fds.size()], frame.data(), frame.size(), MSG_NOSIGNAL | MSG_DONTWAIT) >
        0)
      ++sent;
  }
}

struct socket_figures {
  double per_second = 0;  ///< frames sent (or read) a second, wall clock
  double cpu_us = 0;      ///< CPU of the node's core per frame
  double cpu_percent = 0; ///< of the node's thread
};

/// The node's core sends, one send() per frame, round robin.
socket_figures measure_sends(const options& o, const std::vector<int>& node,
                             const std::vector<int>& peer) {
  std::atomic<bool> stop{false};
  std::thread reader{[&] {
    pin(o.load_cpu);
    drain(peer, stop);
  }};
  pin(o.node_cpu);
  auto t0 = clock_type::now();
  double cpu0 = thread_cpu_seconds();
  uint64_t sent = send_round_robin(node, o.frame_bytes, [&] { return since(t0) >= o.seconds; });
  double wall = since(t0), cpu = thread_cpu_seconds() - cpu0;
  stop = true;
  reader.join();
  return {static_cast<double>(sent) / wall, cpu * 1e6 / static_cast<double>(sent),
          100 * cpu / wall};
}

/// The other core sends, one send() per frame; the node's core reads.
socket_figures measure_reads(const options& o, const std::vector<int>& node,
                             const std::vector<int>& peer) {
  std::atomic<bool> stop{false};
  std::thread writer{[&] {
    pin(o.load_cpu);
    send_round_robin(peer, o.frame_bytes, [&] { return stop.load(std::memory_order_relaxed); });
  }};
  pin(o.node_cpu);
  std::atomic<bool> reading_done{false};
  std::thread timer{[&] {
    std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
    reading_done = true;
  }};
  auto t0 = clock_type::now();
  double cpu0 = thread_cpu_seconds();
  uint64_t bytes = drain(node, reading_done);
  double wall = since(t0), cpu = thread_cpu_seconds() - cpu0;
  stop = true;
  writer.join();
  timer.join();
  double frames = static_cast<double>(bytes) / o.frame_bytes;
  return {frames / wall, cpu * 1e6 / frames, 100 * cpu / wall};
}

struct sync_figures {
  double per_second = 0;
  double p50_us = 0, p99_us = 0, max_us = 0;
  int count = 0; ///< syncs measured
};

/// What a WAL file holds before the syncs are measured.
enum class wal_file {
  reserved, ///< its space, allocated and counted in its size (the node's WAL)
  written,  ///< its blocks, written and synced
  growing,  ///< nothing: each write makes it longer
};

/// `o.sync_bytes` pwrite + fdatasync, `n` times, at consecutive offsets.
sync_figures measure_syncs(const options& o, int n, wal_file kind) {
  std::string path = o.dir + "/chorus-limits-" + std::to_string(getpid()) + ".wal";
  int fd = open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0600);
  if (fd < 0)
    die("open " + path);
  std::vector<char> block(static_cast<size_t>(o.sync_bytes), 'w');
  auto size = static_cast<off_t>(n) * static_cast<off_t>(block.size());
  if (kind == wal_file::reserved && fallocate(fd, 0, 0, size) != 0)
    die("fallocate");
  if (kind == wal_file::written) {
    for (off_t at = 0; at < size; at += static_cast<off_t>(block.size()))
      if (pwrite(fd, block.data(), block.size(), at) < 0)
        die("pwrite");
    if (fsync(fd) != 0)
      die("fsync");
  }
  pin(o.node_cpu);
  std::vector<double> us;
  us.reserve(static_cast<size_t>(n));
  auto t0 = clock_type::now();
  for (int i = 0; i < n; ++i) {
    auto s = clock_type::now();
    if (pwrite(fd, block.data(), block.size(),
               static_cast<off_t>(i) * static_cast<off_t>(block.size())) < 0 ||
        fdatasync(fd) != 0)
      die("write and sync");
    us.push_back(since(s) * 1e6);
  }
  double wall = since(t0);
  close(fd);
  unlink(path.c_str());
  std::sort(us.begin(), us.end());
  auto at = [&](double q) {
    return us[std::min(us.size() - 1, static_cast<size_t>(q * us.size()))];
  };
  return {n / wall, at(0.5), at(0.99), us.back(), n};
}

struct sync_set {
  sync_figures reserved, written, growing;
};

sync_set measure_sync_set(const options& o) {
  sync_set out;
  out.reserved = measure_syncs(o, o.syncs, wal_file::reserved);
  out.written = measure_syncs(o, o.syncs, wal_file::written);
  out.growing = measure_syncs(o, std::max(1, o.syncs / 4), wal_file::growing);
  return out;
}

void print_syncs(const sync_set& syncs) {
  auto line = [](const char* what, const sync_figures& f) {
    std::printf("WAL sync, %-9s %8.0f /s  p50 %.0f us  p99 %.0f us  max %.0f us (%d)\n", what,
                f.per_second, f.p50_us, f.p99_us, f.max_us, f.count);
  };
  line("reserved", syncs.reserved);
  line("written", syncs.written);
  line("growing", syncs.growing);
}

nlohmann::json sync_json(const sync_figures& f) {
  return {{"per_second", std::llround(f.per_second)},
          {"p50_us", std::llround(f.p50_us)},
          {"p99_us", std::llround(f.p99_us)},
          {"max_us", std::llround(f.max_us)}};
}

/// The summary's sync figures, added to `out`.
void add_syncs(nlohmann::json& out, const sync_set& syncs) {
  out["sync_reserved"] = sync_json(syncs.reserved);
  out["sync_written"] = sync_json(syncs.written);
  out["sync_growing"] = sync_json(syncs.growing);
}

void write_json(const options& o, const nlohmann::json& summary) {
  if (o.json.empty())
    return;
  std::ofstream out{o.json};
  out << summary.dump() << '\n';
  if (!out)
    die("write " + o.json);
}

} // namespace

int main(int argc, char** argv) {
  auto o = parse(argc, argv);
  if (o.syncs_only) {
    auto syncs = measure_sync_set(o);
    print_syncs(syncs);
    nlohmann::json summary = nlohmann::json::object();
    add_syncs(summary, syncs);
    write_json(o, summary);
    return 0;
  }
  std::vector<int> node, peer;
  connect_pairs(o.connections, node, peer);
  auto sends = measure_sends(o, node, peer);
  auto reads = measure_reads(o, node, peer);
  for (int fd : node)
    close(fd);
  for (int fd : peer)
    close(fd);
  auto syncs = measure_sync_set(o);

  std::printf("machine limits: %d loopback TCP connections, %d-byte frames, node core %d\n",
              o.connections, o.frame_bytes, o.node_cpu);
  std::printf("socket sends      %9.0f /s  %6.2f us CPU each (node core %3.0f %%)\n",
              sends.per_second, sends.cpu_us, sends.cpu_percent);
  std::printf("socket reads      %9.0f frames/s  %6.2f us CPU each (node core %3.0f %%)\n",
              reads.per_second, reads.cpu_us, reads.cpu_percent);
  print_syncs(syncs);
  nlohmann::json summary = {{"connections", o.connections},
                            {"frame_bytes", o.frame_bytes},
                            {"sends_per_second", std::llround(sends.per_second)},
                            {"send_cpu_us", sends.cpu_us},
                            {"reads_per_second", std::llround(reads.per_second)},
                            {"read_cpu_us", reads.cpu_us}};
  add_syncs(summary, syncs);
  write_json(o, summary);
  return 0;
}
