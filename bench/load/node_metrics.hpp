// What the load generator reads from a node's GET /metrics: the node's own
// view of its request latency and of its group commits, to set beside what
// the clients measured (where a tail comes from: the node, the disk, or the
// way there and back).
#pragma once

#include <map>
#include <string>

namespace chorus::bench {

/// The body of GET /metrics from host:port; empty if it cannot be read.
std::string fetch_metrics(const std::string& host, int port);

/// Prometheus samples by series, written as in the text ("name{labels}").
using metric_samples = std::map<std::string, double>;

/// The sample lines of a Prometheus text exposition; comments and lines
/// that do not parse are skipped.
metric_samples parse_metrics(const std::string& text);

/// How a histogram series grew between two scrapes.
struct histogram_growth {
  double count = 0;
  double sum = 0;    ///< in the exported unit
  double p50_le = 0; ///< upper bound of the bucket holding the median; 0 if count is 0
  double p99_le = 0; ///< the same for the 99th percentile; +inf if above every bound
};

/// The growth of histogram `name` with `labels` (`key="value"` pairs as
/// rendered, or empty) from `before` to `after`.
histogram_growth histogram_between(const metric_samples& before, const metric_samples& after,
                                   const std::string& name, const std::string& labels);

} // namespace chorus::bench
