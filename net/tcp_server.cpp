// The raw TCP port: frames are a 4-byte big-endian length and a serialized
// pb::Frame. A frame over the limit is read and dropped (answered with
// too_large) so the connection stays usable.
#include "net/session.hpp"

#include "actors/messages.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <caf/all.hpp>
#include <spdlog/spdlog.h>

namespace chorus::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

class tcp_session final : public frame_sink, public std::enable_shared_from_this<tcp_session> {
public:
  tcp_session(tcp::socket&& socket, shared_env& env)
    : socket_(std::move(socket)), env_(env), out_(env.cfg.max_outgoing_bytes) {}

  void run() {
    boost::system::error_code ignored;
    socket_.set_option(tcp::no_delay{true}, ignored);
    conn_ = env_.spawn_connection(shared_from_this(), false);
    env_.ctx->metrics->connections_open += 1;
    env_.ctx->metrics->connections_total += 1;
    read_header();
  }

  void send_reply(const pb::Frame& f) override {
    out_frame o;
    o.binary = true;
    o.owned = f.SerializeAsString();
    enqueue(std::move(o));
  }

  void send_push(const push_ptr& p) override {
    out_frame o;
    o.binary = true;
    o.shared = p;
    enqueue(std::move(o));
  }

  void close(const std::string& reason) override {
    asio::post(socket_.get_executor(), [self = shared_from_this(), reason] {
      spdlog::get("net")->info("closing a TCP connection: {}", reason);
      self->finish();
    });
  }

private:
  void read_header() {
    asio::async_read(socket_, asio::buffer(header_),
                     [self = shared_from_this()](boost::system::error_code ec, size_t) {
                       if (ec)
                         return self->finish();
                       uint32_t n = 0;
                       for (unsigned char c : self->header_)
                         n = (n << 8) | c;
                       self->read_body(n);
                     });
  }

  void read_body(uint32_t n) {
    bool too_large = n > env_.cfg.max_frame_bytes;
    // An oversized frame is read in chunks into a small buffer and dropped.
    body_.resize(too_large ? std::min<size_t>(n, 64 * 1024) : n);
    skip_ = too_large ? n : 0;
    if (too_large)
      return drop(n);
    asio::async_read(socket_, asio::buffer(body_),
                     [self = shared_from_this()](boost::system::error_code ec, size_t) {
                       if (ec)
                         return self->finish();
                       self->on_frame();
                       self->read_header();
                     });
  }

  void drop(size_t remaining) {
    if (remaining == 0) {
      env_.ctx->metrics->frames_in += 1;
      send_reply(
          error_frame(env_.ctx, {}, errc::too_large,
                      "frame is over " + std::to_string(env_.cfg.max_frame_bytes) + " bytes"));
      return read_header();
    }
    auto chunk = std::min(remaining, body_.size());
    asio::async_read(
        socket_, asio::buffer(body_.data(), chunk),
        [self = shared_from_this(), remaining](boost::system::error_code ec, size_t got) {
          if (ec)
            return self->finish();
          self->drop(remaining - got);
        });
  }

  void on_frame() {
    env_.ctx->metrics->frames_in += 1;
    pb::Frame f;
    if (auto err = decode_binary(body_, &f))
      send_reply(error_frame(env_.ctx, err->req_id, err->code, err->message));
    else
      caf::anon_send(conn_, request_atom::value, std::move(f));
  }

  void enqueue(out_frame o) {
    auto n = o.bytes().size();
    for (int i = 0; i < 4; ++i)
      o.header[i] = static_cast<char>((n >> (24 - 8 * i)) & 0xff);
    asio::post(socket_.get_executor(), [self = shared_from_this(), o = std::move(o)]() mutable {
      if (self->finished_)
        return;
      if (!self->out_.push(std::move(o))) {
        self->env_.ctx->metrics->slow_consumer_disconnects += 1;
        spdlog::get("net")->info("closing a TCP connection: outgoing queue full");
        return self->finish();
      }
      if (!self->writing_)
        self->write();
    });
  }

  /// Writes every queued frame with one gathered write.
  void write() {
    writing_ = true;
    buffers_.clear();
    in_flight_ = std::min<size_t>(out_.size(), 64);
    for (size_t i = 0; i < in_flight_; ++i) {
      auto& f = out_.at(i);
      buffers_.emplace_back(f.header, 4);
      buffers_.emplace_back(asio::buffer(f.bytes()));
    }
    asio::async_write(socket_, buffers_,
                      [self = shared_from_this()](boost::system::error_code ec, size_t) {
                        for (size_t i = 0; i < self->in_flight_; ++i)
                          self->out_.pop_front();
                        self->env_.ctx->metrics->frames_out += self->in_flight_;
                        if (ec)
                          return self->finish();
                        if (self->out_.empty())
                          self->writing_ = false;
                        else
                          self->write();
                      });
  }

  void finish() {
    if (finished_)
      return;
    finished_ = true;
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    env_.ctx->metrics->connections_open -= 1;
    env_.end_connection(conn_);
  }

  tcp::socket socket_;
  shared_env& env_;
  caf::actor conn_;
  outbox out_;
  unsigned char header_[4];
  std::string body_;
  size_t skip_ = 0;
  std::vector<asio::const_buffer> buffers_;
  size_t in_flight_ = 0;
  bool writing_ = false;
  bool finished_ = false;
};

} // namespace

void start_tcp_session(tcp::socket socket, shared_env& env) {
  std::make_shared<tcp_session>(std::move(socket), env)->run();
}

} // namespace chorus::net
