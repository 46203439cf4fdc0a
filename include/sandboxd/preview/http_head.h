// Pure parsing for the preview edge: preview host names and HTTP/1.x request heads.
// The wake listener parses only the first request head of a connection (to route it);
// it relays that request byte for byte, and nothing after it (the connection closes
// after the first response).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sandboxd {

struct PreviewHost {
  std::string id;  // lower-case, [a-z0-9]{1,32}
  int port = 0;
};

// `s-<id>-<port>.preview.<domain>[:<port>]`, case-insensitive (browsers and proxies may
// change case); nullopt for any other shape or another domain.
std::optional<PreviewHost> parse_preview_host(std::string_view host, std::string_view domain);

struct RequestHead {
  std::string method;
  std::string target;
  std::string version;  // "HTTP/1.1"
  std::vector<std::pair<std::string, std::string>> headers;
  // The first header named `name` (case-insensitive), or nullptr.
  const std::string* header(std::string_view name) const;
};

enum class HeadParse { kIncomplete, kOk, kBad };

// Parses the request head at the start of `buf`. kOk sets `out` and `head_len` (bytes up
// to and including the blank line). Header names must be tokens and values free of
// control characters (obs-fold is rejected), so what is forwarded is what was checked.
HeadParse parse_request_head(std::string_view buf, RequestHead& out, std::size_t& head_len);

// True when the request asks for a protocol upgrade (Upgrade header and an `upgrade`
// token in Connection), e.g. a WebSocket handshake.
bool is_upgrade(const RequestHead& head);

// The head to send to the sandbox: the request as parsed, except that a request that is
// not an upgrade gets `Connection: close` (replacing Connection, Keep-Alive and
// Proxy-Connection), so the app closes the connection after its response and the
// connection, routed by this first request, never carries another request.
std::string head_for_backend(const RequestHead& head);
// How many body bytes follow the head when that is known from the head alone:
// Content-Length (0 without one). nullopt when the end is not known from the head: an
// upgrade (the connection becomes a tunnel), Transfer-Encoding, or a Content-Length that
// is not one plain number.
std::optional<std::size_t> request_body_length(const RequestHead& head);

// True when Accept names text/html (answers for it are pages, not JSON).
bool accepts_html(const RequestHead& head);

// True when the request is a browser navigation that may get the waking page: GET or
// HEAD, not a protocol upgrade, and Accept naming text/html.
bool is_browser_navigation(const RequestHead& head);

}  // namespace sandboxd
