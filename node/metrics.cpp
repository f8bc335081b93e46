#include "node/metrics.hpp"

#include "actors/errors.hpp"
#include "storage/writer.hpp"

#include <fmt/format.h>

namespace chorus::node {

histogram::histogram(std::initializer_list<uint64_t> bounds, double divisor) : divisor_(divisor) {
  for (auto b : bounds)
    if (size_ < max_buckets)
      bounds_[size_++] = b;
}

void histogram::observe(uint64_t value) noexcept {
  size_t i = 0;
  while (i < size_ && value > bounds_[i])
    ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

uint64_t histogram::count() const noexcept {
  uint64_t n = 0;
  for (size_t i = 0; i <= size_; ++i)
    n += counts_[i].load(std::memory_order_relaxed);
  return n;
}

void histogram::render(std::string& out, const char* name, const std::string& labels) const {
  auto sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= size_; ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    if (i < size_)
      fmt::format_to(std::back_inserter(out), "{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep,
                     static_cast<double>(bounds_[i]) / divisor_, cumulative);
    else
      fmt::format_to(std::back_inserter(out), "{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels,
                     sep, cumulative);
  }
  auto braces = labels.empty() ? std::string{} : "{" + labels + "}";
  fmt::format_to(std::back_inserter(out), "{}_sum{} {}\n{}_count{} {}\n", name, braces,
                 static_cast<double>(sum_.load(std::memory_order_relaxed)) / divisor_, name, braces,
                 cumulative);
}

request_kind request_kind_of(const std::string& frame_type) noexcept {
  if (frame_type == "message.send")
    return request_kind::send;
  if (frame_type == "sync")
    return request_kind::sync;
  if (frame_type == "history")
    return request_kind::history;
  return request_kind::other;
}

std::string metrics::render(const storage::writer* w) const {
  std::string out;
  auto line = [&](const char* name, const char* type, const char* help, auto value) {
    fmt::format_to(std::back_inserter(out), "# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name, help,
                   type, value);
  };
  line("chorus_connections_open", "gauge", "Client connections open now.", connections_open.load());
  line("chorus_connections_total", "counter", "Client connections accepted.",
       connections_total.load());
  line("chorus_frames_in_total", "counter", "Frames received from clients.", frames_in.load());
  line("chorus_frames_out_total", "counter", "Frames sent to clients.", frames_out.load());
  line("chorus_messages_stored_total", "counter", "Log entries made durable.",
       messages_stored.load());
  line("chorus_deliveries_total", "counter", "Pushes handed to client connections.",
       deliveries.load());
  line("chorus_slow_consumer_disconnects_total", "counter",
       "Connections closed because their outgoing queue was full.",
       slow_consumer_disconnects.load());
  line("chorus_active_users", "gauge", "User actors active now.", active_users.load());
  line("chorus_active_conversations", "gauge", "Conversation actors active now.",
       active_conversations.load());
  line("chorus_capacity_sweeps_total", "counter",
       "Sweeps that passivated idle conversations early: more than "
       "actors.max-conversations were active.",
       capacity_sweeps.load());
  line("chorus_connection_actors", "gauge",
       "Connection actors running now (quiet devices have none).", connection_actors.load());
  line("chorus_connection_resumes_total", "counter",
       "Connection actors started again by a quiet device's next frame.",
       connection_resumes.load());
  out += "# HELP chorus_errors_total Error replies sent, by code.\n"
         "# TYPE chorus_errors_total counter\n";
  for (size_t i = 1; i < errors.size(); ++i)
    fmt::format_to(std::back_inserter(out), "chorus_errors_total{{code=\"{}\"}} {}\n",
                   code_name(static_cast<errc>(i)), errors[i].load());
  if (w != nullptr) {
    line("chorus_storage_write_failures_total", "counter", "Failed group commits.",
         w->stats().failures.load());
    line("chorus_storage_healthy", "gauge", "1 while the writer accepts writes.",
         w->healthy() ? 1 : 0);
  }
  out += "# HELP chorus_storage_commit_seconds Duration of each group commit: the WAL write, "
         "its sync and the memtable inserts.\n"
         "# TYPE chorus_storage_commit_seconds histogram\n";
  commit_seconds.render(out, "chorus_storage_commit_seconds", {});
  out += "# HELP chorus_storage_commit_batches Batches (one per logical change) in each group "
         "commit.\n"
         "# TYPE chorus_storage_commit_batches histogram\n";
  commit_batches.render(out, "chorus_storage_commit_batches", {});
  out += "# HELP chorus_request_seconds From a request's hand-over to a user or conversation "
         "actor to its answer (or its timeout), by request type.\n"
         "# TYPE chorus_request_seconds histogram\n";
  static const char* const kinds[request_kind_count] = {"message.send", "sync", "history", "other"};
  for (size_t i = 0; i < request_kind_count; ++i)
    request_seconds[i].render(out, "chorus_request_seconds",
                              std::string{"type=\""} + kinds[i] + "\"");
  return out;
}

} // namespace chorus::node
