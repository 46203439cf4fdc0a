#include "replies.h"

#include "sandboxd/api/http_status.h"
#include "sandboxd/api/json_codec.h"

namespace sandboxd::edge {
namespace {

const char* reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Service Unavailable";
  }
}

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string page(std::string_view title, std::string_view message) {
  return "<!doctype html><html><head><meta charset=\"utf-8\"><title>" + html_escape(title) +
         "</title><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
         "<style>body{font-family:system-ui,sans-serif;margin:0;min-height:100vh;display:flex;"
         "align-items:center;justify-content:center;color:#333}main{max-width:34em;"
         "padding:1em}</style></head><body><main><h1>" +
         html_escape(title) + "</h1><p>" + html_escape(message) + "</p></main></body></html>";
}

}  // namespace

Reply error_reply(const Status& st, bool html, const std::string& request_id) {
  Reply r;
  r.status = edge_http_status(st.code());
  r.retry_after = r.status == 503;
  if (html) {
    r.content_type = "text/html; charset=utf-8";
    r.body =
        page(r.status == 404 ? "No such preview" : "This preview is not available", st.message());
  } else {
    r.content_type = "application/json";
    r.body = encode_error(st, request_id);
  }
  return r;
}

namespace {

// The waking page: it long-polls kWakePath (which answers once the app accepts
// connections) and reloads at that moment; no fixed delay. Without script, a refresh.
const char* kWakingPage = R"HTML(<!doctype html>
<html><head><meta charset="utf-8"><title>Waking up…</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<noscript><meta http-equiv="refresh" content="2"></noscript>
<style>body{font-family:system-ui,sans-serif;margin:0;min-height:100vh;display:flex;
align-items:center;justify-content:center;color:#333}main{max-width:34em;padding:1em}</style>
</head><body><main><h1 id="title">Waking up this preview…</h1>
<p id="detail">It was asleep to save resources. This page switches to the app as soon as
it is ready.</p><p><button id="retry" hidden onclick="location.reload()">Try again</button></p>
</main><script>
(function () {
  var failures = 0;
  function fail(message) {
    document.getElementById('title').textContent = 'This preview could not be woken';
    document.getElementById('detail').textContent = message;
    document.getElementById('retry').hidden = false;
  }
  function poll() {
    fetch('/__sandboxed__/wake', {cache: 'no-store', headers: {'Accept': 'application/json'}})
      .then(function (r) {
        if (r.ok) { location.reload(); return; }
        return r.json().then(function (j) {
          fail(j && j.error ? j.error.message : 'HTTP ' + r.status);
        }, function () { fail('HTTP ' + r.status); });
      }, function () {
        if (++failures < 5) setTimeout(poll, 250 * failures); else fail('The preview server did not answer.');
      });
  }
  poll();
})();
</script></body></html>
)HTML";

}  // namespace

void append_reply(std::string& out, const Reply& r, bool head_only, bool keep_alive) {
  out += "HTTP/1.1 ";
  out += std::to_string(r.status);
  out += ' ';
  out += reason_phrase(r.status);
  out += "\r\nContent-Type: ";
  out += r.content_type;
  out += "\r\nContent-Length: ";
  out += std::to_string(r.body.size());
  out += "\r\nCache-Control: no-store\r\n";
  if (!keep_alive) out += "Connection: close\r\n";
  if (r.retry_after) out += "Retry-After: 5\r\n";
  out += "\r\n";
  if (!head_only) out += r.body;
}

Reply status_reply(int status, std::string_view message, bool html) {
  Code code = status == 404                    ? Code::kNotFound
              : status == 408 || status == 504 ? Code::kTimeout
              : status >= 500                  ? Code::kUnavailable
                                               : Code::kInvalidArgument;
  Reply r = error_reply(Status(code, std::string(message)), html, "");
  r.status = status;
  r.retry_after = status == 503 || status == 429;
  return r;
}

Reply waking_page() { return Reply{503, "text/html; charset=utf-8", kWakingPage, false}; }

}  // namespace sandboxd::edge
