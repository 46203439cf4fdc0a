// libFuzzer target for the edge's HTTP/1.1 module (include/sandboxd/edge/http1.h): the
// bytes are a request and a response head plus what follows, fed to the parsers, the body
// framing and the head builders. abort()s on any broken invariant; deterministic (every
// choice comes from the input). Built and run by tests/fuzz/run.sh.
//
// The first byte picks options, the rest is the message:
//   'H' or 'h'        the response answers HEAD (else GET);
//   a lower-case byte tight Limits (max_head 512, max_fields 8);
//   bit 0             the peer is a trusted proxy;
//   bit 1             the peer's address is IPv6;
//   bit 2             the response goes to an HTTP/1.0 client.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sandboxd/edge/http1.h"

namespace sandboxd::http1 {
namespace {

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "http1_fuzz: broken invariant: %s\n", what);
  std::abort();
}

struct Options {
  std::string_view method = "GET";
  Limits limits;
  Forwarding fwd;
  bool http10_client = false;
};

Options options(unsigned char sel) {
  Options o;
  if (sel == 'H' || sel == 'h') o.method = "HEAD";
  if (sel >= 'a' && sel <= 'z') {
    o.limits.max_head = 512;
    o.limits.max_fields = 8;
  }
  o.fwd.trusted = (sel & 1) != 0;
  o.fwd.client = (sel & 2) != 0 ? "2001:db8::1" : "203.0.113.7";
  o.http10_client = (sel & 4) != 0;
  return o;
}

// Where the pieces of a split feed end: deterministic sizes of 1 to 8 bytes drawn from a
// generator seeded with the bytes themselves.
class Splitter {
 public:
  explicit Splitter(std::string_view bytes) {
    for (unsigned char c : bytes) state_ = (state_ ^ c) * 0x100000001b3ull;
  }
  std::size_t next_piece() {
    state_ = state_ * 6364136223846793005ull + 1442695040888963407ull;
    return 1 + static_cast<std::size_t>(state_ >> 61);
  }

 private:
  uint64_t state_ = 0xcbf29ce484222325ull;
};

struct Decoded {
  std::string data;
  std::size_t consumed = 0;
  bool done = false;
  bool bad = false;
};

// Feeds `in` to a fresh decoder: whole when `split` is null, else in the pieces it draws.
Decoded decode(std::string_view in, Splitter* split) {
  ChunkedDecoder dec;
  Decoded out;
  while (out.consumed < in.size() && !out.bad && !dec.done()) {
    std::size_t piece = split ? split->next_piece() : in.size();
    std::string_view rest = in.substr(out.consumed, piece);
    while (!rest.empty() && !out.bad && !dec.done()) {
      ChunkedDecoder::Step step = dec.next(rest);
      check(step.consumed <= rest.size(), "next() consumed more than it was given");
      check(step.data.empty() || (step.data.data() >= rest.data() &&
                                  step.data.data() + step.data.size() <= rest.data() + rest.size()),
            "next() data is not a view into its input");
      check(step.consumed > 0 || step.bad || dec.done(), "next() stalled on non-empty input");
      out.data += step.data;
      out.consumed += step.consumed;
      rest.remove_prefix(step.consumed);
      out.bad = step.bad;
    }
  }
  out.done = dec.done();
  check(!(out.done && out.bad), "decoder both done and bad");
  return out;
}

// A chunked body decodes the same whatever the split, and what it decodes to survives the
// edge's own re-encoding.
void check_chunked(std::string_view body) {
  Decoded whole = decode(body, nullptr);
  Splitter split(body);
  Decoded pieces = decode(body, &split);
  check(whole.data == pieces.data, "chunked data differs between whole and split feeds");
  check(whole.done == pieces.done, "chunked done differs between whole and split feeds");
  check(whole.bad == pieces.bad, "chunked bad differs between whole and split feeds");
  check(!whole.done || whole.consumed == pieces.consumed,
        "chunked body ends at different bytes in whole and split feeds");

  std::string encoded;
  Splitter cut(whole.data);
  for (std::string_view rest = whole.data; !rest.empty();) {
    std::size_t n = std::min(rest.size(), cut.next_piece() * 97);
    append_chunk(encoded, rest.substr(0, n));
    rest.remove_prefix(n);
  }
  encoded += kLastChunk;
  Decoded again = decode(encoded + "GET", nullptr);
  check(again.done && !again.bad, "re-encoded body does not decode");
  check(again.consumed == encoded.size(), "re-encoded body does not end at its last chunk");
  check(again.data == whole.data, "re-encoded body decodes to other data");
}

Limits roomy() {
  Limits l;
  l.max_head = 1 << 20;
  l.max_fields = 1 << 12;
  return l;
}

bool is_request_status(int s) {
  return s == 400 || s == 405 || s == 417 || s == 431 || s == 501 || s == 505;
}

void check_request(std::string_view msg, const Options& o) {
  RequestHead req;
  Verdict v = parse_request(msg, req, o.limits);
  if (v.kind == Verdict::kBad) {
    check(is_request_status(v.status), "request refused with an unexpected status");
    check(v.reason != nullptr && *v.reason != '\0', "request refused without a reason");
    return;
  }
  if (v.kind != Verdict::kOk) return;
  check(v.head_len > 0 && v.head_len <= msg.size(), "head_len out of range");
  // Up to four leading empty lines are skipped before the head is counted.
  check(v.head_len <= o.limits.max_head + 8, "head longer than max_head accepted");
  check(req.fields.size() <= o.limits.max_fields, "more than max_fields accepted");
  check(req.minor == 0 || req.minor == 1, "minor version out of range");
  check(!req.method().empty() && !req.target().empty() && !req.host().empty(),
        "empty method, target or host");
  check(req.method() != "CONNECT", "CONNECT accepted");
  check(req.count("host") == 1, "not exactly one Host");
  check(req.body.kind != BodyKind::kUntilClose, "request body until close");
  check(req.body.kind != BodyKind::kChunked || req.minor == 1, "chunked HTTP/1.0 request");
  check(!req.upgrade || req.body.kind == BodyKind::kNone, "upgrade with a body");

  RequestHead exact;
  Verdict ve = parse_request(msg.substr(0, v.head_len), exact, o.limits);
  check(ve.kind == Verdict::kOk && ve.head_len == v.head_len, "the head alone parses otherwise");
  RequestHead shorter;
  check(
      parse_request(msg.substr(0, v.head_len - 1), shorter, o.limits).kind == Verdict::kIncomplete,
      "a proper prefix of a valid head is not incomplete");

  RequestHead reused;
  check(parse_request("PUT http://b.example/x HTTP/1.1\r\nHost: b.example\r\nConnection: close\r\n"
                      "Transfer-Encoding: chunked\r\nExpect: 100-continue\r\nX-A: 1\r\n\r\n",
                      reused)
                .kind == Verdict::kOk,
        "the request that dirties a head is bad");
  Verdict vr = parse_request(msg, reused, o.limits);
  check(vr.kind == Verdict::kOk && vr.head_len == v.head_len, "a reused head parses otherwise");
  check(reused.method() == req.method() && reused.target() == req.target() &&
            reused.host() == req.host() && reused.minor == req.minor &&
            reused.body.kind == req.body.kind && reused.body.length == req.body.length &&
            reused.keep_alive == req.keep_alive && reused.upgrade == req.upgrade &&
            reused.expect_continue == req.expect_continue &&
            reused.fields.size() == req.fields.size(),
        "a reused head keeps state from its previous request");

  if (req.body.kind == BodyKind::kChunked) check_chunked(msg.substr(v.head_len));

  std::string up;
  append_upstream_head(req, o.fwd, up);
  RequestHead back;
  Verdict vb = parse_request(up, back, roomy());
  check(vb.kind == Verdict::kOk, "the upstream head does not parse");
  check(vb.head_len == up.size(), "the upstream head has bytes after its blank line");
  check(back.method() == req.method(), "the upstream head has another method");
  check(back.target() == req.target(), "the upstream head has another target");
  check(back.host() == req.host(), "the upstream head has another host");
  check(back.minor == 1, "the upstream head is not HTTP/1.1");
  check(back.body.kind == req.body.kind && back.body.length == req.body.length,
        "the upstream head frames the body otherwise");
  check(back.upgrade == req.upgrade, "the upstream head upgrades otherwise");
  check(!back.expect_continue, "the upstream head carries Expect");
}

void check_response(std::string_view msg, const Options& o) {
  ResponseHead resp;
  Verdict v = parse_response(msg, o.method, resp, o.limits);
  if (v.kind == Verdict::kBad) {
    check(v.status == 502, "response refused with a status other than 502");
    check(v.reason != nullptr && *v.reason != '\0', "response refused without a reason");
    return;
  }
  if (v.kind != Verdict::kOk) return;
  check(v.head_len > 0 && v.head_len <= msg.size(), "head_len out of range");
  check(resp.status >= 100 && resp.status <= 999, "status out of range");
  const bool bodiless =
      o.method == "HEAD" || resp.status < 200 || resp.status == 204 || resp.status == 304;
  check(!bodiless || resp.body.kind == BodyKind::kNone, "a bodiless response has a body");
  check(resp.body.kind != BodyKind::kUntilClose || !resp.keep_alive,
        "an until-close response keeps the connection");
  ResponseHead shorter;
  check(parse_response(msg.substr(0, v.head_len - 1), o.method, shorter, o.limits).kind ==
            Verdict::kIncomplete,
        "a proper prefix of a valid response head is not incomplete");

  if (resp.body.kind == BodyKind::kChunked) check_chunked(msg.substr(v.head_len));

  RequestHead client;
  std::string client_raw = std::string(o.method) + " / HTTP/1." + (o.http10_client ? "0" : "1") +
                           "\r\nHost: a.example\r\nConnection: keep-alive\r\n\r\n";
  check(parse_request(client_raw, client).kind == Verdict::kOk, "the client request is bad");
  ClientFraming framing = client_framing(client, resp);
  check(!framing.chunked || resp.body.kind == BodyKind::kChunked, "chunked without a chunked body");
  check(!framing.chunked || !o.http10_client, "chunked for an HTTP/1.0 client");
  std::string head;
  append_client_head(resp, framing, head);
  ResponseHead back;
  Verdict vb = parse_response(head, o.method, back, roomy());
  check(vb.kind == Verdict::kOk, "the client head does not parse");
  check(vb.head_len == head.size(), "the client head has bytes after its blank line");
  check(back.status == resp.status && back.reason() == resp.reason(),
        "the client head has another status line");
  BodyKind expected = resp.body.kind;
  if (framing.chunked) expected = BodyKind::kChunked;
  if (!framing.chunked && resp.body.kind == BodyKind::kChunked) expected = BodyKind::kUntilClose;
  check(back.body.kind == expected, "the client head frames the body otherwise");
  check(back.body.length == resp.body.length, "the client head has another length");
  if (resp.status >= 200) {
    check(back.keep_alive == framing.keep_alive, "the client head says otherwise about closing");
  }
}

}  // namespace
}  // namespace sandboxd::http1

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const sandboxd::http1::Options o = sandboxd::http1::options(data[0]);
  std::string_view msg(reinterpret_cast<const char*>(data) + 1, size - 1);
  sandboxd::http1::check_request(msg, o);
  sandboxd::http1::check_response(msg, o);
  sandboxd::http1::check_chunked(msg);
  return 0;
}
