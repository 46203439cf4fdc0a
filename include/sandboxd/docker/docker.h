// Docker: the domain verbs sandboxd needs from a container engine. Errors are typed:
// kNotFound (no such container/network), kConflict (name in use, not running),
// kUnavailable (daemon unreachable, image missing), kTimeout, kInternal. Implementations
// are thread-safe; every call blocks until the engine answers or its deadline passes.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "sandboxd/base/status.h"
#include "sandboxd/os/process_runner.h"

namespace sandboxd {

struct Mount {
  std::string host_path;
  std::string container_path;
};

// Everything `docker run` gets, explicitly: no hidden defaults, so a change to the
// flags shows up in review and in the argv tests.
struct RunSpec {
  std::string name;
  std::string hostname;
  std::string image;
  std::string network;
  std::string user;  // "uid:gid"
  std::string workdir;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> env;  // secret: passed through a 0600 env file
  std::vector<Mount> mounts;
  int64_t memory_bytes = 0;
  int64_t pids_limit = 0;
  int64_t nofile = 0;
  int64_t tmpfs_bytes = 0;    // tmpfs /tmp of this size
  int64_t log_max_bytes = 0;  // cap on docker's log of the container (PID 1 output)
  bool init = true;           // --init: a PID 1 that forwards signals and reaps
  bool read_only = true;
  bool cap_drop_all = true;
  bool no_new_privileges = true;
  std::vector<std::string> command;  // empty: the image's default
};

struct ExecSpec {
  std::string container;
  std::vector<std::string> cmd;
  std::map<std::string, std::string> env;  // secret: passed through a 0600 env file
  std::string user;
  std::string workdir;
  std::chrono::seconds timeout{300};
  std::size_t max_output_bytes = 1 << 20;
  // Start the command and return at once (docker exec -d): it outlives this call and
  // sandboxd, and enforces its own deadline (`timeout` is not applied).
  bool detach = false;
};

struct ExecResult {
  int exit_code = -1;
  std::string stdout_data;
  std::string stderr_data;
  bool truncated = false;
  bool timed_out = false;
  int64_t duration_ms = 0;
};

struct ContainerState {
  std::string id;
  std::string name;
  std::string status;  // docker's: created|running|paused|restarting|removing|exited|dead
  bool running = false;
  int exit_code = 0;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> ips;  // network -> IPv4 address; filled by inspect only
};

// True when `status` (from a Docker call) says the container's network does not exist,
// as opposed to the container itself.
bool is_missing_network(const Status& status);

class Docker {
 public:
  virtual ~Docker() = default;
  // Creates the sandbox bridge network, isolated (inter-container traffic off), if it
  // does not exist; warns about an existing one that is not isolated. Idempotent.
  virtual Status ensure_network(const std::string& name,
                                const std::map<std::string, std::string>& labels) = 0;
  // docker run -d; returns the full container id.
  virtual Result<std::string> run(const RunSpec& spec) = 0;
  virtual Status start(const std::string& name) = 0;
  // Graceful stop: SIGTERM, then SIGKILL after grace_s. Stopping a stopped one is ok.
  virtual Status stop(const std::string& name, int grace_s) = 0;
  // Force-removes the container; kNotFound when there is none.
  virtual Status remove(const std::string& name) = 0;
  virtual Result<ContainerState> inspect(const std::string& name) = 0;
  // Containers (running or not) carrying every label in `labels`.
  virtual Result<std::vector<ContainerState>> list(
      const std::map<std::string, std::string>& labels) = 0;
  // Runs a command in a running container. A non-zero exit is a normal result.
  virtual Result<ExecResult> exec(const ExecSpec& spec) = 0;
  // kOk when the daemon answers.
  virtual Status ping() = 0;
};

}  // namespace sandboxd
