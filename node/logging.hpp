// One named spdlog logger per subsystem: node, actors, cluster, storage, net.
// Set up once, by main, before anything logs.
#pragma once

#include <string>

namespace chorus::node {

/// Creates the subsystem loggers writing to stderr at `level`.
/// REQUIRES: `level` is one spdlog knows (node_config validates it).
void setup_logging(const std::string& level);

} // namespace chorus::node
