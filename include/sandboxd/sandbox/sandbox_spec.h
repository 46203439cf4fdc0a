// Pure building of what a sandbox's container is: its name, labels (instance, id and
// installation; no routing labels: every preview request goes through sandboxd's edge),
// RunSpec and exec specs. No I/O: the same row and config always give the same
// spec, which the tests pin down flag by flag.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "sandboxd/config/config.h"
#include "sandboxd/runtime/runtime.h"
#include "sandboxd/store/records.h"

namespace sandboxd {

inline constexpr const char* kSandboxHome = "/home/sandbox";
inline constexpr const char* kSandboxAppDir = "/home/sandbox/workspace/app";
// Where the sandbox's env file (`env`) is mounted read-only; sandbox-init reads it.
inline constexpr const char* kSandboxRunDir = "/run/sandboxed";

// "uid:gid" of a sandbox's user, as RunSpec and ExecSpec take it (its gid is its uid).
std::string sandbox_user(int64_t uid);
// The uid of uid slot `slot` (Store::next_uid_slot).
int64_t sandbox_uid(const Config& config, int64_t slot);
// The network of sandboxes with egress `egress`: SANDBOXD_NETWORK, or <it>-none.
std::string sandbox_network(const Config& config, Egress egress);
// The engine's name of the OCI runtime for `isolation` ("" for its default, runc).
std::string oci_runtime(Isolation isolation);

// Container name of sandbox `id` for `instance` (instance-scoped).
std::string container_name(const std::string& instance, const std::string& id);
// Labels every container of `instance` carries.
std::map<std::string, std::string> instance_labels(const std::string& instance);
// The value of label `key` of `c` ("" when absent).
std::string label_of(const ContainerState& c, const std::string& key);
// Whether `c` is the container of sandbox `id` of `instance` (managed, instance and id
// labels all match).
bool is_instance_container(const ContainerState& c, const std::string& instance,
                           const std::string& id);

// The RunSpec for a sandbox row: hardened, as its own uid, its workspace at `workspace`
// mounted as the sandbox user's home and its identity files (identity.h, under
// `identity`) over /etc/passwd and /etc/group, its CPU and memory caps, on the network of
// its egress, under its OCI runtime, labelled with the instance and the installation.
RunSpec run_spec(const SandboxRecord& rec, const Config& config, const std::string& install_id,
                 const std::string& workspace, const std::string& identity);
// An exec of `cmd` as sandbox `rec`'s user in its container (in `workdir`; "" is the app
// dir).
// What the sandbox's env file holds (write_identity): its env and SANDBOXED_PORTS (its
// ports, comma-separated: sandbox-init's default PORT for the dev server).
std::map<std::string, std::string> env_file_values(const SandboxRecord& rec);
ExecSpec exec_spec(const SandboxRecord& rec, std::vector<std::string> cmd,
                   std::map<std::string, std::string> env, const std::string& workdir);

}  // namespace sandboxd
