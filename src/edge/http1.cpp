#include "sandboxd/edge/http1.h"

#include <cctype>
#include <cstring>

namespace sandboxd::http1 {
namespace {

constexpr uint64_t kMaxChunkSize = uint64_t{1} << 60;
constexpr std::size_t kMaxChunkLine = 4096;  // a chunk-size line with its extensions
constexpr std::size_t kMaxTrailers = 16 * 1024;

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_tchar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

// A field value byte: visible ASCII, obs-text, SP or HTAB.
bool is_value_char(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Verdict bad(int status, const char* reason) {
  Verdict v;
  v.kind = Verdict::kBad;
  v.status = status;
  v.reason = reason;
  return v;
}

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// Plain decimal digits that fit comfortably in 64 bits.
std::optional<uint64_t> parse_length(std::string_view v) {
  if (v.empty() || v.size() > 18) return std::nullopt;
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

// uri-host [":" port]: a reg-name or IPv4 (unreserved, sub-delims, pct-encoded) or an
// IP literal in brackets, then an optional port of digits.
bool valid_authority(std::string_view host) {
  std::string_view port;
  if (!host.empty() && host[0] == '[') {
    std::size_t close = host.find(']');
    if (close == std::string_view::npos || close < 2) return false;
    for (char c : host.substr(1, close - 1))
      if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.')) return false;
    std::string_view rest = host.substr(close + 1);
    if (!rest.empty() && rest[0] != ':') return false;
    port = rest.empty() ? rest : rest.substr(1);
    if (!rest.empty() && port.empty()) return false;
  } else {
    std::size_t colon = host.find(':');
    std::string_view name = host.substr(0, colon);
    if (name.empty()) return false;
    for (char c : name) {
      unsigned char u = static_cast<unsigned char>(c);
      if (!(std::isalnum(u) || std::strchr("-._~!$&'()*+,;=%", c))) return false;
    }
    if (colon != std::string_view::npos) {
      port = host.substr(colon + 1);
      if (port.empty()) return false;
    }
  }
  if (port.size() > 5) return false;
  for (char c : port)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

bool list_has_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    std::size_t comma = list.find(',');
    if (iequals(trim(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

std::optional<std::string_view> Head::get(std::string_view n) const {
  for (const Field& f : fields)
    if (iequals(name(f), n)) return value(f);
  return std::nullopt;
}

int Head::count(std::string_view n) const {
  int c = 0;
  for (const Field& f : fields) c += iequals(name(f), n);
  return c;
}

bool Head::has_token(std::string_view n, std::string_view token) const {
  for (const Field& f : fields)
    if (iequals(name(f), n) && list_has_token(value(f), token)) return true;
  return false;
}

void Head::reset() {
  raw.clear();
  fields.clear();
}

// Shared by requests and responses: the start line is checked by the caller; this
// splits the head and checks every field line.
struct Parser {
  // Finds the head's end in `buf` from `start`; kIncomplete/kBad/kOk with head_len.
  static Verdict find_end(std::string_view buf, std::size_t start, const Limits& limits,
                          int too_large_status) {
    std::size_t end = buf.find("\r\n\r\n", start);
    std::size_t head_end = end == std::string_view::npos ? buf.size() : end + 4;
    if (const char* why = bad_head_byte(buf.substr(0, head_end), start)) return bad(400, why);
    if (head_end - start > limits.max_head)
      return bad(too_large_status, "the message head is too large");
    if (end == std::string_view::npos) return Verdict{};
    Verdict v;
    v.kind = Verdict::kOk;
    v.head_len = head_end;
    return v;
  }

  // Splits `h.raw` (start line + fields + CRLF CRLF) into fields after the start line;
  // returns the start line, or a kBad verdict.
  static Verdict split_fields(Head& h, const Limits& limits, std::string_view& start_line,
                              int bad_status) {
    std::string_view all(h.raw);
    std::size_t eol = all.find("\r\n");
    start_line = all.substr(0, eol);
    std::size_t pos = eol + 2;
    while (pos + 2 <= all.size()) {
      std::size_t end = all.find("\r\n", pos);
      if (end == pos) break;  // the blank line
      std::string_view line = all.substr(pos, end - pos);
      if (line[0] == ' ' || line[0] == '\t') return bad(bad_status, "obs-fold line in the head");
      std::size_t colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0)
        return bad(bad_status, "a header line without a name");
      for (std::size_t i = 0; i < colon; ++i)
        if (!is_tchar(static_cast<unsigned char>(line[i])))
          return bad(bad_status, "invalid character in a header name");
      std::size_t vb = colon + 1, ve = line.size();
      while (vb < ve && (line[vb] == ' ' || line[vb] == '\t')) ++vb;
      while (ve > vb && (line[ve - 1] == ' ' || line[ve - 1] == '\t')) --ve;
      for (std::size_t i = vb; i < ve; ++i)
        if (!is_value_char(static_cast<unsigned char>(line[i])))
          return bad(bad_status, "invalid character in a header value");
      if (h.fields.size() >= limits.max_fields)
        return bad(bad_status == 400 ? 431 : bad_status, "too many header fields");
      h.fields.push_back(Field{static_cast<uint32_t>(pos), static_cast<uint32_t>(colon),
                               static_cast<uint32_t>(pos + vb), static_cast<uint32_t>(ve - vb)});
      pos = end + 2;
    }
    return Verdict{Verdict::kOk};
  }

  // Content-Length / Transfer-Encoding per RFC 9112 6.1-6.3, refusing every ambiguity.
  static Verdict body_framing(const Head& h, int minor, Body& body, int bad_status) {
    int te = h.count("transfer-encoding");
    int cl = h.count("content-length");
    if (te > 0 && cl > 0) return bad(bad_status, "both Content-Length and Transfer-Encoding");
    if (te > 1) return bad(bad_status, "more than one Transfer-Encoding");
    if (cl > 1) return bad(bad_status, "more than one Content-Length");
    if (te == 1) {
      if (minor == 0) return bad(bad_status, "Transfer-Encoding in HTTP/1.0");
      if (!iequals(*h.get("transfer-encoding"), "chunked"))
        return bad(bad_status, "unsupported Transfer-Encoding (only chunked)");
      body.kind = BodyKind::kChunked;
      return Verdict{Verdict::kOk};
    }
    if (cl == 1) {
      auto n = parse_length(*h.get("content-length"));
      if (!n) return bad(bad_status, "invalid Content-Length");
      body.kind = *n == 0 ? BodyKind::kNone : BodyKind::kLength;
      body.length = *n;
    }
    return Verdict{Verdict::kOk};
  }

  static Verdict request(std::string_view buf, RequestHead& out, const Limits& limits) {
    std::size_t start = 0;
    while (start + 1 < buf.size() && buf[start] == '\r' && buf[start + 1] == '\n' && start < 8)
      start += 2;
    if (start < buf.size() && buf[start] == '\n') return bad(400, "bare LF in the message head");
    Verdict v = find_end(buf, start, limits, 431);
    if (v.kind != Verdict::kOk) return v;
    out.reset();
    out.raw.assign(buf.substr(start, v.head_len - start));
    out.body = Body{};
    out.upgrade = out.expect_continue = false;
    std::string_view line;
    if (Verdict f = split_fields(out, limits, line, 400); f.kind != Verdict::kOk) return f;

    std::size_t sp1 = line.find(' ');
    if (sp1 == std::string_view::npos || sp1 == 0) return bad(400, "malformed request line");
    std::size_t sp2 = line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || sp2 == sp1 + 1 ||
        line.find(' ', sp2 + 1) != std::string_view::npos)
      return bad(400, "malformed request line");
    for (std::size_t i = 0; i < sp1; ++i)
      if (!is_tchar(static_cast<unsigned char>(line[i]))) return bad(400, "invalid method");
    for (std::size_t i = sp1 + 1; i < sp2; ++i) {
      unsigned char c = static_cast<unsigned char>(line[i]);
      if (c <= 0x20 || c == 0x7f) return bad(400, "invalid request target");
    }
    std::string_view version = line.substr(sp2 + 1);
    if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
        version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9')
      return bad(400, "malformed HTTP version");
    if (version[5] != '1' || version[7] > '1') return bad(505, "only HTTP/1.0 and 1.1 are served");
    out.minor = version[7] - '0';
    out.method_len_ = static_cast<uint32_t>(sp1);
    out.target_off_ = static_cast<uint32_t>(sp1 + 1);
    out.target_len_ = static_cast<uint32_t>(sp2 - sp1 - 1);
    std::string_view method = out.method(), target = out.target();
    if (method == "CONNECT") return bad(405, "CONNECT is not served");

    if (out.count("host") != 1) return bad(400, "exactly one Host header is required");
    for (const Field& f : out.fields) {
      if (!iequals(out.name(f), "host")) continue;
      if (!valid_authority(out.value(f))) return bad(400, "invalid Host");
      out.host_off_ = f.value_off;
      out.host_len_ = f.value_len;
    }
    if (target[0] != '/') {
      if (target == "*") {
        if (method != "OPTIONS") return bad(400, "asterisk target is only for OPTIONS");
      } else {
        // absolute-form: scheme "://" authority path; the authority must be the Host.
        std::size_t sep = target.find("://");
        if (sep == std::string_view::npos ||
            !(iequals(target.substr(0, sep), "http") || iequals(target.substr(0, sep), "https")))
          return bad(400, "invalid request target");
        std::size_t auth = sep + 3;
        std::size_t path = target.find_first_of("/?", auth);
        std::string_view authority = target.substr(auth, path - auth);
        if (!iequals(authority, out.host())) return bad(400, "the target's host is not the Host");
        if (path == std::string_view::npos) return bad(400, "absolute target without a path");
        if (target[path] == '?') return bad(400, "absolute target without a path");
        out.target_off_ += static_cast<uint32_t>(path);
        out.target_len_ -= static_cast<uint32_t>(path);
      }
    }

    if (Verdict b = body_framing(out, out.minor, out.body, 400); b.kind != Verdict::kOk) return b;
    // RFC 9110 7.8: Upgrade in an HTTP/1.0 request is ignored.
    out.upgrade = out.minor == 1 && out.get("upgrade") && out.has_token("connection", "upgrade");
    if (out.upgrade && out.body.kind != BodyKind::kNone)
      return bad(400, "an Upgrade request may not have a body");
    if (auto expect = out.get("expect")) {
      if (out.count("expect") != 1 || !iequals(*expect, "100-continue"))
        return bad(417, "only Expect: 100-continue is supported");
      out.expect_continue = out.minor == 1 && out.body.kind != BodyKind::kNone;
    }
    out.keep_alive = out.minor == 1 ? !out.has_token("connection", "close")
                                    : out.has_token("connection", "keep-alive");
    v.kind = Verdict::kOk;
    return v;
  }

  static Verdict response(std::string_view buf, std::string_view method, ResponseHead& out,
                          const Limits& limits) {
    Verdict v = find_end(buf, 0, limits, 502);
    if (v.kind == Verdict::kBad) v.status = 502;
    if (v.kind != Verdict::kOk) return v;
    out.reset();
    out.raw.assign(buf.substr(0, v.head_len));
    out.body = Body{};
    std::string_view line;
    if (Verdict f = split_fields(out, limits, line, 502); f.kind != Verdict::kOk) return f;
    // HTTP/1.x SP 3DIGIT [SP reason]
    if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || (line[7] != '0' && line[7] != '1') ||
        line[8] != ' ')
      return bad(502, "malformed status line from the sandbox");
    int status = 0;
    for (int i = 9; i < 12; ++i) {
      if (line[i] < '0' || line[i] > '9') return bad(502, "malformed status line from the sandbox");
      status = status * 10 + (line[i] - '0');
    }
    if (status < 100 || (line.size() > 12 && line[12] != ' '))
      return bad(502, "malformed status line from the sandbox");
    for (std::size_t i = 13; i < line.size(); ++i)
      if (!is_value_char(static_cast<unsigned char>(line[i])))
        return bad(502, "malformed status line from the sandbox");
    out.status = status;
    out.minor = line[7] - '0';
    out.reason_off_ = static_cast<uint32_t>(line.size() > 12 ? 13 : 12);
    out.reason_len_ = static_cast<uint32_t>(line.size() > 12 ? line.size() - 13 : 0);
    Body framed;
    if (Verdict b = body_framing(out, out.minor, framed, 502); b.kind != Verdict::kOk) return b;
    bool no_body = method == "HEAD" || status < 200 || status == 204 || status == 304;
    if (no_body) {
      out.body = Body{};
    } else if (framed.kind == BodyKind::kNone && out.count("content-length") == 0) {
      out.body.kind = BodyKind::kUntilClose;
    } else {
      out.body = framed;
    }
    out.keep_alive = out.body.kind != BodyKind::kUntilClose &&
                     (out.minor == 1 ? !out.has_token("connection", "close")
                                     : out.has_token("connection", "keep-alive"));
    v.kind = Verdict::kOk;
    return v;
  }
};

const char* bad_head_byte(std::string_view buf, std::size_t from) {
  for (std::size_t i = from; i < buf.size(); ++i) {
    char c = buf[i];
    if (c == '\0') return "NUL in the message head";
    if (c == '\r' && i + 1 < buf.size() && buf[i + 1] != '\n') return "bare CR in the message head";
    if (c == '\n' && (i == 0 || buf[i - 1] != '\r')) return "bare LF in the message head";
  }
  return nullptr;
}

Verdict parse_request(std::string_view buf, RequestHead& out, const Limits& limits) {
  return Parser::request(buf, out, limits);
}

Verdict parse_response(std::string_view buf, std::string_view request_method, ResponseHead& out,
                       const Limits& limits) {
  return Parser::response(buf, request_method, out, limits);
}

ChunkedDecoder::Step ChunkedDecoder::next(std::string_view in) {
  Step step;
  std::size_t i = 0;
  auto fail = [&] {
    step.bad = true;
    step.consumed = i;
    return step;
  };
  while (i < in.size() && state_ != State::kDone) {
    char c = in[i];
    switch (state_) {
      case State::kSize: {
        int h = hex_value(c);
        if (h >= 0) {
          if (++size_digits_ > 15) return fail();
          remaining_ = remaining_ * 16 + static_cast<uint64_t>(h);
          if (remaining_ > kMaxChunkSize) return fail();
          ++i;
          break;
        }
        if (size_digits_ == 0) return fail();
        if (c == '\r') {
          state_ = State::kSizeLf;
        } else if (c == ';') {
          state_ = State::kExt;
          line_len_ = 0;
        } else {
          return fail();
        }
        ++i;
        break;
      }
      case State::kExt:
        if (c == '\r') {
          state_ = State::kSizeLf;
        } else if (!is_value_char(static_cast<unsigned char>(c)) || ++line_len_ > kMaxChunkLine) {
          return fail();
        }
        ++i;
        break;
      case State::kSizeLf:
        if (c != '\n') return fail();
        ++i;
        size_digits_ = 0;
        if (remaining_ == 0) {
          state_ = State::kTrailerStart;
          trailer_len_ = 0;
        } else {
          state_ = State::kData;
        }
        break;
      case State::kData: {
        std::size_t take = static_cast<std::size_t>(
            std::min<uint64_t>(remaining_, static_cast<uint64_t>(in.size() - i)));
        step.data = in.substr(i, take);
        i += take;
        remaining_ -= take;
        if (remaining_ == 0) state_ = State::kDataCr;
        step.consumed = i;
        return step;
      }
      case State::kDataCr:
        if (c != '\r') return fail();
        state_ = State::kDataLf;
        ++i;
        break;
      case State::kDataLf:
        if (c != '\n') return fail();
        state_ = State::kSize;
        ++i;
        break;
      case State::kTrailerStart:
        if (c == '\r') {
          state_ = State::kFinalLf;
        } else if (is_tchar(static_cast<unsigned char>(c))) {
          state_ = State::kTrailer;
        } else {
          return fail();
        }
        ++i;
        if (++trailer_len_ > kMaxTrailers) return fail();
        break;
      case State::kTrailer:
        if (c == '\r') {
          state_ = State::kTrailerLf;
        } else if (!is_value_char(static_cast<unsigned char>(c))) {
          return fail();
        }
        ++i;
        if (++trailer_len_ > kMaxTrailers) return fail();
        break;
      case State::kTrailerLf:
        if (c != '\n') return fail();
        state_ = State::kTrailerStart;
        ++i;
        break;
      case State::kFinalLf:
        if (c != '\n') return fail();
        state_ = State::kDone;
        ++i;
        break;
      case State::kDone: break;
    }
  }
  step.consumed = i;
  return step;
}

void append_chunk(std::string& out, std::string_view data) {
  if (data.empty()) return;
  char hex[20];
  int n = 0;
  for (std::size_t size = data.size(); size > 0; size >>= 4)
    hex[n++] = "0123456789abcdef"[size & 15];
  while (n > 0) out += hex[--n];
  out += "\r\n";
  out.append(data);
  out += "\r\n";
}

namespace {

bool is_hop_by_hop(std::string_view name) {
  static constexpr std::string_view kHop[] = {"connection", "keep-alive", "proxy-connection",
                                              "te",         "trailer",    "transfer-encoding",
                                              "upgrade"};
  for (std::string_view h : kHop)
    if (iequals(name, h)) return true;
  return false;
}

// True when a Connection field of `h` names `name` (it is then hop-by-hop too), except
// for the fields that frame and route the message: a Connection naming Content-Length
// or Host must not make the edge drop them (the body would become the next request).
bool named_by_connection(const Head& h, bool has_connection, std::string_view name) {
  if (!has_connection || iequals(name, "content-length") || iequals(name, "host")) return false;
  return h.has_token("connection", name);
}

bool is_forwarding(std::string_view name) {
  return (name.size() > 12 && iequals(name.substr(0, 12), "x-forwarded-")) ||
         iequals(name, "x-real-ip") || iequals(name, "forwarded");
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out += ": ";
  out.append(value);
  out += "\r\n";
}

}  // namespace

void append_upstream_head(const RequestHead& req, const Forwarding& fwd, std::string& out) {
  out.append(req.method());
  out += ' ';
  out.append(req.target());
  out += " HTTP/1.1\r\n";
  const bool has_connection = req.count("connection") > 0;
  for (const Field& f : req.fields) {
    std::string_view name = req.name(f);
    if (is_hop_by_hop(name) || iequals(name, "expect") ||
        named_by_connection(req, has_connection, name))
      continue;
    if (is_forwarding(name)) continue;  // re-added below
    append_field(out, name, req.value(f));
  }
  if (req.body.kind == BodyKind::kChunked) out += "Transfer-Encoding: chunked\r\n";

  const bool ipv6 = fwd.client.find(':') != std::string_view::npos;
  // Appends the trusted peer's values of `name` as one list, then ", " if there were any.
  auto append_trusted_list = [&](std::string_view name) {
    if (!fwd.trusted) return;
    for (const Field& f : req.fields) {
      if (!iequals(req.name(f), name)) continue;
      out.append(req.value(f));
      out += ", ";
    }
  };
  auto kept = [&](std::string_view name) -> std::optional<std::string_view> {
    if (!fwd.trusted) return std::nullopt;
    return req.get(name);
  };
  out += "X-Forwarded-For: ";
  append_trusted_list("x-forwarded-for");
  out.append(fwd.client);
  out += "\r\n";
  std::string_view proto = kept("x-forwarded-proto").value_or("http");
  append_field(out, "X-Forwarded-Proto", proto);
  append_field(out, "X-Forwarded-Host", kept("x-forwarded-host").value_or(req.host()));
  append_field(out, "X-Real-IP", kept("x-real-ip").value_or(fwd.client));
  out += "Forwarded: ";
  append_trusted_list("forwarded");
  out += ipv6 ? "for=\"[" : "for=";
  out.append(fwd.client);
  if (ipv6) out += "]\"";
  out += ";host=\"";
  out.append(req.host());
  out += "\";proto=";
  out += proto == "https" ? "https" : "http";
  out += "\r\n";
  if (req.upgrade) {
    out += "Connection: upgrade\r\n";
    append_field(out, "Upgrade", *req.get("upgrade"));
  }
  out += "\r\n";
}

ClientFraming client_framing(const RequestHead& req, const ResponseHead& resp) {
  ClientFraming f;
  f.chunked = resp.body.kind == BodyKind::kChunked && req.minor == 1;
  f.keep_alive = req.keep_alive && resp.body.kind != BodyKind::kUntilClose &&
                 !(resp.body.kind == BodyKind::kChunked && req.minor == 0);
  f.http10 = req.minor == 0;
  return f;
}

void append_client_head(const ResponseHead& resp, const ClientFraming& framing, std::string& out) {
  const bool switching = resp.status == 101;
  out += "HTTP/1.1 ";
  out += std::to_string(resp.status);
  out += ' ';
  out.append(resp.reason());
  out += "\r\n";
  const bool has_connection = resp.count("connection") > 0;
  for (const Field& f : resp.fields) {
    std::string_view name = resp.name(f);
    if (is_hop_by_hop(name) || named_by_connection(resp, has_connection, name)) continue;
    append_field(out, name, resp.value(f));
  }
  if (switching) {
    out += "Connection: upgrade\r\n";
    if (auto up = resp.get("upgrade")) append_field(out, "Upgrade", *up);
  } else {
    if (framing.chunked) out += "Transfer-Encoding: chunked\r\n";
    if (resp.status >= 200 && !framing.keep_alive) out += "Connection: close\r\n";
    if (resp.status >= 200 && framing.keep_alive && framing.http10)
      out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
}

}  // namespace sandboxd::http1
