// Plain records stored in SQLite. No behaviour; see store.h for access.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sandboxd/config/config.h"
#include "sandboxd/domain/domain.h"

namespace sandboxd {

struct SandboxRecord {
  std::string id;
  SandboxStatus status = SandboxStatus::kCreating;
  std::string image;
  std::string container_name;
  std::string container_id;
  std::vector<int> ports;
  std::map<std::string, std::string> env;  // secret values: never log or return them
  IdlePolicy idle_policy = IdlePolicy::kSleep;
  Limits limits;
  // Its processes' and files' uid (and gid), unique to it; 0 on a row from before
  // per-sandbox uids (its next start gives it one and migrates the workspace).
  int64_t uid = 0;
  Egress egress = Egress::kPublic;
  Isolation isolation = Isolation::kRunc;
  std::string error_message;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  int64_t started_at = 0;
  int64_t stopped_at = 0;
  int64_t last_active_at = 0;
  std::optional<Trigger> last_active_source;  // nullopt: no activity recorded
  int64_t keepalive_until = 0;
  // Why it was last stopped, for people: "api", "idle", "memory pressure", "container
  // exited (code 137)"... (the trigger is in metrics).
  std::string stop_reason;
  // The client's own labels (bounded: validate_metadata).
  std::map<std::string, std::string> metadata;
  // Limits a PATCH changed that take effect with the next container: "memory", "cpus",
  // "pids_limit", "nofile". The start that recreates the container empties it.
  std::vector<std::string> pending_restart;
};

// A workspace snapshot or a starter template (see migrations/0008_instant.sql).
struct SnapshotRecord {
  std::string id;
  std::string name;        // "" when unnamed
  std::string sandbox_id;  // "" for a template
  std::string origin;      // a template's build stamp; "" for a snapshot
  int64_t bytes = 0;
  int64_t files = 0;
  int64_t created_at = 0;
  bool is_template() const { return sandbox_id.empty(); }
};

// A warm pool entry: a started container that will become sandbox `id` when claimed.
struct PoolEntry {
  std::string id;
  int64_t uid = 0;
  std::string container_id;
  std::string fingerprint;
  bool ready = false;
  int64_t created_at = 0;
};

struct ListQuery {
  std::optional<SandboxStatus> status;  // nullopt: any
  std::string after_id;  // paging cursor: rows ordered by id, strictly after this one
  int limit = 100;
  // Only rows whose metadata has every one of these key/value pairs.
  std::map<std::string, std::string> metadata;
};

// One agent task (see migrations/0004_tasks.sql).
struct TaskRecord {
  std::string id;
  std::string sandbox_id;
  Agent agent = Agent::kOpenCode;
  std::string model;
  std::string prompt;
  std::vector<std::string> env_keys;
  int64_t timeout_s = 0;
  TaskStatus status = TaskStatus::kRunning;
  FailureReason failure_reason = FailureReason::kNone;
  std::string error_message;
  std::string final_message;
  std::vector<std::string> files_changed;
  std::string usage_json = "{}";
  std::optional<int64_t> exit_code;
  bool cancel_requested = false;
  int64_t out_offset = 0;  // bytes of the agent's output already turned into events
  int64_t next_seq = 1;    // the seq the next event gets
  int64_t created_at = 0;
  int64_t started_at = 0;
  int64_t finished_at = 0;
  // While it runs: its env values sealed for redaction after a restart (SecretBox;
  // migrations/0006). Empty once finished. Never returned by the API.
  std::string sealed_env;
  std::string checkpoint_id;  // the snapshot taken before it ran ("checkpoint":true); or ""
  bool finished() const { return status != TaskStatus::kRunning; }
};

// A background process (ProcessService): a command started by exec with "background":
// true, which runs under `sandbox-run proc` and reports through files in the workspace.
struct ProcessRecord {
  std::string id;  // a ULID, lower case
  std::string sandbox_id;
  std::vector<std::string> cmd;
  std::string workdir;
  int timeout_s = 0;  // 0: none
  ProcessState state = ProcessState::kRunning;
  std::optional<int> exit_code;  // once exited by itself
  int signal = 0;                // the signal that ended it, or 0
  bool timed_out = false;
  int64_t os_pid = 0;  // its pid in the sandbox, once known
  int64_t started_at = 0;
  int64_t ended_at = 0;
  // The sandbox's started_at when it was launched: a later start means it ended with a stop.
  int64_t sandbox_started_at = 0;
  // While it runs: its env values sealed for redaction after a restart (as TaskRecord's).
  std::string sealed_env;
};

// A task deleted by retention (Store::prune_finished_tasks).
struct PrunedTask {
  std::string id;
  std::string sandbox_id;
  bool over_cap = false;  // beyond the per-sandbox cap (else: past the retention age)
};

struct StoredEvent {
  int64_t seq = 0;
  std::string type;
  std::string data_json;
  int64_t created_at = 0;
};

}  // namespace sandboxd
