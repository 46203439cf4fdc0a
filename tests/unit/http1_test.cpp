#include "sandboxd/edge/http1.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace sandboxd::http1 {
namespace {

using namespace std::string_literals;

constexpr std::string_view kGet = "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n";

RequestHead parse_ok(const std::string& raw) {
  RequestHead req;
  Verdict v = parse_request(raw, req);
  EXPECT_EQ(v.kind, Verdict::kOk) << raw << "\nreason: " << v.reason;
  EXPECT_EQ(v.head_len, raw.size()) << raw;
  return req;
}

ResponseHead parse_response_ok(const std::string& raw, std::string_view method = "GET") {
  ResponseHead resp;
  Verdict v = parse_response(raw, method, resp);
  EXPECT_EQ(v.kind, Verdict::kOk) << raw << "\nreason: " << v.reason;
  EXPECT_EQ(v.head_len, raw.size()) << raw;
  return resp;
}

std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c >= 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// A produced head split by hand (not by the parser under test): its first line and fields.
struct Lines {
  std::string start;
  std::vector<std::pair<std::string, std::string>> fields;

  std::vector<std::string> values(std::string_view name) const {
    std::vector<std::string> out;
    for (const auto& [n, v] : fields) {
      if (iequals(n, name)) out.push_back(v);
    }
    return out;
  }
  bool has(std::string_view name) const { return !values(name).empty(); }
};

Lines split_head(const std::string& head) {
  Lines out;
  EXPECT_GE(head.size(), 4u);
  EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n") << printable(head);
  std::size_t pos = head.find("\r\n");
  out.start = head.substr(0, pos);
  pos += 2;
  while (pos + 2 <= head.size() && head.compare(pos, 2, "\r\n") != 0) {
    std::size_t end = head.find("\r\n", pos);
    std::string line = head.substr(pos, end - pos);
    std::size_t colon = line.find(':');
    EXPECT_NE(colon, std::string::npos) << line;
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    value.erase(value.find_last_not_of(" \t") + 1);
    out.fields.emplace_back(line.substr(0, colon), value);
    pos = end + 2;
  }
  return out;
}

bool is_tchar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// One Forwarded element (RFC 7239) as parameter -> value, quoted strings unquoted. Fails
// the test when a value that needs quoting is not quoted.
std::map<std::string, std::string> forwarded_pairs(std::string_view element) {
  std::map<std::string, std::string> out;
  while (!element.empty()) {
    std::size_t eq = element.find('=');
    if (eq == std::string_view::npos) {
      ADD_FAILURE() << "no '=' in " << element;
      break;
    }
    std::string name(element.substr(0, eq));
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    element.remove_prefix(eq + 1);
    std::string value;
    if (!element.empty() && element.front() == '"') {
      std::size_t close = element.find('"', 1);
      if (close == std::string_view::npos) {
        ADD_FAILURE() << "unterminated quoted string";
        break;
      }
      value = std::string(element.substr(1, close - 1));
      element.remove_prefix(close + 1);
    } else {
      std::size_t end = std::min(element.find(';'), element.size());
      value = std::string(element.substr(0, end));
      element.remove_prefix(end);
      EXPECT_TRUE(std::all_of(value.begin(), value.end(), is_tchar))
          << name << "=" << value << " needs quoting";
    }
    out[name] = value;
    if (!element.empty() && element.front() == ';') element.remove_prefix(1);
  }
  return out;
}

std::vector<std::string> forwarded_elements(std::string_view value) {
  std::vector<std::string> out;
  std::size_t start = 0;
  bool quoted = false;
  for (std::size_t i = 0; i <= value.size(); ++i) {
    if (i < value.size() && value[i] == '"') quoted = !quoted;
    if (i == value.size() || (value[i] == ',' && !quoted)) {
      std::string_view e = value.substr(start, i - start);
      while (!e.empty() && e.front() == ' ') e.remove_prefix(1);
      while (!e.empty() && e.back() == ' ') e.remove_suffix(1);
      out.emplace_back(e);
      start = i + 1;
    }
  }
  return out;
}

std::string upstream(const std::string& raw, Forwarding fwd = {"203.0.113.7", false}) {
  RequestHead req = parse_ok(raw);
  std::string out;
  append_upstream_head(req, fwd, out);
  return out;
}

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

TEST(Http1Request, AbsoluteFormWithoutAPathIsNeverForwardedWithAnEmptyTarget) {
  std::string raw = "GET http://a.example HTTP/1.1\r\nHost: a.example\r\n\r\n";
  RequestHead req;
  Verdict v = parse_request(raw, req);
  if (v.kind == Verdict::kBad) {
    EXPECT_EQ(v.status, 400);
    return;
  }
  ASSERT_EQ(v.kind, Verdict::kOk);
  std::string up;
  append_upstream_head(req, {"203.0.113.7", false}, up);
  EXPECT_EQ(split_head(up).start, "GET / HTTP/1.1");
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

struct BadResponse {
  const char* what;
  std::string raw;
};

TEST(Http1Response, EveryAmbiguousResponseGets502) {
  const BadResponse cases[] = {
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

struct BadChunked {
  const char* what;
  std::string raw;
};

TEST(Http1Chunked, RefusesMalformedCoding) {
  const BadChunked cases[] = {
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
  RequestHead req;
  Verdict v = parse_request(raw, req);
  if (v.kind == Verdict::kBad) {
    EXPECT_EQ(v.status, 400);
    return;
  }
  ASSERT_EQ(v.kind, Verdict::kOk);
  std::string up;
  append_upstream_head(req, {"203.0.113.7", false}, up);
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
