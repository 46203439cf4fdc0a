// The one way sandboxd turns JSON into text: compact, with invalid UTF-8 replaced
// (agent and command output may be any bytes) instead of throwing. For .cpp files that
// already use nlohmann/json; public headers stay free of it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace sandboxd {

inline std::string dump_json(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace sandboxd
