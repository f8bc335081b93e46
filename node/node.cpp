#include "node/node.hpp"

#include "actors/router.hpp"
#include "cluster/placement.hpp"
#include "net/server.hpp"
#include "storage/store.hpp"
#include "storage/writer.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

namespace chorus::node {

struct node::parts {
  metrics stats;
  std::unique_ptr<storage::store> db;
  std::unique_ptr<storage::writer> writer;
  context_ptr ctx;
  std::unique_ptr<router> routes;
  std::unique_ptr<net::server> server;
};

node::node(caf::actor_system& sys, boost::asio::io_context& ioc, node_settings settings)
  : sys_(sys), ioc_(ioc), settings_(std::move(settings)), parts_(std::make_unique<parts>()) {}

node::~node() {
  stop();
}

std::string node::start() {
  auto log = spdlog::get("node");
  auto& p = *parts_;
  auto fail = [this](std::string why) {
    stop();
    return why;
  };

  // 1. storage
  if (auto s = storage::store::open(settings_.store, &p.db); !s.ok())
    return fail("cannot open storage at '" + settings_.store.path + "': " + s.what());
  auto writer_opts = settings_.writer;
  writer_opts.on_group = [m = &p.stats](size_t batches, uint64_t micros) {
    m->commit_seconds.observe(micros);
    m->commit_batches.observe(batches);
  };
  p.writer = std::make_unique<storage::writer>(*p.db, std::move(writer_opts));
  stops_.push_back([&p] {
    p.writer->stop();
    if (auto s = p.db->flush(); !s.ok())
      spdlog::get("storage")->error("flush on shutdown failed: {}", s.what());
    p.writer.reset();
    p.db.reset();
    spdlog::get("storage")->info("storage closed");
  });
  log->info("storage open at {} (sync={})", settings_.store.path, settings_.writer.sync);

  // 2. actors
  p.ctx = std::make_shared<actor_context>();
  p.ctx->settings = settings_.actors;
  p.ctx->db = p.db.get();
  p.ctx->writer = p.writer.get();
  p.ctx->metrics = &p.stats;
  p.ctx->ids = std::make_unique<id_generator>(settings_.actors.node_id);
  auto where = std::make_shared<const cluster::placement>(
      settings_.members, settings_.actors.node_id, settings_.shards);
  p.routes = std::make_unique<router>(sys_, p.ctx, where);
  p.ctx->router = p.routes.get();
  stops_.push_back([this, &p] {
    // The router stops every user and conversation actor it activated; then
    // wait for all actors, so nothing writes to storage after this point.
    p.routes->stop_all();
    sys_.await_all_actors_done();
    p.ctx->router = nullptr;
    p.routes.reset();
  });
  if (settings_.actors.dev_mode)
    log->warn("DEVELOPMENT MODE: auth accepts ANY token for ANY user. Never run this in "
              "production.");

  // 3. listeners
  p.server = std::make_unique<net::server>(sys_, ioc_, p.ctx, settings_.net);
  if (auto err = p.server->start(); !err.empty())
    return fail(err);
  stops_.push_back([&p] { p.server->stop(); });
  log->info("node {} serving: WebSocket/HTTP on {}:{}, TCP on {}:{}", settings_.actors.node_id,
            settings_.net.host, p.server->ws_port(), settings_.net.host, p.server->tcp_port());
  return {};
}

void node::stop() {
  while (!stops_.empty()) {
    auto f = std::move(stops_.back());
    stops_.pop_back();
    f();
  }
  parts_->server.reset(); // after every connection actor is gone
}

uint16_t node::ws_port() const {
  return parts_->server ? parts_->server->ws_port() : 0;
}

uint16_t node::tcp_port() const {
  return parts_->server ? parts_->server->tcp_port() : 0;
}

} // namespace chorus::node
