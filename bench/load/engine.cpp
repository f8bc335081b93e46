#include "engine.hpp"
#include "node_metrics.hpp"
#include "proc.hpp"

#include "node/token.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cmath>
#include <cstdio>
#include <random>
#include <thread>

namespace chorus::bench {

namespace asio = boost::asio;
using json = nlohmann::json;

namespace {

/// The node's side of the measured period, from its /metrics: how long it
/// took to answer sends (from the hand-over to the conversation to the ack),
/// and its group commits. Bucket bounds, so "p99 <= 10000 us".
void add_node_metrics(const metric_samples& before, const metric_samples& after, double secs,
                      json& summary) {
  auto micros = [](double seconds) {
    return std::isinf(seconds) ? json("+Inf") : json(std::llround(seconds * 1e6));
  };
  auto sends = histogram_between(before, after, "chorus_request_seconds", "type=\"message.send\"");
  if (sends.count > 0)
    summary["server_send_latency"] = {{"count", std::llround(sends.count)},
                                      {"mean_us", std::llround(sends.sum / sends.count * 1e6)},
                                      {"p50_le_us", micros(sends.p50_le)},
                                      {"p99_le_us", micros(sends.p99_le)}};
  auto commits = histogram_between(before, after, "chorus_storage_commit_seconds", "");
  auto batches = histogram_between(before, after, "chorus_storage_commit_batches", "");
  if (commits.count > 0)
    summary["server_commits"] = {{"per_second", commits.count / secs},
                                 {"mean_batches", batches.sum / commits.count},
                                 {"mean_us", std::llround(commits.sum / commits.count * 1e6)},
                                 {"p50_le_us", micros(commits.p50_le)},
                                 {"p99_le_us", micros(commits.p99_le)}};
}

/// client_msg_id = "<message index>.<intended send time ns>.<sender tag>": the
/// receiver reads latency and identity from it without parsing content.
struct cmid_parts {
  uint64_t index = 0;
  uint64_t sent_ns = 0;
  uint64_t sender = 0;
};

bool parse_cmid(const std::string& s, cmid_parts* out) {
  uint64_t parts[3] = {0, 0, 0};
  int k = 0;
  for (char c : s) {
    if (c == '.') {
      if (++k == 3)
        return false;
    } else if (c >= '0' && c <= '9') {
      parts[k] = parts[k] * 10 + static_cast<uint64_t>(c - '0');
    } else {
      return false;
    }
  }
  if (k != 2)
    return false;
  *out = {parts[0], parts[1], parts[2]};
  return true;
}

struct worker {
  asio::io_context ioc{1};
  std::vector<std::shared_ptr<load_conn>> conns;
  thread_stats stats;
  std::mt19937_64 rng{std::random_device{}()};
  uint64_t scheduled = 0; ///< open loop: sends issued by this worker
};

class engine {
public:
  explicit engine(const options& o) : opts_(o), workers_(static_cast<size_t>(o.threads)) {
    xmpp_ = o.wire_name == "xmpp";
    // XMPP carries the text itself as the message body.
    std::string text(static_cast<size_t>(o.size), 'x');
    content_ = xmpp_ ? text : json{{"type", "text"}, {"text", text}}.dump();
    if (o.workload == "w2") {
      total_users_ = o.groups * o.members;
      remaining_.reset(new std::atomic<int32_t>[max_messages]);
    } else {
      total_users_ = o.users;
    }
  }

  int run(json& summary);

private:
  static constexpr uint64_t max_messages = 1 << 22;

  std::string user_name(int i) const { return opts_.prefix + std::to_string(i); }
  std::string group_id(int g) const { return opts_.prefix + "-grp" + std::to_string(g); }
  int group_of(int user) const { return user / opts_.members; }

  void on_event(worker& w, load_conn& c, const event& ev);
  void delivered(worker& w, const cmid_parts& p, uint64_t now);
  void send_one(worker& w, load_conn& c, uint64_t intended_ns);
  void tick(worker& w, std::shared_ptr<asio::steady_timer> timer);
  bool connect_all();
  bool create_groups();

  const options& opts_;
  std::vector<worker> workers_;
  counters n_;
  std::string content_;
  bool xmpp_ = false; ///< driving an XMPP server: no acks, deliveries pace the load
  int total_users_ = 0;
  std::atomic<bool> sending_{false};
  std::atomic<bool> measuring_{false};
  uint64_t start_ns_ = 0;
  std::atomic<uint64_t> next_index_{0};
  std::unique_ptr<std::atomic<int32_t>[]> remaining_; ///< w2: deliveries left per message
  std::atomic<uint64_t> groups_created_{0};
  std::atomic<uint64_t> groups_failed_{0};
};

void engine::send_one(worker& w, load_conn& c, uint64_t intended_ns) {
  auto index = next_index_.fetch_add(1, std::memory_order_relaxed);
  if (opts_.stop_after > 0 && index >= static_cast<uint64_t>(opts_.stop_after))
    return;
  auto cmid =
      std::to_string(index) + "." + std::to_string(intended_ns) + "." + std::to_string(c.tag);
  if (opts_.workload == "w2") {
    if (index < max_messages)
      remaining_[index].store(opts_.members - 1, std::memory_order_relaxed);
    c.send_message({}, "g:" + group_id(group_of(static_cast<int>(c.tag))), cmid, content_,
                   std::to_string(intended_ns));
  } else {
    std::uniform_int_distribution<int> pick(0, total_users_ - 2);
    int to = pick(w.rng);
    if (to >= static_cast<int>(c.tag))
      ++to; // anyone but the sender
    c.send_message(user_name(to), {}, cmid, content_, std::to_string(intended_ns));
  }
  n_.sent.fetch_add(1, std::memory_order_relaxed);
}

/// Counts one message reaching one member, and the message's completion when
/// it was the last member (W2).
void engine::delivered(worker& w, const cmid_parts& p, uint64_t now) {
  auto micros = now > p.sent_ns ? (now - p.sent_ns) / 1000 : 0;
  n_.delivered.fetch_add(1, std::memory_order_relaxed);
  if (measuring_)
    w.stats.delivery.record(micros);
  auto seen = n_.second_max_us.load(std::memory_order_relaxed);
  while (micros > seen &&
         !n_.second_max_us.compare_exchange_weak(seen, micros, std::memory_order_relaxed)) {
  }
  if (remaining_ && p.index < max_messages &&
      remaining_[p.index].fetch_sub(1, std::memory_order_relaxed) == 1) {
    n_.completed.fetch_add(1, std::memory_order_relaxed);
    if (measuring_)
      w.stats.last.record(micros);
  }
}

void engine::on_event(worker& w, load_conn& c, const event& ev) {
  auto now = mono_ns();
  auto micros_since = [now](uint64_t t) { return now > t ? (now - t) / 1000 : 0; };
  switch (ev.kind) {
  case event::auth_ok: n_.connected.fetch_add(1, std::memory_order_relaxed); break;
  case event::send_ok: {
    n_.acked.fetch_add(1, std::memory_order_relaxed);
    uint64_t t = std::strtoull(ev.req_id->c_str(), nullptr, 10);
    if (measuring_)
      w.stats.ack.record(micros_since(t));
    if (opts_.rate == 0 && sending_)
      send_one(w, c, now); // saturation: keep the window full
    break;
  }
  case event::message_new: {
    cmid_parts p;
    if (!parse_cmid(*ev.client_msg_id, &p))
      break;
    delivered(w, p, now);
    // XMPP has no acks: at saturation each delivery lets a new message go,
    // from the recipient, so users x window messages stay in flight.
    if (xmpp_ && opts_.rate == 0 && sending_)
      send_one(w, c, now);
    break;
  }
  case event::signal:
    // Large group: pull what is new since this member's cursor.
    if (!c.pulling && ev.seq > c.cursor) {
      c.pulling = true;
      c.history(*ev.conversation_id, c.cursor, 200, "pull");
    }
    break;
  case event::history_ok: {
    c.pulling = false;
    for (const auto& [seq, cmid] : ev.entries) {
      c.cursor = std::max(c.cursor, seq);
      cmid_parts p;
      if (!parse_cmid(cmid, &p) || p.sender == c.tag)
        continue;
      delivered(w, p, now);
    }
    if (ev.has_more) {
      c.pulling = true;
      c.history("g:" + group_id(group_of(static_cast<int>(c.tag))), c.cursor, 200, "pull");
    }
    break;
  }
  case event::error:
    n_.errors.fetch_add(1, std::memory_order_relaxed);
    w.stats.errors[*ev.code] += 1;
    if (xmpp_ && opts_.rate == 0 && sending_)
      send_one(w, c, now); // a bounced message releases the next one too
    if (*ev.req_id == "create")
      groups_failed_.fetch_add(1);
    break;
  case event::other:
    if (*ev.req_id == "create")
      groups_created_.fetch_add(1);
    break;
  default: break;
  }
}

void engine::tick(worker& w, std::shared_ptr<asio::steady_timer> timer) {
  if (!sending_)
    return;
  // Open loop: the i-th send of this worker is due at start + i / rate. Its
  // latency counts from that moment, so a stall delays the clock, not the
  // measurement (no coordinated omission). The timer is set for the next
  // send's moment, not a fixed tick, so that the generator's own lag (a
  // tick's granularity would add half a tick to every latency) stays small;
  // the lag is measured and reported as send_lag.
  double per_worker = opts_.rate / static_cast<double>(workers_.size());
  auto due_at = [&](uint64_t i) {
    return start_ns_ + static_cast<uint64_t>(static_cast<double>(i) * 1e9 / per_worker);
  };
  auto now = mono_ns();
  std::uniform_int_distribution<size_t> pick(0, w.conns.size() - 1);
  while (due_at(w.scheduled) <= now) {
    auto intended = due_at(w.scheduled);
    auto& c = w.conns[pick(w.rng)];
    if (c->open()) {
      if (measuring_)
        w.stats.send_lag.record((now - intended) / 1000);
      send_one(w, *c, intended);
    }
    ++w.scheduled;
  }
  timer->expires_at(
      std::chrono::steady_clock::time_point{std::chrono::nanoseconds{due_at(w.scheduled)}});
  timer->async_wait([this, &w, timer](boost::system::error_code ec) {
    if (!ec)
      tick(w, timer);
  });
}

bool engine::connect_all() {
  asio::ip::tcp::endpoint ep{asio::ip::make_address(opts_.host), opts_.port};
  auto kind = opts_.wire_name == "tcp"  ? wire::tcp_protobuf
              : opts_.wire_name == "ws" ? wire::ws_json
                                        : wire::xmpp;
  for (int i = 0; i < total_users_; ++i) {
    auto& w = workers_[static_cast<size_t>(i) % workers_.size()];
    auto user = user_name(i);
    auto c = std::make_shared<load_conn>(
        w.ioc, kind, ep, user, xmpp_ ? opts_.secret : node::make_token(opts_.secret, user, 0),
        [this, &w](load_conn& c, const event& ev) { on_event(w, c, ev); },
        [this](load_conn&) { n_.disconnected.fetch_add(1, std::memory_order_relaxed); });
    c->tag = static_cast<uint64_t>(i);
    if (xmpp_)
      c->set_domain(opts_.domain);
    w.conns.push_back(c);
  }
  // Start connections in waves so the listen backlog never overflows.
  constexpr int wave = 256;
  for (int first = 0; first < total_users_; first += wave) {
    for (int i = first; i < std::min(total_users_, first + wave); ++i) {
      auto& w = workers_[static_cast<size_t>(i) % workers_.size()];
      auto c = w.conns[static_cast<size_t>(i) / workers_.size()];
      asio::post(w.ioc, [c] { c->start(); });
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{30};
    while (n_.connected + n_.disconnected <
               static_cast<uint64_t>(std::min(total_users_, first + wave)) &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }
  return n_.connected == static_cast<uint64_t>(total_users_);
}

bool engine::create_groups() {
  for (int g = 0; g < opts_.groups; ++g) {
    int owner = g * opts_.members;
    auto& w = workers_[static_cast<size_t>(owner) % workers_.size()];
    auto c = w.conns[static_cast<size_t>(owner) / workers_.size()];
    pb::Frame f;
    f.set_type("group.create");
    f.set_req_id("create");
    auto* gc = f.mutable_group_create();
    gc->set_group_id(group_id(g));
    for (int m = 1; m < opts_.members; ++m)
      gc->add_members(user_name(owner + m));
    asio::post(w.ioc, [c, f] { c->request(f); });
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{60};
  while (groups_created_ + groups_failed_ < static_cast<uint64_t>(opts_.groups) &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  // Members learn of the group through the stored inbox; give the joins a
  // moment to reach every active user actor before the first message.
  std::this_thread::sleep_for(std::chrono::milliseconds{200});
  return groups_created_ == static_cast<uint64_t>(opts_.groups);
}

int engine::run(json& summary) {
  std::vector<std::thread> threads;
  std::vector<std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>>> guards;
  for (auto& w : workers_) {
    guards.push_back(std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(
        w.ioc.get_executor()));
    threads.emplace_back([&w] { w.ioc.run(); });
  }
  auto before_connect = sample_process(opts_.server_pid);
  auto t0 = std::chrono::steady_clock::now();
  bool all = connect_all();
  double connect_secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::this_thread::sleep_for(std::chrono::milliseconds{300});
  auto after_connect = sample_process(opts_.server_pid);
  summary["connections"] = n_.connected.load();
  summary["connect_seconds"] = connect_secs;
  summary["connects_per_second"] = static_cast<double>(n_.connected) / connect_secs;
  if (opts_.server_pid > 0) {
    summary["server_rss_kb_before_connect"] = before_connect.rss_kb;
    summary["server_rss_kb_connected"] = after_connect.rss_kb;
    summary["server_bytes_per_connection"] =
        n_.connected ? static_cast<double>(after_connect.rss_kb - before_connect.rss_kb) * 1024.0 /
                           static_cast<double>(n_.connected)
                     : 0.0;
  }
  if (!opts_.quiet)
    fprintf(stderr, "connected %llu of %d in %.2f s\n",
            static_cast<unsigned long long>(n_.connected.load()), total_users_, connect_secs);
  int rc = all ? 0 : 1;
  if (all && opts_.workload == "w2" && !create_groups()) {
    fprintf(stderr, "group creation did not finish\n");
    rc = 1;
  }

  if (rc == 0 && opts_.workload == "w3") {
    // Idle connections: hold them for the duration, then report.
    auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(opts_.duration);
    while (std::chrono::steady_clock::now() < end)
      std::this_thread::sleep_for(std::chrono::milliseconds{100});
    summary["server_rss_kb_end"] = sample_process(opts_.server_pid).rss_kb;
    summary["disconnected"] = n_.disconnected.load();
  } else if (rc == 0) {
    start_ns_ = mono_ns();
    sending_ = true;
    for (auto& w : workers_) {
      if (opts_.rate > 0) {
        auto timer = std::make_shared<asio::steady_timer>(w.ioc);
        asio::post(w.ioc, [this, &w, timer] { tick(w, timer); });
      } else {
        asio::post(w.ioc, [this, &w] {
          for (auto& c : w.conns) {
            // In groups only each group's owner sends; everyone receives.
            if (opts_.workload == "w2" && c->tag % static_cast<uint64_t>(opts_.members) != 0)
              continue;
            for (int k = 0; k < opts_.window; ++k)
              send_one(w, *c, mono_ns());
          }
        });
      }
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(opts_.warmup));
    measuring_ = true;
    auto m_sent = n_.sent.load(), m_acked = n_.acked.load(), m_delivered = n_.delivered.load(),
         m_completed = n_.completed.load();
    auto server0 = sample_process(opts_.server_pid);
    auto threads0 = sample_threads(opts_.server_pid);
    auto self0 = self_cpu_seconds();
    auto metrics0 = opts_.metrics_port > 0
                        ? parse_metrics(fetch_metrics(opts_.host, opts_.metrics_port))
                        : metric_samples{};
    auto m_start = std::chrono::steady_clock::now();
    uint64_t last_acked = m_acked, last_delivered = m_delivered;
    for (int s = 1; s <= static_cast<int>(opts_.duration + 0.5); ++s) {
      std::this_thread::sleep_until(m_start + std::chrono::seconds{s});
      auto a = n_.acked.load(), d = n_.delivered.load();
      if (!opts_.quiet) {
        auto p = sample_process(opts_.server_pid);
        fprintf(stderr,
                "[%3ds] acked/s %8llu  delivered/s %8llu  max latency %6.1f ms  errors %llu  "
                "server rss %llu KiB\n",
                s, static_cast<unsigned long long>(a - last_acked),
                static_cast<unsigned long long>(d - last_delivered),
                static_cast<double>(n_.second_max_us.exchange(0)) / 1000.0,
                static_cast<unsigned long long>(n_.errors.load()),
                static_cast<unsigned long long>(p.rss_kb));
      }
      last_acked = a;
      last_delivered = d;
      if (opts_.stop_after > 0 && a >= static_cast<uint64_t>(opts_.stop_after))
        break;
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count();
    auto server1 = sample_process(opts_.server_pid);
    auto threads1 = sample_threads(opts_.server_pid);
    auto self1 = self_cpu_seconds();
    auto metrics1 = opts_.metrics_port > 0
                        ? parse_metrics(fetch_metrics(opts_.host, opts_.metrics_port))
                        : metric_samples{};
    measuring_ = false;
    sending_ = false;
    auto rate = [secs](uint64_t n) { return static_cast<double>(n) / secs; };
    summary["offered_per_second"] = opts_.rate > 0 ? opts_.rate : rate(n_.sent - m_sent);
    summary["sent_per_second"] = rate(n_.sent - m_sent);
    summary["acked_per_second"] = rate(n_.acked - m_acked);
    summary["delivered_per_second"] = rate(n_.delivered - m_delivered);
    if (opts_.workload == "w2")
      summary["completed_messages_per_second"] = rate(n_.completed - m_completed);
    summary["measured_seconds"] = secs;
    if (opts_.server_pid > 0) {
      summary["server_cpu_percent"] = 100.0 * (server1.cpu_seconds - server0.cpu_seconds) / secs;
      // Where the node's CPU went: its pool, writer, RocksDB flush ("high")
      // and compaction ("low") threads. Threads started meanwhile count from 0.
      auto by_thread = json::object();
      for (const auto& [name, end] : threads1) {
        auto begin = threads0.count(name) ? threads0.at(name) : 0.0;
        if (end > begin)
          by_thread[name] = 100.0 * (end - begin) / secs;
      }
      summary["server_cpu_percent_by_thread"] = by_thread;
      summary["server_rss_kb"] = server1.rss_kb;
    }
    summary["loadgen_cpu_percent"] = 100.0 * (self1 - self0) / secs;
    if (!metrics0.empty() && !metrics1.empty())
      add_node_metrics(metrics0, metrics1, secs, summary);
    // A run that measured nothing, or whose requests the node refused, did
    // not measure what it says: the summary is written, the exit code is 1.
    // XMPP has no acks: there only deliveries count.
    bool none_acked = !xmpp_ && n_.acked == m_acked;
    if (none_acked || n_.delivered == m_delivered) {
      fprintf(stderr, "nothing was %s while measuring\n", none_acked ? "acked" : "delivered");
      rc = 1;
    }
    if (!xmpp_ && n_.errors > 0) { // XMPP servers bounce messages under load
      fprintf(stderr, "the node answered %llu requests with an error (see the summary)\n",
              static_cast<unsigned long long>(n_.errors.load()));
      rc = 1;
    }
    // Let what is in flight land before closing.
    std::this_thread::sleep_for(std::chrono::milliseconds{500});
  }
  for (auto& w : workers_)
    asio::post(w.ioc, [&w] {
      for (auto& c : w.conns)
        c->close();
    });
  guards.clear();
  for (auto& t : threads)
    t.join();
  thread_stats all_stats;
  for (auto& w : workers_) {
    all_stats.ack.merge(w.stats.ack);
    all_stats.delivery.merge(w.stats.delivery);
    all_stats.last.merge(w.stats.last);
    all_stats.send_lag.merge(w.stats.send_lag);
    for (auto& [code, count] : w.stats.errors)
      all_stats.errors[code] += count;
  }
  auto latency = [](const histogram& h) {
    return json{
        {"count", h.count()},         {"p50_us", h.percentile(50)},    {"p90_us", h.percentile(90)},
        {"p99_us", h.percentile(99)}, {"p999_us", h.percentile(99.9)}, {"max_us", h.max()}};
  };
  if (opts_.workload != "w3") {
    summary["ack_latency"] = latency(all_stats.ack);
    summary["delivery_latency"] = latency(all_stats.delivery);
    if (opts_.rate > 0)
      summary["send_lag"] = latency(all_stats.send_lag);
    if (opts_.workload == "w2")
      summary["last_member_latency"] = latency(all_stats.last);
  }
  summary["errors"] = all_stats.errors;
  return rc;
}

} // namespace

int run_async_workload(const options& opts, json& summary) {
  engine e{opts};
  return e.run(summary);
}

} // namespace chorus::bench
