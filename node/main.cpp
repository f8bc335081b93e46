// chorusd: the Chorus node.
//
//   chorusd [--config-file=node.conf] [--section.key=value ...]   run a node
//   chorusd token USER [--ttl=SECONDS] [options as above]          print a token
//   chorusd --help                                                 list options
#include "node/config.hpp"
#include "node/logging.hpp"
#include "node/node.hpp"
#include "node/threads.hpp"
#include "node/token.hpp"

#include <caf/actor_system.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstring>
#include <iostream>
#include <pthread.h>

#ifdef CHORUS_WITH_JEMALLOC
// jemalloc's options (read at start-up). A background thread gives memory
// freed by stopped actors back to the system after jemalloc's decay time
// (10 s); without it, purging waits for allocations, which an idle node does
// not make, and the RSS of quiet connections stays at its peak.
extern "C" {
const char* malloc_conf = "background_thread:true";
}
#endif

using namespace chorus;

namespace {

int print_token(node::node_config& cfg, const std::string& user, int64_t ttl) {
  auto s = cfg.settings();
  if (s.actors.secret.empty()) {
    std::cerr << "chorusd: 'auth.secret' is empty: no token can be signed\n";
    return 1;
  }
  int64_t expires = ttl > 0 ? std::time(nullptr) + ttl : 0;
  std::cout << node::make_token(s.actors.secret, user, expires) << "\n";
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  // Subcommand and its own flags come first; the rest goes to CAF's parser.
  std::vector<std::string> args{argv + 1, argv + argc};
  std::string token_user;
  int64_t ttl = 0;
  if (!args.empty() && args[0] == "token") {
    if (args.size() < 2 || args[1].rfind("--", 0) == 0) {
      std::cerr << "usage: chorusd token USER [--ttl=SECONDS] [options]\n";
      return 2;
    }
    token_user = args[1];
    args.erase(args.begin(), args.begin() + 2);
    for (auto i = args.begin(); i != args.end();)
      if (i->rfind("--ttl=", 0) == 0) {
        ttl = std::atoll(i->c_str() + 6);
        i = args.erase(i);
      } else {
        ++i;
      }
  }
  bool has_config_flag = false;
  for (const auto& a : args)
    if (a.rfind("--config-file=", 0) == 0)
      has_config_flag = true;
  if (!has_config_flag)
    args.insert(args.begin(), "--config-file=node.conf");

  node::node_config cfg;
  if (auto err = cfg.parse(args)) {
    std::cerr << "chorusd: " << cfg.render(err) << "\n";
    return 2;
  }
  if (cfg.cli_helptext_printed)
    return 0;
  if (auto problems = cfg.validate(); !problems.empty()) {
    for (const auto& p : problems)
      std::cerr << "chorusd: configuration: " << p << "\n";
    return 2;
  }
  if (!token_user.empty())
    return print_token(cfg, token_user, ttl);

  auto settings = cfg.settings();
  node::setup_logging(settings.log_level);
  auto log = spdlog::get("node");
  auto threads = cfg.threads();
  log->info("{} thread(s) for sockets and actors", threads);

  // Block the stop signals in every thread; this one waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  int rc = 0;
  // Runs the sockets and the actors (node/threads.hpp).
  node::io_pool pool{threads};
  node::run_actors_on(cfg, pool);
  {
    caf::actor_system sys{cfg};
    node::node n{sys, pool.context(), settings};
    if (auto err = n.start(); !err.empty()) {
      log->error("cannot start: {}", err);
      rc = 1;
    } else {
      std::cout << "ready ws=" << n.ws_port() << " tcp=" << n.tcp_port() << std::endl;
      int sig = 0;
      sigwait(&stop_signals, &sig);
      log->info("{} received: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
      n.stop();
    }
    // No actor of the node runs any more: stop the sessions still open before
    // the node's parts they refer to are gone.
    pool.stop();
  }
  log->info("stopped");
  spdlog::shutdown();
  return rc;
}
