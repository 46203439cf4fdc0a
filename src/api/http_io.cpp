#include "api/http_io.h"

#include <spdlog/spdlog.h>

#include "sandboxd/api/http_status.h"
#include "sandboxd/api/json_codec.h"
#include "sandboxd/api/request_guard.h"
#include "sandboxd/base/request_context.h"
#include "sandboxd/base/text.h"

namespace sandboxd {

void reply_error(httplib::Response& res, const Status& st) {
  res.status = http_status(st.code());
  if (st.code() == Code::kUnavailable) res.set_header("Retry-After", "5");
  if (st.code() == Code::kUnauthorized) res.set_header("WWW-Authenticate", "Bearer");
  if (st.code() == Code::kUnauthorized || st.code() == Code::kForbidden ||
      st.code() == Code::kUnsupportedMediaType) {
    res.set_header("Connection", "close");  // an unread body must not become the next request
  }
  if (st.code() == Code::kInternal) {
    // Internal details (paths, SQLite messages) go to the log, not to the caller.
    spdlog::error("internal error: {}", st.message());
    res.set_content(encode_error(Status(Code::kInternal,
                                        "internal error; see the sandboxd log for this request id"),
                                 current_request_id()),
                    kJson);
    return;
  }
  res.set_content(encode_error(st, current_request_id()), kJson);
}

bool declares_body(const httplib::Request& req) {
  return req.has_header("Content-Length") ||
         req.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos;
}

Status check_media_type(const httplib::Request& req, const std::vector<std::string>& types) {
  const std::string type = req.get_header_value("Content-Type");
  bool body = declares_body(req) && req.get_header_value("Content-Length") != "0";
  if (!body && !req.has_header("Content-Type")) return {};
  for (const auto& t : types)
    if (media_type_is(type, t)) return {};
  std::string want = types[0];
  for (std::size_t i = 1; i < types.size(); ++i) want += " or " + types[i];
  return Status(Code::kUnsupportedMediaType,
                "Content-Type must be " + want + " (got '" + printable(type.substr(0, 100)) + "')");
}

Status read_body(const httplib::Request& req, httplib::Response& res,
                 const httplib::ContentReader& reader, std::string& body, std::size_t max) {
  if (!declares_body(req)) return {};
  bool too_large = false;
  bool ok = reader([&](const char* data, std::size_t len) {
    if (too_large || body.size() + len > max) {
      too_large = true;
      body.clear();
      return true;
    }
    body.append(data, len);
    return true;
  });
  if (too_large || res.status == 413) {
    res.set_header("Connection", "close");
    return Status(Code::kTooLarge, "request body larger than " + std::to_string(max) + " bytes");
  }
  if (!ok) return Status(Code::kInvalidArgument, "could not read the request body");
  return {};
}

}  // namespace sandboxd
