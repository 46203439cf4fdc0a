#include "sandboxd/edge/http1.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "unit/http1_support.h"

namespace sandboxd::http1 {
namespace {

using namespace test;

// ---------------------------------------------------------------------------------------
// Request heads: what is accepted, and what it means.

TEST(Http1Request, ParsesAMinimalGet) {
  RequestHead req;
  Verdict v = parse_request(kGet, req);
  ASSERT_EQ(v.kind, Verdict::kOk) << v.reason;
  EXPECT_EQ(v.head_len, kGet.size());
  EXPECT_EQ(req.method(), "GET");
  EXPECT_EQ(req.target(), "/");
  EXPECT_EQ(req.host(), "a.example");
  EXPECT_EQ(req.minor, 1);
  EXPECT_EQ(req.body.kind, BodyKind::kNone);
  EXPECT_TRUE(req.keep_alive);
  EXPECT_FALSE(req.upgrade);
  EXPECT_FALSE(req.expect_continue);
  ASSERT_EQ(req.fields.size(), 1u);
  EXPECT_EQ(req.name(req.fields[0]), "Host");
  EXPECT_EQ(req.value(req.fields[0]), "a.example");
}

TEST(Http1Request, SkipsLeadingEmptyLines) {
  std::string raw = "\r\n\r\n"s + std::string(kGet);
  RequestHead req;
  Verdict v = parse_request(raw, req);
  ASSERT_EQ(v.kind, Verdict::kOk) << v.reason;
  EXPECT_EQ(v.head_len, raw.size());
  EXPECT_EQ(req.method(), "GET");
  EXPECT_EQ(req.target(), "/");
}

TEST(Http1Request, HeadLenStopsAtTheBlankLineBeforeABodyOrAPipelinedRequest) {
  std::string head = "POST /p HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\n\r\n";
  RequestHead req;
  Verdict v = parse_request(head + "hello" + std::string(kGet), req);
  ASSERT_EQ(v.kind, Verdict::kOk) << v.reason;
  EXPECT_EQ(v.head_len, head.size());
  EXPECT_EQ(req.target(), "/p");
}

TEST(Http1Request, TrimsOptionalWhitespaceAroundFieldValues) {
  RequestHead req = parse_ok(
      "GET / HTTP/1.1\r\nHost:a.example\r\nX-A: \t value with  inner \t \r\nX-B:v\r\n"
      "X-Empty: \r\n\r\n");
  EXPECT_EQ(req.host(), "a.example");
  EXPECT_EQ(req.get("x-a"), "value with  inner");
  EXPECT_EQ(req.get("X-B"), "v");
  EXPECT_EQ(req.get("x-empty"), "");
  EXPECT_EQ(req.get("x-missing"), std::nullopt);
}

TEST(Http1Request, LooksUpFieldsCaseInsensitively) {
  RequestHead req = parse_ok(
      "GET / HTTP/1.1\r\nHost: a.example\r\nX-Dup: 1\r\nx-dup: 2\r\n"
      "Cache-Control: no-cache, No-Store\r\n\r\n");
  EXPECT_EQ(req.count("X-DUP"), 2);
  EXPECT_EQ(req.get("x-dup"), "1");
  EXPECT_TRUE(req.has_token("cache-control", "no-store"));
  EXPECT_FALSE(req.has_token("cache-control", "store"));
  EXPECT_EQ(req.count("nothing"), 0);
}

TEST(Http1Request, AcceptsABracketedIpv6HostWithAPort) {
  RequestHead req = parse_ok("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n");
  EXPECT_EQ(req.host().substr(0, 5), "[::1]");
}

TEST(Http1Request, ParsesHttp10) {
  RequestHead req = parse_ok("GET / HTTP/1.0\r\nHost: a.example\r\n\r\n");
  EXPECT_EQ(req.minor, 0);
}

struct KeepAliveCase {
  const char* version;
  const char* connection;  // "" for none
  bool keep_alive;
};

TEST(Http1Request, KeepAliveFollowsVersionAndConnection) {
  const KeepAliveCase cases[] = {
      {"HTTP/1.1", "", true},
      {"HTTP/1.1", "close", false},
      {"HTTP/1.1", "Keep-Alive, Close", false},
      {"HTTP/1.1", "keep-alive", true},
      {"HTTP/1.0", "", false},
      {"HTTP/1.0", "keep-alive", true},
      {"HTTP/1.0", "Keep-Alive", true},
      {"HTTP/1.0", "close", false},
  };
  for (const auto& c : cases) {
    std::string raw = "GET / "s + c.version + "\r\nHost: a.example\r\n";
    if (*c.connection) raw += "Connection: "s + c.connection + "\r\n";
    RequestHead req = parse_ok(raw + "\r\n");
    EXPECT_EQ(req.keep_alive, c.keep_alive) << c.version << " Connection: " << c.connection;
  }
}

TEST(Http1Request, DetectsAnUpgradeOnlyWithUpgradeInConnection) {
  RequestHead ws = parse_ok(
      "GET /ws HTTP/1.1\r\nHost: a.example\r\nConnection: keep-alive, Upgrade\r\n"
      "Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
  EXPECT_TRUE(ws.upgrade);
  EXPECT_EQ(ws.body.kind, BodyKind::kNone);

  RequestHead no_connection =
      parse_ok("GET / HTTP/1.1\r\nHost: a.example\r\nUpgrade: websocket\r\n\r\n");
  EXPECT_FALSE(no_connection.upgrade);
}

TEST(Http1Request, IgnoresUpgradeInHttp10) {
  // RFC 9110 section 7.8: a server MUST ignore Upgrade in an HTTP/1.0 request.
  RequestHead req = parse_ok(
      "GET /ws HTTP/1.0\r\nHost: a.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
  EXPECT_FALSE(req.upgrade);
}

TEST(Http1Request, NotesExpect100Continue) {
  RequestHead req = parse_ok(
      "PUT /f HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_TRUE(req.expect_continue);
  EXPECT_EQ(req.body.kind, BodyKind::kLength);
  EXPECT_EQ(req.body.length, 5u);

  RequestHead mixed_case = parse_ok(
      "PUT /f HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\nExpect: 100-Continue\r\n\r\n");
  EXPECT_TRUE(mixed_case.expect_continue);
}

TEST(Http1Request, FramesAContentLengthBody) {
  RequestHead req =
      parse_ok("POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length:  1234 \r\n\r\n");
  EXPECT_EQ(req.body.kind, BodyKind::kLength);
  EXPECT_EQ(req.body.length, 1234u);

  RequestHead empty = parse_ok("POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(empty.body.length, 0u);
  EXPECT_NE(empty.body.kind, BodyKind::kChunked);
  EXPECT_NE(empty.body.kind, BodyKind::kUntilClose);
}

TEST(Http1Request, FramesAChunkedBody) {
  RequestHead req =
      parse_ok("POST / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding:  chunked \r\n\r\n");
  EXPECT_EQ(req.body.kind, BodyKind::kChunked);
}

TEST(Http1Request, ARequestWithoutFramingHasNoBody) {
  RequestHead req = parse_ok("POST / HTTP/1.1\r\nHost: a.example\r\n\r\n");
  EXPECT_EQ(req.body.kind, BodyKind::kNone);
}

TEST(Http1Request, AbsoluteFormNamingTheHostBecomesItsPath) {
  std::string raw = "GET http://a.example/p?q=1 HTTP/1.1\r\nHost: a.example\r\n\r\n";
  RequestHead req = parse_ok(raw);
  EXPECT_EQ(req.target(), "/p?q=1");
  EXPECT_EQ(req.host(), "a.example");

  std::string up;
  append_upstream_head(req, {"203.0.113.7", false}, up);
  Lines lines = split_head(up);
  EXPECT_EQ(lines.start, "GET /p?q=1 HTTP/1.1");
  EXPECT_EQ(lines.values("host"), std::vector<std::string>{"a.example"});

  RequestHead with_port =
      parse_ok("GET http://a.example:8080/x HTTP/1.1\r\nHost: a.example:8080\r\n\r\n");
  EXPECT_EQ(with_port.target(), "/x");
}

TEST(Http1Request, AbsoluteFormWithoutAPathIsRefusedNotForwardedWithAnEmptyTarget) {
  RequestHead req;
  Verdict v = parse_request("GET http://a.example HTTP/1.1\r\nHost: a.example\r\n\r\n", req);
  EXPECT_EQ(v.kind, Verdict::kBad);
  EXPECT_EQ(v.status, 400);
}

TEST(Http1Request, ReusingAHeadForgetsThePreviousRequest) {
  RequestHead req;
  ASSERT_EQ(parse_request("POST /ws HTTP/1.0\r\nHost: b.example\r\nConnection: upgrade\r\n"
                          "Upgrade: x\r\nExpect: 100-continue\r\n\r\n",
                          req)
                .kind,
            Verdict::kOk);
  ASSERT_EQ(parse_request("PUT /f HTTP/1.1\r\nHost: c.example\r\nTransfer-Encoding: chunked\r\n"
                          "Expect: 100-continue\r\n\r\n",
                          req)
                .kind,
            Verdict::kOk);
  ASSERT_EQ(parse_request(kGet, req).kind, Verdict::kOk);
  EXPECT_EQ(req.method(), "GET");
  EXPECT_EQ(req.host(), "a.example");
  EXPECT_EQ(req.minor, 1);
  EXPECT_EQ(req.body.kind, BodyKind::kNone);
  EXPECT_TRUE(req.keep_alive);
  EXPECT_FALSE(req.upgrade);
  EXPECT_FALSE(req.expect_continue);
  EXPECT_EQ(req.fields.size(), 1u);
}

TEST(Http1Request, EveryProperPrefixOfAValidHeadIsIncomplete) {
  const std::string heads[] = {
      std::string(kGet),
      "\r\n\r\nGET / HTTP/1.1\r\nHost: a.example\r\n\r\n",
      "POST /submit?x=1 HTTP/1.1\r\nHost: a.example:8080\r\nContent-Length: 11\r\n"
      "Content-Type: text/plain\r\n\r\n",
      "PUT /u HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n"
      "Expect: 100-continue\r\n\r\n",
      "GET /ws HTTP/1.1\r\nHost: a.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
      "GET http://a.example/ HTTP/1.0\r\nHost: a.example\r\nConnection: keep-alive\r\n"
      "X-Empty:\r\n\r\n",
  };
  for (const auto& head : heads) {
    for (std::size_t n = 0; n < head.size(); ++n) {
      RequestHead req;
      Verdict v = parse_request(std::string_view(head).substr(0, n), req);
      EXPECT_EQ(v.kind, Verdict::kIncomplete) << printable(head.substr(0, n)) << ": " << v.reason;
    }
    parse_ok(head);
  }
}

TEST(Http1Request, AHeadOfExactlyMaxHeadBytesIsAccepted) {
  Limits limits;
  limits.max_head = 128;
  std::string head = "GET / HTTP/1.1\r\nHost: a.example\r\nX-Pad: ";
  head += std::string(limits.max_head - head.size() - 4, 'p') + "\r\n\r\n";
  ASSERT_EQ(head.size(), limits.max_head);
  RequestHead req;
  EXPECT_EQ(parse_request(head, req, limits).kind, Verdict::kOk);

  head.insert(head.size() - 4, "p");
  Verdict v = parse_request(head, req, limits);
  EXPECT_EQ(v.kind, Verdict::kBad);
  EXPECT_EQ(v.status, 431);
}

TEST(Http1Request, AnUnfinishedHeadPastMaxHeadGets431WithoutWaiting) {
  Limits limits;
  limits.max_head = 128;
  std::string partial = "GET / HTTP/1.1\r\nHost: a.example\r\nX-Pad: " + std::string(200, 'p');
  RequestHead req;
  Verdict v = parse_request(partial, req, limits);
  EXPECT_EQ(v.kind, Verdict::kBad);
  EXPECT_EQ(v.status, 431);

  std::string long_line = "GET /" + std::string(200, 'a');
  v = parse_request(long_line, req, limits);
  EXPECT_EQ(v.kind, Verdict::kBad);
  EXPECT_EQ(v.status, 431);
}

TEST(Http1Request, AcceptsExactlyMaxFields) {
  Limits limits;
  limits.max_fields = 5;
  std::string raw = "GET / HTTP/1.1\r\nHost: a.example\r\n";
  for (int i = 0; i < 4; ++i) raw += "X-" + std::to_string(i) + ": v\r\n";
  RequestHead req;
  EXPECT_EQ(parse_request(raw + "\r\n", req, limits).kind, Verdict::kOk);
  Verdict v = parse_request(raw + "X-4: v\r\n\r\n", req, limits);
  EXPECT_EQ(v.kind, Verdict::kBad);
  EXPECT_EQ(v.status, 431);
}

// NUL and bare CR/LF fail before the blank line; other bad bytes when the head is
// complete (the smuggling corpus below), within the header timeout.
TEST(Http1Request, ANulOrBareLineBreakFailsAtOnceWithoutWaitingForTheRestOfTheHead) {
  const std::string prefixes[] = {
      "GET / HTTP/1.1\n",
      "GET / HTTP/1.1\r\nHost: a.example\n",
      "GET / HTTP/1.1\r\nHost: a\0"s,
      "GET / HTTP/1.1\r\nHost: a.example\rX",
  };
  for (const auto& p : prefixes) {
    RequestHead req;
    Verdict v = parse_request(p, req);
    EXPECT_EQ(v.kind, Verdict::kBad) << printable(p);
    EXPECT_EQ(v.status, 400) << printable(p);
  }
}

// ---------------------------------------------------------------------------------------
// The smuggling corpus: every request here is refused, with the status noted.

struct BadRequest {
  const char* what;
  std::string raw;
  int status;
};

std::string post_with(const std::string& fields, const char* version = "HTTP/1.1") {
  return "POST / "s + version + "\r\nHost: a.example\r\n" + fields + "\r\n";
}

std::string get_with_version(const char* version) {
  return "GET / "s + version + "\r\nHost: a.example\r\n\r\n";
}

std::vector<BadRequest> smuggling_corpus() {
  std::string many_fields = "GET / HTTP/1.1\r\nHost: a.example\r\n";
  for (int i = 0; i < 100; ++i) many_fields += "X-" + std::to_string(i) + ": v\r\n";
  many_fields += "\r\n";
  std::string big_head =
      "GET / HTTP/1.1\r\nHost: a.example\r\nX-Pad: " + std::string(65 * 1024, 'p') + "\r\n\r\n";
  return {
      {"CL then TE", post_with("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"), 400},
      {"TE then CL", post_with("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"), 400},
      {"CL 0 with TE", post_with("Content-Length: 0\r\nTransfer-Encoding: chunked\r\n"), 400},
      {"duplicate CL, same value", post_with("Content-Length: 5\r\nContent-Length: 5\r\n"), 400},
      {"duplicate CL, other value", post_with("Content-Length: 5\r\nContent-Length: 6\r\n"), 400},
      {"CL list", post_with("Content-Length: 5, 5\r\n"), 400},
      {"CL list without space", post_with("Content-Length: 5,5\r\n"), 400},
      {"CL plus sign", post_with("Content-Length: +5\r\n"), 400},
      {"CL minus sign", post_with("Content-Length: -5\r\n"), 400},
      {"CL space inside", post_with("Content-Length: 5 5\r\n"), 400},
      {"CL hex prefix", post_with("Content-Length: 0x5\r\n"), 400},
      {"CL hex digits", post_with("Content-Length: 1f\r\n"), 400},
      {"CL empty", post_with("Content-Length:\r\n"), 400},
      {"CL blank", post_with("Content-Length:  \r\n"), 400},
      {"CL 2^64", post_with("Content-Length: 18446744073709551616\r\n"), 400},
      {"CL 20 nines", post_with("Content-Length: 99999999999999999999\r\n"), 400},
      {"CL 30 digits", post_with("Content-Length: 100000000000000000000000000005\r\n"), 400},
      {"CL decimal point", post_with("Content-Length: 5.0\r\n"), 400},
      {"obs-fold with SP", post_with("X-A: b\r\n c\r\n"), 400},
      {"obs-fold with HTAB", post_with("X-A: b\r\n\tc\r\n"), 400},
      {"obs-fold of TE", post_with("Transfer-Encoding:\r\n chunked\r\n"), 400},
      {"first field line starts with SP", "GET / HTTP/1.1\r\n Host: a.example\r\n\r\n", 400},
      {"first field line starts with HTAB", "GET / HTTP/1.1\r\n\tX: y\r\nHost: a.example\r\n\r\n",
       400},
      {"bare LF after the request line", "GET / HTTP/1.1\nHost: a.example\r\n\r\n", 400},
      {"bare LF after a field", "GET / HTTP/1.1\r\nHost: a.example\nX: y\r\n\r\n", 400},
      {"bare LF as the final blank line", "GET / HTTP/1.1\r\nHost: a.example\r\n\n", 400},
      {"bare LF everywhere", "GET / HTTP/1.1\nHost: a.example\n\n", 400},
      {"bare LF as a leading empty line", "\nGET / HTTP/1.1\r\nHost: a.example\r\n\r\n", 400},
      {"bare CR in a field", "GET / HTTP/1.1\r\nHost: a.example\rX: y\r\n\r\n", 400},
      {"bare CR in the request line", "GET /\r HTTP/1.1\r\nHost: a.example\r\n\r\n", 400},
      {"bare CR as the final blank line", "GET / HTTP/1.1\r\nHost: a.example\r\n\r\r\n", 400},
      {"NUL in a value", post_with("X-A: a\0b\r\n"s), 400},
      {"NUL in a name", post_with("X\0A: b\r\n"s), 400},
      {"control in a value", post_with("X-A: a\x01z\r\n"), 400},
      {"DEL in a value", post_with("X-A: a\x7fz\r\n"), 400},
      {"SP before the colon", "GET / HTTP/1.1\r\nHost : a.example\r\n\r\n", 400},
      {"SP before the colon of CL", post_with("Content-Length : 5\r\n"), 400},
      {"HTAB before the colon of TE", post_with("Transfer-Encoding\t: chunked\r\n"), 400},
      {"empty field name", post_with(": v\r\n"), 400},
      {"field line without a colon", post_with("X-A\r\n"), 400},
      {"TE chunked, chunked", post_with("Transfer-Encoding: chunked, chunked\r\n"), 400},
      {"TE gzip, chunked", post_with("Transfer-Encoding: gzip, chunked\r\n"), 400},
      {"TE chunked, gzip", post_with("Transfer-Encoding: chunked, gzip\r\n"), 400},
      {"TE xchunked", post_with("Transfer-Encoding: xchunked\r\n"), 400},
      {"TE chunkedx", post_with("Transfer-Encoding: chunkedx\r\n"), 400},
      {"TE chunked;q=1", post_with("Transfer-Encoding: chunked;q=1\r\n"), 400},
      {"TE identity", post_with("Transfer-Encoding: identity\r\n"), 400},
      {"TE empty", post_with("Transfer-Encoding:\r\n"), 400},
      {"two TE lines", post_with("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"),
       400},
      {"TE with VT before",
       post_with("Transfer-Encoding: \x0b"
                 "chunked\r\n"),
       400},
      {"TE with VT after", post_with("Transfer-Encoding: chunked\x0b\r\n"), 400},
      {"TE in HTTP/1.0", post_with("Transfer-Encoding: chunked\r\n", "HTTP/1.0"), 400},
      {"missing Host", "GET / HTTP/1.1\r\nX-A: b\r\n\r\n", 400},
      {"missing Host in HTTP/1.0", "GET / HTTP/1.0\r\n\r\n", 400},
      {"two Host lines", "GET / HTTP/1.1\r\nHost: a.example\r\nHost: a.example\r\n\r\n", 400},
      {"two different Host lines", "GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n",
       400},
      {"Host with a path", "GET / HTTP/1.1\r\nHost: a.example/x\r\n\r\n", 400},
      {"Host with userinfo", "GET / HTTP/1.1\r\nHost: user@a.example\r\n\r\n", 400},
      {"Host with a space", "GET / HTTP/1.1\r\nHost: a .example\r\n\r\n", 400},
      {"Host with a quote", "GET / HTTP/1.1\r\nHost: a\"b.example\r\n\r\n", 400},
      {"Host with a backslash", "GET / HTTP/1.1\r\nHost: a\\b.example\r\n\r\n", 400},
      {"Host with a bad port", "GET / HTTP/1.1\r\nHost: a.example:8x\r\n\r\n", 400},
      {"absolute-form naming another host",
       "GET http://b.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n", 400},
      {"absolute-form with userinfo",
       "GET http://a.example@b.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n", 400},
      {"absolute-form with another port",
       "GET http://a.example:8080/ HTTP/1.1\r\nHost: a.example\r\n\r\n", 400},
      {"CONNECT", "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n", 405},
      {"HTTP/2.0", get_with_version("HTTP/2.0"), 505},
      {"HTTP/1.2", get_with_version("HTTP/1.2"), 505},
      {"HTTP/3.0", get_with_version("HTTP/3.0"), 505},
      {"version HTTP/1.x", get_with_version("HTTP/1.x"), 400},
      {"version HTTP/11", get_with_version("HTTP/11"), 400},
      {"version http/1.1", get_with_version("http/1.1"), 400},
      {"version HTTP/1", get_with_version("HTTP/1"), 400},
      {"version HTTP/1.10", get_with_version("HTTP/1.10"), 400},
      {"version missing", "GET /\r\nHost: a.example\r\n\r\n", 400},
      {"two spaces in the request line", "GET  / HTTP/1.1\r\nHost: a.example\r\n\r\n", 400},
      {"HTAB in the request line", "GET\t/ HTTP/1.1\r\nHost: a.example\r\n\r\n", 400},
      {"trailing SP after the version", "GET / HTTP/1.1 \r\nHost: a.example\r\n\r\n", 400},
      {"control in the target", "GET /a\x01z HTTP/1.1\r\nHost: a.example\r\n\r\n", 400},
      {"target not origin-form", "GET a HTTP/1.1\r\nHost: a.example\r\n\r\n", 400},
      {"separator in the method", "G(T / HTTP/1.1\r\nHost: a.example\r\n\r\n", 400},
      {"head over max_head", big_head, 431},
      {"too many fields", many_fields, 431},
      {"upgrade with a CL body",
       "GET /ws HTTP/1.1\r\nHost: a.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
       "Content-Length: 5\r\n\r\nhello",
       400},
      {"upgrade with a chunked body",
       "GET /ws HTTP/1.1\r\nHost: a.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
       "Transfer-Encoding: chunked\r\n\r\n",
       400},
      {"Expect other than 100-continue", post_with("Content-Length: 5\r\nExpect: 200-ok\r\n"), 417},
  };
}

TEST(Http1Smuggling, EveryAmbiguousRequestIsRefused) {
  for (const auto& c : smuggling_corpus()) {
    RequestHead req;
    Verdict v = parse_request(c.raw, req);
    EXPECT_EQ(v.kind, Verdict::kBad) << c.what << ": " << printable(c.raw.substr(0, 200));
    EXPECT_EQ(v.status, c.status) << c.what << " (" << v.reason << ")";
    EXPECT_NE(std::string_view(v.reason), "") << c.what;
  }
}

TEST(Http1Smuggling, RefusalDoesNotDependOnWhatFollows) {
  for (const auto& c : smuggling_corpus()) {
    RequestHead req;
    Verdict v = parse_request(c.raw + std::string(kGet), req);
    EXPECT_EQ(v.kind, Verdict::kBad) << c.what;
    EXPECT_EQ(v.status, c.status) << c.what;
  }
}

// ---------------------------------------------------------------------------------------
// Response heads.

TEST(Http1Response, ParsesStatusReasonAndContentLength) {
  std::string head = "HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\n";
  ResponseHead resp;
  Verdict v = parse_response(head + "hello", "GET", resp);
  ASSERT_EQ(v.kind, Verdict::kOk) << v.reason;
  EXPECT_EQ(v.head_len, head.size());
  EXPECT_EQ(resp.status, 404);
  EXPECT_EQ(resp.reason(), "Not Found");
  EXPECT_EQ(resp.minor, 1);
  EXPECT_EQ(resp.body.kind, BodyKind::kLength);
  EXPECT_EQ(resp.body.length, 5u);
  EXPECT_TRUE(resp.keep_alive);
}

TEST(Http1Response, AcceptsAnEmptyReason) {
  ResponseHead resp = parse_response_ok("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.reason(), "");
}

struct FramingCase {
  const char* what;
  const char* method;
  std::string raw;
  BodyKind kind;
};

TEST(Http1Response, FramingFollowsMethodStatusAndFields) {
  const FramingCase cases[] = {
      {"HEAD with CL", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", BodyKind::kNone},
      {"HEAD with TE", "HEAD", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
       BodyKind::kNone},
      {"HEAD without framing", "HEAD", "HTTP/1.1 200 OK\r\n\r\n", BodyKind::kNone},
      {"100 Continue", "GET", "HTTP/1.1 100 Continue\r\n\r\n", BodyKind::kNone},
      {"101", "GET",
       "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
       BodyKind::kNone},
      {"103 Early Hints", "GET", "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n",
       BodyKind::kNone},
      {"204", "GET", "HTTP/1.1 204 No Content\r\n\r\n", BodyKind::kNone},
      {"304 with CL", "GET", "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n",
       BodyKind::kNone},
      {"chunked", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
       BodyKind::kChunked},
      {"CL", "POST", "HTTP/1.1 201 Created\r\nContent-Length: 7\r\n\r\n", BodyKind::kLength},
      {"until close", "GET", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n",
       BodyKind::kUntilClose},
      {"HTTP/1.0 until close", "GET", "HTTP/1.0 200 OK\r\n\r\n", BodyKind::kUntilClose},
  };
  for (const auto& c : cases) {
    ResponseHead resp;
    Verdict v = parse_response(c.raw, c.method, resp);
    ASSERT_EQ(v.kind, Verdict::kOk) << c.what << ": " << v.reason;
    EXPECT_EQ(resp.body.kind, c.kind) << c.what;
    if (c.kind == BodyKind::kUntilClose) {
      EXPECT_FALSE(resp.keep_alive) << c.what;
    }
  }
}

TEST(Http1Response, KeepAliveFollowsVersionAndConnection) {
  EXPECT_TRUE(parse_response_ok("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").keep_alive);
  EXPECT_FALSE(
      parse_response_ok("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
          .keep_alive);
  EXPECT_FALSE(parse_response_ok("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").keep_alive);
  EXPECT_TRUE(
      parse_response_ok("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")
          .keep_alive);
}

TEST(Http1Response, EveryProperPrefixOfAValidHeadIsIncomplete) {
  const std::string head =
      "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (std::size_t n = 0; n < head.size(); ++n) {
    ResponseHead resp;
    Verdict v = parse_response(std::string_view(head).substr(0, n), "GET", resp);
    EXPECT_EQ(v.kind, Verdict::kIncomplete) << printable(head.substr(0, n));
  }
}

TEST(Http1Response, EveryAmbiguousResponseGets502) {
  const NamedInput cases[] = {
      {"CL then TE", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"},
      {"TE then CL", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"},
      {"duplicate CL, same value",
       "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"},
      {"duplicate CL, other value",
       "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"},
      {"CL list", "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n"},
      {"CL sign", "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n"},
      {"CL overflow", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n"},
      {"TE gzip, chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"},
      {"TE xchunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n"},
      {"TE in HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"},
      {"bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n"},
      {"bare CR", "HTTP/1.1 200 OK\r\nContent-Length: 0\rX: y\r\n\r\n"},
      {"obs-fold", "HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 0\r\n\r\n"},
      {"SP before the colon", "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n"},
      {"NUL in a value", "HTTP/1.1 200 OK\r\nX-A: a\0b\r\n\r\n"s},
      {"two-digit status", "HTTP/1.1 20 OK\r\n\r\n"},
      {"four-digit status", "HTTP/1.1 2000 OK\r\n\r\n"},
      {"letters for a status", "HTTP/1.1 abc OK\r\n\r\n"},
      {"HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n"},
      {"garbage version", "HTTP/1.x 200 OK\r\n\r\n"},
      {"not HTTP", "SSH-2.0-OpenSSH_9.2\r\n\r\n"},
  };
  for (const auto& c : cases) {
    ResponseHead resp;
    Verdict v = parse_response(c.raw, "GET", resp);
    EXPECT_EQ(v.kind, Verdict::kBad) << c.what;
    EXPECT_EQ(v.status, 502) << c.what << " (" << v.reason << ")";
  }
}

TEST(Http1Response, AnOversizedHeadGets502) {
  Limits limits;
  limits.max_head = 64;
  ResponseHead resp;
  Verdict v = parse_response("HTTP/1.1 200 OK\r\nX-Pad: " + std::string(100, 'p') + "\r\n\r\n",
                             "GET", resp, limits);
  EXPECT_EQ(v.kind, Verdict::kBad);
  EXPECT_EQ(v.status, 502);
}

}  // namespace
}  // namespace sandboxd::http1
