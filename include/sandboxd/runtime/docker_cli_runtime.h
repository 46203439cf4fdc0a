// DockerCliRuntime: the Runtime on top of the `docker` CLI through a ProcessRunner. Builds argv
// vectors (never shell strings); env values go through 0600 env files in a private
// directory, never on a command line. Thread-safe (stateless apart from config).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "sandboxd/os/process_runner.h"
#include "sandboxd/runtime/runtime.h"

namespace sandboxd {

class DockerCliRuntime final : public Runtime {
 public:
  // `secrets_dir` must be a directory only root can read (env files are written there
  // for the duration of one docker call). `timeout` bounds every call but exec.
  // `cgroup_root` is where the host's cgroup v2 hierarchy is mounted (for usage()).
  DockerCliRuntime(ProcessRunner& runner, std::string docker_binary, std::string secrets_dir,
                   std::chrono::seconds timeout, std::string cgroup_root = "/sys/fs/cgroup");

  // Pause and unpause then go straight to the engine's API on this unix socket (they are
  // on a preview request's path, and a CLI process costs tens of ms of CPU); empty: the
  // CLI, as for every other call.
  void set_engine_socket(std::string path) { engine_socket_ = std::move(path); }

  Status ensure_network(const std::string& name,
                        const std::map<std::string, std::string>& labels) override;
  Result<std::string> create(const RunSpec& spec) override;
  Status start(const std::string& name) override;
  Status stop(const std::string& name, int grace_s) override;
  Status pause(const std::string& name) override;
  Status unpause(const std::string& name) override;
  Status signal(const std::string& name, const std::string& signal) override;
  Status remove(const std::string& name) override;
  Result<ContainerState> inspect(const std::string& name) override;
  Result<std::vector<ContainerState>> list(
      const std::map<std::string, std::string>& labels) override;
  Result<ExecResult> exec(const ExecSpec& spec) override;
  // `docker exec -i`, its stdin a pipe held by the session.
  Result<std::unique_ptr<ExecSession>> exec_session(const ExecSpec& spec) override;
  // `docker events` filtered to the instance's start, die, destroy and oom events.
  Result<std::unique_ptr<EventStream>> events(const std::string& instance) override;
  Status ping() override;
  Result<std::string> network_interface(const std::string& network) override;
  // From the container's cgroup under <cgroup_root>: docker-<id>.scope in system.slice
  // (systemd's cgroup driver) or docker/<id> (cgroupfs), on cgroup v2 (memory.current,
  // cpu.stat) or v1 (memory.usage_in_bytes, cpuacct.usage).
  ContainerUsage usage(const std::string& container_id) override;
  Result<bool> has_oci_runtime(const std::string& oci_runtime) override;

  // The argv for `docker run` of spec, with env_file as the --env-file path (empty: none).
  // Public so tests can assert the exact flags.
  std::vector<std::string> run_argv(const RunSpec& spec, const std::string& env_file) const;
  // With `session`, for exec_session: stdin attached, no `timeout` wrapper.
  std::vector<std::string> exec_argv(const ExecSpec& spec, const std::string& env_file,
                                     bool session = false) const;

 private:
  Result<ProcessOutput> call(std::vector<std::string> args, std::chrono::seconds timeout);

  ProcessRunner& runner_;
  std::string docker_;
  std::string secrets_dir_;
  std::chrono::seconds timeout_;
  std::string cgroup_root_;
  std::string engine_socket_;
};

// The sandbox id (label sandboxed.id) of a `docker events --format '{{json .}}'` line
// about a container of `instance`; nullopt for anything else.
std::optional<std::string> docker_event_sandbox_id(std::string_view line,
                                                   const std::string& instance);

// Maps a failed docker CLI call to a typed Status from its stderr.
Status classify_docker_error(const std::string& op, const ProcessOutput& out);

}  // namespace sandboxd
