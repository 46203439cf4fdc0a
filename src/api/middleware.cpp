#include "api/middleware.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <exception>
#include <set>

#include "api/http_io.h"
#include "sandboxd/api/http_status.h"
#include "sandboxd/api/request_guard.h"
#include "sandboxd/base/ids.h"
#include "sandboxd/base/logging.h"
#include "sandboxd/base/request_context.h"
#include "sandboxd/base/text.h"

namespace sandboxd {
namespace {

// Per-request context. Each request is handled start to finish on one worker thread,
// so thread-local storage carries it from the pre-routing handler to the logger. The
// request id itself lives in current_request_id(), which the log pattern prints.
struct RequestContext {
  std::string actor;
  std::string route;  // "" until a handler declares it
  std::chrono::steady_clock::time_point start;
};
thread_local RequestContext t_request;

// The browser defences, before auth and any work (see request_guard.h): a foreign Host
// or Origin, or a cross-site fetch without one, is refused; a listed Origin gets CORS
// headers, and its preflight is answered here. True when the request was answered.
bool guard(const Config& config, const httplib::Request& req, httplib::Response& res) {
  auto refuse = [&](const std::string& why) {
    reply_error(res, Status(Code::kForbidden, why));
    return true;
  };
  const std::string host = req.get_header_value("Host");
  if (!host_allowed(host, config.api_hostnames))
    return refuse("Host '" + printable(host.substr(0, 100)) +
                  "' is not a name of this API: use an IP address or localhost, or list the "
                  "name in SANDBOXD_API_HOSTNAMES");
  if (!req.has_header("Origin")) {
    if (cross_site_fetch(req.get_header_value("Sec-Fetch-Site")))
      return refuse("a request a browser sent for another site is refused");
    return false;
  }
  const std::string origin = req.get_header_value("Origin");
  if (same_origin(origin, host)) return false;  // the console, served by this API
  if (!origin_allowed(origin, config.api_allowed_origins))
    return refuse("Origin '" + printable(origin.substr(0, 100)) +
                  "' may not use this API: list it in SANDBOXD_API_ALLOWED_ORIGINS");
  // Echo the listed spelling, never the client's bytes.
  std::string listed = origin;
  for (const auto& o : config.api_allowed_origins)
    if (origin_allowed(origin, {o})) listed = o;
  res.set_header("Access-Control-Allow-Origin", listed);
  res.set_header("Vary", "Origin");
  res.set_header("Access-Control-Expose-Headers", "X-Request-Id, X-Next-After, Retry-After");
  if (req.method != "OPTIONS") return false;
  res.status = 204;
  res.set_header("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE");
  res.set_header("Access-Control-Allow-Headers",
                 "Authorization, Content-Type, Last-Event-ID, X-Request-Id");
  res.set_header("Access-Control-Max-Age", "600");
  return true;
}

// The caller's X-Request-Id when it is short and plain, else a fresh one.
std::string request_id_for(const httplib::Request& req) {
  std::string given = req.get_header_value("X-Request-Id");
  bool usable =
      !given.empty() && given.size() <= 64 &&
      given.find_first_not_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == std::string::npos;
  return usable ? given : random_hex(8);
}

// The console's static files hold no data: served without a token (the page logs in).
bool public_path(const httplib::Request& req) {
  return req.method == "GET" && (req.path == "/console" || req.path.rfind("/console/", 0) == 0);
}

httplib::Server::HandlerResponse pre_route(const Config& config, const Authenticator& auth,
                                           const TicketCheck& ticket, const httplib::Request& req,
                                           httplib::Response& res) {
  current_request_id() = request_id_for(req);
  t_request.start = std::chrono::steady_clock::now();
  t_request.actor.clear();
  t_request.route.clear();
  res.set_header("X-Request-Id", current_request_id());
  if (guard(config, req, res)) return httplib::Server::HandlerResponse::Handled;
  const bool probe = req.path == "/healthz" || req.path == "/readyz";
  if (auth.disabled()) {
    t_request.actor = "auth-disabled";
    return httplib::Server::HandlerResponse::Unhandled;
  }
  if (public_path(req)) return httplib::Server::HandlerResponse::Unhandled;
  auto actor = auth.authenticate(req.get_header_value("Authorization"));
  if (!actor && !req.has_header("Authorization") && ticket) actor = ticket(req);
  if (actor) t_request.actor = *actor;
  if (!actor && !probe) {
    reply_error(res, Status(Code::kUnauthorized, "missing or invalid bearer token"));
    return httplib::Server::HandlerResponse::Handled;
  }
  return httplib::Server::HandlerResponse::Unhandled;
}

void on_error(const httplib::Request& req, httplib::Response& res) {
  if (!res.body.empty()) return;
  std::string msg = res.status == 404   ? "no route for " + req.method + " " + req.path
                    : res.status == 413 ? "request body too large"
                                        : "request failed with HTTP " + std::to_string(res.status);
  int status = res.status;
  reply_error(res, Status(code_for_http(status), msg));
  res.status = status;
}

void on_exception(const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
  std::string what = "unknown exception";
  try {
    if (ep) std::rethrow_exception(ep);
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  spdlog::error("{} {}: unhandled exception: {}", req.method, req.path, what);
  reply_error(res, Status(Code::kInternal, "internal error"));
}

void log_request(Metrics& metrics, const httplib::Request& req, const httplib::Response& res) {
  auto elapsed = std::chrono::steady_clock::now() - t_request.start;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
  // A request rejected before routing (e.g. a malformed request line) never set the
  // context: log it without actor or duration rather than with the previous one's.
  bool routed = !current_request_id().empty();
  const std::string route = t_request.route.empty() ? "unmatched" : t_request.route;
  const std::string actor = routed && !t_request.actor.empty() ? t_request.actor : "-";
  LogFields& fields = log_fields();
  fields.text = {{"method", printable(req.method)},
                 {"path", printable(req.path)},
                 {"route", route},
                 {"actor", actor},
                 {"remote", req.remote_addr}};
  fields.numbers = {{"status", res.status}, {"duration_ms", routed ? ms : -1}};
  spdlog::info("actor={} remote={} {} {} status={} duration_ms={}", actor, req.remote_addr,
               printable(req.method), printable(req.path), res.status, routed ? ms : -1);
  fields = {};
  // Methods and routes come from a fixed set: an unknown method is "other".
  static const std::set<std::string> kMethods = {"GET",    "POST", "PUT",    "PATCH",
                                                 "DELETE", "HEAD", "OPTIONS"};
  const std::string method = kMethods.count(req.method) ? req.method : "other";
  metrics.inc("sandboxd_http_requests_total",
              {{"method", method}, {"route", route}, {"status", std::to_string(res.status)}});
  if (routed)
    metrics.observe("sandboxd_http_request_duration_seconds",
                    {{"method", method}, {"route", route}},
                    std::chrono::duration<double>(elapsed).count());
  current_request_id().clear();
  t_request.actor.clear();
  t_request.route.clear();
}

}  // namespace

void install_middleware(httplib::Server& server, const Config& config, const Authenticator& auth,
                        Metrics& metrics, TicketCheck ticket) {
  server.set_pre_routing_handler(
      [&config, &auth, ticket](const httplib::Request& req, httplib::Response& res) {
        return pre_route(config, auth, ticket, req, res);
      });
  server.set_error_handler(on_error);
  server.set_exception_handler(on_exception);
  server.set_logger([&metrics](const httplib::Request& req, const httplib::Response& res) {
    log_request(metrics, req, res);
  });
}

const std::string& request_actor() { return t_request.actor; }

void set_request_route(const std::string& route) { t_request.route = route; }

}  // namespace sandboxd
