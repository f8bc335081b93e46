// W4 (an offline user catches up with sync) and W6 (crash check: record every
// acknowledged send, then verify the log after the node was killed), both with
// the blocking client library: they measure correctness and catch-up time,
// not per-connection concurrency.
#include "engine.hpp"

#include "client/client.hpp"
#include "net/codec.hpp"
#include "node/token.hpp"
#include "proto/chorus.pb.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

namespace chorus::bench {

using json = nlohmann::json;
using client::transport;

namespace {

std::unique_ptr<client::client> connect(const options& o, const std::string& user) {
  auto t = o.wire_name == "tcp" ? transport::tcp : transport::websocket_json;
  auto c = std::make_unique<client::client>(t, o.host, o.port);
  c->auth(user, node::make_token(o.secret, user, 0));
  return c;
}

/// What W4 needs of a sync reply's conversation.
struct synced {
  std::string conversation_id;
  size_t messages = 0;
  uint64_t last = 0; ///< seq of the last message returned
};

/// One sync round. Over TCP the reply is read as protobuf, as a client of
/// that wire would: made into JSON (as the client library does by default)
/// its 10,000 messages took half of the time W4 measures. Nullopt (and the
/// reply in `error`) unless it is sync.ok.
std::optional<std::vector<synced>> sync_round(client::client& c, json& error) {
  std::vector<synced> out;
  if (c.kind() == transport::websocket_json) {
    auto r = c.request("sync", {{"limit", 1000}}, std::chrono::seconds{60});
    if (r["type"] != "sync.ok") {
      error = r;
      return std::nullopt;
    }
    for (auto& conv : r["payload"]["conversations"]) {
      auto& ms = conv["messages"];
      out.push_back({conv["conversation_id"].get<std::string>(), ms.size(),
                     ms.empty() ? 0 : ms.back()["seq"].get<uint64_t>()});
    }
    return out;
  }
  pb::Frame f;
  f.set_type("sync");
  f.mutable_sync()->set_limit(1000);
  auto r = c.request_frame(std::move(f), std::chrono::seconds{60});
  if (r.type() != "sync.ok") {
    error = json::parse(net::encode_json(r));
    return std::nullopt;
  }
  for (const auto& conv : r.sync_ok().conversations()) {
    const auto& ms = conv.messages();
    out.push_back({conv.conversation_id(), static_cast<size_t>(ms.size()),
                   ms.empty() ? 0 : ms.rbegin()->seq()});
  }
  return out;
}

/// W4: K messages arrive over M conversations while the user is offline; then
/// it connects and pages through sync (acking as it goes) until nothing is left.
int run_w4(const options& o, json& summary) {
  auto target = o.prefix + "-offline";
  int per_conv = o.messages / o.conversations;
  std::vector<std::thread> senders;
  std::atomic<int> failures{0};
  int parallel = std::min(o.conversations, 8);
  auto t_fill = std::chrono::steady_clock::now();
  for (int s = 0; s < parallel; ++s)
    senders.emplace_back([&, s] {
      for (int m = s; m < o.conversations; m += parallel) {
        auto c = connect(o, o.prefix + "-s" + std::to_string(m));
        // Pipelined: send a window ahead, then collect the replies.
        for (int i = 0; i < per_conv; i += 64) {
          int n = std::min(64, per_conv - i);
          for (int k = 0; k < n; ++k)
            c->send({{"type", "message.send"},
                     {"req_id", "f" + std::to_string(i + k)},
                     {"payload",
                      {{"client_msg_id", std::to_string(i + k)},
                       {"to", target},
                       {"msg_type", 1},
                       {"content", {{"text", std::string(static_cast<size_t>(o.size), 'x')}}}}}});
          for (int k = 0; k < n; ++k) {
            auto r = c->next(std::chrono::seconds{30});
            if (!r || (*r)["type"] != "message.send.ok")
              ++failures;
          }
        }
      }
    });
  for (auto& t : senders)
    t.join();
  summary["fill_seconds"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_fill).count();
  if (failures > 0) {
    summary["fill_failures"] = failures.load();
    return 1;
  }
  auto t0 = std::chrono::steady_clock::now();
  auto c = connect(o, target);
  uint64_t received = 0;
  int rounds = 0;
  for (;;) {
    json error;
    auto convs = sync_round(*c, error);
    if (!convs) {
      summary["error"] = error;
      return 1;
    }
    ++rounds;
    if (convs->empty())
      break;
    // The acks go out together, as a client sends them, and are then
    // collected: each is a durable write, and one at a time they would
    // measure the WAL sync latency times the number of conversations.
    size_t acks = 0;
    for (const auto& conv : *convs) {
      received += conv.messages;
      c->send({{"type", "message.ack"},
               {"req_id", "ack" + std::to_string(acks++)},
               {"payload", {{"conversation_id", conv.conversation_id}, {"seq", conv.last}}}});
    }
    for (; acks > 0; --acks) {
      auto reply = c->next(std::chrono::seconds{60});
      if (!reply || (*reply)["type"] != "message.ack.ok") {
        summary["error"] = reply ? *reply : json{"no reply to message.ack"};
        return 1;
      }
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  summary["synced_messages"] = received;
  summary["sync_rounds"] = rounds;
  summary["sync_seconds"] = secs;
  summary["synced_per_second"] = static_cast<double>(received) / secs;
  // What the client of a user who stays online then repeats: the first
  // screen of the conversation list, and a sync with nothing new (another
  // device coming back). Medians of 21 requests each, in milliseconds.
  auto median_ms = [&](const char* type, const json& payload) -> double {
    std::vector<double> ms;
    for (int i = 0; i < 21; ++i) {
      auto start = std::chrono::steady_clock::now();
      auto r = c->request(type, payload, std::chrono::seconds{60});
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count());
      if (r["type"] != std::string{type} + ".ok")
        return -1;
    }
    std::nth_element(ms.begin(), ms.begin() + 10, ms.end());
    return ms[10];
  };
  summary["list_ms"] = median_ms("conversations.list", {{"limit", 20}});
  summary["repeat_sync_ms"] = median_ms("sync", json::object());
  if (summary["list_ms"] < 0 || summary["repeat_sync_ms"] < 0)
    return 1;
  return received == static_cast<uint64_t>(per_conv * o.conversations) ? 0 : 1;
}

/// W6 send: users send to each other as fast as acks come back and append
/// every ack to the record file ("conversation seq client_msg_id"), until the
/// node goes away or the duration ends.
int run_w6_send(const options& o, json& summary) {
  std::vector<std::thread> threads;
  std::mutex mtx;
  std::ofstream out{o.record, std::ios::app};
  std::atomic<uint64_t> acked{0};
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(o.duration);
  for (int u = 0; u < o.users; ++u)
    threads.emplace_back([&, u] {
      std::unique_ptr<client::client> c;
      try {
        c = connect(o, o.prefix + std::to_string(u));
      } catch (const std::exception&) {
        return;
      }
      auto to = o.prefix + std::to_string((u + 1) % o.users);
      std::map<std::string, std::string> inflight; // req_id -> client_msg_id
      uint64_t n = 0;
      while (std::chrono::steady_clock::now() < end) {
        while (inflight.size() < static_cast<size_t>(o.window)) {
          auto cmid = o.prefix + "-" + std::to_string(u) + "-" + std::to_string(n++);
          c->send({{"type", "message.send"},
                   {"req_id", cmid},
                   {"payload",
                    {{"client_msg_id", cmid},
                     {"to", to},
                     {"msg_type", 1},
                     {"content", {{"text", "crash test"}}}}}});
          inflight.emplace(cmid, cmid);
        }
        auto r = c->next(std::chrono::seconds{2});
        if (!r) {
          if (c->wait_closed(std::chrono::milliseconds{1}))
            return; // the node is gone
          continue;
        }
        if ((*r)["type"] != "message.send.ok")
          continue;
        auto& p = (*r)["payload"];
        inflight.erase(r->value("req_id", ""));
        std::lock_guard<std::mutex> guard{mtx};
        out << p["conversation_id"].get<std::string>() << ' ' << p["seq"].get<uint64_t>() << ' '
            << p["client_msg_id"].get<std::string>() << '\n';
        out.flush();
        ++acked;
      }
    });
  for (auto& t : threads)
    t.join();
  summary["acked"] = acked.load();
  return 0;
}

/// W6 verify: every recorded ack is in its conversation's log at its seq,
/// no client_msg_id is stored twice, and seqs run 1..last without gaps.
int run_w6_verify(const options& o, json& summary) {
  std::ifstream in{o.record};
  std::map<std::string, std::map<uint64_t, std::string>> acked;
  std::string conv, cmid;
  uint64_t seq = 0;
  uint64_t records = 0;
  while (in >> conv >> seq >> cmid) {
    acked[conv][seq] = cmid;
    ++records;
  }
  uint64_t lost = 0, duplicated = 0, gaps = 0, checked = 0;
  for (auto& [id, entries] : acked) {
    // A direct conversation "d:a:b": read it as its first member.
    auto member = id.substr(2, id.find(':', 2) - 2);
    auto c = connect(o, member);
    std::map<uint64_t, std::string> log;
    uint64_t after = 0;
    for (;;) {
      auto r =
          c->request("history", {{"conversation_id", id}, {"after_seq", after}, {"limit", 500}},
                     std::chrono::seconds{30});
      for (auto& m : r["payload"]["messages"]) {
        log[m["seq"].get<uint64_t>()] = m["client_msg_id"].get<std::string>();
        after = m["seq"].get<uint64_t>();
      }
      if (r["payload"]["has_more"] != true)
        break;
    }
    std::set<std::string> seen;
    uint64_t expect = 1;
    for (auto& [s, id_] : log) {
      if (s != expect)
        gaps += s - expect;
      expect = s + 1;
      if (!seen.insert(id_).second)
        ++duplicated;
    }
    for (auto& [s, id_] : entries) {
      ++checked;
      auto i = log.find(s);
      if (i == log.end() || i->second != id_)
        ++lost;
    }
  }
  summary["records"] = records;
  summary["checked"] = checked;
  summary["conversations"] = acked.size();
  summary["lost"] = lost;
  summary["duplicated"] = duplicated;
  summary["gaps"] = gaps;
  return lost + duplicated + gaps == 0 ? 0 : 3;
}

} // namespace

int run_sync_workload(const options& o, json& summary) {
  try {
    if (o.workload == "w4")
      return run_w4(o, summary);
    if (o.workload == "w6-send")
      return run_w6_send(o, summary);
    return run_w6_verify(o, summary);
  } catch (const std::exception& e) {
    summary["error"] = e.what();
    return 1;
  }
}

} // namespace chorus::bench
