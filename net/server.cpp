#include "net/server.hpp"

#include "actors/connection_actor.hpp"
#include "actors/messages.hpp"
#include "net/session.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <future>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <thread>

namespace chorus::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

/// Has the kernel probe a connection silent for `idle` (none if zero): the
/// probes cost no memory or timer in the node, and a peer that vanished
/// without closing fails the socket's read, which ends the session.
void set_keepalive(tcp::socket& s, std::chrono::seconds idle) {
  if (idle.count() == 0)
    return;
  using keep_idle = asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPIDLE>;
  using keep_interval = asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPINTVL>;
  using keep_count = asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPCNT>;
  boost::system::error_code ec;
  s.set_option(asio::socket_base::keep_alive{true}, ec);
  if (!ec)
    s.set_option(keep_idle{static_cast<int>(idle.count())}, ec);
  if (!ec)
    s.set_option(keep_interval{static_cast<int>(keepalive_interval.count())}, ec);
  if (!ec)
    s.set_option(keep_count{keepalive_probes}, ec);
  if (ec) // the first that failed
    spdlog::get("net")->warn("cannot set TCP keepalive: {}", ec.message());
}

} // namespace

connection_ptr shared_env::open_connection(const sink_ptr& sink, bool http) {
  auto conn = connection::open(*sys, sink, ctx, http);
  std::lock_guard<std::mutex> guard{mtx_};
  live_.insert(conn);
  return conn;
}

void shared_env::end_connection(const connection_ptr& conn) {
  if (!conn)
    return;
  conn->close();
  std::lock_guard<std::mutex> guard{mtx_};
  live_.erase(conn);
}

void shared_env::end_all() {
  std::unordered_set<connection_ptr> all;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    all.swap(live_);
  }
  for (const auto& conn : all)
    conn->close();
}

struct server::impl {
  explicit impl(asio::io_context& c) : ioc(c) {}

  asio::io_context& ioc;
  tcp::acceptor ws_acceptor{ioc};
  tcp::acceptor tcp_acceptor{ioc};
  /// Shared with the sessions, which may outlive the server until the
  /// io_context ends.
  env_ptr env{new shared_env};
  /// Accept operations whose handler has not run yet; it refers to this.
  std::atomic<int> accepting{0};
  bool stopped = false;

  /// The executor of a new socket: every handler of a session runs on it,
  /// one at a time. With one thread the io_context itself is that; with
  /// more, each session gets a strand (about 100 bytes per connection).
  asio::any_io_executor session_executor() {
    if (env->cfg.io_threads > 1)
      return asio::make_strand(ioc);
    return ioc.get_executor();
  }

  void accept(tcp::acceptor& acceptor, void (*start)(tcp::socket, shared_env&)) {
    accepting += 1;
    acceptor.async_accept(
        session_executor(), [this, &acceptor, start](boost::system::error_code ec, tcp::socket s) {
          if (ec == asio::error::operation_aborted || !acceptor.is_open()) {
            accepting -= 1; // the server is stopping; the last use of this
            return;
          }
          if (!ec) {
            // Replies and pushes are small frames written as they come:
            // with Nagle's algorithm the kernel would hold one back while
            // the previous is unacknowledged, up to the peer's delayed-ACK
            // time (40 ms).
            boost::system::error_code ignored;
            s.set_option(tcp::no_delay{true}, ignored);
            set_keepalive(s, env->cfg.keepalive);
            start(std::move(s), *env);
            accept(acceptor, start);
          } else {
            // Out of file descriptors, say: accepting again at once would fail
            // again at once, in a loop. Wait a little for connections to end.
            spdlog::get("net")->warn("accept failed: {}; accepting again in 100 ms", ec.message());
            accepting += 1;
            auto timer = std::make_shared<asio::steady_timer>(ioc, std::chrono::milliseconds{100});
            timer->async_wait([this, &acceptor, start, timer](boost::system::error_code) {
              if (acceptor.is_open())
                accept(acceptor, start);
              accepting -= 1;
            });
          }
          accepting -= 1;
        });
  }

  std::string listen(tcp::acceptor& acceptor, uint16_t port) {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(env->cfg.host, ec);
    if (ec)
      return "net.host '" + env->cfg.host + "' is not an IP address";
    tcp::endpoint ep{address, port};
    acceptor.open(ep.protocol(), ec);
    if (!ec)
      acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec)
      acceptor.bind(ep, ec);
    if (!ec)
      acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return "cannot listen on " + env->cfg.host + ":" + std::to_string(port) + ": " + ec.message();
    return {};
  }
};

server::server(caf::actor_system& sys, asio::io_context& ioc, context_ptr ctx, net_settings cfg)
  : impl_(std::make_unique<impl>(ioc)) {
  impl_->env->sys = &sys;
  impl_->env->ctx = std::move(ctx);
  impl_->env->cfg = std::move(cfg);
}

server::~server() {
  stop();
}

std::string server::start() {
  auto& i = *impl_;
  if (auto err = i.listen(i.ws_acceptor, i.env->cfg.ws_port); !err.empty())
    return err;
  if (auto err = i.listen(i.tcp_acceptor, i.env->cfg.tcp_port); !err.empty())
    return err;
  i.accept(i.ws_acceptor, start_http_session);
  i.accept(i.tcp_acceptor, start_tcp_session);
  return {};
}

void server::stop() {
  auto& i = *impl_;
  if (i.stopped)
    return;
  i.stopped = true;
  // The acceptors belong to the io_context's threads: close them there, and
  // wait until their handlers have run (they refer to this server).
  auto close = [&i] {
    boost::system::error_code ignored;
    i.ws_acceptor.close(ignored);
    i.tcp_acceptor.close(ignored);
  };
  if (i.ioc.stopped()) {
    close(); // nothing runs the handlers any more
  } else {
    std::promise<void> closed;
    asio::post(i.ioc, [&] {
      close();
      closed.set_value();
    });
    closed.get_future().wait();
    while (i.accepting.load() > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }
  // Sessions still open hold their connection actors and the reverse: end the
  // actors, which detach their devices and release the sessions.
  i.env->end_all();
}

uint16_t server::ws_port() const noexcept {
  boost::system::error_code ec;
  return impl_->ws_acceptor.local_endpoint(ec).port();
}

uint16_t server::tcp_port() const noexcept {
  boost::system::error_code ec;
  return impl_->tcp_acceptor.local_endpoint(ec).port();
}

} // namespace chorus::net
