// Pure building of what a sandbox's container is: its name, labels (instance and
// Traefik), RunSpec and exec specs. No I/O: the same row and config always give the same
// spec, which the tests pin down flag by flag.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "sandboxd/config/config.h"
#include "sandboxd/runtime/runtime.h"
#include "sandboxd/store/records.h"

namespace sandboxd {

inline constexpr int kSandboxUid = 1000;
inline constexpr const char* kSandboxHome = "/home/sandbox";
inline constexpr const char* kSandboxAppDir = "/home/sandbox/workspace/app";

// "uid:gid" of the sandbox user, as RunSpec and ExecSpec take it.
const std::string& sandbox_user();

// Container name of sandbox `id` for `instance` (instance-scoped).
std::string container_name(const std::string& instance, const std::string& id);
// Labels every container of `instance` carries.
std::map<std::string, std::string> instance_labels(const std::string& instance);
// The preview routes of a sandbox's ports: host s-<id>-<port>.preview.<domain> on the
// configured entrypoint, named s-<id>-<port> (instance-prefixed outside the default
// instance).
std::vector<PreviewRoute> preview_routes(const Config& config, const std::string& id,
                                         const std::vector<int>& ports);
// The value of label `key` of `c` ("" when absent).
std::string label_of(const ContainerState& c, const std::string& key);
// Whether `c` is the container of sandbox `id` of `instance` (managed, instance and id
// labels all match).
bool is_instance_container(const ContainerState& c, const std::string& instance,
                           const std::string& id);

// The RunSpec for a sandbox row: hardened, its workspace at `workspace` mounted as the
// sandbox user's home, labelled with the instance and the installation, with its routes.
RunSpec run_spec(const SandboxRecord& rec, const Config& config, const std::string& install_id,
                 const std::string& workspace);
// An exec of `cmd` as the sandbox user in `container` (in `workdir`; "" is the app dir).
ExecSpec exec_spec(const std::string& container, std::vector<std::string> cmd,
                   std::map<std::string, std::string> env, const std::string& workdir);

}  // namespace sandboxd
