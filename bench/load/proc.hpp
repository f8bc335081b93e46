// What the load generator reads about processes from /proc: the node's
// memory and CPU (in total and by thread), and its own CPU.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace chorus::bench {

/// One process's figures at one moment.
struct proc_sample {
  uint64_t rss_kb = 0;
  double cpu_seconds = 0;
};

/// Process `pid`'s figures; zeros if `pid` is not positive or gone.
proc_sample sample_process(int pid);

/// CPU seconds used so far by each thread of process `pid`, by thread name
/// (threads of one name summed: the node names its pool threads alike).
/// Empty if `pid` is not positive or gone.
std::map<std::string, double> sample_threads(int pid);

/// CPU seconds used so far by this process.
double self_cpu_seconds();

} // namespace chorus::bench
