// HTTP/1.1 for the preview edge, pure (no I/O): strict parsing of request and response
// heads, message framing (RFC 9112 section 6), a streaming chunked decoder, and the heads
// the edge sends on. Fuzzed (tests/fuzz/http1_fuzz.cpp) and unit-tested with a smuggling
// corpus (tests/unit/http1_test.cpp).
//
// Contract: anything two HTTP implementations could frame differently is refused, never
// "repaired": bare LF or CR, obs-fold, whitespace before a colon, NUL or other controls,
// Content-Length with Transfer-Encoding, more than one Content-Length line, any
// Content-Length that is not plain digits, a Transfer-Encoding other than exactly
// `chunked`, chunked in HTTP/1.0, malformed chunk sizes or chunk ends. Bodies are never
// forwarded in the client's framing: the edge re-encodes chunked data with its own chunk
// lines (and drops trailers), so what a backend parses is only what this code checked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sandboxd::http1 {

// How a message's body ends.
enum class BodyKind {
  kNone,        // no body
  kLength,      // exactly `length` bytes
  kChunked,     // chunked transfer coding (ChunkedDecoder)
  kUntilClose,  // responses only: every byte until the backend closes
};

struct Body {
  BodyKind kind = BodyKind::kNone;
  uint64_t length = 0;  // kLength only
};

// One header line, as offsets into Head::raw.
struct Field {
  uint32_t name_off = 0, name_len = 0, value_off = 0, value_len = 0;
};

// A parsed message head. `raw` holds the head's bytes; every view points into it, so a
// Head is moved, never copied into a view's lifetime.
class Head {
 public:
  std::string raw;
  std::vector<Field> fields;

  std::string_view name(const Field& f) const { return view(f.name_off, f.name_len); }
  // The value without surrounding whitespace.
  std::string_view value(const Field& f) const { return view(f.value_off, f.value_len); }
  // The first field named `name` (ASCII case-insensitive).
  std::optional<std::string_view> get(std::string_view name) const;
  int count(std::string_view name) const;
  // True when some field named `name` holds `token` in its comma-separated list
  // (case-insensitive), e.g. has_token("connection", "close").
  bool has_token(std::string_view name, std::string_view token) const;

 protected:
  std::string_view view(uint32_t off, uint32_t len) const {
    return std::string_view(raw).substr(off, len);
  }
  void reset();
};

struct RequestHead : Head {
  std::string_view method() const { return view(0, method_len_); }
  std::string_view target() const { return view(target_off_, target_len_); }
  std::string_view host() const { return view(host_off_, host_len_); }
  int minor = 1;  // HTTP/1.<minor>, 0 or 1
  Body body;
  bool keep_alive = true;  // the client keeps the connection after this exchange
  bool upgrade = false;    // Upgrade with `upgrade` in Connection (a WebSocket handshake)
  bool expect_continue = false;

 private:
  friend struct Parser;
  uint32_t method_len_ = 0, target_off_ = 0, target_len_ = 0, host_off_ = 0, host_len_ = 0;
};

struct ResponseHead : Head {
  int status = 0;
  int minor = 1;
  std::string_view reason() const { return view(reason_off_, reason_len_); }
  Body body;
  bool keep_alive = true;  // the backend keeps the connection after this response

 private:
  friend struct Parser;
  uint32_t reason_off_ = 0, reason_len_ = 0;
};

struct Limits {
  std::size_t max_head = 64 * 1024;  // request line or status line + fields + blank line
  std::size_t max_fields = 100;
};

// The outcome of parsing a head at the start of a buffer.
struct Verdict {
  enum Kind { kIncomplete, kOk, kBad } kind = kIncomplete;
  std::size_t head_len = 0;  // kOk: bytes up to and including the blank line
  int status = 400;          // kBad: the answer (400, 405, 417, 431, 501, 505; 502 for responses)
  const char* reason = "";   // kBad: what was wrong, for the client and the log
};

// Parses the request head at the start of `buf` (leading empty lines, CRLF each, are
// skipped as RFC 9112 allows). kIncomplete until the blank line has arrived, except that
// a NUL, a bare CR or a bare LF fails at once and a head longer than max_head gets 431
// (other bad bytes fail when the head is complete; the header timeout bounds the wait). Requires
// exactly one Host (a valid authority); an absolute-form target must name the same
// host (it is then treated as its path); CONNECT gets 405; an Upgrade request may not
// have a body. Sets `out` on kOk.
Verdict parse_request(std::string_view buf, RequestHead& out, const Limits& limits = {});

// Why buf[from, end) cannot be part of a message head: a NUL, a CR not followed by LF
// (a CR at the very end may still get its LF) or an LF not after a CR; nullptr when
// none. Checking only the bytes that arrived since the last call keeps a head that
// drips in linear (parse_request checks the whole head again when it is complete).
const char* bad_head_byte(std::string_view buf, std::size_t from);

// Parses a backend's response head. `request_method` decides the framing (HEAD gets no
// body), as does the status (1xx, 204, 304: none). kBad (status 502) for anything
// ambiguous, as for requests.
Verdict parse_response(std::string_view buf, std::string_view request_method, ResponseHead& out,
                       const Limits& limits = {});

// Decodes a chunked body incrementally: feed it any split of the bytes, in order.
class ChunkedDecoder {
 public:
  struct Step {
    std::size_t consumed = 0;  // bytes of the input this step used
    std::string_view data;     // body data among them (a view into the input), maybe empty
    bool bad = false;          // the input is not valid chunked coding: stop
  };
  // Consumes from `in` up to the end of the next run of body data (or of the message).
  // Call again with the rest while consumed < in.size() and neither bad nor done().
  Step next(std::string_view in);
  // The last chunk and the trailer section have been consumed.
  bool done() const { return state_ == State::kDone; }
  void reset() { *this = ChunkedDecoder(); }

 private:
  enum class State {
    kSize,
    kExt,
    kSizeLf,
    kData,
    kDataCr,
    kDataLf,
    kTrailerStart,
    kTrailer,
    kTrailerLf,
    kFinalLf,
    kDone
  };
  State state_ = State::kSize;
  uint64_t remaining_ = 0;    // data bytes left in this chunk
  int size_digits_ = 0;       // hex digits of this chunk's size
  std::size_t line_len_ = 0;  // bytes of the current chunk extension
  std::size_t trailer_len_ = 0;
};

// Appends one chunk carrying `data` (nothing for empty data: that would end the body).
void append_chunk(std::string& out, std::string_view data);
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

// What the edge says about a client in the forwarding headers.
struct Forwarding {
  std::string_view client;  // the peer's address: "203.0.113.7" or "2001:db8::1"
  bool trusted = false;     // the peer is a trusted proxy: its X-Forwarded-*/Forwarded stay
};

// The head to send to the sandbox: the request line with an origin-form target and
// HTTP/1.1; the fields minus hop-by-hop ones (Connection and the fields it names,
// Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade, Expect) and,
// unless the peer is trusted, minus X-Forwarded-*, X-Real-IP and Forwarded; then
// `Transfer-Encoding: chunked` for a chunked body, the forwarding fields
// (X-Forwarded-For/-Proto/-Host, X-Real-IP, Forwarded; a trusted peer's values are kept
// and extended), and `Connection: upgrade` + Upgrade for an upgrade. Appends to `out`.
// (Connection never removes Host or Content-Length.)
void append_upstream_head(const RequestHead& req, const Forwarding& fwd, std::string& out);

// How the edge frames a response to the client.
struct ClientFraming {
  bool chunked = false;     // re-encode the body as chunks (an HTTP/1.1 client, chunked body)
  bool keep_alive = false;  // the client connection stays open after this response
  bool http10 = false;      // an HTTP/1.0 client: keep-alive must be announced
};
// The client's framing for `resp` to `req` (before any exchange-level decision to close).
ClientFraming client_framing(const RequestHead& req, const ResponseHead& resp);

// The head to send to the client: HTTP/1.1, the backend's status and reason, its fields
// minus hop-by-hop ones, then the edge's framing (Transfer-Encoding: chunked, or for an
// until-close body none) and Connection: close / keep-alive (HTTP/1.0) / upgrade (101).
void append_client_head(const ResponseHead& resp, const ClientFraming& framing, std::string& out);

// True for a comma-separated `list` containing `token` (case-insensitive, OWS ignored).
bool list_has_token(std::string_view list, std::string_view token);
bool iequals(std::string_view a, std::string_view b);

}  // namespace sandboxd::http1
