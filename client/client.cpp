#include "client/client.hpp"

#include "net/codec.hpp"
#include "proto/chorus.pb.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

namespace chorus::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

struct client::impl {
  transport kind;
  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
  std::unique_ptr<websocket::stream<beast::tcp_stream>> ws;
  std::unique_ptr<tcp::socket> sock;
  beast::flat_buffer buf;
  unsigned char header[4];
  std::string body;
  std::deque<std::pair<std::string, bool>> outq; // bytes, binary; ioc thread only
  bool writing = false;
  bool paused = false;
  std::thread thread;

  std::mutex mtx;
  std::condition_variable cv;
  /// A received frame. Binary transports keep the decoded protobuf and
  /// make its JSON form only when a caller looks at it as JSON: converting a
  /// large reply (a sync of thousands of messages) costs several times its
  /// decoding.
  struct received {
    std::optional<json> j;
    std::optional<pb::Frame> binary;

    json& as_json() {
      if (!j)
        j = json::parse(net::encode_json(*binary));
      return *j;
    }
  };
  std::deque<received> inbox;
  bool closed = false;
  uint64_t next_req = 0;

  bool binary() const { return kind != transport::websocket_json; }

  void deliver(std::string_view bytes, bool is_binary) {
    received frame;
    if (is_binary) {
      frame.binary.emplace();
      if (!frame.binary->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
        frame.binary.reset();
        frame.j = json{{"type", "client.undecodable"}};
      }
    } else {
      frame.j = json::parse(bytes.begin(), bytes.end(), nullptr, false);
      if (frame.j->is_discarded())
        frame.j = json{{"type", "client.undecodable"}};
    }
    {
      std::lock_guard<std::mutex> guard{mtx};
      inbox.push_back(std::move(frame));
    }
    cv.notify_all();
  }

  void mark_closed() {
    {
      std::lock_guard<std::mutex> guard{mtx};
      closed = true;
    }
    cv.notify_all();
  }

  void read() {
    if (paused)
      return;
    if (ws) {
      ws->async_read(buf, [this](beast::error_code ec, size_t) {
        if (ec)
          return mark_closed();
        auto data = buf.cdata();
        deliver({static_cast<const char*>(data.data()), data.size()}, ws->got_binary());
        buf.consume(buf.size());
        read();
      });
    } else {
      asio::async_read(*sock, asio::buffer(header), [this](boost::system::error_code ec, size_t) {
        if (ec)
          return mark_closed();
        uint32_t n = (uint32_t{header[0]} << 24) | (uint32_t{header[1]} << 16) |
                     (uint32_t{header[2]} << 8) | header[3];
        body.resize(n);
        asio::async_read(*sock, asio::buffer(body), [this](boost::system::error_code ec, size_t) {
          if (ec)
            return mark_closed();
          deliver(body, true);
          read();
        });
      });
    }
  }

  void write() {
    if (outq.empty()) {
      writing = false;
      return;
    }
    writing = true;
    auto& [bytes, is_binary] = outq.front();
    auto done = [this](boost::system::error_code ec, size_t) {
      outq.pop_front();
      if (ec)
        return mark_closed();
      write();
    };
    if (ws) {
      ws->binary(is_binary);
      ws->async_write(asio::buffer(bytes), done);
    } else {
      asio::async_write(*sock, asio::buffer(bytes), done);
    }
  }

  void enqueue(std::string bytes, bool is_binary) {
    asio::post(ioc, [this, bytes = std::move(bytes), is_binary]() mutable {
      outq.emplace_back(std::move(bytes), is_binary);
      if (!writing)
        write();
    });
  }

  /// Removes and returns the first queued frame `match` accepts.
  template <class Match>
  std::optional<received> take_received(Match match, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::unique_lock<std::mutex> lock{mtx};
    for (;;) {
      for (auto i = inbox.begin(); i != inbox.end(); ++i)
        if (match(*i)) {
          auto frame = std::move(*i);
          inbox.erase(i);
          return frame;
        }
      if (closed || cv.wait_until(lock, deadline) == std::cv_status::timeout) {
        for (auto i = inbox.begin(); i != inbox.end(); ++i) // one last look
          if (match(*i)) {
            auto frame = std::move(*i);
            inbox.erase(i);
            return frame;
          }
        return std::nullopt;
      }
    }
  }

  /// The first queued frame whose JSON form `match` accepts.
  template <class Match>
  std::optional<json> take(Match match, std::chrono::milliseconds timeout) {
    auto r = take_received([&](received& f) { return match(f.as_json()); }, timeout);
    if (!r)
      return std::nullopt;
    return std::move(r->as_json());
  }
};

client::client(transport t, const std::string& host, uint16_t port)
  : impl_(std::make_unique<impl>()) {
  auto& i = *impl_;
  i.kind = t;
  try {
    tcp::resolver resolver{i.ioc};
    auto endpoints = resolver.resolve(host, std::to_string(port));
    if (t == transport::tcp) {
      i.sock = std::make_unique<tcp::socket>(i.ioc);
      asio::connect(*i.sock, endpoints);
      i.sock->set_option(tcp::no_delay{true});
    } else {
      i.ws = std::make_unique<websocket::stream<beast::tcp_stream>>(i.ioc);
      beast::get_lowest_layer(*i.ws).connect(endpoints);
      beast::get_lowest_layer(*i.ws).socket().set_option(tcp::no_delay{true});
      i.ws->read_message_max(64 << 20);
      i.ws->handshake(host + ":" + std::to_string(port), "/ws");
    }
  } catch (const std::exception& e) {
    throw client_error{std::string{"cannot connect to "} + host + ":" + std::to_string(port) +
                       ": " + e.what()};
  }
  asio::post(i.ioc, [&i] { i.read(); });
  i.thread = std::thread{[&i] { i.ioc.run(); }};
}

client::~client() {
  auto& i = *impl_;
  asio::post(i.ioc, [&i] {
    beast::error_code ignored;
    if (i.ws)
      beast::get_lowest_layer(*i.ws).close();
    else
      i.sock->close(ignored);
    i.work.reset();
  });
  i.thread.join();
}

void client::send(const json& frame) {
  auto& i = *impl_;
  if (!i.binary())
    return i.enqueue(frame.dump(), false);
  pb::Frame f;
  if (auto err = net::decode_json(frame.dump(), &f))
    throw client_error{"cannot encode frame: " + err->message};
  auto bytes = f.SerializeAsString();
  if (i.kind == transport::tcp)
    return send_raw_binary(bytes);
  i.enqueue(std::move(bytes), true);
}

void client::send_raw_text(std::string_view text) {
  impl_->enqueue(std::string{text}, false);
}

void client::send_raw_binary(std::string_view bytes) {
  auto& i = *impl_;
  if (i.kind != transport::tcp)
    return i.enqueue(std::string{bytes}, true);
  std::string framed;
  auto n = static_cast<uint32_t>(bytes.size());
  for (int shift = 24; shift >= 0; shift -= 8)
    framed.push_back(static_cast<char>((n >> shift) & 0xff));
  framed.append(bytes);
  i.enqueue(std::move(framed), true);
}

void client::send_raw_bytes(std::string_view bytes) {
  impl_->enqueue(std::string{bytes}, true);
}

json client::request(const std::string& type, json payload, std::chrono::milliseconds timeout) {
  auto& i = *impl_;
  std::string req_id;
  {
    std::lock_guard<std::mutex> guard{i.mtx};
    req_id = "r" + std::to_string(++i.next_req);
  }
  send(json{{"type", type}, {"req_id", req_id}, {"payload", std::move(payload)}});
  auto reply = i.take(
      [&](const json& f) {
        auto r = f.find("req_id");
        return r != f.end() && r->is_string() && *r == req_id;
      },
      timeout);
  if (!reply)
    throw client_error{"no reply to " + type + " (" + req_id + ")"};
  return *reply;
}

pb::Frame client::request_frame(pb::Frame frame, std::chrono::milliseconds timeout) {
  auto& i = *impl_;
  if (!i.binary())
    throw client_error{"request_frame needs a binary transport"};
  {
    std::lock_guard<std::mutex> guard{i.mtx};
    frame.set_req_id("r" + std::to_string(++i.next_req));
  }
  send_raw_binary(frame.SerializeAsString());
  auto reply = i.take_received(
      [&](const impl::received& f) { return f.binary && f.binary->req_id() == frame.req_id(); },
      timeout);
  if (!reply)
    throw client_error{"no reply to " + frame.type() + " (" + frame.req_id() + ")"};
  return std::move(*reply->binary);
}

std::optional<json> client::next(std::chrono::milliseconds timeout) {
  return impl_->take([](const json&) { return true; }, timeout);
}

std::optional<json> client::wait_for(const std::string& type, std::chrono::milliseconds timeout) {
  return impl_->take(
      [&](const json& f) {
        auto t = f.find("type");
        return t != f.end() && t->is_string() && *t == type;
      },
      timeout);
}

size_t client::discard(const std::string& type) {
  auto& i = *impl_;
  std::lock_guard<std::mutex> guard{i.mtx};
  auto before = i.inbox.size();
  i.inbox.erase(
      std::remove_if(i.inbox.begin(), i.inbox.end(),
                     [&](impl::received& f) { return f.as_json().value("type", "") == type; }),
      i.inbox.end());
  return before - i.inbox.size();
}

bool client::wait_closed(std::chrono::milliseconds timeout) {
  auto& i = *impl_;
  std::unique_lock<std::mutex> lock{i.mtx};
  return i.cv.wait_for(lock, timeout, [&] { return i.closed; });
}

json client::auth(const std::string& user_id, const std::string& token) {
  auto reply = request("auth", {{"user_id", user_id}, {"token", token}});
  if (reply.value("type", "") != "auth.ok")
    throw client_error{"auth failed: " + reply.dump()};
  return reply;
}

void client::pause_reading() {
  std::promise<void> done;
  asio::post(impl_->ioc, [this, &done] {
    impl_->paused = true;
    done.set_value();
  });
  done.get_future().wait();
}

transport client::kind() const noexcept {
  return impl_->kind;
}

} // namespace chorus::client
