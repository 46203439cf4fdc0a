#include "sandboxd/procs/process_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "sandboxd/base/ids.h"
#include "sandboxd/sandbox/sandbox_spec.h"
#include "sandboxd/sandbox/validation.h"
#include "supervisor/sandbox_run.h"

namespace sandboxd {
namespace {

constexpr auto kPollEvery = std::chrono::milliseconds(500);
constexpr auto kSignalWait = std::chrono::seconds(3);
// More than a log holds (1 MiB, then rotated), so one read catches up with a stream.
constexpr std::size_t kReadChunk = 2 << 20;
// sandbox-run proc touches its pid file every 5 s: one not touched for this long, while
// its sandbox ran all that time, has no runner any more (killed, or it failed to start).
constexpr int64_t kLivenessMs = 30'000;
constexpr std::size_t kSmallFile = 4096;  // pid, exit.json

Status invalid(const std::string& m) { return Status(Code::kInvalidArgument, m); }

bool sandbox_still_runs(const SandboxRecord& sb, const ProcessRecord& p) {
  bool up = sb.status == SandboxStatus::kRunning || sb.status == SandboxStatus::kFrozen;
  return up && sb.started_at == p.sandbox_started_at;
}

}  // namespace

ProcessService::ProcessService(const Config& config, Store& store, SandboxService& sandboxes,
                               Workspaces& workspaces, Clock& clock)
    : config_(config),
      store_(store),
      sandboxes_(sandboxes),
      clock_(clock),
      files_(workspaces.root(), int64_t{1} << 20),
      sealer_(config.state_dir() + "/redaction.key") {}

ProcessService::~ProcessService() { stop(); }

void ProcessService::start() {
  auto rows = store_.running_processes();
  if (!rows) {
    spdlog::error("processes: cannot load the running ones: {}", rows.error().message());
  } else {
    std::lock_guard lock(mu_);
    for (auto& p : *rows) {
      spdlog::info("process {} of sandbox {}: following it again", p.id, p.sandbox_id);
      std::string id = p.id;
      auto hold = sandboxes_.busy().hold(p.sandbox_id);
      running_.emplace(std::move(id), Follow{std::move(p), std::move(hold), /*launched=*/true});
    }
  }
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      lock.unlock();
      poll_once();
      lock.lock();
      cv_.wait_for(lock, kPollEvery, [this] { return stopping_; });
    }
  });
}

void ProcessService::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Result<ProcessRecord> ProcessService::start_process(const std::string& raw_sandbox,
                                                    const ExecRequest& req) {
  auto sid = normalize_id(raw_sandbox);
  if (!sid) return sid.error();
  // No timeout unless the caller asks for one: a background process runs until it ends,
  // is signalled, or its sandbox stops.
  ExecRequest checked = req;
  if (!checked.timeout_s) checked.timeout_s = 1;
  if (auto t = validate_exec(checked, config_); !t) return t.error();
  ProcessRecord p;
  p.id = new_ulid(clock_.now_ms());
  p.sandbox_id = *sid;
  {
    // The slot is taken at once (the follower skips it until launched), so concurrent
    // starts cannot pass the cap.
    std::lock_guard lock(mu_);
    int n = 0;
    for (const auto& [_, f] : running_) n += f.rec.sandbox_id == *sid;
    if (n >= kMaxRunning) {
      return Status(Code::kCapacity, "sandbox " + *sid + " already runs " +
                                         std::to_string(kMaxRunning) +
                                         " background processes; end one first");
    }
    running_.emplace(p.id, Follow{p, sandboxes_.busy().hold(p.sandbox_id)});
  }
  auto unreserve = [&] {
    std::lock_guard lock(mu_);
    running_.erase(p.id);
  };
  if (auto woken = sandboxes_.wake(*sid, Trigger::kExec); !woken) {
    unreserve();
    return woken.error();
  }
  auto sb = sandboxes_.get(*sid);
  if (!sb) {
    unreserve();
    return sb.error();
  }
  p.cmd = req.cmd;
  p.workdir = req.workdir.empty() ? kSandboxAppDir : req.workdir;
  p.timeout_s = req.timeout_s.value_or(0);
  p.started_at = clock_.now_ms();
  p.sandbox_started_at = sb->started_at;
  if (auto sealed = sealer_.seal(Redactor::values_of(req.env), p.id)) {
    p.sealed_env = *sealed;
  } else {
    spdlog::warn(
        "process {}: its env values are not kept for a restart ({}): after one, only the "
        "sandbox's env is redacted from its output",
        p.id, sealed.error().message());
  }
  if (auto s = store_.insert_process(p); !s.is_ok()) {
    unreserve();
    return s;
  }
  {
    std::lock_guard lock(mu_);
    auto& f = running_.at(p.id);
    f.rec = p;
    f.launched = true;
  }
  std::vector<std::string> cmd = {kSandboxRunPath,
                                  "proc",
                                  std::string(kSandboxHome) + "/" + dir_of(p.id),
                                  "--timeout",
                                  std::to_string(p.timeout_s),
                                  "--"};
  cmd.insert(cmd.end(), req.cmd.begin(), req.cmd.end());
  Status launched = sandboxes_.launch(*sid, std::move(cmd), req.env, p.workdir);
  if (!launched.is_ok()) {
    ProcessRecord lost = p;
    lost.state = ProcessState::kLost;
    lost.ended_at = clock_.now_ms();
    record_end(lost);
    const Redactor redactor(secrets(p));
    if (launched.message().find("sandbox-run") != std::string::npos) {
      return Status(Code::kConflict,
                    "sandbox " + *sid +
                        "'s container predates background processes (it has no "
                        "sandbox-run); delete and create it again: the workspace is kept");
    }
    return redactor.status(launched.with_context("start the process"));
  }
  spdlog::info("process {} of sandbox {} started", p.id, *sid);
  prune(*sid);
  learn_pid(p);  // its pid, if sandbox-run wrote it already (else the follower learns it)
  return load(*sid, p.id);
}

Result<std::vector<ProcessRecord>> ProcessService::list(const std::string& raw_sandbox) {
  auto sb = sandboxes_.get(raw_sandbox);
  if (!sb) return sb.error();
  return store_.list_processes(sb->id);
}

Result<ProcessRecord> ProcessService::load(const std::string& sandbox, const std::string& id) {
  auto p = store_.get_process(id);
  if (!p) return p.error();
  if (!*p || (*p)->sandbox_id != sandbox)
    return Status(Code::kNotFound, "process " + id + " not found in sandbox " + sandbox);
  return std::move(**p);
}

Result<ProcessRecord> ProcessService::get(const std::string& raw_sandbox, const std::string& id) {
  auto sid = normalize_id(raw_sandbox);
  if (!sid) return sid.error();
  return load(*sid, id);
}

Result<ProcessRecord> ProcessService::signal(const std::string& raw_sandbox, const std::string& id,
                                             const std::string& signal) {
  if (signal != "TERM" && signal != "INT" && signal != "HUP" && signal != "KILL")
    return invalid("signal: must be TERM, INT, HUP or KILL");
  auto sid = normalize_id(raw_sandbox);
  if (!sid) return sid.error();
  auto p = load(*sid, id);
  if (!p) return p.error();
  if (p->state != ProcessState::kRunning)
    return Status(Code::kConflict,
                  "process " + id + " has ended (" + std::string(to_string(p->state)) + ")");
  sandboxes_.record_activity(*sid, Trigger::kExec);  // a frozen sandbox could not react
  if (auto s = files_.put(*sid, dir_of(id) + "/signal", signal + "\n", false); !s.is_ok())
    return s.with_context("signal process " + id);
  auto deadline = std::chrono::steady_clock::now() + kSignalWait;
  for (;;) {
    poll_once();
    auto now = load(*sid, id);
    if (!now || now->state != ProcessState::kRunning ||
        std::chrono::steady_clock::now() >= deadline)
      return now;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::vector<std::string> ProcessService::secrets(const ProcessRecord& p) {
  std::vector<std::string> values;
  if (auto sb = sandboxes_.get(p.sandbox_id)) values = Redactor::values_of(sb->env);
  auto own = sealer_.unseal(p.sealed_env, p.id);
  if (!own) {
    spdlog::warn(
        "process {}: its env values cannot be recovered ({}): only the sandbox's env is "
        "redacted from its output",
        p.id, own.error().message());
  } else {
    for (auto& v : *own) values.push_back(std::move(v));
  }
  return values;
}

Result<ProcessLogs> ProcessService::tail(const std::string& raw_sandbox, const std::string& id,
                                         int64_t tail, ProcessOutputCursor& cursor) {
  auto sid = normalize_id(raw_sandbox);
  if (!sid) return sid.error();
  auto p = load(*sid, id);
  if (!p) return p.error();
  ProcessLogs out;
  for (int i = 0; i < 2; ++i) {
    const std::string path = dir_of(id) + (i == 0 ? "/stdout.log" : "/stderr.log");
    int64_t size = 0;
    std::string data;
    auto probe = files_.read_from(*sid, path, 0, 0, &size);
    if (probe) {
      int64_t from = std::max<int64_t>(0, size - tail);
      auto cur = files_.read_from(*sid, path, from, static_cast<std::size_t>(size - from));
      if (cur) data = std::move(*cur);
      // Short of `tail`: the rotated file's end comes first.
      if (static_cast<int64_t>(data.size()) < tail) {
        int64_t old_size = 0;
        if (files_.read_from(*sid, path + ".1", 0, 0, &old_size)) {
          int64_t want = std::min<int64_t>(old_size, tail - static_cast<int64_t>(data.size()));
          if (auto old = files_.read_from(*sid, path + ".1", old_size - want,
                                          static_cast<std::size_t>(want)))
            data = *old + data;
        }
      }
    } else if (probe.error().code() != Code::kNotFound) {
      return probe.error();
    }
    (i == 0 ? cursor.stdout_offset : cursor.stderr_offset) = size;
    (i == 0 ? cursor.stdout_size : cursor.stderr_size) = size;
    (i == 0 ? out.stdout_data : out.stderr_data) = std::move(data);
  }
  const Redactor redactor(secrets(*p));
  out.stdout_data = redactor.whole(out.stdout_data);
  out.stderr_data = redactor.whole(out.stderr_data);
  return out;
}

Result<ProcessLogs> ProcessService::read_since(const std::string& sandbox, const std::string& id,
                                               ProcessOutputCursor& cursor) {
  ProcessLogs out;
  for (int i = 0; i < 2; ++i) {
    const std::string path = dir_of(id) + (i == 0 ? "/stdout.log" : "/stderr.log");
    int64_t& offset = i == 0 ? cursor.stdout_offset : cursor.stderr_offset;
    int64_t& seen = i == 0 ? cursor.stdout_size : cursor.stderr_size;
    std::string& data = i == 0 ? out.stdout_data : out.stderr_data;
    int64_t size = 0;
    auto got = files_.read_from(sandbox, path, offset, kReadChunk, &size);
    if (!got && got.error().code() == Code::kNotFound) continue;
    if (!got) return got.error();
    if (size < seen || size < offset) {
      // Rotated since: the rest of the old file (now .1), then the new one from its start.
      if (auto rest = files_.read_from(sandbox, path + ".1", offset, kReadChunk)) data = *rest;
      offset = 0;
      got = files_.read_from(sandbox, path, 0, kReadChunk, &size);
      if (!got) return got.error();
    }
    data += *got;
    offset += static_cast<int64_t>(got->size());
    seen = size;
  }
  return out;
}

std::optional<ProcessRecord> ProcessService::ended(const ProcessRecord& p, int64_t& running_since) {
  const int64_t now = clock_.now_ms();
  ProcessRecord done = p;
  done.ended_at = now;
  // The tenant can write anything there: only a small regular file is read, and
  // every field is checked.
  if (auto exit = files_.read_from(p.sandbox_id, dir_of(p.id) + "/exit.json", 0, kSmallFile)) {
    auto j = nlohmann::json::parse(*exit, nullptr, /*allow_exceptions=*/false);
    done.state = ProcessState::kExited;
    if (j.is_object()) {
      if (auto c = j.find("exit_code"); c != j.end() && c->is_number_integer())
        done.exit_code = c->get<int>();
      if (auto g = j.find("signal"); g != j.end() && g->is_number_integer())
        done.signal = std::clamp(g->get<int>(), 0, 128);
      if (auto t = j.find("timed_out"); t != j.end() && t->is_boolean())
        done.timed_out = t->get<bool>();
    }
    return done;
  }
  auto sb = sandboxes_.get(p.sandbox_id);
  if (!sb && sb.error().code() != Code::kNotFound) return std::nullopt;  // ask again later
  if (!sb || !sandbox_still_runs(*sb, p)) {
    done.state = ProcessState::kStopped;
    return done;
  }
  // Its runner's heartbeat, judged only over time the sandbox ran (a frozen one's
  // processes cannot touch anything).
  if (sb->status != SandboxStatus::kRunning) {
    running_since = 0;
    return std::nullopt;
  }
  if (running_since == 0) running_since = now;
  int64_t beat = p.started_at;
  int64_t touched = 0;
  if (files_.read_from(p.sandbox_id, dir_of(p.id) + "/pid", 0, 0, nullptr, &touched))
    beat = std::max(beat, touched);
  if (now - running_since > kLivenessMs && now - beat > kLivenessMs) {
    done.state = ProcessState::kLost;
    return done;
  }
  return std::nullopt;
}

void ProcessService::poll_once() {
  std::lock_guard poll(poll_mu_);
  std::vector<std::pair<ProcessRecord, int64_t>> watch;  // with its running_since
  {
    std::lock_guard lock(mu_);
    for (const auto& [_, f] : running_)
      if (f.launched) watch.emplace_back(f.rec, f.running_since);
  }
  for (auto& [p, since] : watch) {
    // One process's trouble (its files are the tenant's) must not stop the others.
    try {
      if (p.os_pid == 0) learn_pid(p);
      auto done = ended(p, since);
      if (done) {
        record_end(*done);
      } else {
        std::lock_guard lock(mu_);
        if (auto it = running_.find(p.id); it != running_.end()) it->second.running_since = since;
      }
    } catch (const std::exception& e) {
      spdlog::warn("process {}: cannot follow it this time: {}", p.id, e.what());
    }
  }
}

bool ProcessService::learn_pid(ProcessRecord& p) {
  auto pid = files_.read_from(p.sandbox_id, dir_of(p.id) + "/pid", 0, kSmallFile);
  if (!pid) return false;
  int64_t n = std::strtoll(pid->c_str(), nullptr, 10);
  if (n <= 0) return false;
  std::lock_guard lock(mu_);
  auto it = running_.find(p.id);
  if (it == running_.end()) return false;  // ended meanwhile: its row is final
  p.os_pid = it->second.rec.os_pid = n;
  (void)store_.update_process(it->second.rec);
  return true;
}

void ProcessService::record_end(const ProcessRecord& done) {
  {
    // Under mu_, so learn_pid cannot write the row back as running after this.
    std::lock_guard lock(mu_);
    auto it = running_.find(done.id);
    if (it == running_.end()) return;  // recorded already
    ProcessRecord row = done;
    row.os_pid = std::max(row.os_pid, it->second.rec.os_pid);
    // kNotFound: its sandbox was deleted or purged, and the row with it.
    if (auto s = store_.update_process(row); !s.is_ok() && s.code() != Code::kNotFound) {
      spdlog::warn("process {}: cannot record its end (tried again next poll): {}", done.id,
                   s.message());
      return;
    }
    running_.erase(it);  // releases the busy hold
  }
  (void)store_.touch(done.sandbox_id, clock_.now_ms(), Trigger::kExec);
  spdlog::info("process {} of sandbox {} {}{}", done.id, done.sandbox_id, to_string(done.state),
               done.exit_code ? " with exit code " + std::to_string(*done.exit_code)
               : done.signal  ? " by signal " + std::to_string(done.signal)
                              : "");
}

void ProcessService::prune(const std::string& sandbox) {
  auto pruned = store_.prune_processes(sandbox, kKeepEnded);
  if (!pruned) return;
  for (const auto& id : *pruned) (void)files_.remove_tree(sandbox, dir_of(id));
}

}  // namespace sandboxd
