// The asynchronous engine behind W1 (direct), W2 (group) and W3 (idle
// connections): worker threads with one io_context each, connections spread
// over them, sends scheduled by the clock (open loop) or kept in flight
// (saturation), and per-second progress.
#pragma once

#include "load_conn.hpp"
#include "options.hpp"

#include <nlohmann/json.hpp>

namespace chorus::bench {

/// Runs the async workload named in `opts`; fills the summary.
/// Returns the process exit code.
int run_async_workload(const options& opts, nlohmann::json& summary);

/// Runs W4 (offline sync) and W6 (crash check: send, verify).
int run_sync_workload(const options& opts, nlohmann::json& summary);

} // namespace chorus::bench
