// The load generator's XMPP stream reader, fed what ejabberd 23.01 sent in a
// recorded session (register, SASL PLAIN, bind, one chat message).
#include "bench/load/xmpp_stream.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using chorus::bench::xmpp::stanza;
using chorus::bench::xmpp::stream_reader;

namespace {

const std::string first_stream =
    "<?xml version='1.0'?><stream:stream id='1567364907302287091' version='1.0' "
    "xml:lang='en' xmlns:stream='http://etherx.jabber.org/streams' from='localhost' "
    "xmlns='jabber:client'><stream:features><mechanisms "
    "xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms>"
    "<register xmlns='http://jabber.org/features/iq-register'/></stream:features>"
    "<iq xml:lang='en' from='localhost' type='result' id='reg'/>"
    "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>";

const std::string second_stream =
    "<?xml version='1.0'?><stream:stream id='10860971457443554967' version='1.0' "
    "xml:lang='en' xmlns:stream='http://etherx.jabber.org/streams' from='localhost' "
    "xmlns='jabber:client'><stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"
    "</stream:features><iq type='result' id='bind'><bind "
    "xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>ub@localhost/r</jid></bind></iq>"
    "<message xml:lang='en' to='ub@localhost' from='ua@localhost/r' type='chat' id='7.123.4'>"
    "<archived by='ub@localhost' id='1795476693471900' xmlns='urn:xmpp:mam:tmp'/>"
    "<body>hello &amp; more</body></message>"
    "<message type='error' id='8.124.4' from='nobody@localhost'><error type='cancel'>"
    "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>gone</text>"
    "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>";

/// Feeds `bytes` in pieces of `step` bytes, as reads from a socket come.
bool feed(stream_reader& r, const std::string& bytes, size_t step) {
  for (size_t i = 0; i < bytes.size(); i += step)
    if (!r.feed(bytes.data() + i, std::min(step, bytes.size() - i)))
      return false;
  return true;
}

} // namespace

TEST_CASE("the XMPP reader yields each top-level element of a stream, across a restart") {
  for (size_t step : {size_t{1}, size_t{7}, size_t{4096}}) {
    std::vector<stanza> got;
    stream_reader r{[&](const stanza& s) { got.push_back(s); }};
    REQUIRE(feed(r, first_stream, step));
    REQUIRE(got.size() == 3);
    CHECK(got[0].name == "stream:features");
    CHECK(got[0].condition == "mechanisms");
    CHECK(got[1].name == "iq");
    CHECK(got[1].type == "result");
    CHECK(got[1].id == "reg");
    CHECK(got[2].name == "success");

    // After SASL success the server opens a new stream with a new XML
    // declaration, which is an error unless the reader restarts.
    r.restart();
    REQUIRE(feed(r, second_stream, step));
    REQUIRE(got.size() == 7);
    CHECK(got[3].name == "stream:features");
    CHECK(got[3].condition == "bind");
    CHECK(got[4].id == "bind");
    CHECK(got[4].type == "result");
    CHECK(got[5].name == "message");
    CHECK(got[5].type == "chat");
    CHECK(got[5].id == "7.123.4");
    CHECK(got[6].type == "error");
    CHECK(got[6].id == "8.124.4");
    CHECK(got[6].condition == "service-unavailable");
  }
}

TEST_CASE("the XMPP reader refuses bytes that are not XML, and a second XML declaration") {
  std::vector<stanza> got;
  stream_reader r{[&](const stanza& s) { got.push_back(s); }};
  CHECK_FALSE(r.feed("<stream:stream><message id='1'></iq>", 36));

  stream_reader again{[&](const stanza& s) { got.push_back(s); }};
  REQUIRE(feed(again, first_stream, 64));
  CHECK_FALSE(feed(again, second_stream, 64)); // no restart() in between
}

TEST_CASE("XMPP helpers: SASL PLAIN's base64, escaping, the stream header") {
  using namespace chorus::bench::xmpp;
  CHECK(base64(std::string{"\0u1\0pw", 6}) == "AHUxAHB3");
  CHECK(base64("") == "");
  CHECK(base64("ab") == "YWI=");
  CHECK(escape("a<b>&'\"") == "a&lt;b&gt;&amp;&apos;&quot;");
  CHECK(open_stream("localhost").find("to='localhost'") != std::string::npos);
}
