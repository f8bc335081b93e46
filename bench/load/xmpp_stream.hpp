// The XMPP side of the load generator: just enough of RFC 6120 for a client
// to register in-band (XEP-0077), authenticate with SASL PLAIN, bind a
// resource and exchange chat messages with an XMPP server, so the same
// workloads can be driven against ejabberd on the same machine. The stream
// is parsed with expat; only what a workload reads is kept of each stanza.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

struct XML_ParserStruct;

namespace chorus::bench::xmpp {

/// A top-level element of the stream (a stanza, or a stream-level element
/// such as stream:features, success or stream:error).
struct stanza {
  std::string name; ///< element name as written, e.g. "message", "stream:features"
  std::string type; ///< the type attribute
  std::string id;   ///< the id attribute
  /// The first child's name (e.g. "bind", "error"); for an error stanza or a
  /// stream error, the defined condition (e.g. "service-unavailable").
  std::string condition;
};

/// Reads one XMPP stream incrementally; calls back once per complete
/// top-level element. After SASL success the stream restarts: call restart()
/// before the server's new stream header arrives.
class stream_reader {
public:
  using callback = std::function<void(const stanza&)>;

  explicit stream_reader(callback on_stanza);
  ~stream_reader();
  stream_reader(const stream_reader&) = delete;
  stream_reader& operator=(const stream_reader&) = delete;

  /// Feeds received bytes; false if they are not well-formed XML.
  bool feed(const char* data, size_t n);

  /// Starts a new stream: the next bytes begin with a new XML declaration.
  void restart();

private:
  static void on_start(void* self, const char* name, const char** attrs);
  static void on_end(void* self, const char* name);
  void install();

  XML_ParserStruct* parser_;
  callback on_stanza_;
  int depth_ = 0;
  bool in_error_ = false; ///< inside the <error/> child of a stanza
  stanza current_;
};

/// The stream header a client sends to open (and, after auth, reopen) a
/// stream to `domain`.
std::string open_stream(std::string_view domain);

/// `text` with the five XML special characters escaped.
std::string escape(std::string_view text);

/// Base64 of `in` (SASL PLAIN's encoding).
std::string base64(std::string_view in);

} // namespace chorus::bench::xmpp
