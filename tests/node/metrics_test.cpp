#include "node/metrics.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace chorus::node;

TEST_CASE("a histogram counts each value in the first bucket that bounds it, cumulatively") {
  histogram h{{10, 100}, 1000}; // observed in microseconds, exported in milliseconds
  for (uint64_t v : {5, 10, 11, 100, 1000})
    h.observe(v);
  CHECK(h.count() == 5);
  std::string out;
  h.render(out, "x", "type=\"a\"");
  // A value equal to a bound is in that bound's bucket (Prometheus's `le`).
  CHECK(out == "x_bucket{type=\"a\",le=\"0.01\"} 2\n"
               "x_bucket{type=\"a\",le=\"0.1\"} 4\n"
               "x_bucket{type=\"a\",le=\"+Inf\"} 5\n"
               "x_sum{type=\"a\"} 1.126\n"
               "x_count{type=\"a\"} 5\n");
  std::string plain;
  histogram{{1, 2}, 1}.render(plain, "y", {});
  CHECK(plain == "y_bucket{le=\"1\"} 0\ny_bucket{le=\"2\"} 0\ny_bucket{le=\"+Inf\"} 0\n"
                 "y_sum 0\ny_count 0\n");
}

TEST_CASE("request latency is kept apart for sends, syncs and history reads") {
  CHECK(request_kind_of("message.send") == request_kind::send);
  CHECK(request_kind_of("sync") == request_kind::sync);
  CHECK(request_kind_of("history") == request_kind::history);
  CHECK(request_kind_of("message.read") == request_kind::other);
  CHECK(request_kind_of("") == request_kind::other);
}
