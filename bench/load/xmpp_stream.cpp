#include "xmpp_stream.hpp"

#include <expat.h>
#include <openssl/evp.h>

#include <cstring>

namespace chorus::bench::xmpp {

stream_reader::stream_reader(callback on_stanza)
  : parser_(XML_ParserCreate(nullptr)), on_stanza_(std::move(on_stanza)) {
  install();
}

stream_reader::~stream_reader() {
  XML_ParserFree(parser_);
}

void stream_reader::install() {
  XML_SetUserData(parser_, this);
  XML_SetElementHandler(parser_, &stream_reader::on_start, &stream_reader::on_end);
}

bool stream_reader::feed(const char* data, size_t n) {
  return XML_Parse(parser_, data, static_cast<int>(n), XML_FALSE) == XML_STATUS_OK;
}

void stream_reader::restart() {
  XML_ParserReset(parser_, nullptr); // also clears the handlers
  install();
  depth_ = 0;
  in_error_ = false;
}

void stream_reader::on_start(void* p, const char* name, const char** attrs) {
  auto& self = *static_cast<stream_reader*>(p);
  ++self.depth_;
  if (self.depth_ == 2) {
    auto& s = self.current_;
    s.name = name;
    s.type.clear();
    s.id.clear();
    s.condition.clear();
    for (const char** a = attrs; *a != nullptr; a += 2) {
      if (std::strcmp(a[0], "type") == 0)
        s.type = a[1];
      else if (std::strcmp(a[0], "id") == 0)
        s.id = a[1];
    }
  } else if (self.depth_ == 3) {
    if (self.current_.condition.empty())
      self.current_.condition = name;
    self.in_error_ = std::strcmp(name, "error") == 0;
  } else if (self.depth_ == 4 && self.in_error_ && self.current_.condition == "error" &&
             std::strcmp(name, "text") != 0) {
    self.current_.condition = name; // the defined condition inside <error/>
  }
}

void stream_reader::on_end(void* p, const char*) {
  auto& self = *static_cast<stream_reader*>(p);
  if (self.depth_ == 3)
    self.in_error_ = false;
  if (self.depth_ == 2)
    self.on_stanza_(self.current_);
  --self.depth_;
}

std::string open_stream(std::string_view domain) {
  std::string s = "<?xml version='1.0'?><stream:stream to='";
  s += escape(domain);
  s += "' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";
  return s;
}

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
    case '&': out += "&amp;"; break;
    case '<': out += "&lt;"; break;
    case '>': out += "&gt;"; break;
    case '\'': out += "&apos;"; break;
    case '"': out += "&quot;"; break;
    default: out += c;
    }
  }
  return out;
}

std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3), '\0');
  auto n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                           reinterpret_cast<const unsigned char*>(in.data()),
                           static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

} // namespace chorus::bench::xmpp
