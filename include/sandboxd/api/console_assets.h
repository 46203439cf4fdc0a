// The web console's static files (console/), embedded in the binary at build time by
// cmake/embed_dir.cmake. Served at GET /console (index.html) and GET /console/{name}.
#pragma once

#include <string_view>

namespace sandboxd {

struct ConsoleAsset {
  std::string_view name;          // path under console/, e.g. "app.js", "vendor/xterm/xterm.js"
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view body;
  std::string_view etag;  // quoted strong ETag: "\"<sha256 prefix>\""
};

// The asset called `name`, or nullptr. "index.html" is the console's page.
const ConsoleAsset* console_asset(std::string_view name);

}  // namespace sandboxd
