#include "load_conn.hpp"

#include "xmpp_stream.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <deque>

namespace chorus::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using json = nlohmann::json;

struct load_conn::impl {
  impl(asio::io_context& ioc, wire w, tcp::endpoint ep) : w(w), ep(ep), sock(ioc) {}

  wire w;
  tcp::endpoint ep;
  std::string token;
  handler on_event;
  closed_handler on_closed;
  tcp::socket sock;
  std::unique_ptr<websocket::stream<tcp::socket&>> ws;
  unsigned char header[4];
  std::string body;
  beast::flat_buffer buf;
  std::string pending; // tcp: framed bytes not yet written
  std::string writing_buf;
  std::deque<std::string> ws_out;
  bool writing = false;
  bool closed = false;
  pb::Frame rx;
  pb::Frame tx;
  event ev;
  // XMPP
  enum class xmpp_step { features, registered, authenticated, reopened, bound, ready };
  std::string domain = "localhost";     ///< as given, for the stream header
  std::string domain_xml = "localhost"; ///< escaped, for message addresses
  std::unique_ptr<xmpp::stream_reader> xr;
  xmpp_step step = xmpp_step::features;
  bool restart = false; ///< the server's stream restarts after the current read
  std::array<char, 4096> rbuf;
};

load_conn::load_conn(asio::io_context& ioc, wire w, tcp::endpoint ep, std::string user,
                     std::string token, handler on_event, closed_handler on_closed)
  : impl_(std::make_unique<impl>(ioc, w, ep)), user_(std::move(user)) {
  impl_->token = std::move(token);
  impl_->on_event = std::move(on_event);
  impl_->on_closed = std::move(on_closed);
}

load_conn::~load_conn() = default;

namespace {

void decode_proto(const pb::Frame& f, event& ev) {
  ev = event{};
  ev.kind = event::other;
  ev.req_id = &f.req_id();
  const auto& t = f.type();
  if (t == "message.new") {
    ev.kind = event::message_new;
    ev.client_msg_id = &f.message().client_msg_id();
    ev.conversation_id = &f.message().conversation_id();
    ev.seq = f.message().seq();
  } else if (t == "message.send.ok") {
    ev.kind = event::send_ok;
    ev.client_msg_id = &f.send_ok().client_msg_id();
    ev.conversation_id = &f.send_ok().conversation_id();
    ev.seq = f.send_ok().seq();
  } else if (t == "conversation.signal") {
    ev.kind = event::signal;
    ev.conversation_id = &f.signal().conversation_id();
    ev.seq = f.signal().last_seq();
  } else if (t == "history.ok") {
    ev.kind = event::history_ok;
    for (const auto& m : f.history_ok().messages())
      ev.entries.emplace_back(m.seq(), m.client_msg_id());
    ev.has_more = f.history_ok().has_more();
  } else if (t == "auth.ok") {
    ev.kind = event::auth_ok;
  } else if (t == "error") {
    ev.kind = event::error;
    ev.code = &f.error().code();
  }
}

} // namespace

void load_conn::start() {
  auto self = shared_from_this();
  impl_->sock.async_connect(impl_->ep, [self](boost::system::error_code ec) {
    auto& i = *self->impl_;
    if (ec)
      return self->close();
    i.sock.set_option(tcp::no_delay{true});
    self->open_ = true;
    auto read_loop = std::make_shared<std::function<void()>>();
    if (i.w == wire::xmpp) {
      i.xr = std::make_unique<xmpp::stream_reader>(
          [raw = self.get()](const xmpp::stanza& s) { raw->on_stanza(s); });
      *read_loop = [self, read_loop]() {
        auto& i = *self->impl_;
        i.sock.async_read_some(asio::buffer(i.rbuf),
                               [self, read_loop](boost::system::error_code ec, size_t n) {
                                 auto& i = *self->impl_;
                                 if (ec || i.closed)
                                   return self->close();
                                 if (!i.xr->feed(i.rbuf.data(), n)) {
                                   static const std::string code = "bad-xml", none;
                                   i.ev = event{};
                                   i.ev.kind = event::error;
                                   i.ev.req_id = &none;
                                   i.ev.code = &code;
                                   i.on_event(*self, i.ev);
                                   return self->close();
                                 }
                                 if (i.restart) {
                                   i.restart = false;
                                   i.xr->restart();
                                 }
                                 (*read_loop)();
                               });
      };
      i.pending += xmpp::open_stream(i.domain);
      self->write_pending();
      (*read_loop)();
      return;
    }
    if (i.w == wire::tcp_protobuf) {
      *read_loop = [self, read_loop]() {
        auto& i = *self->impl_;
        asio::async_read(
            i.sock, asio::buffer(i.header),
            [self, read_loop](boost::system::error_code ec, size_t) {
              auto& i = *self->impl_;
              if (ec)
                return self->close();
              uint32_t n = (uint32_t{i.header[0]} << 24) | (uint32_t{i.header[1]} << 16) |
                           (uint32_t{i.header[2]} << 8) | i.header[3];
              i.body.resize(n);
              asio::async_read(i.sock, asio::buffer(i.body),
                               [self, read_loop](boost::system::error_code ec, size_t) {
                                 auto& i = *self->impl_;
                                 if (ec)
                                   return self->close();
                                 i.rx.Clear();
                                 if (i.rx.ParseFromString(i.body)) {
                                   decode_proto(i.rx, i.ev);
                                   i.on_event(*self, i.ev);
                                 }
                                 (*read_loop)();
                               });
            });
      };
      self->send_auth();
      (*read_loop)();
      return;
    }
    i.ws = std::make_unique<websocket::stream<tcp::socket&>>(i.sock);
    i.ws->async_handshake(
        i.ep.address().to_string() + ":" + std::to_string(i.ep.port()), "/ws",
        [self, read_loop](boost::system::error_code ec) {
          if (ec)
            return self->close();
          *read_loop = [self, read_loop]() {
            auto& i = *self->impl_;
            i.ws->async_read(i.buf, [self, read_loop](boost::system::error_code ec, size_t) {
              auto& i = *self->impl_;
              if (ec)
                return self->close();
              auto data = i.buf.cdata();
              auto doc =
                  json::parse(static_cast<const char*>(data.data()),
                              static_cast<const char*>(data.data()) + data.size(), nullptr, false);
              i.buf.consume(i.buf.size());
              if (!doc.is_discarded()) {
                // Map the JSON frame onto a protobuf Frame with the fields
                // workloads read, then decode like the binary path.
                i.rx.Clear();
                i.rx.set_type(doc.value("type", ""));
                i.rx.set_req_id(doc.value("req_id", ""));
                const auto& p = doc["payload"];
                const auto& t = i.rx.type();
                if (t == "message.new") {
                  auto* m = i.rx.mutable_message();
                  m->set_client_msg_id(p.value("client_msg_id", ""));
                  m->set_conversation_id(p.value("conversation_id", ""));
                  m->set_seq(p.value("seq", uint64_t{0}));
                } else if (t == "message.send.ok") {
                  auto* m = i.rx.mutable_send_ok();
                  m->set_client_msg_id(p.value("client_msg_id", ""));
                  m->set_conversation_id(p.value("conversation_id", ""));
                  m->set_seq(p.value("seq", uint64_t{0}));
                } else if (t == "conversation.signal") {
                  i.rx.mutable_signal()->set_conversation_id(p.value("conversation_id", ""));
                  i.rx.mutable_signal()->set_last_seq(p.value("last_seq", uint64_t{0}));
                } else if (t == "history.ok") {
                  auto* h = i.rx.mutable_history_ok();
                  for (const auto& m : p["messages"]) {
                    auto* e = h->add_messages();
                    e->set_seq(m.value("seq", uint64_t{0}));
                    e->set_client_msg_id(m.value("client_msg_id", ""));
                  }
                  h->set_has_more(p.value("has_more", false));
                } else if (t == "error") {
                  i.rx.mutable_error()->set_code(p.value("code", ""));
                }
                decode_proto(i.rx, i.ev);
                i.on_event(*self, i.ev);
              }
              (*read_loop)();
            });
          };
          self->send_auth();
          (*read_loop)();
        });
  });
}

void load_conn::set_domain(std::string domain) {
  impl_->domain_xml = xmpp::escape(domain);
  impl_->domain = std::move(domain);
}

void load_conn::on_stanza(const xmpp::stanza& s) {
  using step = impl::xmpp_step;
  auto& i = *impl_;
  auto& p = i.pending;
  auto emit = [&](event::kind_t kind, const std::string* code) {
    i.ev = event{};
    i.ev.kind = kind;
    i.ev.req_id = &s.id;
    i.ev.code = code;
    i.ev.client_msg_id = &s.id;
    i.on_event(*this, i.ev);
  };
  if (s.name == "message") {
    if (s.type == "error")
      emit(event::error, &s.condition);
    else
      emit(event::message_new, nullptr);
    return;
  }
  if (s.name == "stream:error") {
    emit(event::error, &s.condition);
    return close();
  }
  switch (i.step) {
  case step::features:
    if (s.name != "stream:features")
      return;
    p += "<iq type='set' id='reg'><query xmlns='jabber:iq:register'><username>";
    p += xmpp::escape(user_);
    p += "</username><password>";
    p += xmpp::escape(i.token);
    p += "</password></query></iq>";
    i.step = step::registered;
    break;
  case step::registered:
    // A result, or a conflict when the user is registered already: either way
    // the user exists now.
    if (s.name != "iq" || s.id != "reg")
      return;
    p += "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>";
    p += xmpp::base64(std::string{'\0'} + user_ + '\0' + i.token);
    p += "</auth>";
    i.step = step::authenticated;
    break;
  case step::authenticated:
    if (s.name == "failure") {
      emit(event::error, &s.condition);
      return close();
    }
    if (s.name != "success")
      return;
    i.restart = true;
    p += xmpp::open_stream(i.domain);
    i.step = step::reopened;
    break;
  case step::reopened:
    if (s.name != "stream:features")
      return;
    p += "<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
         "<resource>load</resource></bind></iq><presence/>";
    i.step = step::bound;
    break;
  case step::bound:
    if (s.name != "iq" || s.id != "bind")
      return;
    if (s.type == "result")
      emit(event::auth_ok, nullptr);
    else
      emit(event::error, &s.condition);
    i.step = step::ready;
    break;
  case step::ready: return;
  }
  write_pending();
}

void load_conn::send_auth() {
  pb::Frame auth;
  auth.set_type("auth");
  auth.set_req_id("auth");
  auth.mutable_auth()->set_user_id(user_);
  auth.mutable_auth()->set_token(impl_->token);
  request(auth);
}

void load_conn::write_pending() {
  auto& i = *impl_;
  if (i.writing || i.closed)
    return;
  // Everything queued goes out in one write.
  auto self = shared_from_this();
  auto write = std::make_shared<std::function<void()>>();
  *write = [self, write]() {
    auto& i = *self->impl_;
    if (i.pending.empty()) {
      i.writing = false;
      return;
    }
    i.writing = true;
    i.writing_buf.clear();
    i.writing_buf.swap(i.pending);
    asio::async_write(i.sock, asio::buffer(i.writing_buf),
                      [self, write](boost::system::error_code ec, size_t) {
                        if (ec)
                          return self->close();
                        (*write)();
                      });
  };
  (*write)();
}

void load_conn::request(const pb::Frame& f) {
  auto& i = *impl_;
  if (i.closed)
    return;
  if (i.w == wire::xmpp)
    return; // workloads that speak XMPP use only auth and send_message
  auto self = shared_from_this();
  if (i.w == wire::tcp_protobuf) {
    auto n = static_cast<uint32_t>(f.ByteSizeLong());
    for (int shift = 24; shift >= 0; shift -= 8)
      i.pending.push_back(static_cast<char>((n >> shift) & 0xff));
    f.AppendToString(&i.pending);
    write_pending();
    return;
  }
  json frame = {{"type", f.type()}, {"req_id", f.req_id()}};
  json payload = json::object();
  if (f.has_auth()) {
    payload = {{"user_id", f.auth().user_id()}, {"token", f.auth().token()}};
  } else if (f.has_send()) {
    const auto& s = f.send();
    payload = {{"client_msg_id", s.client_msg_id()},
               {"msg_type", s.msg_type()},
               {"content", json::parse(s.content())}};
    if (!s.to().empty())
      payload["to"] = s.to();
    else
      payload["conversation_id"] = s.conversation_id();
  } else if (f.has_history()) {
    payload = {{"conversation_id", f.history().conversation_id()},
               {"after_seq", f.history().after_seq()},
               {"limit", f.history().limit()}};
  } else if (f.has_group_create()) {
    const auto& g = f.group_create();
    payload = {{"group_id", g.group_id()},
               {"members", std::vector<std::string>(g.members().begin(), g.members().end())}};
  } else if (f.payload_case() != pb::Frame::PAYLOAD_NOT_SET) {
    // A request the JSON mapping does not know would go out empty, and the
    // node would answer something else than the workload asked for.
    fprintf(stderr, "chorus-load: no JSON mapping for a '%s' request\n", f.type().c_str());
    std::abort();
  }
  frame["payload"] = std::move(payload);
  i.ws_out.push_back(frame.dump());
  if (i.writing)
    return;
  auto write = std::make_shared<std::function<void()>>();
  *write = [self, write]() {
    auto& i = *self->impl_;
    if (i.ws_out.empty()) {
      i.writing = false;
      return;
    }
    i.writing = true;
    i.ws->text(true);
    i.ws->async_write(asio::buffer(i.ws_out.front()),
                      [self, write](boost::system::error_code ec, size_t) {
                        auto& i = *self->impl_;
                        i.ws_out.pop_front();
                        if (ec)
                          return self->close();
                        (*write)();
                      });
  };
  (*write)();
}

void load_conn::send_message(const std::string& to, const std::string& conversation_id,
                             const std::string& client_msg_id, const std::string& content_json,
                             const std::string& req_id) {
  if (impl_->w == wire::xmpp) {
    auto& p = impl_->pending;
    p += "<message to='";
    p += xmpp::escape(to);
    p += '@';
    p += impl_->domain_xml;
    p += "' type='chat' id='";
    p += xmpp::escape(client_msg_id);
    p += "'><body>";
    p += xmpp::escape(content_json);
    p += "</body></message>";
    write_pending();
    return;
  }
  auto& f = impl_->tx;
  f.Clear();
  f.set_type("message.send");
  f.set_req_id(req_id);
  auto* s = f.mutable_send();
  s->set_client_msg_id(client_msg_id);
  if (!to.empty())
    s->set_to(to);
  else
    s->set_conversation_id(conversation_id);
  s->set_msg_type(1);
  s->set_content(content_json);
  request(f);
}

void load_conn::history(const std::string& conversation_id, uint64_t after_seq, uint32_t limit,
                        const std::string& req_id) {
  auto& f = impl_->tx;
  f.Clear();
  f.set_type("history");
  f.set_req_id(req_id);
  auto* h = f.mutable_history();
  h->set_conversation_id(conversation_id);
  h->set_after_seq(after_seq);
  h->set_limit(limit);
  request(f);
}

void load_conn::close() {
  auto& i = *impl_;
  if (i.closed)
    return;
  i.closed = true;
  open_ = false;
  boost::system::error_code ignored;
  i.sock.close(ignored);
  if (i.on_closed)
    i.on_closed(*this);
}

} // namespace chorus::bench
