// Runtime: the verbs sandboxd needs from whatever runs sandboxes, in domain terms: a
// sandbox is one container (from a RunSpec) on the sandbox network, with its workspace
// mounted. DockerCliRuntime implements it on the `docker` CLI; FakeRuntime (tests/fakes)
// in memory. Nothing above this seam names a container engine: ARCHITECTURE.md maps
// each verb to Kubernetes objects for a second runtime.
// Errors are typed: kNotFound (no such container/network), kConflict (name in use, not
// running), kUnavailable (engine unreachable, image missing), kTimeout, kInternal.
// Implementations are thread-safe; every call blocks until the engine answers or its
// deadline passes.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sandboxd/base/status.h"
#include "sandboxd/os/process_runner.h"

namespace sandboxd {

struct Mount {
  std::string host_path;
  std::string container_path;
  bool read_only = false;
};

// Everything a sandbox's container gets, explicitly: no hidden defaults, so a change to the
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
  int64_t cpu_millis = 0;  // CPU time per wall second, in thousandths of a CPU; 0: no cap
  int64_t pids_limit = 0;
  int64_t nofile = 0;
  int64_t tmpfs_bytes = 0;    // tmpfs /tmp of this size
  int64_t log_max_bytes = 0;  // cap on the runtime's log of the container (PID 1 output)
  bool init = true;           // --init: a PID 1 that forwards signals and reaps
  bool read_only = true;
  bool cap_drop_all = true;
  bool no_new_privileges = true;
  std::vector<std::string> command;  // empty: the image's default
  // The OCI runtime by the engine's name for it ("runsc" for gVisor); empty: the default.
  std::string oci_runtime;
};

struct ExecSpec {
  std::string container;
  std::vector<std::string> cmd;
  std::map<std::string, std::string> env;  // secret: passed through a 0600 env file
  std::string user;
  std::string workdir;
  std::chrono::seconds timeout{300};
  std::size_t max_output_bytes = 1 << 20;
  // Start the command and return at once: it outlives this call and
  // sandboxd, and enforces its own deadline (`timeout` is not applied).
  bool detach = false;
  // exec_session only: the command writes this byte to its stdout once it started, before
  // any output of its own; exec_session waits for it, and an end before it is an error.
  std::optional<char> ready_byte;
};

// A command running in a container with its stdin held open and its output read as it
// comes (streamed exec, the terminal). Destroying it closes the command's stdin, which
// the in-sandbox runner (sandbox-run) takes as "end the command", then ends the
// engine's client. Not thread-safe; it must be used and destroyed on the thread that
// opened it (os/spawn.h).
class ExecSession {
 public:
  enum class Stream { kStdout, kStderr };
  struct Output {
    Stream stream;
    std::string data;
  };
  virtual ~ExecSession() = default;
  // Descriptors to poll for POLLIN: read() has something new (or an end) when one is
  // readable. Empty once both streams ended.
  virtual std::vector<int> fds() const = 0;
  // What output is there now, without blocking (empty: none yet).
  virtual std::vector<Output> read() = 0;
  // The command's exit status once it ended and all its output was read; nullopt
  // before. An error when the engine failed (as exec's).
  virtual Result<std::optional<int>> exit_code() = 0;
  // The command's stdin, to poll for POLLOUT when write() took less than all (-1: none).
  virtual int stdin_fd() const = 0;
  // Writes what the command's stdin takes now of `data`, without blocking: the bytes
  // written (0 when it is full), nullopt once it is closed or broken.
  virtual std::optional<std::size_t> write(std::string_view data) = 0;
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
  std::string status;    // the runtime's own word, for display only (e.g. exited, paused)
  bool running = false;  // the runtime says it runs (inspect: also while paused)
  bool paused = false;   // its processes are frozen
  int exit_code = 0;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> ips;  // network -> IPv4 address; filled by inspect only
};

// What a running container uses now, from its cgroup; a field is nullopt when unknown.
struct ContainerUsage {
  std::optional<int64_t> memory_bytes;  // memory charged to it (page cache included)
  std::optional<int64_t> cpu_usec;      // CPU time used since it started
};

// True when `status` (from a Runtime call) says the container's network does not exist,
// as opposed to the container itself.
bool is_missing_network(const Status& status);
// True when `status` (from exec_session) says the container has no such program.
bool is_missing_program(const Status& status);

// A live feed of the runtime's container events (start, die, destroy, oom) for one
// instance. Not thread-safe; the destructor closes it.
class EventStream {
 public:
  virtual ~EventStream() = default;
  // The sandbox id of the next event, waiting up to `timeout`: nullopt on timeout,
  // kUnavailable once the feed ended (the engine restarted or went away).
  virtual Result<std::optional<std::string>> next(std::chrono::milliseconds timeout) = 0;
};

class Runtime {
 public:
  virtual ~Runtime() = default;
  // Creates the sandbox network, isolated (inter-container traffic off), if it does not
  // exist; warns about an existing one that is not isolated. Idempotent.
  virtual Status ensure_network(const std::string& name,
                                const std::map<std::string, std::string>& labels) = 0;
  // Creates the container of `spec` and starts it; returns its full id.
  virtual Result<std::string> create(const RunSpec& spec) = 0;
  // Starts a stopped container; a no-op on a running one (so it also verifies one).
  virtual Status start(const std::string& name) = 0;
  // Graceful stop: SIGTERM, then SIGKILL after grace_s. Stopping a stopped one is ok.
  virtual Status stop(const std::string& name, int grace_s) = 0;
  // Freezes every process of a running container (memory stays allocated) / thaws it.
  virtual Status pause(const std::string& name) = 0;
  virtual Status unpause(const std::string& name) = 0;
  // Sends `signal` (e.g. "HUP") to the container's main process (its PID 1).
  virtual Status signal(const std::string& name, const std::string& signal) = 0;
  // Force-removes the container (by name or id); kNotFound when there is none.
  virtual Status remove(const std::string& name) = 0;
  virtual Result<ContainerState> inspect(const std::string& name) = 0;
  // Containers (running or not) carrying every label in `labels`.
  virtual Result<std::vector<ContainerState>> list(
      const std::map<std::string, std::string>& labels) = 0;
  // Runs a command in a running container. A non-zero exit is a normal result.
  virtual Result<ExecResult> exec(const ExecSpec& spec) = 0;
  // Starts a command with its stdin kept open, for output read as it comes (`timeout`
  // is not applied: the command enforces its own). kConflict, is_missing_program(), when
  // the container lacks the program (an image older than it).
  virtual Result<std::unique_ptr<ExecSession>> exec_session(const ExecSpec& spec) = 0;
  // Opens the event feed for the containers of `instance` (label sandboxed.instance).
  virtual Result<std::unique_ptr<EventStream>> events(const std::string& instance) = 0;
  // kOk when the engine answers.
  virtual Status ping() = 0;
  // The host network interface of a sandbox network (Docker: its bridge), where the
  // egress firewall (net/egress.h) applies its rules.
  virtual Result<std::string> network_interface(const std::string& network) = 0;
  // Memory and CPU time of the running container `container_id` (its full id); nothing
  // known for a stopped one. Reads files, no engine call: cheap enough for every GET.
  virtual ContainerUsage usage(const std::string& container_id) = 0;
  // Whether the engine can run containers under `oci_runtime` (e.g. "runsc").
  virtual Result<bool> has_oci_runtime(const std::string& oci_runtime) = 0;
};

}  // namespace sandboxd
