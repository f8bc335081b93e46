// The raw TCP port: frames are a 4-byte big-endian length and a serialized
// pb::Frame. A frame over the limit is read and dropped (answered with
// too_large) so the connection stays usable.
#include "net/session.hpp"

#include "actors/messages.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <caf/all.hpp>
#include <cstring>
#include <spdlog/spdlog.h>

namespace chorus::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

/// The size of a session's read buffer when bytes start to arrive: an auth
/// frame fits. Not 256: that is the allocator size class of the session
/// itself, and buffers given back by parked sessions would leave every page
/// half used instead of freeing whole pages.
constexpr size_t first_read_bytes = 384;

class tcp_session final : public frame_sink, public std::enable_shared_from_this<tcp_session> {
public:
  tcp_session(tcp::socket&& socket, shared_env& env)
    : socket_(std::move(socket)), env_(&env), out_(env.cfg.max_outgoing_bytes) {}

  void run() {
    conn_ = env_->open_connection(shared_from_this(), false);
    env_->ctx->metrics->connections_open += 1;
    env_->ctx->metrics->connections_total += 1;
    read();
  }

  void send_reply(const pb::Frame& f) override {
    out_frame o;
    o.binary = true;
    o.owned = f.SerializeAsString();
    enqueue(std::move(o));
  }

  void send_reply(const std::string& req_id, const shared_reply_ptr& r) override {
    out_frame o;
    o.binary = true;
    o.owned = r->binary(req_id);
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

  /// The connection's actor stopped (its device is quiet): park the read,
  /// i.e. wait for readability without holding a read buffer until bytes
  /// come. Cancelling the pending read is safe only while no write is in
  /// flight (cancel() ends every operation on the socket) and no partial
  /// frame is buffered; otherwise the session keeps its buffer.
  void quiet() override {
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      if (self->finished_ || self->writing_ || self->filled_ != 0 || self->parked_)
        return;
      self->parking_ = true;
      boost::system::error_code ignored;
      self->socket_.cancel(ignored);
    });
  }

private:
  /// Reads whatever arrived and decodes every complete frame in it: one recv
  /// for many frames under load. The buffer starts small and doubles while
  /// reads fill it, up to 64 KiB.
  void read() {
    if (in_.empty())
      in_.resize(first_read_bytes);
    socket_.async_read_some(asio::buffer(in_.data() + filled_, in_.size() - filled_),
                            [self = shared_from_this()](boost::system::error_code ec, size_t n) {
                              if (ec == asio::error::operation_aborted && self->parking_ &&
                                  !self->finished_)
                                return self->park();
                              self->parking_ = false;
                              if (ec)
                                return self->finish();
                              self->filled_ += n;
                              self->full_read_ = self->filled_ == self->in_.size();
                              self->consume();
                            });
  }

  /// Waits for the next bytes of a quiet device without a read buffer.
  void park() {
    parking_ = false;
    parked_ = true;
    std::vector<char>().swap(in_);
    socket_.async_wait(tcp::socket::wait_read,
                       [self = shared_from_this()](boost::system::error_code ec) {
                         self->parked_ = false;
                         if (ec)
                           return self->finish();
                         self->read();
                       });
  }

  void consume() {
    size_t pos = 0;
    size_t needed = 0;
    for (;;) {
      if (skip_ > 0) { // the rest of an oversized frame: drop it
        auto n = std::min(skip_, filled_ - pos);
        pos += n;
        skip_ -= n;
        if (skip_ > 0)
          break;
        env_->ctx->metrics->frames_in += 1;
        send_reply(
            error_frame(env_->ctx, {}, errc::too_large,
                        "frame is over " + std::to_string(env_->cfg.max_frame_bytes) + " bytes"));
        continue;
      }
      if (filled_ - pos < 4)
        break;
      auto* h = reinterpret_cast<const unsigned char*>(in_.data() + pos);
      size_t n = (size_t{h[0]} << 24) | (size_t{h[1]} << 16) | (size_t{h[2]} << 8) | h[3];
      if (n > env_->cfg.max_frame_bytes) {
        pos += 4;
        skip_ = n;
        continue;
      }
      if (filled_ - pos - 4 < n) {
        needed = n + 4; // this frame, once the buffer is compacted
        break;
      }
      on_frame(std::string_view{in_.data() + pos + 4, n});
      pos += 4 + n;
    }
    // Keep the incomplete tail at the front of the buffer.
    if (pos > 0) {
      std::memmove(in_.data(), in_.data() + pos, filled_ - pos);
      filled_ -= pos;
    }
    if (needed > in_.size()) {
      in_.resize(needed);
    } else if (filled_ == 0 && in_.size() > 64 * 1024) {
      in_.resize(64 * 1024); // give back what one large frame needed
      in_.shrink_to_fit();
    } else if (full_read_ && in_.size() < 64 * 1024) {
      in_.resize(in_.size() * 2); // the client sends faster than one read takes
    }
    read();
  }

  void on_frame(std::string_view bytes) {
    env_->ctx->metrics->frames_in += 1;
    pb::Frame f;
    if (auto err = decode_binary(bytes, &f))
      send_reply(error_frame(env_->ctx, err->req_id, err->code, err->message));
    else
      conn_->request(std::move(f));
  }

  /// Queues a frame on the session's executor; called from an actor running
  /// on that executor (the usual case: actors share the sockets' threads) it
  /// runs at once instead of being posted.
  void enqueue(out_frame o) {
    auto n = o.bytes().size();
    for (int i = 0; i < 4; ++i)
      o.header[i] = static_cast<char>((n >> (24 - 8 * i)) & 0xff);
    asio::dispatch(socket_.get_executor(), [self = shared_from_this(), o = std::move(o)]() mutable {
      if (self->finished_)
        return;
      if (!self->out_.push(std::move(o))) {
        self->env_->ctx->metrics->slow_consumer_disconnects += 1;
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
                        self->env_->ctx->metrics->frames_out += self->in_flight_;
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
    env_->ctx->metrics->connections_open -= 1;
    env_->end_connection(conn_);
  }

  tcp::socket socket_;
  env_ptr env_;
  connection_ptr conn_;
  outbox out_;
  std::vector<char> in_; ///< received bytes; [0, filled_) are valid
  size_t filled_ = 0;
  size_t skip_ = 0;        ///< bytes of an oversized frame still to drop
  bool full_read_ = false; ///< the last read filled the buffer
  bool parking_ = false;   ///< the pending read is being cancelled to park
  bool parked_ = false;    ///< waiting for bytes without a buffer
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
