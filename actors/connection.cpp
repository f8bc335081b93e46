#include "actors/connection.hpp"

#include "actors/connection_actor.hpp"
#include "actors/messages.hpp"
#include "actors/router.hpp"

#include <caf/all.hpp>

namespace chorus {

void detach_device(const context_ptr& ctx, const std::string& user, uint64_t device) {
  if (auto u = ctx->router->find(entity_kind::user, user))
    caf::anon_send(u, detach_atom::value, device);
}

connection::connection(caf::actor_system& sys, const sink_ptr& sink, context_ptr ctx)
  : sys_(sys), sink_(sink), ctx_(std::move(ctx)) {}

connection_ptr connection::open(caf::actor_system& sys, const sink_ptr& sink, context_ptr ctx,
                                bool http) {
  auto c = std::make_shared<connection>(sys, sink, ctx);
  c->actor_ = spawn_connection_actor(sys, sink, std::move(ctx), c, http, std::nullopt);
  return c;
}

void connection::request(pb::Frame&& f) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (closed_)
    return;
  if (!actor_) { // the device was quiet: resume its session in a new actor
    auto sink = sink_.lock();
    if (!sink)
      return;
    actor_ = spawn_connection_actor(sys_, std::move(sink), ctx_, shared_from_this(), false,
                                    std::move(saved_));
    handed_ = 0;
    ctx_->metrics->connection_resumes += 1;
  }
  ++handed_;
  caf::anon_send(actor_, request_atom::value, std::move(f));
}

void connection::http_request(const std::string& user, pb::Frame&& f) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (closed_ || !actor_)
    return;
  ++handed_;
  caf::anon_send(actor_, http_atom::value, user, std::move(f));
}

void connection::close() {
  caf::actor running;
  device_session quiet;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (closed_)
      return;
    closed_ = true;
    running = std::move(actor_);
    if (!running)
      quiet = std::move(saved_);
  }
  if (running)
    caf::anon_send(running, closed_atom::value); // the actor detaches
  else if (quiet.device != 0)
    detach_device(ctx_, quiet.user, quiet.device);
}

bool connection::passivate(uint64_t handled, device_session& s) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (closed_ || handled != handed_)
    return false;
  saved_ = std::move(s);
  actor_ = caf::actor{};
  return true;
}

} // namespace chorus
