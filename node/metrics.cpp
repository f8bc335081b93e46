#include "node/metrics.hpp"

#include "actors/errors.hpp"
#include "storage/writer.hpp"

#include <fmt/format.h>

namespace chorus::node {

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
    const auto& s = w->stats();
    line("chorus_storage_write_groups_total", "counter", "Group commits (one WAL write each).",
         s.groups.load());
    line("chorus_storage_write_batches_total", "counter", "Batches written in group commits.",
         s.batches.load());
    line("chorus_storage_write_failures_total", "counter", "Failed group commits.",
         s.failures.load());
    line("chorus_storage_write_seconds_total", "counter", "Time spent in group commits.",
         static_cast<double>(s.write_micros.load()) / 1e6);
    line("chorus_storage_healthy", "gauge", "1 while the writer accepts writes.",
         w->healthy() ? 1 : 0);
  }
  return out;
}

} // namespace chorus::node
