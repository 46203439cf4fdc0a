// The HTTP edges of the API's handlers over cpp-httplib: a Status becomes the one JSON
// error shape here, and request bodies are checked (media type, size) and read here.
// Stateless; any worker thread may call these.
#pragma once

#include <httplib.h>

#include <cstddef>
#include <string>
#include <vector>

#include "sandboxd/base/status.h"

namespace sandboxd {

inline constexpr const char* kJson = "application/json";
inline constexpr const char* kOctetStream = "application/octet-stream";

// Answers `st` as {"error":{"code","message","request_id"}} with its http_status(),
// Retry-After on 503, WWW-Authenticate on 401, and Connection: close where an unread body
// could follow. An internal error's message goes to the log, never to the caller.
void reply_error(httplib::Response& res, const Status& st);

// True when the request says a body follows (Content-Length, even 0, or chunked).
bool declares_body(const httplib::Request& req);

// A POST or PUT that carries a body, or names a Content-Type, must name one of `types`:
// anything else (text/plain, a form) is what a web page can send without a CORS
// preflight. kUnsupportedMediaType otherwise; checked before the body is read.
Status check_media_type(const httplib::Request& req, const std::vector<std::string>& types);

// Reads the body into `body` only when the request declares one: a bodiless POST must
// not wait for bytes. kTooLarge over `max` (the rest is read and dropped, so a client
// still sending gets the 413 rather than a reset); kInvalidArgument if the read fails.
Status read_body(const httplib::Request& req, httplib::Response& res,
                 const httplib::ContentReader& reader, std::string& body, std::size_t max);

}  // namespace sandboxd
