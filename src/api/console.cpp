#include "api/console.h"

#include "api/http_io.h"
#include "sandboxd/api/console_assets.h"

namespace sandboxd {

void serve_console(const std::string& name, const httplib::Request& req, httplib::Response& res) {
  const ConsoleAsset* asset = console_asset(name.empty() ? "index.html" : name);
  if (!asset) return reply_error(res, Status(Code::kNotFound, "no console file " + name));
  res.set_header("Cache-Control", "no-cache");
  res.set_header("ETag", std::string(asset->etag));
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("Content-Security-Policy",
                 "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                 "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'");
  if (req.get_header_value("If-None-Match") == asset->etag) {
    res.status = 304;
    return;
  }
  res.set_content(std::string(asset->body), std::string(asset->content_type));
}

}  // namespace sandboxd
