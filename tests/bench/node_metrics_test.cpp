#include "bench/load/node_metrics.hpp"
#include "node/metrics.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <string>

using namespace chorus::bench;

namespace {

/// The node's own rendering of `h` under `name`, as /metrics serves it.
std::string rendered(const chorus::node::histogram& h, const char* name,
                     const std::string& labels) {
  std::string out = "# TYPE x histogram\n";
  h.render(out, name, labels);
  return out;
}

} // namespace

TEST_CASE("the load generator reads the growth of a node histogram between two scrapes") {
  chorus::node::histogram h{{1000, 10000, 100000}, 1e6}; // microseconds, exported in seconds
  for (int i = 0; i < 50; ++i)
    h.observe(200000); // before the measurement: above every bound
  auto before = parse_metrics(rendered(h, "lat", "type=\"message.send\""));
  for (int i = 0; i < 98; ++i)
    h.observe(500);
  h.observe(5000);
  h.observe(50000);
  auto after = parse_metrics(rendered(h, "lat", "type=\"message.send\""));

  auto g = histogram_between(before, after, "lat", "type=\"message.send\"");
  CHECK(g.count == 100);
  CHECK(g.sum == Approx((98 * 500 + 5000 + 50000) / 1e6));
  CHECK(g.p50_le == Approx(0.001)); // the 50 slow ones before are not in it
  CHECK(g.p99_le == Approx(0.01));

  auto none = histogram_between(after, after, "lat", "type=\"message.send\"");
  CHECK(none.count == 0);
  CHECK(none.p99_le == 0);
  CHECK(histogram_between(before, after, "lat", "type=\"sync\"").count == 0);

  h.observe(150000); // one above every bound: the 99th percentile is too
  for (int i = 0; i < 2; ++i)
    h.observe(200000);
  auto later = parse_metrics(rendered(h, "lat", "type=\"message.send\""));
  CHECK(std::isinf(histogram_between(after, later, "lat", "type=\"message.send\"").p99_le));
}

TEST_CASE("metric lines that are comments or do not parse are skipped") {
  auto m =
      parse_metrics("# HELP a x\n# TYPE a counter\na 3\nb{k=\"v\"} 2.5\nbroken\nc notanumber\n");
  CHECK(m.size() == 2);
  CHECK(m["a"] == 3);
  CHECK(m["b{k=\"v\"}"] == 2.5);
}
