#include "supervisor/app_spec.h"

#include <nlohmann/json.hpp>

#include "sandboxd/base/text.h"

namespace sandboxd {

using nlohmann::json;

std::vector<int> parse_ports(const std::string& csv) {
  std::vector<int> out;
  for (const std::string& item : split(csv, ',')) {
    int port = 0;
    bool ok = !item.empty() && item.size() <= 5;
    for (char c : item) ok = ok && c >= '0' && c <= '9';
    if (ok) port = std::stoi(item);
    if (port >= 1 && port <= 65535) out.push_back(port);
  }
  return out;
}

std::optional<AppSpec> resolve_app(const std::string& app_dir,
                                   const std::optional<std::string>& manifest,
                                   const std::optional<std::string>& package_json,
                                   const std::vector<int>& ports, std::string* error) {
  AppSpec spec;
  spec.cwd = app_dir;
  spec.port = ports.empty() ? 3000 : ports.front();
  if (manifest) {
    json m = json::parse(*manifest, nullptr, false);
    auto fail = [&](const std::string& why) -> std::optional<AppSpec> {
      if (error) *error = std::string(kManifestName) + ": " + why;
      return std::nullopt;
    };
    if (!m.is_object()) return fail("not a JSON object");
    if (!m.contains("command")) return fail("\"command\" is required");
    const json& cmd = m["command"];
    if (cmd.is_string() && !cmd.get<std::string>().empty()) {
      spec.argv = {"/bin/sh", "-c", cmd.get<std::string>()};
    } else if (cmd.is_array() && !cmd.empty()) {
      for (const auto& a : cmd) {
        if (!a.is_string()) return fail("\"command\" array must hold strings");
        spec.argv.push_back(a.get<std::string>());
      }
    } else {
      return fail("\"command\" must be a non-empty string or array of strings");
    }
    if (m.contains("port")) {
      if (!m["port"].is_number_integer() || m["port"].get<int64_t>() < 1 ||
          m["port"].get<int64_t>() > 65535) {
        return fail("\"port\" must be an integer in 1..65535");
      }
      spec.port = m["port"].get<int>();
    }
    if (m.contains("cwd")) {
      if (!m["cwd"].is_string()) return fail("\"cwd\" must be a string");
      std::string cwd = m["cwd"].get<std::string>();
      spec.cwd = !cwd.empty() && cwd[0] == '/' ? cwd : app_dir + "/" + cwd;
    }
    if (m.contains("env")) {
      if (!m["env"].is_object()) return fail("\"env\" must be an object of strings");
      for (const auto& [k, v] : m["env"].items()) {
        if (!v.is_string()) return fail("\"env." + k + "\" must be a string");
        spec.env[k] = v.get<std::string>();
      }
    }
    spec.source = "manifest";
    return spec;
  }
  if (package_json) {
    json p = json::parse(*package_json, nullptr, false);
    if (!p.is_object() || !p.contains("scripts") || !p["scripts"].is_object()) return std::nullopt;
    for (const char* script : {"dev", "start"}) {
      if (p["scripts"].contains(script) && p["scripts"][script].is_string()) {
        spec.argv = {"npm", "run", script};
        spec.source = "package.json";
        return spec;
      }
    }
  }
  return std::nullopt;
}

}  // namespace sandboxd
