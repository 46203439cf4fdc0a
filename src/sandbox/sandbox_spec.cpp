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

std::vector<PreviewRoute> preview_routes(const Config& config, const std::string& id,
                                         const std::vector<int>& ports) {
  std::vector<PreviewRoute> routes;
  std::string prefix = config.instance == "default" ? "" : config.instance + "-";
  for (int port : ports) {
    std::string p = std::to_string(port);
    routes.push_back({prefix + "s-" + id + "-" + p,
                      "s-" + id + "-" + p + ".preview." + config.preview_domain, port,
                      config.preview_entrypoint, config.preview_tls});
  }
  return routes;
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
  s.routes = preview_routes(config, rec.id, rec.ports);
  s.env = rec.env;
  s.env.try_emplace("HOME", kSandboxHome);
  std::string ports;
  for (int p : rec.ports) ports += (ports.empty() ? "" : ",") + std::to_string(p);
  s.env["SANDBOXED_PORTS"] = ports;  // read by sandbox-init: the dev server's default PORT
  s.mounts.push_back({workspace, kSandboxHome});
  s.mounts.push_back({identity + "/passwd", "/etc/passwd", /*read_only=*/true});
  s.mounts.push_back({identity + "/group", "/etc/group", /*read_only=*/true});
  s.memory_bytes = rec.limits.memory_bytes;
  s.cpu_millis = rec.limits.cpu_millis;
  s.oci_runtime = oci_runtime(rec.isolation);
  s.pids_limit = rec.limits.pids;
  s.nofile = rec.limits.nofile;
  s.tmpfs_bytes = config.tmpfs_bytes;
  s.log_max_bytes = kContainerLogMaxBytes;
  return s;
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
