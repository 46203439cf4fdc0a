// The answers the edge makes itself (errors, the waking page, the wake poll's "ready"),
// serialized as complete HTTP/1.1 responses.
#pragma once

#include <string>
#include <string_view>

#include "sandboxd/base/status.h"

namespace sandboxd::edge {

struct Reply {
  int status = 200;
  std::string content_type;
  std::string body;
  bool retry_after = false;  // Retry-After: 5 (busy or waking)
};

// Appends `r` to `out`: Content-Length framed, no-store, `Connection: close` unless
// `keep_alive`; without the body when `head_only` (a HEAD request).
void append_reply(std::string& out, const Reply& r, bool head_only, bool keep_alive);

// An error as JSON (the API's error shape) or, for browsers, a small page.
Reply error_reply(const Status& st, bool html, const std::string& request_id);
// The same for a status the edge chose itself (400, 405, 408, 417, 429, 431, 505, ...).
Reply status_reply(int status, std::string_view message, bool html);

// The waking page (503): it long-polls the wake path and reloads the moment the app
// answers; without script, a 2 s refresh.
Reply waking_page();

}  // namespace sandboxd::edge
