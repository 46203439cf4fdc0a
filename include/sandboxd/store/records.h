// Plain records stored in SQLite. No behaviour; see store.h for access.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sandboxd/config/config.h"

namespace sandboxd {

// Sandbox states. creating/starting/stopping/deleting/purging are written before the
// docker action they announce, so a crash leaves a row that says what was under way.
inline constexpr const char* kStatusCreating = "creating";
inline constexpr const char* kStatusStarting = "starting";
inline constexpr const char* kStatusRunning = "running";
inline constexpr const char* kStatusStopping = "stopping";
inline constexpr const char* kStatusStopped = "stopped";
inline constexpr const char* kStatusError = "error";
inline constexpr const char* kStatusDeleting = "deleting";
inline constexpr const char* kStatusPurging = "purging";

struct SandboxRecord {
  std::string id;
  std::string status;
  std::string image;
  std::string container_name;
  std::string container_id;
  std::vector<int> ports;
  std::map<std::string, std::string> env;  // secret values: never log or return them
  std::string idle_policy = "sleep";
  Limits limits;
  std::string error_message;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  int64_t started_at = 0;
  int64_t stopped_at = 0;
  int64_t last_active_at = 0;
  std::string last_active_source;
  int64_t keepalive_until = 0;
  std::string stop_reason;  // why it was last stopped: api, idle, reconciler
};

struct ListQuery {
  std::string status;    // empty: any
  std::string after_id;  // paging cursor: rows ordered by id, strictly after this one
  int limit = 100;
};

inline constexpr const char* kTaskRunning = "running";
inline constexpr const char* kTaskSucceeded = "succeeded";
inline constexpr const char* kTaskFailed = "failed";
inline constexpr const char* kTaskCancelled = "cancelled";

// One agent task (see migrations/0004_tasks.sql).
struct TaskRecord {
  std::string id;
  std::string sandbox_id;
  std::string agent;
  std::string model;
  std::string prompt;
  std::vector<std::string> env_keys;
  int64_t timeout_s = 0;
  std::string status;
  std::string failure_reason;
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
  bool finished() const { return status != kTaskRunning; }
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
