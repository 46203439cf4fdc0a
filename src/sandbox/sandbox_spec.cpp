#include "sandboxd/sandbox/sandbox_spec.h"

namespace sandboxd {
namespace {

// The runtime's own log of a sandbox (its PID 1 output, which the tenant can write to).
constexpr int64_t kContainerLogMaxBytes = 1 << 20;

}  // namespace

std::string sandbox_user(int64_t uid) { return std::to_string(uid) + ":" + std::to_string(uid); }

int64_t sandbox_uid(const Config& config, int64_t slot) { return config.uid_base + slot; }

std::string sandbox_network(const Config& config, Egress egress) {
  return egress == Egress::kNone ? config.network + "-none" : config.network;
}

std::string oci_runtime(Isolation isolation) {
  return isolation == Isolation::kGvisor ? "runsc" : "";
}

std::string container_name(const std::string& instance, const std::string& id) {
  return instance == "default" ? "s-" + id : instance + "-s-" + id;
}

std::map<std::string, std::string> instance_labels(const std::string& instance) {
  return {{"sandboxed.managed", "true"}, {"sandboxed.instance", instance}};
}

std::string label_of(const ContainerState& c, const std::string& key) {
  auto it = c.labels.find(key);
  return it == c.labels.end() ? std::string() : it->second;
}

bool is_instance_container(const ContainerState& c, const std::string& instance,
                           const std::string& id) {
  return label_of(c, "sandboxed.managed") == "true" &&
         label_of(c, "sandboxed.instance") == instance && label_of(c, "sandboxed.id") == id;
}

RunSpec run_spec(const SandboxRecord& rec, const Config& config, const std::string& install_id,
                 const std::string& workspace, const std::string& identity) {
  RunSpec s;
  s.name = rec.container_name;
  s.hostname = "s-" + rec.id;
  s.image = rec.image;
  s.network = sandbox_network(config, rec.egress);
  s.user = sandbox_user(rec.uid);
  s.workdir = kSandboxAppDir;
  s.labels = instance_labels(config.instance);
  s.labels["sandboxed.id"] = rec.id;
  s.labels["sandboxed.install"] = install_id;
  // The sandbox's own env is not in the container's: it is in the env file mounted at
  // /run/sandboxed (write_identity), which sandbox-init gives the app, and exec and tasks
  // pass with each command, so a pooled container can take any sandbox's env.
  s.env["HOME"] = kSandboxHome;
  s.mounts.push_back({workspace, kSandboxHome});
  s.mounts.push_back({identity + "/passwd", "/etc/passwd", /*read_only=*/true});
  s.mounts.push_back({identity + "/group", "/etc/group", /*read_only=*/true});
  s.mounts.push_back({identity + "/run", kSandboxRunDir, /*read_only=*/true});
  s.memory_bytes = rec.limits.memory_bytes;
  s.cpu_millis = rec.limits.cpu_millis;
  s.oci_runtime = oci_runtime(rec.isolation);
  s.pids_limit = rec.limits.pids;
  s.nofile = rec.limits.nofile;
  s.tmpfs_bytes = config.tmpfs_bytes;
  s.log_max_bytes = kContainerLogMaxBytes;
  return s;
}

std::map<std::string, std::string> env_file_values(const SandboxRecord& rec) {
  std::map<std::string, std::string> env = rec.env;
  std::string ports;
  for (int p : rec.ports) ports += (ports.empty() ? "" : ",") + std::to_string(p);
  env["SANDBOXED_PORTS"] = ports;  // read by sandbox-init: the dev server's default PORT
  return env;
}

ExecSpec exec_spec(const SandboxRecord& rec, std::vector<std::string> cmd,
                   std::map<std::string, std::string> env, const std::string& workdir) {
  ExecSpec spec;
  spec.container = rec.container_name;
  spec.cmd = std::move(cmd);
  spec.env = std::move(env);
  spec.user = sandbox_user(rec.uid);
  spec.workdir = workdir.empty() ? kSandboxAppDir : workdir;
  return spec;
}

}  // namespace sandboxd
