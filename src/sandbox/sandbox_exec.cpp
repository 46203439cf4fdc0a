// SandboxService's commands in a sandbox: exec (waits for the command) and launch
// (starts one and returns).
#include "sandboxd/base/redactor.h"
#include "sandboxd/sandbox/sandbox_service.h"

namespace sandboxd {
namespace {

// Counts one exec in flight for its lifetime; `admitted` is false past the cap.
class ExecSlot {
 public:
  ExecSlot(std::atomic<int>& in_flight, int cap)
      : in_flight_(in_flight), admitted_(in_flight.fetch_add(1) < cap) {}
  ~ExecSlot() { in_flight_.fetch_sub(1); }
  ExecSlot(const ExecSlot&) = delete;
  ExecSlot& operator=(const ExecSlot&) = delete;
  bool admitted() const { return admitted_; }

 private:
  std::atomic<int>& in_flight_;
  bool admitted_;
};

}  // namespace

Result<ExecResult> SandboxService::exec(const std::string& raw_id, const ExecRequest& req) {
  auto id = normalize_id(raw_id);
  if (!id) return id.error();
  auto timeout = validate_exec(req, config_);
  if (!timeout) return timeout.error();
  // Each exec holds an HTTP worker for its whole run: past the cap, callers retry.
  ExecSlot slot(execs_in_flight_, config_.max_concurrent_execs);
  if (!slot.admitted()) {
    return Status(Code::kUnavailable, "too many concurrent execs (" +
                                          std::to_string(config_.max_concurrent_execs) +
                                          "); retry shortly");
  }
  // Its container and user are the row's, filled in once the sandbox is up.
  ExecSpec spec = exec_spec(SandboxRecord{}, req.cmd, req.env, req.workdir);
  spec.timeout = std::chrono::seconds(*timeout);
  spec.max_output_bytes = static_cast<std::size_t>(config_.exec_output_max_bytes);
  // The lock covers bringing the sandbox up, not the command itself, so a long exec
  // does not block stop or delete of the same sandbox. `verify` makes sure a row that
  // says running really has a running container (after an engine restart it may not).
  std::vector<std::string> secrets = Redactor::values_of(req.env);
  auto bring_up = [&](bool verify) -> Status {
    return with_locked(*id, [&](SandboxRecord& rec) -> Status {
      auto running = start_locked(std::move(rec), Trigger::kExec, verify);
      if (!running) return running.error();
      touch(*running, Trigger::kExec);
      if (auto s = store_.update(*running); !s.is_ok()) return s;
      spec.container = running->container_name;
      spec.user = sandbox_user(running->uid);
      for (const auto& [k, v] : running->env) spec.env.try_emplace(k, v);  // the call's win
      for (auto& v : Redactor::values_of(running->env)) secrets.push_back(std::move(v));
      return {};
    });
  };
  if (auto s = bring_up(false); !s.is_ok()) return s;
  // Busy while the command runs: the idle reaper leaves the sandbox alone, and the end
  // of the command counts as activity too.
  struct EndOfExec {
    SandboxService& svc;
    const std::string& id;
    BusyTracker::Hold hold;
    ~EndOfExec() {
      hold.release();
      (void)svc.store_.touch(id, svc.clock_.now_ms(), Trigger::kExec);
    }
  } end{*this, *id, busy_.hold(*id)};
  auto result = runtime_.exec(spec);
  if (!result &&
      (result.error().code() == Code::kNotFound || result.error().code() == Code::kConflict)) {
    // The container was not running after all: bring it up once and try again.
    if (auto s = bring_up(true); !s.is_ok()) return s;
    result = runtime_.exec(spec);
  }
  if (!result && result.error().code() == Code::kNotFound) {
    return Status(Code::kConflict, "sandbox " + *id + " stopped or was removed during exec");
  }
  // The answer shows no secret of the sandbox's env or of this call's.
  const Redactor redactor(secrets);
  if (!result) return redactor.status(result.error());
  result->stdout_data = redactor.whole(result->stdout_data);
  result->stderr_data = redactor.whole(result->stderr_data);
  return result;
}

Status SandboxService::launch(const std::string& id, std::vector<std::string> cmd,
                              std::map<std::string, std::string> env) {
  auto rec = load(id);
  if (!rec) return rec.error();
  for (const auto& [k, v] : rec->env) env.try_emplace(k, v);  // the caller's values win
  ExecSpec spec = exec_spec(*rec, std::move(cmd), std::move(env), "");
  spec.detach = true;
  spec.timeout = std::chrono::seconds(30);
  auto ran = runtime_.exec(spec);
  if (!ran) return ran.error();
  if (ran->exit_code != 0)
    return Status(Code::kUnavailable, "launch in sandbox " + rec->id + " exited " +
                                          std::to_string(ran->exit_code) + ": " +
                                          ran->stderr_data.substr(0, 500));
  return {};
}

}  // namespace sandboxd
