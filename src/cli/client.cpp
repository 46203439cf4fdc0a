#include "client.h"

#include <httplib.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "sandboxd/base/text.h"
#include "sandboxd/config/config.h"

extern char** environ;

namespace sandboxd::cli {
namespace {

using json = nlohmann::json;

Status invalid(const std::string& msg) { return Status(Code::kInvalidArgument, msg); }

// The value of `key`: the process's, else the file's; empty counts as unset.
std::string lookup(const EnvMap& process_env, const EnvMap& file_env, const std::string& key) {
  for (const EnvMap* m : {&process_env, &file_env}) {
    auto it = m->find(key);
    if (it != m->end() && !trim(it->second).empty()) return trim(it->second);
  }
  return "";
}

// http://<bind>: the API as a client on this host reaches it.
Result<std::string> url_from_bind(const std::string& bind) {
  auto colon = bind.rfind(':');
  if (colon == std::string::npos || colon + 1 == bind.size())
    return invalid("SANDBOXED_API_BIND: expected HOST:PORT, got '" + bind + "'");
  std::string host = bind.substr(0, colon);
  const std::string port = bind.substr(colon + 1);
  if (port.find_first_not_of("0123456789") != std::string::npos)
    return invalid("SANDBOXED_API_BIND: bad port '" + port + "'");
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + port;
}

// scheme://host[:port] and the path prefix of `url` ("" or "/prefix"); kInvalidArgument
// for anything else.
struct UrlParts {
  std::string origin;
  std::string prefix;
};

Result<UrlParts> split_url(const std::string& url) {
  auto scheme_end = url.find("://");
  const std::string scheme = scheme_end == std::string::npos ? "" : url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https")
    return invalid("SANDBOXD_URL: must start with http:// or https://, got '" + url + "'");
  auto path = url.find('/', scheme_end + 3);
  UrlParts p{url.substr(0, path), path == std::string::npos ? "" : url.substr(path)};
  // Not echoed: user info may hold a secret.
  if (p.origin.find('@') != std::string::npos)
    return invalid("SANDBOXD_URL: no user info (user:password@) allowed; set SANDBOXD_TOKEN");
  if (p.origin.size() == scheme_end + 3) return invalid("SANDBOXD_URL: no host in '" + url + "'");
  if (p.prefix.find_first_of("?#") != std::string::npos)
    return invalid("SANDBOXD_URL: no query or fragment allowed, got '" + url + "'");
  while (!p.prefix.empty() && p.prefix.back() == '/') p.prefix.pop_back();
  return p;
}

bool is_2xx(int status) { return status >= 200 && status < 300; }

}  // namespace

EnvFileChoice choose_env_file(const std::string& option, const EnvMap& process_env) {
  if (!option.empty()) return {option, true};
  if (auto it = process_env.find("SANDBOXED_ENV_FILE");
      it != process_env.end() && !it->second.empty())
    return {it->second, false};
  return {".env", false};
}

Result<ClientConfig> resolve_client_config(const EnvMap& process_env, const EnvMap& file_env) {
  ClientConfig c;
  if (std::string url = lookup(process_env, file_env, "SANDBOXD_URL"); !url.empty()) {
    c.url = url;
  } else if (std::string bind = lookup(process_env, file_env, "SANDBOXED_API_BIND");
             !bind.empty()) {
    auto from_bind = url_from_bind(bind);
    if (!from_bind) return from_bind.error();
    c.url = *from_bind;
  } else {
    c.url = kDefaultUrl;
  }
  auto parts = split_url(c.url);
  if (!parts) return parts.error();
  c.url = parts->origin + parts->prefix;

  c.token = lookup(process_env, file_env, "SANDBOXD_TOKEN");
  if (c.token.empty()) {
    auto tokens = split_list(lookup(process_env, file_env, "SANDBOXD_API_TOKENS"));
    if (!tokens.empty()) {
      // name:secret (name=secret is also accepted by the daemon): the first separator.
      auto sep = tokens.front().find_first_of(":=");
      if (sep == std::string::npos || sep + 1 == tokens.front().size())
        return invalid("SANDBOXD_API_TOKENS: the first entry is not name:secret");
      c.token = tokens.front().substr(sep + 1);
    }
  }
  return c;
}

EnvMap process_environment() {
  EnvMap env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

Result<ClientConfig> load_client_config(const std::string& env_file_option) {
  EnvMap env = process_environment();
  EnvFileChoice file = choose_env_file(env_file_option, env);
  std::string note;
  if (::access(file.path.c_str(), F_OK) == 0 && ::access(file.path.c_str(), R_OK) != 0) {
    if (file.required) return invalid("--env-file " + file.path + ": cannot read it");
    note = "cannot read " + file.path +
           " (root only?): run as root, or export SANDBOXD_TOKEN (and SANDBOXD_URL)";
  } else if (file.required && ::access(file.path.c_str(), F_OK) != 0) {
    return invalid("--env-file " + file.path + ": no such file");
  }
  auto file_env = read_env_file(file.path);
  if (!file_env) return file_env.error();
  auto c = resolve_client_config(env, *file_env);
  if (!c) return c;
  if (c->token.empty() && note.empty())
    note = "no token: set SANDBOXD_TOKEN, or SANDBOXD_API_TOKENS in " + file.path +
           " (or name another file with --env-file or SANDBOXED_ENV_FILE)";
  c->note = note;
  return c;
}

std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    auto u = static_cast<unsigned char>(ch);
    if (std::isalnum(u) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
      out += ch;
    } else {
      out += {'%', kHex[u >> 4], kHex[u & 15]};
    }
  }
  return out;
}

std::string describe_api_error(const HttpAnswer& a) {
  std::string message, code, request_id = a.request_id;
  json j = json::parse(a.body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object()) {
    const json& e = j["error"];
    if (e.contains("message") && e["message"].is_string()) message = e["message"];
    if (e.contains("code") && e["code"].is_string()) code = e["code"];
    if (e.contains("request_id") && e["request_id"].is_string() &&
        !e["request_id"].get<std::string>().empty())
      request_id = e["request_id"];
  } else {
    message = printable(first_line(trim(a.body)), 300);
  }
  if (message.empty()) message = "the API answered HTTP " + std::to_string(a.status);
  std::string out = printable(message, 2000) + " (";
  if (!code.empty()) out += "code " + code + ", ";
  out += "HTTP " + std::to_string(a.status);
  if (!request_id.empty()) out += ", request " + printable(request_id, 100);
  out += ")";
  if (!a.retry_after.empty()) out += "; retry after " + printable(a.retry_after, 20) + " s";
  return out;
}

struct ApiClient::Impl {
  std::string prefix;
  std::unique_ptr<httplib::Client> http;
};

ApiClient::ApiClient(ClientConfig config) : config_(std::move(config)), impl_(new Impl) {
  auto parts = split_url(config_.url);
  if (!parts) return;  // send() reports it
  impl_->prefix = parts->prefix;
  impl_->http = std::make_unique<httplib::Client>(parts->origin);
  impl_->http->set_connection_timeout(10, 0);
  impl_->http->set_write_timeout(120, 0);
  impl_->http->set_keep_alive(true);
}

ApiClient::~ApiClient() = default;

namespace {

// Sends `req` on `http`, streaming a 2xx body to `on_data` when it is set.
Result<HttpAnswer> exchange(httplib::Client& http, const ClientConfig& config,
                            const std::string& prefix, const Request& req,
                            const std::function<bool(std::string_view)>* on_data) {
  if (!http.is_valid()) return invalid("SANDBOXD_URL: '" + config.url + "' is not a valid URL");
  http.set_read_timeout(req.read_timeout_s, 0);
  httplib::Request r;
  r.method = req.method;
  r.path = prefix + req.target;
  r.set_header("User-Agent", std::string("sandboxd/") + SANDBOXD_VERSION);
  if (!config.token.empty()) r.set_header("Authorization", "Bearer " + config.token);
  for (const auto& [k, v] : req.headers) r.set_header(k, v);
  const bool has_body =
      !req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH";
  if (has_body) {
    r.body = req.body;
    r.set_header("Content-Type", req.content_type.empty() ? "application/json" : req.content_type);
  }
  HttpAnswer answer;
  if (on_data) {
    r.response_handler = [&answer](const httplib::Response& res) {
      answer.status = res.status;
      return true;
    };
    r.content_receiver = [&answer, on_data](const char* data, size_t n, uint64_t, uint64_t) {
      if (!is_2xx(answer.status)) {
        answer.body.append(data, n);
        return true;
      }
      return (*on_data)(std::string_view(data, n));
    };
  }
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  if (!http.send(r, res, err)) {
    // Canceled: on_data ended the stream on purpose.
    if (err == httplib::Error::Canceled && on_data && is_2xx(answer.status)) return answer;
    std::string what = err == httplib::Error::Connection || err == httplib::Error::ConnectionTimeout
                           ? "cannot connect"
                       : err == httplib::Error::Read ? "the connection broke or timed out"
                                                     : httplib::to_string(err);
    return Status(Code::kUnavailable,
                  "cannot reach the API at " + config.url + ": " + what +
                      " (is sandboxd running? set SANDBOXD_URL, or SANDBOXED_API_BIND in .env)");
  }
  answer.status = res.status;
  if (!on_data) answer.body = std::move(res.body);
  answer.content_type = res.get_header_value("Content-Type");
  answer.request_id = res.get_header_value("X-Request-Id");
  answer.retry_after = res.get_header_value("Retry-After");
  return answer;
}

}  // namespace

Result<HttpAnswer> ApiClient::send(const Request& req) {
  if (!impl_->http) return split_url(config_.url).error();
  return exchange(*impl_->http, config_, impl_->prefix, req, nullptr);
}

Result<HttpAnswer> ApiClient::stream(const Request& req,
                                     const std::function<bool(std::string_view)>& on_data) {
  if (!impl_->http) return split_url(config_.url).error();
  return exchange(*impl_->http, config_, impl_->prefix, req, &on_data);
}

std::vector<SseEvent> SseParser::feed(std::string_view bytes) {
  std::vector<SseEvent> out;
  for (char c : bytes) {
    if (after_cr_) {
      after_cr_ = false;
      if (c == '\n') continue;  // the LF of a CRLF
    }
    if (c == '\r' || c == '\n') {
      after_cr_ = c == '\r';
      line(partial_, out);
      partial_.clear();
    } else {
      partial_ += c;
    }
  }
  return out;
}

void SseParser::line(std::string_view l, std::vector<SseEvent>& out) {
  if (l.empty()) {  // end of the event
    if (has_data_) {
      if (current_.event.empty()) current_.event = "message";
      out.push_back(std::move(current_));
    }
    current_ = SseEvent{};
    has_data_ = false;
    return;
  }
  if (l.front() == ':') return;
  auto colon = l.find(':');
  std::string_view field = l.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? "" : l.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (field == "data") {
    if (has_data_) current_.data += '\n';
    current_.data += value;
    has_data_ = true;
  } else if (field == "event") {
    current_.event = value;
  } else if (field == "id") {
    current_.id = value;
  }
}

}  // namespace sandboxd::cli
