#include "proc.hpp"

#include <dirent.h>
#include <fstream>
#include <iterator>
#include <sstream>
#include <sys/resource.h>
#include <unistd.h>

namespace chorus::bench {

namespace {

/// The name and the user + system CPU seconds in a /proc/.../stat line
/// ("pid (name) state ... utime stime ..."); false if it is not one.
bool parse_stat(const std::string& content, std::string* name, double* cpu_seconds) {
  auto open = content.find('(');
  auto close = content.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open)
    return false;
  *name = content.substr(open + 1, close - open - 1);
  std::istringstream in{content.substr(close + 1)};
  std::string field;
  uint64_t utime = 0, stime = 0;
  // Fields are numbered from 1 (the pid); the state is field 3.
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14)
      utime = std::stoull(field);
    if (i == 15)
      stime = std::stoull(field);
  }
  *cpu_seconds = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  return true;
}

std::string read_all(const std::string& path) {
  std::ifstream in{path};
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

} // namespace

proc_sample sample_process(int pid) {
  proc_sample s;
  if (pid <= 0)
    return s;
  std::ifstream status{"/proc/" + std::to_string(pid) + "/status"};
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0)
      s.rss_kb = std::stoull(line.substr(6));
  std::string name;
  parse_stat(read_all("/proc/" + std::to_string(pid) + "/stat"), &name, &s.cpu_seconds);
  return s;
}

std::map<std::string, double> sample_threads(int pid) {
  std::map<std::string, double> by_name;
  if (pid <= 0)
    return by_name;
  auto dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = opendir(dir.c_str());
  if (d == nullptr)
    return by_name;
  while (auto* e = readdir(d)) {
    if (e->d_name[0] == '.')
      continue;
    std::string name;
    double secs = 0;
    // A thread that ended meanwhile has no stat: it is skipped.
    if (parse_stat(read_all(dir + "/" + e->d_name + "/stat"), &name, &secs))
      by_name[name] += secs;
  }
  closedir(d);
  return by_name;
}

double self_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

} // namespace chorus::bench
