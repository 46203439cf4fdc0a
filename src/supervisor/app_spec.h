// What the in-sandbox supervisor runs: the app's dev server, from the manifest
// ~/workspace/app/sandbox.json or detected from package.json. Pure functions over file
// contents, so they are unit-tested on the host.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sandboxd {

inline constexpr const char* kManifestName = "sandbox.json";

struct AppSpec {
  std::vector<std::string> argv;  // exec'd directly (a string command becomes sh -c)
  int port = 3000;
  std::string cwd;  // absolute
  std::map<std::string, std::string> env;
  std::string source;  // "manifest" or "package.json"
};

// The app to run in `app_dir`, given the text of sandbox.json and package.json (nullopt
// when absent) and the sandbox's ports (SANDBOXED_PORTS). nullopt when there is nothing
// to run yet. A malformed manifest is reported through `error` and runs nothing.
std::optional<AppSpec> resolve_app(const std::string& app_dir,
                                   const std::optional<std::string>& manifest,
                                   const std::optional<std::string>& package_json,
                                   const std::vector<int>& ports, std::string* error);

// "3000,5173" -> {3000, 5173}; bad entries are skipped.
std::vector<int> parse_ports(const std::string& csv);

}  // namespace sandboxd
