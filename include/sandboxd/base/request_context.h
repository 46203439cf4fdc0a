// The id of the API request the current thread is serving, so every log line written
// while serving it (in any module) carries it. Empty outside a request. Thread-local.
#pragma once

#include <string>

namespace sandboxd {

std::string& current_request_id();

}  // namespace sandboxd
