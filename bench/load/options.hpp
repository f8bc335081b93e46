// Command-line options of chorus-load and the shared run state.
#pragma once

#include "histogram.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace chorus::bench {

struct options {
  std::string workload; ///< w1, w2, w3, w4, w6-send, w6-verify
  std::string host = "127.0.0.1";
  uint16_t port = 7301; ///< the TCP port, or the WebSocket port with --wire=ws
  /// tcp (protobuf), ws (JSON) or xmpp: the last drives an XMPP server
  /// (ejabberd) with the same workloads, for comparison (w1, w3).
  std::string wire_name = "tcp";
  std::string secret = "change-this-secret"; ///< xmpp: every user's password
  std::string domain = "localhost";          ///< xmpp: the server's domain
  std::string prefix = "u";                  ///< user names are prefix + index (several processes)
  int threads = 1;
  int users = 1000;         ///< w1: online users; w3: connections
  int groups = 1;           ///< w2
  int members = 100;        ///< w2: members per group
  double rate = 0;          ///< total sends per second; 0 = saturation
  int window = 8;           ///< saturation: sends in flight per connection
  double duration = 10;     ///< seconds of measurement
  double warmup = 2;        ///< seconds before measurement starts
  int size = 100;           ///< content bytes
  int messages = 10000;     ///< w4: messages to sync
  long long stop_after = 0; ///< w1, w2: no sends after this many; the run ends once all are acked
  int conversations = 100;  ///< w4
  int server_pid = 0;       ///< read its RSS and CPU from /proc
  int metrics_port = 0;     ///< read its request latency and group commits from /metrics
  std::string record;       ///< w6: file of acked messages
  std::string json_out;     ///< also write the summary JSON here
  bool quiet = false;       ///< no progress lines

  /// Parses --key=value arguments; an error message or empty.
  std::string parse(int argc, char** argv);
};

/// Counters shared by the worker threads (relaxed atomics).
struct counters {
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> acked{0};
  std::atomic<uint64_t> delivered{0};
  std::atomic<uint64_t> completed{0}; ///< w2: messages every member received
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> connected{0};
  std::atomic<uint64_t> disconnected{0};
  /// The largest delivery latency (us) since the last progress line: shows
  /// whether a tail comes from steady queueing or from stalls.
  std::atomic<uint64_t> second_max_us{0};
};

/// Latencies and error codes, one per worker thread, merged at the end.
struct thread_stats {
  histogram ack;      ///< intended send -> message.send.ok
  histogram delivery; ///< intended send -> recipient's message.new
  histogram last;     ///< w2: intended send -> last member
  histogram send_lag; ///< open loop: intended send -> the moment it was issued
  std::map<std::string, uint64_t> errors;
};

inline uint64_t mono_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

} // namespace chorus::bench
