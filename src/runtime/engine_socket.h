// A bodiless POST to the container engine's HTTP API on its unix socket (Docker Engine
// API). Used for the verbs on a request's path (pause, unpause), where forking the CLI
// costs tens of milliseconds of CPU per call.
#pragma once

#include <chrono>
#include <string>

#include "sandboxd/base/status.h"

namespace sandboxd {

// POSTs `path` (e.g. "/containers/s-x/unpause") to the API on unix socket `socket`;
// `what` names the call in errors. 2xx: ok; 404: kNotFound; 409: kConflict; no answer or
// anything else: kUnavailable with the engine's message.
Status engine_post(const std::string& socket, const std::string& path, std::chrono::seconds timeout,
                   const std::string& what);

}  // namespace sandboxd
