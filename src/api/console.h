// The web console's static files (console/, embedded: console_assets.h) at GET /console
// and GET /console/{asset}: no-cache with a strong ETag (304 on a match), and a content
// security policy that allows only this origin's scripts, styles and connections, in no
// frame. Stateless; thread-safe.
#pragma once

#include <httplib.h>

#include <string>

namespace sandboxd {

// Answers the asset `name` ("" for the page itself), or 404.
void serve_console(const std::string& name, const httplib::Request& req, httplib::Response& res);

}  // namespace sandboxd
