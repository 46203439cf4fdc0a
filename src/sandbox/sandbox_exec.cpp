// SandboxService's commands in a sandbox: exec (waits for the command) and launch
// (starts one and returns).
#include "sandboxd/base/redactor.h"
#include "sandboxd/sandbox/sandbox_service.h"
#include "sandboxd/sandbox/sandbox_spec.h"
#include "supervisor/sandbox_run.h"

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

Status too_many_execs(const Config& config) {
  return Status(Code::kUnavailable, "too many concurrent execs (" +
                                        std::to_string(config.max_concurrent_execs) +
                                        "); retry shortly");
}

}  // namespace

Result<ExecResult> SandboxService::exec(const std::string& raw_id, const ExecRequest& req) {
  auto id = normalize_id(raw_id);
  if (!id) return id.error();
  auto timeout = validate_exec(req, config_);
  if (!timeout) return timeout.error();
  // Each exec holds an HTTP worker for its whole run: past the cap, callers retry.
  ExecSlot slot(execs_in_flight_, config_.max_concurrent_execs);
  if (!slot.admitted()) return too_many_execs(config_);
  // Its container and user are the row's, filled in once the sandbox is up.
  ExecSpec spec = exec_spec(SandboxRecord{}, req.cmd, req.env, req.workdir);
  spec.timeout = std::chrono::seconds(*timeout);
  spec.max_output_bytes = static_cast<std::size_t>(config_.exec_output_max_bytes);
  std::vector<std::string> secrets = Redactor::values_of(req.env);
  auto bring_up = [&](bool verify) { return bring_up_for(*id, spec, secrets, verify); };
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

// The lock covers bringing the sandbox up, not the command itself, so a long exec does
// not block stop or delete of the same sandbox. `verify` makes sure a row that says
// running really has a running container (after an engine restart it may not).
Status SandboxService::bring_up_for(const std::string& id, ExecSpec& spec,
                                    std::vector<std::string>& secrets, bool verify) {
  return with_locked(id, [&](SandboxRecord& rec) -> Status {
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
}

ExecStream::ExecStream(std::unique_ptr<ExecSession> session,
                       const std::vector<std::string>& secrets, int timeout_s,
                       std::function<void()> on_end)
    : session_(std::move(session)),
      out_(secrets),
      err_(secrets),
      timeout_s_(timeout_s),
      started_(std::chrono::steady_clock::now()),
      on_end_(std::move(on_end)) {}

ExecStream::~ExecStream() {
  session_.reset();  // ends the command if it still runs
  if (on_end_) on_end_();
}

std::vector<ExecSession::Output> ExecStream::read() {
  std::vector<ExecSession::Output> got;
  auto add = [&](ExecSession::Stream stream, std::string data) {
    if (!data.empty()) got.push_back({stream, std::move(data)});
  };
  for (auto& o : session_->read())
    add(o.stream, (o.stream == ExecSession::Stream::kStdout ? out_ : err_).feed(o.data));
  if (!flushed_ && session_->fds().empty()) {
    flushed_ = true;
    add(ExecSession::Stream::kStdout, out_.finish());
    add(ExecSession::Stream::kStderr, err_.finish());
  }
  return got;
}

Result<std::optional<ExecEnd>> ExecStream::end() {
  if (!flushed_) return std::optional<ExecEnd>();
  auto code = session_->exit_code();
  if (!code) return code.error();
  if (!*code) return std::optional<ExecEnd>();
  ExecEnd e;
  e.exit_code = **code;
  e.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started_)
                      .count();
  e.timed_out = timeout_s_ > 0 && e.exit_code == 124 && e.duration_ms >= timeout_s_ * 1000 - 50;
  return std::optional<ExecEnd>(e);
}

Result<std::unique_ptr<ExecStream>> SandboxService::exec_stream(const std::string& raw_id,
                                                                const ExecRequest& req) {
  auto id = normalize_id(raw_id);
  if (!id) return id.error();
  auto timeout = validate_exec(req, config_);
  if (!timeout) return timeout.error();
  std::vector<std::string> cmd = {kSandboxRunPath, "exec", "--timeout", std::to_string(*timeout),
                                  "--"};
  cmd.insert(cmd.end(), req.cmd.begin(), req.cmd.end());
  return open_stream(*id, exec_spec(SandboxRecord{}, std::move(cmd), req.env, req.workdir),
                     Redactor::values_of(req.env), *timeout, /*interactive=*/false);
}

Result<std::unique_ptr<ExecStream>> SandboxService::open_terminal(const std::string& raw_id,
                                                                  int cols, int rows) {
  auto id = normalize_id(raw_id);
  if (!id) return id.error();
  std::vector<std::string> cmd = {
      kSandboxRunPath, "pty", "--cols", std::to_string(cols), "--rows", std::to_string(rows), "--",
      "bash",          "-l"};
  return open_stream(*id,
                     exec_spec(SandboxRecord{}, std::move(cmd), {{"TERM", "xterm-256color"}}, ""),
                     {}, 0, /*interactive=*/true);
}

Result<std::unique_ptr<ExecStream>> SandboxService::open_stream(const std::string& id,
                                                                ExecSpec spec,
                                                                std::vector<std::string> secrets,
                                                                int timeout_s, bool interactive) {
  // Each stream holds an HTTP worker for its whole run, as an exec does.
  auto slot = std::make_shared<ExecSlot>(execs_in_flight_, config_.max_concurrent_execs);
  if (!slot->admitted()) return too_many_execs(config_);
  spec.ready_byte = kSandboxRunReady;
  if (auto s = bring_up_for(id, spec, secrets, false); !s.is_ok()) return s;
  BusyTracker::Hold hold;
  if (!interactive) hold = busy_.hold(id);
  auto session = runtime_.exec_session(spec);
  if (!session && !is_missing_program(session.error()) &&
      (session.error().code() == Code::kNotFound || session.error().code() == Code::kConflict)) {
    if (auto s = bring_up_for(id, spec, secrets, true); !s.is_ok()) return s;
    session = runtime_.exec_session(spec);
  }
  const Redactor redactor(secrets);
  if (!session) {
    if (is_missing_program(session.error())) {
      return Status(Code::kConflict,
                    "sandbox " + id +
                        "'s container predates streamed exec and terminals (it has no "
                        "sandbox-run); delete and create it again: the workspace is kept");
    }
    if (session.error().code() == Code::kNotFound)
      return Status(Code::kConflict, "sandbox " + id + " stopped or was removed during exec");
    return redactor.status(session.error());
  }
  // The slot is freed with the stream (the lambda holds it).
  auto on_end = [this, id, slot, hold = std::make_shared<BusyTracker::Hold>(std::move(hold)),
                 interactive] {
    hold->release();
    if (!interactive) (void)store_.touch(id, clock_.now_ms(), Trigger::kExec);
  };
  // A terminal is not redacted: holding back a byte that could start a secret would
  // delay the echo of what the user types, and its user can print the env anyway.
  return std::make_unique<ExecStream>(std::move(*session),
                                      interactive ? std::vector<std::string>{} : secrets, timeout_s,
                                      std::move(on_end));
}

Status SandboxService::launch(const std::string& id, std::vector<std::string> cmd,
                              std::map<std::string, std::string> env, const std::string& workdir) {
  auto rec = load(id);
  if (!rec) return rec.error();
  for (const auto& [k, v] : rec->env) env.try_emplace(k, v);  // the caller's values win
  ExecSpec spec = exec_spec(*rec, std::move(cmd), std::move(env), workdir);
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
