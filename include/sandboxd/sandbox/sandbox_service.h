// SandboxService: the one lifecycle service. Every state change of a sandbox (API,
// and later the reconciler, reapers and wake path) goes through here, under the
// sandbox's id lock, and is written to the Store before and after each docker action so
// a crash between any two steps leaves a row that can be converged. Thread-safe;
// methods block for the docker calls they make (up to the docker timeout).
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sandboxd/config/config.h"
#include "sandboxd/docker/docker.h"
#include "sandboxd/os/clock.h"
#include "sandboxd/os/memory.h"
#include "sandboxd/sandbox/id_locks.h"
#include "sandboxd/sandbox/workspace_files.h"
#include "sandboxd/sandbox/workspaces.h"
#include "sandboxd/store/store.h"

namespace sandboxd {

inline constexpr int kSandboxUid = 1000;
inline constexpr const char* kSandboxHome = "/home/sandbox";
inline constexpr const char* kSandboxAppDir = "/home/sandbox/workspace/app";

struct CreateRequest {
  std::optional<std::string> id;  // raw; validated and lower-cased by create()
  std::vector<int> ports;
  std::map<std::string, std::string> env;
  std::string idle_policy = "sleep";
  std::optional<int64_t> memory_bytes;
  std::optional<int64_t> pids;
  std::optional<int64_t> nofile;
};

struct ExecRequest {
  std::vector<std::string> cmd;
  std::map<std::string, std::string> env;
  std::optional<int> timeout_s;
  std::string workdir;  // empty: the app directory
};

// What the idle reaper makes of a sandbox, for GET /sandbox/{id}.
struct IdleInfo {
  int64_t threshold_s = 0;
  int64_t stops_at_ms = 0;  // when the idle reaper will stop it; 0: it will not (now)
  std::string reason;       // why it will, or will not, be stopped
};

// The ids among `rows` that the idle reaper should stop at now_ms (pure): running,
// idle_policy sleep, not busy, and past both last activity + threshold and keepalive.
std::vector<std::string> pick_idle(const std::vector<SandboxRecord>& rows, int64_t now_ms,
                                   int64_t threshold_ms, const std::set<std::string>& busy);
// Running sandboxes the pressure reaper may stop, best victim first (pure): idle-eligible
// ones (sleep, not busy) least recently active first; in an emergency, then the busy and
// always_on ones, also least recently active first.
std::vector<std::string> pick_pressure_victims(const std::vector<SandboxRecord>& rows,
                                               const std::set<std::string>& busy, bool emergency);
// Whether a row and its observed container (nullptr: none) need converging (pure).
bool needs_convergence(const SandboxRecord& row, const ContainerState* container);

struct ListResult {
  std::vector<SandboxRecord> sandboxes;
  std::string next_after;  // empty when this is the last page
};

// Checks a create request against the rules and operator maxima (pure).
Status validate_create(const CreateRequest& req, const Config& config);
// Checks an env map: keys [A-Za-z_][A-Za-z0-9_]*, values without NUL/CR/LF (pure).
Status validate_env(const std::map<std::string, std::string>& env, const std::string& field);
// Container name of sandbox `id` for `instance` (instance-scoped).
std::string container_name(const std::string& instance, const std::string& id);
// The Traefik v3 Docker-provider labels that route every port of a sandbox
// (router and service s-<id>-<port>, instance-prefixed outside the default instance).
std::map<std::string, std::string> traefik_labels(const Config& config, const std::string& id,
                                                  const std::vector<int>& ports);

class SandboxService {
 public:
  // `memory` gates creates and starts (503 below SANDBOXD_MEM_REFUSE_PCT available).
  SandboxService(const Config& config, Store& store, Docker& docker, Clock& clock,
                 Workspaces& workspaces, MemoryProbe& memory);

  // Ensures the sandbox network exists. Call once at startup.
  Status init();

  // Creates and starts a sandbox. kInvalidArgument (bad input; nothing is written),
  // kConflict (id in use), kUnavailable (docker down / image missing). On a failure
  // after validation everything this call made is rolled back.
  Result<SandboxRecord> create(const CreateRequest& req);
  Result<SandboxRecord> get(const std::string& id);
  Result<ListResult> list(const ListQuery& query);
  // Starts a stopped sandbox (recreating its container from the row if it vanished).
  // Idempotent for a running one. kConflict while creating/deleting/purging.
  Result<SandboxRecord> start(const std::string& id, const std::string& source);
  // Stops a running sandbox gracefully. Idempotent for a stopped one.
  Result<SandboxRecord> stop(const std::string& id);
  // Removes the container and the row, keeps the workspace. Idempotent. Only a container
  // with this instance's labels is removed: for an id without a row whose container name
  // is held by another container, kNotFound and nothing is changed.
  Status destroy(const std::string& id);
  // Removes container, row, tasks and workspace; returns the bytes freed. Idempotent;
  // the same rule as destroy for containers that are not this instance's.
  Result<int64_t> purge(const std::string& id);
  // Runs a command as the sandbox user, starting a stopped sandbox first. Its output and
  // errors show the sandbox's and the request's env values as "***" (Redactor::whole).
  Result<ExecResult> exec(const std::string& id, const ExecRequest& req);
  // The tail (up to max_bytes) of the dev server's log that sandbox-init keeps in the
  // workspace (~/.sandboxed/logs/dev.log), the sandbox's env values hidden (Redactor::whole).
  // Works whether the sandbox runs or not.
  Result<std::string> logs(const std::string& id, std::size_t max_bytes);
  // Records activity now and optionally holds off the idle reaper for `seconds`.
  Result<SandboxRecord> keepalive(const std::string& id, std::optional<int64_t> seconds);

  // --- for the reconciler and reapers; each takes the sandbox's lock ---
  // This instance's containers as docker sees them (one docker call).
  Result<std::vector<ContainerState>> observe();
  // Every row (paged internally).
  Result<std::vector<SandboxRecord>> all();
  // Converges one sandbox: finishes an interrupted operation (creating, starting,
  // stopping, deleting, purging) or makes docker match a running/stopped row (an
  // always_on sandbox whose container died is started again).
  Status converge(const std::string& id);
  // Removes a container of this instance that has no row, if this installation made it
  // (re-checked under the id lock); anything else is only reported.
  Status remove_orphan(const ContainerState& container);
  // Stops the sandbox if, checked again under its lock, it is still idle. True if stopped.
  Result<bool> stop_if_idle(const std::string& id);
  // Pressure reaper: stops the sandbox if, under its lock, it still runs and may be
  // stopped (busy and always_on ones only when `emergency`). True if stopped.
  Result<bool> stop_for_pressure(const std::string& id, bool emergency);
  // --- the files API: the workspace, running or not; each call counts as activity ---
  // A directory listing or a file's content (path relative to the workspace, i.e. the
  // sandbox user's home; "" is the workspace itself).
  Result<FileNode> get_file(const std::string& id, std::string_view path);
  // Writes (atomically) or appends; parent directories are created.
  Status put_file(const std::string& id, std::string_view path, std::string_view content,
                  bool append);
  // Removes a file, a symlink itself or an empty directory.
  Status delete_file(const std::string& id, std::string_view path);

  // --- for the preview edge (wake listener, access-log tailer) ---
  // The address of a running sandbox's port without any docker call: the address when
  // the row is running and its address is known, nullopt when it must be woken first.
  // kNotFound when there is no such sandbox or it does not declare `port`.
  Result<std::optional<std::string>> preview_address(const std::string& id, int port);
  // Brings the sandbox to running (starting it, or recreating a vanished container, under
  // its lock; a running one is verified) and returns its address on the sandbox network.
  Result<std::string> wake(const std::string& id, const std::string& source);
  // Records activity now; writes at most once per second per sandbox.
  void record_activity(const std::string& id, const std::string& source);

  // Ids with an exec in progress or a hold (a running agent task).
  std::set<std::string> busy_ids();
  // Holds (or releases) a sandbox busy: the reapers never stop a busy one (except in the
  // memory emergency band). Counted: each hold needs one release.
  void hold_busy(const std::string& id, bool hold);
  IdleInfo idle_info(const SandboxRecord& rec);
  const std::string& install_id() const { return install_id_; }

  // kOk when SQLite answers and dockerd answered within the last few seconds (the
  // docker answer is cached so probes do not fork a process each time).
  Status readiness();

  // Labels every container of this instance carries.
  std::map<std::string, std::string> instance_labels() const;
  // The RunSpec for a sandbox row (public for tests of the exact hardening).
  RunSpec run_spec(const SandboxRecord& rec) const;

 private:
  Result<SandboxRecord> load(const std::string& id);
  // docker run for rec; retries once after creating a missing network or removing a
  // stale container that holds the name. Returns the container id.
  // Its error is redacted with the sandbox's env (run_container_unredacted does the work).
  Result<std::string> run_container(const SandboxRecord& rec);
  Result<std::string> run_container_unredacted(const SandboxRecord& rec);
  // Requires the id lock. Brings rec to running (start, or recreate a vanished
  // container) and saves it. A running row is returned as is unless `verify`, which
  // makes sure its container really runs.
  Result<SandboxRecord> start_locked(SandboxRecord rec, const std::string& source, bool verify);
  // The bodies of stop/destroy/purge; require the id lock.
  Result<SandboxRecord> stop_locked(SandboxRecord rec, const std::string& reason);
  Status destroy_locked(const std::string& id);
  // Removes container `name` of sandbox `id` only if it carries this instance's labels
  // (sandboxed.managed, sandboxed.instance, sandboxed.id); ok when there is none. Any
  // other container is left alone: ok when the sandbox `has_row`, else kNotFound.
  Status remove_own_container(const std::string& id, const std::string& name, bool has_row);
  Result<int64_t> purge_locked(const std::string& id);
  Status finish_create_locked(SandboxRecord rec);
  void touch(SandboxRecord& rec, const std::string& source);
  // The address cache used by preview_address; see addresses_.
  void forget_address(const std::string& id);
  void forget_all_addresses();
  // kUnavailable when host memory is below the refuse band (an unreadable meminfo admits).
  Status admit(const std::string& what);

  const Config& config_;
  Store& store_;
  Docker& docker_;
  Clock& clock_;
  Workspaces& workspaces_;
  WorkspaceFiles files_;
  MemoryProbe& memory_;
  IdLocks locks_;
  std::string install_id_;  // labelled on every container; see run_container
  std::atomic<int> execs_in_flight_{0};
  std::mutex busy_mu_;
  std::map<std::string, int> busy_;  // id -> execs in progress
  std::mutex ready_mu_;
  std::chrono::steady_clock::time_point docker_checked_{};
  Status docker_status_;
  std::mutex edge_mu_;
  // id -> address on the sandbox network (learnt by wake()), only while the row runs.
  // An entry goes when its sandbox leaves `running` (also on docker's die events, via
  // converge), and the whole cache goes whenever any container starts: docker reuses
  // freed addresses, and a container that died unnoticed must not leave its address
  // pointing at whichever sandbox got it next.
  std::map<std::string, std::string> addresses_;
  std::map<std::string, std::chrono::steady_clock::time_point> activity_written_;
};

}  // namespace sandboxd
