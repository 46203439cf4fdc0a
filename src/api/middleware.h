// The pipeline around every API route: a request id, the browser defences (Host,
// Origin, CORS preflight; see request_guard.h), bearer auth, JSON answers for the
// server's own errors and for exceptions, one access-log line per request (in the JSON
// log format with method, path, route, status, duration_ms, actor and remote as keys),
// and the request metrics (sandboxd_http_requests_total and its duration histogram). Each
// request runs start to finish on one worker thread, which carries its context.
#pragma once

#include <httplib.h>

#include <functional>
#include <optional>
#include <string>

#include "sandboxd/auth/auth.h"
#include "sandboxd/base/metrics.h"
#include "sandboxd/config/config.h"

namespace sandboxd {

// A request's actor from a credential other than the Authorization header (a terminal's
// ticket), or nullopt. Called only for a request without that header.
using TicketCheck = std::function<std::optional<std::string>(const httplib::Request&)>;

// Installs the pre-routing, error, exception and logging handlers on `server`. `config`,
// `auth` and `metrics` are borrowed for the server's lifetime. GET /console and its files
// need no token (they hold no data); the Host and Origin rules still apply.
void install_middleware(httplib::Server& server, const Config& config, const Authenticator& auth,
                        Metrics& metrics, TicketCheck ticket = {});

// The route template (e.g. /v1/sandboxes/{id}) of the request this thread is serving, as
// its handler declares it: the label of its metrics and log line.
void set_request_route(const std::string& route);

// Who sent the request this thread is serving: the token's name, "auth-disabled", or ""
// when it is anonymous.
const std::string& request_actor();

}  // namespace sandboxd
