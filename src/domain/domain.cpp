#include "sandboxd/domain/domain.h"

#include <array>
#include <utility>

namespace sandboxd {
namespace {

template <class E, std::size_t N>
using Names = std::array<std::pair<E, std::string_view>, N>;

// Each table lists every enumerator once; the tests walk them both ways.
constexpr Names<SandboxStatus, 9> kSandboxStatus{{
    {SandboxStatus::kCreating, "creating"},
    {SandboxStatus::kStarting, "starting"},
    {SandboxStatus::kRunning, "running"},
    {SandboxStatus::kFrozen, "frozen"},
    {SandboxStatus::kStopping, "stopping"},
    {SandboxStatus::kStopped, "stopped"},
    {SandboxStatus::kError, "error"},
    {SandboxStatus::kDeleting, "deleting"},
    {SandboxStatus::kPurging, "purging"},
}};
constexpr Names<IdlePolicy, 2> kIdlePolicy{{
    {IdlePolicy::kSleep, "sleep"},
    {IdlePolicy::kAlwaysOn, "always_on"},
}};
constexpr Names<ProcessState, 4> kProcessState{{
    {ProcessState::kRunning, "running"},
    {ProcessState::kExited, "exited"},
    {ProcessState::kStopped, "stopped"},
    {ProcessState::kLost, "lost"},
}};
constexpr Names<TaskStatus, 4> kTaskStatus{{
    {TaskStatus::kRunning, "running"},
    {TaskStatus::kSucceeded, "succeeded"},
    {TaskStatus::kFailed, "failed"},
    {TaskStatus::kCancelled, "cancelled"},
}};
constexpr Names<FailureReason, 8> kFailureReason{{
    {FailureReason::kNone, ""},
    {FailureReason::kStartFailed, "start_failed"},
    {FailureReason::kAgentError, "agent_error"},
    {FailureReason::kAgentTimeout, "agent_timeout"},
    {FailureReason::kOutputTooLarge, "output_too_large"},
    {FailureReason::kCancelled, "cancelled"},
    {FailureReason::kSandboxStopped, "sandbox_stopped"},
    {FailureReason::kLost, "lost"},
}};
constexpr Names<Agent, 2> kAgent{{
    {Agent::kOpenCode, "opencode"},
    {Agent::kClaude, "claude"},
}};
constexpr Names<Trigger, 11> kTrigger{{
    {Trigger::kApi, "api"},
    {Trigger::kCreate, "create"},
    {Trigger::kExec, "exec"},
    {Trigger::kFiles, "files"},
    {Trigger::kKeepalive, "keepalive"},
    {Trigger::kPreview, "preview"},
    {Trigger::kTask, "task"},
    {Trigger::kReconciler, "reconciler"},
    {Trigger::kIdle, "idle"},
    {Trigger::kPressure, "pressure"},
    {Trigger::kEmergency, "emergency"},
}};
constexpr Names<Operation, 10> kOperation{{
    {Operation::kCreate, "create"},
    {Operation::kStart, "start"},
    {Operation::kWake, "wake"},
    {Operation::kFreeze, "freeze"},
    {Operation::kThaw, "thaw"},
    {Operation::kStop, "stop"},
    {Operation::kDelete, "delete"},
    {Operation::kPurge, "purge"},
    {Operation::kSnapshot, "snapshot"},
    {Operation::kRestore, "restore"},
}};

constexpr Names<Egress, 2> kEgress{{
    {Egress::kPublic, "public"},
    {Egress::kNone, "none"},
}};
constexpr Names<Isolation, 2> kIsolation{{
    {Isolation::kRunc, "runc"},
    {Isolation::kGvisor, "gvisor"},
}};

template <class E, std::size_t N>
std::string_view name_in(const Names<E, N>& names, E v) {
  for (const auto& [e, text] : names)
    if (e == v) return text;
  return "?";  // unreachable while every table is complete (see domain_test)
}

template <class E, std::size_t N>
std::optional<E> parse_in(const Names<E, N>& names, std::string_view text) {
  for (const auto& [e, name] : names)
    if (name == text) return e;
  return std::nullopt;
}

}  // namespace

std::string_view to_string(SandboxStatus v) { return name_in(kSandboxStatus, v); }
std::string_view to_string(IdlePolicy v) { return name_in(kIdlePolicy, v); }
std::string_view to_string(TaskStatus v) { return name_in(kTaskStatus, v); }
std::string_view to_string(ProcessState v) { return name_in(kProcessState, v); }
std::string_view to_string(FailureReason v) { return name_in(kFailureReason, v); }
std::string_view to_string(Agent v) { return name_in(kAgent, v); }
std::string_view to_string(Trigger v) { return name_in(kTrigger, v); }
std::string_view to_string(Operation v) { return name_in(kOperation, v); }
std::string_view to_string(Egress v) { return name_in(kEgress, v); }
std::string_view to_string(Isolation v) { return name_in(kIsolation, v); }

const std::vector<SandboxStatus>& all_sandbox_statuses() {
  static const std::vector<SandboxStatus> all = [] {
    std::vector<SandboxStatus> out;
    for (const auto& [e, text] : kSandboxStatus) out.push_back(e);
    return out;
  }();
  return all;
}

std::optional<SandboxStatus> parse_sandbox_status(std::string_view t) {
  return parse_in(kSandboxStatus, t);
}
std::optional<IdlePolicy> parse_idle_policy(std::string_view t) { return parse_in(kIdlePolicy, t); }
std::optional<TaskStatus> parse_task_status(std::string_view t) { return parse_in(kTaskStatus, t); }
std::optional<ProcessState> parse_process_state(std::string_view t) {
  return parse_in(kProcessState, t);
}
std::optional<FailureReason> parse_failure_reason(std::string_view t) {
  return parse_in(kFailureReason, t);
}
std::optional<Agent> parse_agent(std::string_view t) { return parse_in(kAgent, t); }
std::optional<Trigger> parse_trigger(std::string_view t) { return parse_in(kTrigger, t); }
std::optional<Egress> parse_egress(std::string_view t) { return parse_in(kEgress, t); }
std::optional<Isolation> parse_isolation(std::string_view t) { return parse_in(kIsolation, t); }

}  // namespace sandboxd
