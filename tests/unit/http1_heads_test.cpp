// The http1 module's chunked coding and the heads the edge sends on (to the sandbox, to
// the client); parsing and the smuggling corpus are in http1_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "sandboxd/edge/http1.h"
#include "unit/http1_support.h"

namespace sandboxd::http1 {
namespace {

using namespace test;

// ---------------------------------------------------------------------------------------
// ChunkedDecoder.

struct Decoded {
  std::string data;
  std::size_t consumed = 0;
  bool done = false;
  bool bad = false;
  bool stalled = false;  // next() used no byte without being bad or done: a broken contract
};

// Feeds `in` to a fresh decoder in pieces of at most `piece` bytes, as reads would.
Decoded decode(std::string_view in, std::size_t piece = std::numeric_limits<std::size_t>::max()) {
  ChunkedDecoder dec;
  Decoded out;
  while (out.consumed < in.size() && !out.bad && !dec.done() && !out.stalled) {
    std::string_view rest = in.substr(out.consumed, piece);
    while (!rest.empty() && !dec.done()) {
      ChunkedDecoder::Step step = dec.next(rest);
      EXPECT_LE(step.consumed, rest.size());
      out.data += step.data;
      out.consumed += step.consumed;
      rest.remove_prefix(step.consumed);
      if (step.bad) {
        out.bad = true;
        break;
      }
      if (step.consumed == 0 && !dec.done()) {
        out.stalled = true;
        break;
      }
    }
  }
  out.done = dec.done();
  return out;
}

const std::string kBody =
    "5;ext=1\r\nhello\r\n"
    "7;a=\"q;b\";c\r\n, world\r\n"
    "A\r\n0123456789\r\n"
    "1\r\n!\r\n"
    "0;last\r\nX-Trailer: one\r\nY: two\r\n\r\n";
const std::string kBodyData = "hello, world0123456789!";

TEST(Http1Chunked, DecodesAMultiChunkBodyWithExtensionsAndTrailers) {
  Decoded whole = decode(kBody);
  EXPECT_FALSE(whole.bad);
  EXPECT_FALSE(whole.stalled);
  EXPECT_TRUE(whole.done);
  EXPECT_EQ(whole.data, kBodyData);
  EXPECT_EQ(whole.consumed, kBody.size());
}

TEST(Http1Chunked, DecodesTheSameWhateverTheSplit) {
  for (std::size_t piece : {1, 2, 3, 7, 16}) {
    Decoded split = decode(kBody, piece);
    EXPECT_FALSE(split.bad) << piece;
    EXPECT_FALSE(split.stalled) << piece;
    EXPECT_TRUE(split.done) << piece;
    EXPECT_EQ(split.data, kBodyData) << piece;
    EXPECT_EQ(split.consumed, kBody.size()) << piece;
  }
}

TEST(Http1Chunked, StopsAtTheEndOfTheBody) {
  std::string pipelined = kBody + std::string(kGet);
  for (std::size_t piece : {std::numeric_limits<std::size_t>::max(), std::size_t{1}}) {
    Decoded d = decode(pipelined, piece);
    EXPECT_TRUE(d.done);
    EXPECT_EQ(d.consumed, kBody.size());
    EXPECT_EQ(d.data, kBodyData);
  }
  Decoded minimal = decode(std::string(kLastChunk) + "GET");
  EXPECT_TRUE(minimal.done);
  EXPECT_EQ(minimal.consumed, kLastChunk.size());
  EXPECT_EQ(minimal.data, "");
}

TEST(Http1Chunked, EveryProperPrefixIsUnfinished) {
  for (std::size_t n = 0; n < kBody.size(); ++n) {
    Decoded d = decode(std::string_view(kBody).substr(0, n));
    EXPECT_FALSE(d.bad) << printable(kBody.substr(0, n));
    EXPECT_FALSE(d.done) << printable(kBody.substr(0, n));
    EXPECT_FALSE(d.stalled) << printable(kBody.substr(0, n));
    EXPECT_EQ(d.consumed, n);
  }
}

TEST(Http1Chunked, RefusesMalformedCoding) {
  const NamedInput cases[] = {
      {"data longer than its size", "5\r\nhelloX\r\n0\r\n\r\n"},
      {"no CRLF after data", "5\r\nhello0\r\n\r\n"},
      {"CR without LF after data", "5\r\nhello\r\r\n0\r\n\r\n"},
      {"bare LF after the size", "5\nhello\r\n0\r\n\r\n"},
      {"bare LF after data", "5\r\nhello\n0\r\n\r\n"},
      {"bare LF after the last chunk", "0\n\r\n"},
      {"bare LF as the final blank line", "0\r\n\n"},
      {"bare LF in a trailer", "0\r\nX: y\n\r\n"},
      {"bare LF in an extension", "5;a\nhello\r\n0\r\n\r\n"},
      {"bare CR after the size", "5\rhello\r\n0\r\n\r\n"},
      {"size with a leading space", " 5\r\nhello\r\n0\r\n\r\n"},
      {"size with a leading tab", "\t5\r\nhello\r\n0\r\n\r\n"},
      {"non-hex size", "g\r\nhello\r\n0\r\n\r\n"},
      {"empty size", "\r\nhello\r\n0\r\n\r\n"},
      {"17 hex digits, overflowing", "10000000000000000\r\n"},
      {"17 hex digits, leading zeros", "00000000000000005\r\nhello\r\n0\r\n\r\n"},
      {"negative size", "-5\r\nhello\r\n0\r\n\r\n"},
      {"plus sign", "+5\r\nhello\r\n0\r\n\r\n"},
      {"0x prefix", "0x10\r\n0123456789abcdef\r\n0\r\n\r\n"},
  };
  for (const auto& c : cases) {
    for (std::size_t piece : {std::numeric_limits<std::size_t>::max(), std::size_t{1}}) {
      Decoded d = decode(c.raw, piece);
      EXPECT_TRUE(d.bad) << c.what << " piece " << piece;
      EXPECT_FALSE(d.done) << c.what << " piece " << piece;
      EXPECT_FALSE(d.stalled) << c.what << " piece " << piece;
    }
  }
}

TEST(Http1Chunked, RefusesTheBadByteWithoutWaitingForMore) {
  EXPECT_TRUE(decode("5\r\nhelloX").bad);
  EXPECT_TRUE(decode("5\n").bad);
  EXPECT_TRUE(decode("g").bad);
  EXPECT_TRUE(decode("00000000000000000").bad);
}

TEST(Http1Chunked, AppendChunkWritesOneChunkAndNothingForEmptyData) {
  std::string out;
  append_chunk(out, "hello");
  EXPECT_EQ(out, "5\r\nhello\r\n");
  append_chunk(out, "");
  EXPECT_EQ(out, "5\r\nhello\r\n");
}

TEST(Http1Chunked, AppendedChunksRoundTripThroughTheDecoder) {
  const std::string pieces[] = {"a",
                                std::string(15, 'b'),
                                std::string(16, 'c'),
                                "",
                                std::string(255, 'd'),
                                std::string(4096, 'e'),
                                std::string(70000, 'f'),
                                "\r\n0\r\n\r\n"};
  std::string encoded;
  std::string expected;
  for (const auto& p : pieces) {
    append_chunk(encoded, p);
    expected += p;
  }
  encoded += kLastChunk;
  for (std::size_t piece : {std::numeric_limits<std::size_t>::max(), std::size_t{1}}) {
    Decoded d = decode(encoded, piece);
    EXPECT_FALSE(d.bad);
    EXPECT_TRUE(d.done);
    EXPECT_EQ(d.consumed, encoded.size());
    EXPECT_EQ(d.data, expected);
  }
}

TEST(Http1Chunked, ResetStartsANewBody) {
  ChunkedDecoder dec;
  EXPECT_TRUE(dec.next("zz").bad);
  dec.reset();
  ChunkedDecoder::Step step = dec.next("3\r\nabc\r\n");
  EXPECT_FALSE(step.bad);
  EXPECT_EQ(step.data, "abc");
}

// ---------------------------------------------------------------------------------------
// The heads the edge sends on.

TEST(Http1Heads, UpstreamRequestLineIsOriginFormHttp11) {
  Lines lines = split_head(upstream("GET /a?b=c HTTP/1.0\r\nHost: a.example\r\n\r\n"));
  EXPECT_EQ(lines.start, "GET /a?b=c HTTP/1.1");
  EXPECT_EQ(lines.values("host"), std::vector<std::string>{"a.example"});
}

TEST(Http1Heads, UpstreamDropsHopByHopFields) {
  std::string up = upstream(
      "POST /p HTTP/1.1\r\nHost: a.example\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n"
      "x-hop: 2\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\n"
      "Trailer: X-T\r\nExpect: 100-continue\r\nContent-Length: 5\r\nX-Keep: yes\r\n"
      "Upgrade: websocket\r\n\r\n");
  Lines lines = split_head(up);
  for (const char* gone : {"X-Hop", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Expect",
                           "Upgrade", "Transfer-Encoding"}) {
    EXPECT_FALSE(lines.has(gone)) << gone << " in\n" << up;
  }
  for (const auto& v : lines.values("connection")) {
    EXPECT_FALSE(list_has_token(v, "x-hop")) << v;
  }
  EXPECT_EQ(lines.values("x-keep"), std::vector<std::string>{"yes"});
  EXPECT_EQ(lines.values("content-length"), std::vector<std::string>{"5"});
}

TEST(Http1Heads, UpstreamKeepsHostAndContentLengthWhateverConnectionNames) {
  // Connection may only name hop-by-hop fields; naming Content-Length must not strip the
  // framing the edge used (the body would become a second request on a pooled connection).
  std::string raw =
      "POST /p HTTP/1.1\r\nHost: a.example\r\nConnection: Content-Length, Host\r\n"
      "Content-Length: 5\r\n\r\n";
  std::string up = upstream(raw);
  Lines lines = split_head(up);
  EXPECT_EQ(lines.values("content-length"), std::vector<std::string>{"5"}) << up;
  EXPECT_EQ(lines.values("host"), std::vector<std::string>{"a.example"}) << up;
}

TEST(Http1Heads, UpstreamChunkedRequestHasExactlyOneTransferEncoding) {
  Lines lines = split_head(upstream(
      "POST /p HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding:  chunked\r\nTE: trailers\r\n"
      "Connection: TE\r\n\r\n"));
  EXPECT_EQ(lines.values("transfer-encoding"), std::vector<std::string>{"chunked"});
  EXPECT_FALSE(lines.has("content-length"));
}

TEST(Http1Heads, UpstreamReplacesForwardingFieldsFromAnUntrustedClient) {
  Lines lines = split_head(upstream(
      "GET / HTTP/1.1\r\nHost: a.example\r\nX-Forwarded-For: 6.6.6.6\r\n"
      "x-forwarded-proto: https\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Port: 1\r\n"
      "X-Real-IP: 6.6.6.6\r\nForwarded: for=6.6.6.6;host=evil.example\r\n\r\n"));
  EXPECT_EQ(lines.values("x-forwarded-for"), std::vector<std::string>{"203.0.113.7"});
  EXPECT_EQ(lines.values("x-forwarded-proto"), std::vector<std::string>{"http"});
  EXPECT_EQ(lines.values("x-forwarded-host"), std::vector<std::string>{"a.example"});
  EXPECT_EQ(lines.values("x-real-ip"), std::vector<std::string>{"203.0.113.7"});
  EXPECT_FALSE(lines.has("x-forwarded-port"));
  std::vector<std::string> fwd = lines.values("forwarded");
  ASSERT_EQ(fwd.size(), 1u);
  std::vector<std::string> elements = forwarded_elements(fwd[0]);
  ASSERT_EQ(elements.size(), 1u) << fwd[0];
  auto pairs = forwarded_pairs(elements[0]);
  EXPECT_EQ(pairs["for"], "203.0.113.7");
  EXPECT_EQ(pairs["proto"], "http");
  EXPECT_EQ(pairs["host"], "a.example");
}

TEST(Http1Heads, UpstreamSetsForwardingFieldsWhenTheClientSentNone) {
  Lines lines = split_head(upstream("GET / HTTP/1.1\r\nHost: a.example:8080\r\n\r\n"));
  EXPECT_EQ(lines.values("x-forwarded-for"), std::vector<std::string>{"203.0.113.7"});
  EXPECT_EQ(lines.values("x-forwarded-host"), std::vector<std::string>{"a.example:8080"});
  std::vector<std::string> fwd = lines.values("forwarded");
  ASSERT_EQ(fwd.size(), 1u);
  auto pairs = forwarded_pairs(fwd[0]);
  EXPECT_EQ(pairs["host"], "a.example:8080");
}

TEST(Http1Heads, UpstreamKeepsAndExtendsForwardingFieldsFromATrustedProxy) {
  Lines lines = split_head(
      upstream("GET / HTTP/1.1\r\nHost: a.example\r\nX-Forwarded-For: 198.51.100.1\r\n"
               "X-Forwarded-Proto: https\r\nX-Forwarded-Host: outer.example\r\n"
               "X-Real-IP: 198.51.100.1\r\nForwarded: for=198.51.100.1;proto=https\r\n\r\n",
               {"203.0.113.7", true}));
  EXPECT_EQ(lines.values("x-forwarded-for"), std::vector<std::string>{"198.51.100.1, 203.0.113.7"});
  EXPECT_EQ(lines.values("x-forwarded-proto"), std::vector<std::string>{"https"});
  EXPECT_EQ(lines.values("x-forwarded-host"), std::vector<std::string>{"outer.example"});
  EXPECT_EQ(lines.values("x-real-ip"), std::vector<std::string>{"198.51.100.1"});
  std::vector<std::string> fwd = lines.values("forwarded");
  ASSERT_FALSE(fwd.empty());
  std::vector<std::string> elements;
  for (const auto& f : fwd) {
    for (auto& e : forwarded_elements(f)) elements.push_back(e);
  }
  ASSERT_EQ(elements.size(), 2u);
  EXPECT_EQ(elements[0], "for=198.51.100.1;proto=https");
  EXPECT_EQ(forwarded_pairs(elements[1])["for"], "203.0.113.7");
}

TEST(Http1Heads, UpstreamFromATrustedProxyWithoutForwardingFieldsSetsThem) {
  Lines lines =
      split_head(upstream("GET / HTTP/1.1\r\nHost: a.example\r\n\r\n", {"203.0.113.7", true}));
  EXPECT_EQ(lines.values("x-forwarded-for"), std::vector<std::string>{"203.0.113.7"});
  EXPECT_EQ(lines.values("x-forwarded-proto"), std::vector<std::string>{"http"});
  EXPECT_EQ(lines.values("x-real-ip"), std::vector<std::string>{"203.0.113.7"});
}

TEST(Http1Heads, UpstreamQuotesAnIpv6ClientInForwarded) {
  Lines lines =
      split_head(upstream("GET / HTTP/1.1\r\nHost: a.example\r\n\r\n", {"2001:db8::1", false}));
  EXPECT_EQ(lines.values("x-forwarded-for"), std::vector<std::string>{"2001:db8::1"});
  EXPECT_EQ(lines.values("x-real-ip"), std::vector<std::string>{"2001:db8::1"});
  std::vector<std::string> fwd = lines.values("forwarded");
  ASSERT_EQ(fwd.size(), 1u);
  EXPECT_NE(fwd[0].find("for=\"[2001:db8::1]\""), std::string::npos) << fwd[0];
}

TEST(Http1Heads, UpstreamUpgradeCarriesConnectionUpgradeAndUpgrade) {
  Lines lines = split_head(
      upstream("GET /ws HTTP/1.1\r\nHost: a.example\r\nConnection: keep-alive, Upgrade\r\n"
               "Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n"));
  std::vector<std::string> connection = lines.values("connection");
  ASSERT_EQ(connection.size(), 1u);
  EXPECT_TRUE(list_has_token(connection[0], "upgrade")) << connection[0];
  EXPECT_FALSE(list_has_token(connection[0], "keep-alive")) << connection[0];
  EXPECT_EQ(lines.values("upgrade"), std::vector<std::string>{"websocket"});
  EXPECT_EQ(lines.values("sec-websocket-key"),
            std::vector<std::string>{"dGhlIHNhbXBsZSBub25jZQ=="});
}

TEST(Http1Heads, UpstreamHeadParsesBackToTheSameRequest) {
  const std::string requests[] = {
      std::string(kGet),
      "POST /p HTTP/1.0\r\nHost: a.example\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\n",
      "PUT /u HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n"
      "Expect: 100-continue\r\n\r\n",
      "GET /ws HTTP/1.1\r\nHost: a.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
      "GET http://a.example/abs HTTP/1.1\r\nHost: a.example\r\n\r\n",
  };
  for (const auto& raw : requests) {
    for (bool trusted : {false, true}) {
      RequestHead req = parse_ok(raw);
      std::string up;
      append_upstream_head(req, {"2001:db8::1", trusted}, up);
      RequestHead back;
      Verdict v = parse_request(up, back);
      ASSERT_EQ(v.kind, Verdict::kOk) << up << v.reason;
      EXPECT_EQ(v.head_len, up.size());
      EXPECT_EQ(back.method(), req.method());
      EXPECT_EQ(back.target(), req.target());
      EXPECT_EQ(back.host(), req.host());
      EXPECT_EQ(back.minor, 1);
      EXPECT_EQ(back.body.kind, req.body.kind);
      EXPECT_EQ(back.body.length, req.body.length);
      EXPECT_EQ(back.upgrade, req.upgrade);
      EXPECT_FALSE(back.expect_continue);
    }
  }
}

RequestHead request(const char* version, const char* extra = "") {
  return parse_ok("GET / "s + version + "\r\nHost: a.example\r\n" + extra + "\r\n");
}

Lines client_head(const ResponseHead& resp, const ClientFraming& framing) {
  std::string out;
  append_client_head(resp, framing, out);
  return split_head(out);
}

const std::string kChunkedResponse =
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n";

TEST(Http1Heads, ClientGetsChunkedFromAChunkedBackendOverHttp11) {
  ResponseHead resp = parse_response_ok(kChunkedResponse);
  ClientFraming framing = client_framing(request("HTTP/1.1"), resp);
  EXPECT_TRUE(framing.chunked);
  EXPECT_TRUE(framing.keep_alive);
  Lines lines = client_head(resp, framing);
  EXPECT_EQ(lines.start, "HTTP/1.1 200 OK");
  EXPECT_EQ(lines.values("transfer-encoding"), std::vector<std::string>{"chunked"});
  EXPECT_FALSE(lines.has("content-length"));
  EXPECT_EQ(lines.values("content-type"), std::vector<std::string>{"text/plain"});
  for (const auto& v : lines.values("connection")) EXPECT_FALSE(list_has_token(v, "close"));
}

TEST(Http1Heads, Http10ClientGetsAChunkedBodyUnchunkedAndClosed) {
  ResponseHead resp = parse_response_ok(kChunkedResponse);
  for (const char* extra : {"", "Connection: keep-alive\r\n"}) {
    ClientFraming framing = client_framing(request("HTTP/1.0", extra), resp);
    EXPECT_FALSE(framing.chunked) << extra;
    EXPECT_FALSE(framing.keep_alive) << extra;
    Lines lines = client_head(resp, framing);
    EXPECT_FALSE(lines.has("transfer-encoding")) << extra;
    EXPECT_FALSE(lines.has("content-length")) << extra;
    EXPECT_EQ(lines.values("connection"), std::vector<std::string>{"close"}) << extra;
  }
}

TEST(Http1Heads, ClientThatAskedToCloseGetsConnectionClose) {
  ResponseHead resp = parse_response_ok("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
  ClientFraming framing = client_framing(request("HTTP/1.1", "Connection: close\r\n"), resp);
  EXPECT_FALSE(framing.keep_alive);
  EXPECT_FALSE(framing.chunked);
  Lines lines = client_head(resp, framing);
  EXPECT_EQ(lines.values("connection"), std::vector<std::string>{"close"});
  EXPECT_EQ(lines.values("content-length"), std::vector<std::string>{"5"});
}

TEST(Http1Heads, Http10KeepAliveClientGetsConnectionKeepAlive) {
  ResponseHead resp = parse_response_ok("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
  ClientFraming framing = client_framing(request("HTTP/1.0", "Connection: keep-alive\r\n"), resp);
  EXPECT_TRUE(framing.keep_alive);
  EXPECT_FALSE(framing.chunked);
  Lines lines = client_head(resp, framing);
  EXPECT_EQ(lines.start.substr(0, 9), "HTTP/1.1 ");
  EXPECT_EQ(lines.values("connection"), std::vector<std::string>{"keep-alive"});
}

TEST(Http1Heads, UntilCloseBodyIsSentUnframedAndClosed) {
  ResponseHead resp = parse_response_ok("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n");
  ClientFraming framing = client_framing(request("HTTP/1.1"), resp);
  EXPECT_FALSE(framing.chunked);
  EXPECT_FALSE(framing.keep_alive);
  Lines lines = client_head(resp, framing);
  EXPECT_FALSE(lines.has("transfer-encoding"));
  EXPECT_FALSE(lines.has("content-length"));
  EXPECT_EQ(lines.values("connection"), std::vector<std::string>{"close"});
}

TEST(Http1Heads, SwitchingProtocolsCarriesConnectionUpgradeAndUpgrade) {
  RequestHead req = parse_ok(
      "GET /ws HTTP/1.1\r\nHost: a.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
  ResponseHead resp = parse_response_ok(
      "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
  ClientFraming framing = client_framing(req, resp);
  EXPECT_FALSE(framing.chunked);
  Lines lines = client_head(resp, framing);
  EXPECT_EQ(lines.start, "HTTP/1.1 101 Switching Protocols");
  std::vector<std::string> connection = lines.values("connection");
  ASSERT_EQ(connection.size(), 1u);
  EXPECT_TRUE(list_has_token(connection[0], "upgrade")) << connection[0];
  EXPECT_EQ(lines.values("upgrade"), std::vector<std::string>{"websocket"});
  EXPECT_EQ(lines.values("sec-websocket-accept"),
            std::vector<std::string>{"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="});
  EXPECT_FALSE(lines.has("transfer-encoding"));
}

TEST(Http1Heads, ClientHeadDropsTheBackendsHopByHopFields) {
  ResponseHead resp = parse_response_ok(
      "HTTP/1.1 404 Not Found\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n"
      "Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTrailer: X-T\r\n"
      "Transfer-Encoding: chunked\r\nUpgrade: h2c\r\nX-Keep: yes\r\n\r\n");
  ClientFraming framing = client_framing(request("HTTP/1.1"), resp);
  Lines lines = client_head(resp, framing);
  EXPECT_EQ(lines.start, "HTTP/1.1 404 Not Found");
  for (const char* gone : {"X-Hop", "Keep-Alive", "Proxy-Connection", "Trailer", "Upgrade"}) {
    EXPECT_FALSE(lines.has(gone)) << gone;
  }
  EXPECT_EQ(lines.values("transfer-encoding"), std::vector<std::string>{"chunked"});
  EXPECT_EQ(lines.values("x-keep"), std::vector<std::string>{"yes"});
  for (const auto& v : lines.values("connection")) EXPECT_FALSE(list_has_token(v, "x-hop"));
}

TEST(Http1Heads, ClientHeadKeepsContentLengthWhateverConnectionNames) {
  ResponseHead resp = parse_response_ok(
      "HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 5\r\n\r\n");
  ClientFraming framing = client_framing(request("HTTP/1.1"), resp);
  ASSERT_EQ(resp.body.kind, BodyKind::kLength);
  EXPECT_FALSE(framing.chunked);
  Lines lines = client_head(resp, framing);
  if (framing.keep_alive) {
    EXPECT_EQ(lines.values("content-length"), std::vector<std::string>{"5"});
  }
}

TEST(Http1Heads, NoContentResponseGetsNoFraming) {
  ResponseHead resp = parse_response_ok("HTTP/1.1 204 No Content\r\n\r\n");
  ClientFraming framing = client_framing(request("HTTP/1.1"), resp);
  EXPECT_FALSE(framing.chunked);
  EXPECT_TRUE(framing.keep_alive);
  Lines lines = client_head(resp, framing);
  EXPECT_FALSE(lines.has("transfer-encoding"));
  EXPECT_FALSE(lines.has("content-length"));
}

TEST(Http1Heads, HeadResponseKeepsItsContentLength) {
  RequestHead req = parse_ok("HEAD / HTTP/1.1\r\nHost: a.example\r\n\r\n");
  ResponseHead resp = parse_response_ok("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", "HEAD");
  ClientFraming framing = client_framing(req, resp);
  EXPECT_FALSE(framing.chunked);
  EXPECT_TRUE(framing.keep_alive);
  Lines lines = client_head(resp, framing);
  EXPECT_EQ(lines.values("content-length"), std::vector<std::string>{"1234"});
  EXPECT_FALSE(lines.has("transfer-encoding"));
}

// ---------------------------------------------------------------------------------------
// Token helpers.

TEST(Http1Request, ListHasTokenMatchesWholeTokensCaseInsensitively) {
  EXPECT_TRUE(list_has_token("keep-alive, Upgrade", "upgrade"));
  EXPECT_TRUE(list_has_token(" close ", "close"));
  EXPECT_TRUE(list_has_token("a,,close", "close"));
  EXPECT_TRUE(list_has_token("a ,\tclose\t, b", "CLOSE"));
  EXPECT_FALSE(list_has_token("upgrade2", "upgrade"));
  EXPECT_FALSE(list_has_token("xclose", "close"));
  EXPECT_FALSE(list_has_token("", "close"));
  EXPECT_TRUE(iequals("Content-Length", "content-LENGTH"));
  EXPECT_FALSE(iequals("Content-Length", "Content-Lengt"));
}

}  // namespace
}  // namespace sandboxd::http1
