// The domain's closed vocabularies as enums. They are text only at the edges: the store
// (columns) and the JSON codec (API fields); metrics labels use the same words. Each
// enum has to_string() (its one spelling) and parse_<name>() (nullopt for any other text).
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace sandboxd {

// A sandbox's state. creating/starting/stopping/deleting/purging are written before the
// runtime action they announce, so a crash leaves a row that says what was under way.
// kFrozen: its container is paused (no CPU, memory kept); anything that reaches it thaws it.
enum class SandboxStatus {
  kCreating,
  kStarting,
  kRunning,
  kFrozen,
  kStopping,
  kStopped,
  kError,
  kDeleting,
  kPurging
};

// What the idle reaper may do with a sandbox.
enum class IdlePolicy { kSleep, kAlwaysOn };

enum class TaskStatus { kRunning, kSucceeded, kFailed, kCancelled };

// A background process: running; exited (by itself, a signal or its timeout); stopped
// (ended with its sandbox's stop); lost (it could not be started, or its runner vanished).
enum class ProcessState { kRunning, kExited, kStopped, kLost };

// Why a task did not succeed (kNone while running and on success).
enum class FailureReason {
  kNone,
  kStartFailed,
  kAgentError,
  kAgentTimeout,
  kOutputTooLarge,
  kCancelled,
  kSandboxStopped,
  kLost,
};

// The coding agent CLI a task runs.
enum class Agent { kOpenCode, kClaude };

// Who or what caused an operation or an activity: metrics' `trigger` label and a
// sandbox's last activity source.
enum class Trigger {
  kApi,
  kCreate,
  kExec,
  kFiles,
  kKeepalive,
  kPreview,
  kTask,
  kReconciler,
  kIdle,
  kPressure,
  kEmergency,
};

// Where a sandbox may send traffic: kPublic reaches the public internet (never the host,
// private, link-local, CGNAT or multicast ranges, nor another container); kNone reaches
// nothing beyond its own preview traffic (and the operator's SANDBOXD_EGRESS_ALLOW).
enum class Egress { kPublic, kNone };

// The OCI runtime a sandbox's container runs under: runc (Docker's default) or gVisor's
// runsc (a user-space kernel between the tenant and the host's).
enum class Isolation { kRunc, kGvisor };

// A lifecycle operation, metrics' `op` label.
enum class Operation {
  kCreate,
  kStart,
  kWake,
  kFreeze,
  kThaw,
  kStop,
  kDelete,
  kPurge,
  kSnapshot,
  kRestore
};

std::string_view to_string(SandboxStatus v);
std::string_view to_string(IdlePolicy v);
std::string_view to_string(TaskStatus v);
std::string_view to_string(FailureReason v);  // kNone: ""
std::string_view to_string(Agent v);
std::string_view to_string(Trigger v);
std::string_view to_string(ProcessState v);
std::string_view to_string(Operation v);
std::string_view to_string(Egress v);
std::string_view to_string(Isolation v);

// Every sandbox status, in declaration order.
const std::vector<SandboxStatus>& all_sandbox_statuses();

std::optional<SandboxStatus> parse_sandbox_status(std::string_view text);
std::optional<IdlePolicy> parse_idle_policy(std::string_view text);
std::optional<TaskStatus> parse_task_status(std::string_view text);
std::optional<FailureReason> parse_failure_reason(std::string_view text);  // "": kNone
std::optional<Agent> parse_agent(std::string_view text);
std::optional<Trigger> parse_trigger(std::string_view text);
std::optional<ProcessState> parse_process_state(std::string_view text);
std::optional<Egress> parse_egress(std::string_view text);
std::optional<Isolation> parse_isolation(std::string_view text);

}  // namespace sandboxd
