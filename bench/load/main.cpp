// chorus-load: the Chorus load generator, a real client of the protocol.
//
//   chorus-load --workload=w1|w2|w3|w4|w6-send|w6-verify [--key=value ...]
//
// Prints a progress line every second (stderr), then one summary: JSON on
// stdout (and in --json=FILE) and a short table on stderr. See
// docs/benchmarks.md for the workloads and bench/run.sh for the commands that
// start a node and run them.
#include "engine.hpp"
#include "options.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

using namespace chorus::bench;
using json = nlohmann::json;

namespace {

void print_table(const json& s) {
  auto num = [&](const char* key) -> std::string {
    if (!s.contains(key))
      return "-";
    char buf[64];
    auto v = s[key].get<double>();
    snprintf(buf, sizeof(buf), v < 100 ? "%.3f" : "%.0f", v);
    return buf;
  };
  fprintf(stderr, "\n%-24s %s\n", "workload", s["workload"].get<std::string>().c_str());
  for (const char* k :
       {"connections", "connects_per_second", "offered_per_second", "acked_per_second",
        "delivered_per_second", "completed_messages_per_second", "server_cpu_percent",
        "loadgen_cpu_percent", "server_rss_kb", "server_bytes_per_connection", "synced_messages",
        "sync_seconds", "list_ms", "repeat_sync_ms", "acked", "lost", "duplicated", "gaps"})
    if (s.contains(k))
      fprintf(stderr, "%-24s %s\n", k,
              s[k].is_number_float() ? num(k).c_str() : s[k].dump().c_str());
  for (const char* k : {"ack_latency", "delivery_latency", "last_member_latency", "send_lag"})
    if (s.contains(k)) {
      const auto& l = s[k];
      fprintf(stderr, "%-24s p50 %s  p90 %s  p99 %s  p99.9 %s  max %s us (n=%s)\n", k,
              l["p50_us"].dump().c_str(), l["p90_us"].dump().c_str(), l["p99_us"].dump().c_str(),
              l["p999_us"].dump().c_str(), l["max_us"].dump().c_str(), l["count"].dump().c_str());
    }
  if (s.contains("server_cpu_percent_by_thread")) {
    std::vector<std::pair<double, std::string>> threads;
    for (const auto& [name, pct] : s["server_cpu_percent_by_thread"].items())
      threads.emplace_back(pct.get<double>(), name);
    std::sort(threads.rbegin(), threads.rend());
    std::string line;
    for (const auto& [pct, name] : threads) {
      char buf[96];
      snprintf(buf, sizeof(buf), "%s%s %.1f", line.empty() ? "" : ", ", name.c_str(), pct);
      line += buf;
    }
    fprintf(stderr, "%-24s %s (%% of a core)\n", "server_cpu_by_thread", line.c_str());
  }
  if (s.contains("server_send_latency")) {
    const auto& l = s["server_send_latency"];
    fprintf(stderr, "%-24s p50 <= %s  p99 <= %s  mean %s us (n=%s; the node's side)\n",
            "server_send_latency", l["p50_le_us"].dump().c_str(), l["p99_le_us"].dump().c_str(),
            l["mean_us"].dump().c_str(), l["count"].dump().c_str());
  }
  if (s.contains("server_commits")) {
    const auto& c = s["server_commits"];
    fprintf(stderr, "%-24s %.0f/s of %.1f batches, p50 <= %s  p99 <= %s  mean %s us\n",
            "server_commits", c["per_second"].get<double>(), c["mean_batches"].get<double>(),
            c["p50_le_us"].dump().c_str(), c["p99_le_us"].dump().c_str(),
            c["mean_us"].dump().c_str());
  }
  if (s.contains("errors") && !s["errors"].empty())
    fprintf(stderr, "%-24s %s\n", "errors", s["errors"].dump().c_str());
}

} // namespace

int main(int argc, char** argv) {
  options o;
  if (auto err = o.parse(argc, argv); !err.empty() || o.workload.empty()) {
    fprintf(stderr, "chorus-load: %s\n", err.empty() ? "--workload is required" : err.c_str());
    return 2;
  }
  json summary = {{"workload", o.workload}, {"wire", o.wire_name}, {"threads", o.threads}};
  int rc = 0;
  if (o.workload == "w1" || o.workload == "w2" || o.workload == "w3") {
    summary["users"] = o.workload == "w2" ? o.groups * o.members : o.users;
    if (o.workload == "w2") {
      summary["groups"] = o.groups;
      summary["members"] = o.members;
    }
    summary["size"] = o.size;
    rc = run_async_workload(o, summary);
  } else if (o.workload == "w4" || o.workload == "w6-send" || o.workload == "w6-verify") {
    rc = run_sync_workload(o, summary);
  } else {
    fprintf(stderr, "chorus-load: unknown workload '%s'\n", o.workload.c_str());
    return 2;
  }
  summary["exit_code"] = rc;
  std::cout << summary.dump() << std::endl;
  if (!o.json_out.empty())
    std::ofstream{o.json_out} << summary.dump(2) << "\n";
  print_table(summary);
  return rc;
}
