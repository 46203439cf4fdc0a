// Pure routing helpers for the preview edge: preview host names and what kind of
// client a request comes from (HTTP itself is edge/http1.h).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "sandboxd/edge/http1.h"

namespace sandboxd {

struct PreviewHost {
  std::string id;  // lower-case, [a-z0-9]{1,32}
  int port = 0;
};

// `s-<id>-<port>.preview.<domain>[:<port>]`, case-insensitive (browsers and proxies may
// change case); nullopt for any other shape or another domain.
std::optional<PreviewHost> parse_preview_host(std::string_view host, std::string_view domain);

// True when Accept names text/html (answers for it are pages, not JSON).
bool accepts_html(const http1::RequestHead& head);

// True when the request is a browser navigation that may get the waking page: GET or
// HEAD, not a protocol upgrade, and Accept naming text/html.
bool is_browser_navigation(const http1::RequestHead& head);

}  // namespace sandboxd
