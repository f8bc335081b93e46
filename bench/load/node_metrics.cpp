#include "node_metrics.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <utility>
#include <vector>

namespace chorus::bench {

namespace asio = boost::asio;
namespace http = boost::beast::http;

std::string fetch_metrics(const std::string& host, int port) {
  try {
    asio::io_context ioc;
    asio::ip::tcp::socket socket{ioc};
    asio::ip::tcp::resolver resolver{ioc};
    asio::connect(socket, resolver.resolve(host, std::to_string(port)));
    http::request<http::empty_body> req{http::verb::get, "/metrics", 11};
    req.set(http::field::host, host);
    http::write(socket, req);
    boost::beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(socket, buf, res);
    if (res.result() != http::status::ok)
      return {};
    return std::move(res.body());
  } catch (const std::exception&) {
    return {};
  }
}

metric_samples parse_metrics(const std::string& text) {
  metric_samples out;
  std::istringstream in{text};
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    auto space = line.rfind(' ');
    if (space == std::string::npos || space == 0)
      continue;
    try {
      out[line.substr(0, space)] = std::stod(line.substr(space + 1));
    } catch (const std::exception&) {
    }
  }
  return out;
}

histogram_growth histogram_between(const metric_samples& before, const metric_samples& after,
                                   const std::string& name, const std::string& labels) {
  histogram_growth g;
  auto delta = [&](const std::string& series) {
    auto a = after.find(series);
    if (a == after.end())
      return 0.0;
    auto b = before.find(series);
    return a->second - (b == before.end() ? 0.0 : b->second);
  };
  auto braces = labels.empty() ? std::string{} : "{" + labels + "}";
  g.count = delta(name + "_count" + braces);
  g.sum = delta(name + "_sum" + braces);
  if (g.count <= 0)
    return g;
  // Buckets are cumulative: the first whose growth reaches a quantile of
  // the count holds that quantile.
  auto prefix = name + "_bucket{" + labels + (labels.empty() ? "" : ",") + "le=\"";
  std::vector<std::pair<double, double>> buckets; // (le, cumulative growth)
  for (auto i = after.lower_bound(prefix); i != after.end() && i->first.rfind(prefix, 0) == 0;
       ++i) {
    auto le = i->first.substr(prefix.size());
    le = le.substr(0, le.find('"'));
    double bound = le == "+Inf" ? std::numeric_limits<double>::infinity() : std::stod(le);
    buckets.emplace_back(bound, delta(i->first));
  }
  std::sort(buckets.begin(), buckets.end());
  auto quantile = [&](double q) {
    for (const auto& [bound, n] : buckets)
      if (n >= q * g.count)
        return bound;
    return std::numeric_limits<double>::infinity();
  };
  g.p50_le = quantile(0.5);
  g.p99_le = quantile(0.99);
  return g;
}

} // namespace chorus::bench
