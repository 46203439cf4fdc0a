// The pipeline around every API route: a request id, the browser defences (Host,
// Origin, CORS preflight; see request_guard.h), bearer auth, JSON answers for the
// server's own errors and for exceptions, and one access-log line per request. Each
// request runs start to finish on one worker thread, which carries its context.
#pragma once

#include <httplib.h>

#include <string>

#include "sandboxd/auth/auth.h"
#include "sandboxd/config/config.h"

namespace sandboxd {

// Installs the pre-routing, error, exception and logging handlers on `server`. `config`
// and `auth` are borrowed for the server's lifetime.
void install_middleware(httplib::Server& server, const Config& config, const Authenticator& auth);

// Who sent the request this thread is serving: the token's name, "auth-disabled", or ""
// when it is anonymous.
const std::string& request_actor();

}  // namespace sandboxd
