#include "node/logging.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace chorus::node {

void setup_logging(const std::string& level) {
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  for (const char* name : {"node", "actors", "cluster", "storage", "net"}) {
    if (auto existing = spdlog::get(name))
      existing->set_level(spdlog::level::from_str(level));
    else {
      auto logger = std::make_shared<spdlog::logger>(name, sink);
      logger->set_level(spdlog::level::from_str(level));
      logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
      spdlog::register_logger(logger);
    }
  }
}

} // namespace chorus::node
