// The API client behind sandboxd's client commands (create, ls, exec, ...): where the
// API is and which token to send (resolved from the environment and a .env file), one
// HTTP request or one streamed GET at a time, the API's error envelope, and a parser for
// the task events' server-sent events. The resolution, the error text and the SSE parser
// are pure; ApiClient does the I/O. Not thread-safe (one client per command).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sandboxd/base/status.h"

namespace sandboxd::cli {

using EnvMap = std::map<std::string, std::string>;

inline constexpr const char* kDefaultUrl = "http://127.0.0.1:9090";

// The .env file the client reads: `option` (--env-file) when given, which must then be
// readable; else $SANDBOXED_ENV_FILE; else ./.env. Only an explicit file is required.
struct EnvFileChoice {
  std::string path;
  bool required = false;
};
EnvFileChoice choose_env_file(const std::string& option, const EnvMap& process_env);

struct ClientConfig {
  std::string url;    // scheme://host[:port][/prefix], no trailing slash
  std::string token;  // empty: no Authorization header is sent
  // Why the token may be missing (e.g. the .env file was not readable), for error hints.
  std::string note;
};

// Resolves the API's URL and token. Each variable is looked up in `process_env` first,
// then in `file_env`; empty values count as unset. URL: SANDBOXD_URL, else
// http://<SANDBOXED_API_BIND> (a wildcard bind host becomes loopback), else kDefaultUrl.
// Token: SANDBOXD_TOKEN, else the secret of the first entry of SANDBOXD_API_TOKENS
// ("name:secret,..."), else none. kInvalidArgument names a malformed variable.
Result<ClientConfig> resolve_client_config(const EnvMap& process_env, const EnvMap& file_env);

// resolve_client_config over this process's environment and the chosen .env file;
// kInvalidArgument when an explicit --env-file cannot be read or a file line is malformed.
Result<ClientConfig> load_client_config(const std::string& env_file_option);

// This process's environment as a map.
EnvMap process_environment();

// `s` percent-encoded for a URL path segment or a query value (RFC 3986 unreserved
// characters stay).
std::string url_encode(std::string_view s);

// One HTTP answer, whatever its status.
struct HttpAnswer {
  int status = 0;
  std::string body;
  std::string content_type;
  std::string request_id;  // X-Request-Id
  std::string retry_after;
};

// The one line a failed call prints: the API's message, its code, the HTTP status and
// the request id, from the JSON error envelope (or the first line of any other body).
std::string describe_api_error(const HttpAnswer& answer);

struct Request {
  Request(std::string m, std::string t, std::string b = "", std::string type = "")
      : method(std::move(m)),
        target(std::move(t)),
        body(std::move(b)),
        content_type(std::move(type)) {}
  std::string method;  // GET, POST, PUT, PATCH, DELETE
  std::string target;  // path and query, e.g. /v1/sandboxes?limit=10
  std::string body;
  std::string content_type;  // default application/json; sent for POST, PUT, PATCH or a body
  int read_timeout_s = 600;  // longest wait for the answer's next bytes
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

class ApiClient {
 public:
  explicit ApiClient(ClientConfig config);
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  const ClientConfig& config() const { return config_; }

  // Sends `req` and returns the whole answer (any status). kUnavailable when the API
  // cannot be reached or the connection broke; kInvalidArgument for a bad URL.
  Result<HttpAnswer> send(const Request& req);

  // Sends a GET and hands a 2xx answer's body to `on_data` as it arrives (false from it
  // ends the stream); any other status comes back with its whole body and on_data is not
  // called. The answer's body is empty for a 2xx. Errors as send().
  Result<HttpAnswer> stream(const Request& req,
                            const std::function<bool(std::string_view)>& on_data);

 private:
  struct Impl;
  ClientConfig config_;
  std::unique_ptr<Impl> impl_;
};

// One server-sent event.
struct SseEvent {
  std::string id;
  std::string event;  // "message" when the frame names none
  std::string data;   // data lines joined with '\n'
};

// Incremental text/event-stream parser: feed() bytes in any split, get whole events.
// Comments (": keepalive") and unknown fields are skipped; LF, CRLF and CR end lines.
class SseParser {
 public:
  std::vector<SseEvent> feed(std::string_view bytes);

 private:
  void line(std::string_view l, std::vector<SseEvent>& out);
  std::string partial_;
  bool after_cr_ = false;
  SseEvent current_;
  bool has_data_ = false;
};

}  // namespace sandboxd::cli
