// DockerCli: Docker on top of the `docker` CLI through a ProcessRunner. Builds argv
// vectors (never shell strings); env values go through 0600 env files in a private
// directory, never on a command line. Thread-safe (stateless apart from config).
#pragma once

#include <string>

#include "sandboxd/docker/docker.h"
#include "sandboxd/os/process_runner.h"

namespace sandboxd {

class DockerCli final : public Docker {
 public:
  // `secrets_dir` must be a directory only root can read (env files are written there
  // for the duration of one docker call). `timeout` bounds every call but exec.
  DockerCli(ProcessRunner& runner, std::string docker_binary, std::string secrets_dir,
            std::chrono::seconds timeout);

  Status ensure_network(const std::string& name,
                        const std::map<std::string, std::string>& labels) override;
  Result<std::string> run(const RunSpec& spec) override;
  Status start(const std::string& name) override;
  Status stop(const std::string& name, int grace_s) override;
  Status remove(const std::string& name) override;
  Result<ContainerState> inspect(const std::string& name) override;
  Result<std::vector<ContainerState>> list(
      const std::map<std::string, std::string>& labels) override;
  Result<ExecResult> exec(const ExecSpec& spec) override;
  Status ping() override;

  // The argv for `docker run` of spec, with env_file as the --env-file path (empty: none).
  // Public so tests can assert the exact flags.
  std::vector<std::string> run_argv(const RunSpec& spec, const std::string& env_file) const;
  std::vector<std::string> exec_argv(const ExecSpec& spec, const std::string& env_file) const;

 private:
  Result<ProcessOutput> call(std::vector<std::string> args, std::chrono::seconds timeout);

  ProcessRunner& runner_;
  std::string docker_;
  std::string secrets_dir_;
  std::chrono::seconds timeout_;
};

// Maps a failed docker CLI call to a typed Status from its stderr.
Status classify_docker_error(const std::string& op, const ProcessOutput& out);

}  // namespace sandboxd
