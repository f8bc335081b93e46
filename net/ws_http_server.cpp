// The WebSocket/HTTP port: an HTTP session per socket that serves the API and
// hands an upgrade to /ws over to a WebSocket session.
#include "net/http_api.hpp"
#include "net/session.hpp"

#include "actors/errors.hpp"
#include "actors/messages.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <caf/all.hpp>
#include <spdlog/spdlog.h>

namespace chorus::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

// -- WebSocket -----------------------------------------------------------------

class ws_session final : public frame_sink, public std::enable_shared_from_this<ws_session> {
public:
  ws_session(tcp::socket&& socket, shared_env& env)
    : ws_(std::move(socket)), env_(&env), out_(env.cfg.max_outgoing_bytes) {}

  void run(http::request<http::string_body> req) {
    // The handshake has 30 s. After it, a silent peer is found by TCP
    // keepalive (net.keepalive, as for raw TCP), not by the stream's idle
    // timeout and pings, whose timer would wait in every connection.
    auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
    timeouts.idle_timeout = websocket::stream_base::none();
    timeouts.keep_alive_pings = false;
    ws_.set_option(timeouts);
    ws_.read_message_max(env_->cfg.max_frame_bytes);
    ws_.async_accept(req, [self = shared_from_this()](beast::error_code ec) {
      if (ec)
        return;
      self->conn_ = self->env_->open_connection(self, false);
      self->env_->ctx->metrics->connections_open += 1;
      self->env_->ctx->metrics->connections_total += 1;
      self->read();
    });
  }

  void send_reply(const pb::Frame& f) override {
    out_frame o;
    o.binary = binary_;
    o.owned = binary_ ? f.SerializeAsString() : encode_json(f);
    enqueue(std::move(o));
  }

  void send_reply(const std::string& req_id, const shared_reply_ptr& r) override {
    out_frame o;
    o.binary = binary_;
    o.owned = binary_ ? r->binary(req_id) : r->json(req_id);
    enqueue(std::move(o));
  }

  void send_push(const push_ptr& p) override {
    out_frame o;
    o.binary = binary_;
    o.shared = p;
    enqueue(std::move(o));
  }

  void close(const std::string& reason) override {
    asio::post(ws_.get_executor(),
               [self = shared_from_this(), reason] { self->shut(reason, false); });
  }

private:
  /// Reads the next message in pieces. Beast allocates a read's whole size
  /// in `buf_` before any byte arrives, so the first read of a message takes
  /// at most `first_read` bytes: a quiet device waits with a smaller buffer
  /// than Beast's 1,536 bytes, and most chat frames still arrive in one read.
  /// The rest of a longer message follows in reads of Beast's own size;
  /// read_message_max still bounds the whole.
  static constexpr size_t first_read = 512;

  void read() {
    ws_.async_read_some(
        buf_, buf_.size() == 0 ? first_read : 0,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec) {
      if (ec == websocket::error::message_too_big)
        spdlog::get("net")->info("closing a WebSocket: frame over {} bytes",
                                 env_->cfg.max_frame_bytes);
      return finish();
    }
    if (!ws_.is_message_done())
      return read();
    env_->ctx->metrics->frames_in += 1;
    bool binary = ws_.got_binary();
    if (!format_fixed_) { // the first frame fixes the format of every reply and push
      binary_ = binary;
      format_fixed_ = true;
    }
    auto data = buf_.cdata();
    std::string_view bytes{static_cast<const char*>(data.data()), data.size()};
    pb::Frame f;
    auto err = binary ? decode_binary(bytes, &f) : decode_json(bytes, &f);
    buf_.clear();
    if (buf_.capacity() > first_read)
      buf_.shrink_to_fit(); // see read()
    if (err)
      send_reply(error_frame(env_->ctx, err->req_id, err->code, err->message));
    else
      conn_->request(std::move(f));
    read();
  }

  void enqueue(out_frame o) {
    asio::post(ws_.get_executor(), [self = shared_from_this(), o = std::move(o)]() mutable {
      if (self->finished_)
        return;
      if (!self->out_.push(std::move(o))) {
        self->env_->ctx->metrics->slow_consumer_disconnects += 1;
        self->shut("outgoing queue full: the client does not read", true);
        return;
      }
      if (!self->writing_)
        self->write();
    });
  }

  void write() {
    writing_ = true;
    auto& f = out_.front();
    ws_.binary(f.binary);
    ws_.async_write(asio::buffer(f.bytes()),
                    [self = shared_from_this()](beast::error_code ec, size_t) {
                      self->out_.pop_front();
                      self->env_->ctx->metrics->frames_out += 1;
                      if (ec)
                        return self->finish();
                      if (self->out_.empty())
                        self->writing_ = false;
                      else
                        self->write();
                    });
  }

  /// Closes with a close frame carrying `reason`; a client that does not read
  /// (`hard`) gets its socket closed at once.
  void shut(const std::string& reason, bool hard) {
    if (finished_ || closing_)
      return;
    closing_ = true;
    spdlog::get("net")->info("closing a WebSocket: {}", reason);
    if (hard || writing_) {
      beast::error_code ignored;
      ws_.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
      ws_.next_layer().close(ignored);
      return finish();
    }
    websocket::close_reason why{websocket::close_code::policy_error};
    why.reason = reason.substr(0, 120);
    ws_.async_close(why, [self = shared_from_this()](beast::error_code) { self->finish(); });
  }

  void finish() {
    if (finished_)
      return;
    finished_ = true;
    env_->ctx->metrics->connections_open -= 1;
    env_->end_connection(conn_);
  }

  // Over the socket itself: the stream's own timer keeps the handshake's
  // timeout, and a `beast::tcp_stream` would add about 500 bytes of timers
  // and state to every connection, most of which sit idle. Compression is
  // never negotiated, so its support is left out too.
  websocket::stream<tcp::socket, false> ws_;
  beast::flat_buffer buf_;
  env_ptr env_;
  connection_ptr conn_;
  outbox out_;
  bool writing_ = false;
  bool closing_ = false;
  bool finished_ = false;
  bool format_fixed_ = false;
  std::atomic<bool> binary_{false};
};

// -- HTTP ------------------------------------------------------------------------

class http_session final : public frame_sink, public std::enable_shared_from_this<http_session> {
public:
  http_session(tcp::socket&& socket, shared_env& env) : stream_(std::move(socket)), env_(&env) {}

  void run() { read(); }

  using frame_sink::send_reply; // a shared reply is copied into a frame

  void send_reply(const pb::Frame& f) override {
    asio::post(stream_.get_executor(), [self = shared_from_this(), f]() {
      auto body = self->whole_frame_ ? encode_json(f) : encode_json_payload(f);
      self->respond(static_cast<http::status>(http_status(f)), std::move(body), "application/json");
    });
  }

  void send_push(const push_ptr&) override {
    // HTTP connections are not devices; nothing is pushed to them.
  }

  void close(const std::string&) override {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    });
  }

private:
  void read() {
    parser_.emplace();
    parser_->body_limit(env_->cfg.max_frame_bytes);
    stream_.expires_after(std::chrono::seconds{60});
    http::async_read(
        stream_, buf_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      return respond_error(http::status::payload_too_large, errc::too_large,
                           "the body is over " + std::to_string(env_->cfg.max_frame_bytes) +
                               " bytes");
    }
    if (ec)
      return finish();
    auto req = parser_->release();
    keep_alive_ = req.keep_alive();
    if (websocket::is_upgrade(req)) {
      if (req.target() != "/ws")
        return respond_error(http::status::not_found, errc::not_found, "WebSocket endpoint is /ws");
      stream_.expires_never();
      if (conn_) { // an upgrade after API requests on the same connection
        env_->end_connection(conn_);
        conn_.reset();
      }
      std::make_shared<ws_session>(stream_.release_socket(), *env_)->run(std::move(req));
      return;
    }
    auto target = std::string_view{req.target().data(), req.target().size()};
    auto method = std::string_view{req.method_string().data(), req.method_string().size()};
    if (target == "/healthz") {
      bool ok = env_->ctx->writer->healthy();
      return respond(ok ? http::status::ok : http::status::service_unavailable,
                     ok ? "ok\n" : "storage failed\n", "text/plain");
    }
    if (target == "/metrics")
      return respond(http::status::ok, env_->ctx->metrics->render(env_->ctx->writer),
                     "text/plain; version=0.0.4");
    auto auth = req[http::field::authorization];
    auto user = api_user({auth.data(), auth.size()}, env_->ctx->settings);
    if (!user)
      return respond_error(http::status::unauthorized, errc::unauthenticated,
                           "send Authorization: Bearer <token>");
    api_request api;
    if (auto err = parse_api_request(method, target, req.body(), &api)) {
      auto f = error_frame(env_->ctx, err->req_id, err->code, err->message);
      whole_frame_ = api.whole_frame_reply;
      auto body = whole_frame_ ? encode_json(f) : encode_json_payload(f);
      return respond(static_cast<http::status>(http_status(f)), std::move(body),
                     "application/json");
    }
    whole_frame_ = api.whole_frame_reply;
    if (!conn_)
      conn_ = env_->open_connection(shared_from_this(), true);
    env_->ctx->metrics->frames_in += 1;
    conn_->http_request(*user, std::move(api.frame));
  }

  void respond_error(http::status status, errc code, const std::string& message) {
    auto f = error_frame(env_->ctx, {}, code, message);
    respond(status, encode_json_payload(f), "application/json");
  }

  void respond(http::status status, std::string body, const char* content_type) {
    auto res = std::make_shared<http::response<http::string_body>>(status, 11);
    res->set(http::field::server, "chorus");
    res->set(http::field::content_type, content_type);
    res->keep_alive(keep_alive_);
    res->body() = std::move(body);
    res->prepare_payload();
    env_->ctx->metrics->frames_out += 1;
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, size_t) {
                        if (ec || !self->keep_alive_)
                          return self->finish();
                        self->read();
                      });
  }

  /// Ends the session: its connection actor stops, which releases this session.
  void finish() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    if (conn_) {
      env_->end_connection(conn_);
      conn_.reset();
    }
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buf_;
  std::optional<http::request_parser<http::string_body>> parser_;
  env_ptr env_;
  connection_ptr conn_;
  bool keep_alive_ = true;
  bool whole_frame_ = false;
};

} // namespace

void start_http_session(tcp::socket socket, shared_env& env) {
  std::make_shared<http_session>(std::move(socket), env)->run();
}

} // namespace chorus::net
