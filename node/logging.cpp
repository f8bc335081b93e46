#include "node/logging.hpp"

#include <google/protobuf/stubs/logging.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace chorus::node {

namespace {

/// Protobuf reports what it finds wrong in a frame it parses, such as invalid
/// UTF-8 in a string field, on stderr, a line for each frame: a client could
/// make the node write lines as fast as it sends frames. The client gets its
/// bad_request reply; the node notes it at debug level.
void protobuf_log(google::protobuf::LogLevel level, const char* file, int line,
                  const std::string& message) {
  auto net = spdlog::get("net");
  if (!net)
    return;
  if (level >= google::protobuf::LOGLEVEL_FATAL)
    net->critical("protobuf {}:{}: {}", file, line, message);
  else
    net->debug("protobuf {}:{}: {}", file, line, message);
}

} // namespace

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
  google::protobuf::SetLogHandler(&protobuf_log);
}

} // namespace chorus::node
