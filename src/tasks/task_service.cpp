#include "sandboxd/tasks/task_service.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/json_dump.h"
#include "sandboxd/base/ids.h"
#include "sandboxd/base/metrics.h"

namespace sandboxd {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxPrompt = 100 * 1024;
constexpr std::size_t kReadChunk = 1 << 20;      // per task per pass
constexpr int64_t kMaxOutputBytes = 64LL << 20;  // an agent's output beyond this fails it
constexpr int64_t kMaxEvents = 100000;           // events per task
constexpr int kDefaultTimeoutS = 600;
constexpr int64_t kLostGraceMs = 120 * 1000;  // past the timeout with no exit.json: lost
constexpr const char* kRunner = "/usr/local/bin/sandbox-init";
constexpr int64_t kFeedLingerMs = 60 * 1000;  // a finished task's feed, for late followers

Status invalid(const std::string& msg) { return Status(Code::kInvalidArgument, msg); }

// Defaults that keep agents from updating themselves or phoning home inside a sandbox;
// the task's env overrides them.
std::map<std::string, std::string> agent_env(Agent agent) {
  if (agent == Agent::kOpenCode) {
    return {{"OPENCODE_DISABLE_AUTOUPDATE", "1"},
            {"OPENCODE_DISABLE_MODELS_FETCH", "1"},
            {"OPENCODE_DISABLE_LSP_DOWNLOAD", "1"}};
  }
  return {{"DISABLE_AUTOUPDATER", "1"},
          {"DISABLE_TELEMETRY", "1"},
          {"DISABLE_ERROR_REPORTING", "1"},
          {"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"}};
}

// Picks up the sums a resumed task had reached (its usage_json), so they keep adding up.
AgentTally tally_from(const TaskRecord& t) {
  AgentTally tally;
  tally.final_message = t.final_message;
  tally.first_error = t.error_message;
  json u = json::parse(t.usage_json, nullptr, false);
  if (u.is_object() && !u.empty()) {
    tally.has_usage = true;
    tally.input_tokens = u.value("input_tokens", int64_t{0});
    tally.output_tokens = u.value("output_tokens", int64_t{0});
    tally.reasoning_tokens = u.value("reasoning_tokens", int64_t{0});
    tally.cache_read_tokens = u.value("cache_read_tokens", int64_t{0});
    tally.cache_write_tokens = u.value("cache_write_tokens", int64_t{0});
    tally.cost_usd = u.value("cost_usd", 0.0);
  }
  return tally;
}

}  // namespace

Status validate_task(const TaskRequest& req, const Config& config) {
  if (req.prompt.find_first_not_of(" \t\r\n") == std::string::npos)
    return invalid("prompt: must not be empty");
  if (req.prompt.size() > kMaxPrompt) return invalid("prompt: longer than 100 KiB");
  if (req.prompt.find('\0') != std::string::npos) return invalid("prompt: must not contain NUL");
  if (req.model.size() > 200 ||
      req.model.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                  "-_./:@") != std::string::npos)
    return invalid("model: at most 200 characters of [A-Za-z0-9-_./:@]");
  if (req.timeout_s && (*req.timeout_s < 1 || *req.timeout_s > config.task_max_timeout_s))
    return invalid("timeout_s: must be 1.." + std::to_string(config.task_max_timeout_s));
  return validate_env(req.env, "env");
}

std::vector<std::string> agent_argv(Agent agent, const std::string& model) {
  std::vector<std::string> argv;
  if (agent == Agent::kOpenCode) {
    argv = {"opencode", "run", "--format", "json"};
    if (!model.empty()) argv.insert(argv.end(), {"-m", model});
  } else {
    argv = {"claude",     "-p", "--output-format", "stream-json", "--verbose", "--permission-mode",
            "acceptEdits"};
    if (!model.empty()) argv.insert(argv.end(), {"--model", model});
  }
  return argv;
}

TaskService::TaskService(const Config& config, Store& store, SandboxService& sandboxes,
                         Clock& clock, Workspaces& workspaces, Metrics& metrics)
    : config_(config),
      store_(store),
      sandboxes_(sandboxes),
      clock_(clock),
      metrics_(metrics),
      files_(workspaces.root(), int64_t{1} << 20),
      workspaces_root_(workspaces.root()),
      sealer_(config.state_dir() + "/redaction.key") {}

TaskService::~TaskService() {
  stop();
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
}

std::string TaskService::task_dir(const std::string& task_id) const {
  return ".sandboxed/tasks/" + task_id;
}

void TaskService::start() {
  auto running = store_.running_tasks();
  if (!running) {
    spdlog::error("tasks: cannot load running tasks: {}", running.error().message());
  } else {
    std::lock_guard lock(mu_);
    for (auto& t : *running) {
      Follow f{t,
               tally_from(t),
               /*launched=*/true,
               redactor_after_restart(t),
               sandboxes_.busy().hold(t.sandbox_id),
               add_feed(t.id, t.next_seq - 1)};
      spdlog::info("task {} of sandbox {}: following it again (from byte {})", t.id, t.sandbox_id,
                   t.out_offset);
      follows_.emplace(t.id, std::move(f));
    }
  }
  inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ < 0) spdlog::warn("tasks: no inotify ({}); polling every 200 ms", errno);
  thread_ = std::thread([this] {
    for (;;) {
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;
      }
      poll_once();
      if (inotify_fd_ < 0) {
        std::unique_lock lock(mu_);
        stop_cv_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stopping_; });
        continue;
      }
      pollfd p{inotify_fd_, POLLIN, 0};
      if (::poll(&p, 1, 200) > 0) {
        char buf[4096];
        while (::read(inotify_fd_, buf, sizeof buf) > 0) {
        }
      }
    }
  });
}

void TaskService::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (auto& [id, slot] : feeds_) slot.feed->close();
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<TaskFeed> TaskService::add_feed(const std::string& task_id, int64_t last_seq) {
  auto feed = std::make_shared<TaskFeed>(last_seq);
  feeds_[task_id] = FeedSlot{feed};
  return feed;
}

std::shared_ptr<const TaskFeed> TaskService::feed(const std::string& task_id) {
  std::lock_guard lock(mu_);
  auto it = feeds_.find(task_id);
  return it == feeds_.end() ? nullptr : it->second.feed;
}

Result<TaskRecord> TaskService::create(const std::string& raw_sandbox, const TaskRequest& req) {
  auto sid = normalize_id(raw_sandbox);
  if (!sid) return sid.error();
  if (auto s = validate_task(req, config_); !s.is_ok()) return s;
  auto sandbox = sandboxes_.get(*sid);
  if (!sandbox) return sandbox.error();

  TaskRecord t;
  t.id = new_ulid(clock_.now_ms());
  std::transform(t.id.begin(), t.id.end(), t.id.begin(), ::tolower);
  t.sandbox_id = *sid;
  t.agent = req.agent;
  t.model = req.model;
  t.prompt = req.prompt;
  for (const auto& [k, v] : req.env) t.env_keys.push_back(k);
  t.sealed_env = seal_env(t.id, req.env);
  std::vector<std::string> secrets = Redactor::values_of(sandbox->env);
  for (auto& v : Redactor::values_of(req.env)) secrets.push_back(std::move(v));
  const Redactor redactor(secrets);
  t.timeout_s = req.timeout_s.value_or(std::min(kDefaultTimeoutS, config_.task_max_timeout_s));
  t.status = TaskStatus::kRunning;
  t.created_at = t.started_at = clock_.now_ms();
  auto busy_with = [&]() -> Status {
    if (stopping_) return Status(Code::kUnavailable, "sandboxd is shutting down");
    for (const auto& [id, f] : follows_) {
      if (f.task.sandbox_id == *sid)
        return Status(Code::kConflict, "sandbox " + *sid + " is running task " + id +
                                           "; cancel it or wait for it to finish");
    }
    return {};
  };
  if (req.checkpoint) {
    // The workspace as it was before the agent touched it (checked first, so a busy
    // sandbox gets no snapshot; checked again below).
    {
      std::lock_guard lock(mu_);
      if (auto s = busy_with(); !s.is_ok()) return s;
    }
    auto snap = sandboxes_.snapshot(*sid, "");
    if (!snap) return snap.error().with_context("checkpoint before the task");
    t.checkpoint_id = snap->id;
  }
  {
    // Reserve the sandbox: one running task at a time (its row is the reservation).
    std::unique_lock lock(mu_);
    Status free = busy_with();
    if (free.is_ok()) free = store_.insert_task(t);
    if (!free.is_ok()) {
      lock.unlock();  // a snapshot's removal may wait for copies out of it
      if (!t.checkpoint_id.empty()) (void)sandboxes_.delete_snapshot(t.checkpoint_id);
      return free;
    }
    // In the same section as the row: a stream that finds the task finds its feed.
    follows_.emplace(t.id, Follow{t, AgentTally{}, /*launched=*/false, redactor,
                                  sandboxes_.busy().hold(*sid), add_feed(t.id, 0)});
  }
  auto fail_start = [&](const Status& raw) -> Result<TaskRecord> {
    const Status st = redactor.status(raw);  // the runtime's words may quote the env
    std::lock_guard poll(poll_mu_);
    std::unique_lock lock(mu_);
    auto it = follows_.find(t.id);
    if (it == follows_.end()) return st;
    lock.unlock();
    // The caller gets the error (e.g. 503 + Retry-After when memory is short); the task
    // stays listed as failed (start_failed), or, if that could not be recorded, followed
    // until a later pass records it.
    if (finish(it->second, TaskStatus::kFailed, FailureReason::kStartFailed, st.message())) {
      std::lock_guard relock(mu_);
      follows_.erase(t.id);
    }
    return st;
  };
  std::vector<std::pair<std::string, std::string>> started = {
      {"status",
       dump_json({{"phase", "starting"}, {"agent", to_string(t.agent)}, {"model", t.model}})}};
  {
    std::lock_guard poll(poll_mu_);
    std::lock_guard lock(mu_);
    auto it = follows_.find(t.id);
    if (it != follows_.end()) {
      Follow& f = it->second;
      const int64_t first = f.task.next_seq;
      if (store_.append_task_events(f.task, started, clock_.now_ms()).is_ok())
        f.feed->publish(first, started, /*ends=*/false);
    }
  }

  // A stopped sandbox is woken (its container recreated if it vanished).
  auto woken = sandboxes_.wake(*sid, Trigger::kTask);
  if (!woken) return fail_start(woken.error().with_context("wake sandbox " + *sid));
  const std::string dir = task_dir(t.id);
  if (auto s = files_.put(*sid, dir + "/prompt", req.prompt, false); !s.is_ok())
    return fail_start(s.with_context("prepare task directory"));
  std::map<std::string, std::string> env = agent_env(req.agent);
  for (const auto& [k, v] : req.env) env[k] = v;
  std::vector<std::string> cmd = {kRunner,
                                  "task-run",
                                  std::string(kSandboxHome) + "/" + dir,
                                  std::to_string(t.timeout_s),
                                  kSandboxAppDir,
                                  "--"};
  for (auto& a : agent_argv(req.agent, req.model)) cmd.push_back(std::move(a));
  if (auto s = sandboxes_.launch(*sid, std::move(cmd), std::move(env)); !s.is_ok())
    return fail_start(s.with_context("start the agent"));
  {
    std::lock_guard poll(poll_mu_);
    std::lock_guard lock(mu_);
    if (auto it = follows_.find(t.id); it != follows_.end()) it->second.launched = true;
  }
  spdlog::info("task {} of sandbox {} started ({}{})", t.id, *sid, to_string(t.agent),
               t.model.empty() ? "" : ", " + t.model);
  return get(*sid, t.id);
}

Result<TaskRecord> TaskService::get(const std::string& raw_sandbox, const std::string& task_id) {
  auto sid = normalize_id(raw_sandbox);
  if (!sid) return sid.error();
  auto t = store_.get_task(task_id);
  if (!t) return t.error();
  if (!t->has_value() || (*t)->sandbox_id != *sid)
    return Status(Code::kNotFound, "no task " + task_id.substr(0, 64) + " in sandbox " + *sid);
  return **t;
}

Result<std::vector<TaskRecord>> TaskService::list(const std::string& raw_sandbox) {
  auto sid = normalize_id(raw_sandbox);
  if (!sid) return sid.error();
  return store_.list_tasks(*sid, 100);
}

Result<TaskRecord> TaskService::cancel(const std::string& sandbox_id, const std::string& task_id) {
  auto t = get(sandbox_id, task_id);
  if (!t) return t;
  if (t->finished()) return t;
  {
    std::lock_guard poll(poll_mu_);
    std::lock_guard lock(mu_);
    auto it = follows_.find(t->id);
    if (it == follows_.end()) return get(sandbox_id, task_id);
    it->second.task.cancel_requested = true;
    if (auto s = store_.update_task(it->second.task); !s.is_ok()) return s;
  }
  // The runner polls for this file and ends the agent's process group.
  if (auto s = files_.put(t->sandbox_id, task_dir(t->id) + "/cancel", "", false); !s.is_ok())
    spdlog::warn("task {}: writing the cancel request: {}", t->id, s.message());
  spdlog::info("task {} of sandbox {}: cancel requested", t->id, t->sandbox_id);
  return get(sandbox_id, task_id);
}

Result<std::vector<StoredEvent>> TaskService::events(const std::string& task_id, int64_t after,
                                                     int limit) {
  return store_.task_events(task_id, after, limit);
}

void TaskService::sync_watches(const std::vector<std::string>& running) {
  if (inotify_fd_ < 0) return;
  for (auto it = watches_.begin(); it != watches_.end();) {
    if (std::find(running.begin(), running.end(), it->first) == running.end()) {
      ::inotify_rm_watch(inotify_fd_, it->second);
      it = watches_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& id : running) {
    if (watches_.count(id)) continue;
    std::string sandbox;
    {
      std::lock_guard lock(mu_);
      auto it = follows_.find(id);
      if (it == follows_.end()) continue;
      sandbox = it->second.task.sandbox_id;
    }
    // Only a wake-up signal: a tenant's symlink here at worst watches some other
    // directory; every read still goes through the symlink-proof WorkspaceFiles.
    std::string dir = workspaces_root_ + "/" + sandbox + "/" + task_dir(id);
    int wd = ::inotify_add_watch(
        inotify_fd_, dir.c_str(),
        IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DONT_FOLLOW | IN_ONLYDIR);
    if (wd >= 0) watches_[id] = wd;
  }
}

void TaskService::poll_once() {
  std::lock_guard poll(poll_mu_);
  std::vector<std::string> ids;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, f] : follows_) ids.push_back(id);
    const int64_t now = clock_.now_ms();
    std::erase_if(feeds_, [&](const auto& kv) {
      return kv.second.drop_at_ms != 0 && kv.second.drop_at_ms <= now;
    });
  }
  sync_watches(ids);
  for (const auto& id : ids) {
    Follow* f = nullptr;
    {
      std::lock_guard lock(mu_);
      auto it = follows_.find(id);
      if (it == follows_.end()) continue;
      f = &it->second;  // map nodes are stable; only this thread (under poll_mu_) erases
    }
    try {
      follow(*f);
    } catch (const std::exception& e) {
      // Whatever the tenant put in the task's files, sandboxd itself stays up.
      finish(*f, TaskStatus::kFailed, FailureReason::kAgentError,
             std::string("unreadable task output: ") + e.what());
    }
    if (f->task.finished()) {
      std::lock_guard lock(mu_);
      follows_.erase(id);
    }
  }
}

void TaskService::follow(Follow& f) {
  const std::string dir = task_dir(f.task.id);
  const int64_t now = clock_.now_ms();
  // exit.json is written after the agent's output is closed: seen first, it means the
  // drain below reads everything there will ever be.
  auto exit_file = files_.get(f.task.sandbox_id, dir + "/exit.json");
  if (!exit_file && exit_file.error().code() != Code::kNotFound) {
    finish(f, TaskStatus::kFailed, FailureReason::kAgentError,
           "task result unreadable: " + exit_file.error().message());
    return;
  }
  bool drained = false;
  // One chunk a pass: a huge (or sparse) output cannot hold up the other tasks.
  while (!drained) {
    if (f.task.out_offset > kMaxOutputBytes || f.task.next_seq > kMaxEvents) {
      finish(f, TaskStatus::kFailed, FailureReason::kOutputTooLarge,
             "the agent's output passed " + std::to_string(kMaxOutputBytes >> 20) + " MiB or " +
                 std::to_string(kMaxEvents) + " events");
      return;
    }
    auto data =
        files_.read_from(f.task.sandbox_id, dir + "/out.jsonl", f.task.out_offset, kReadChunk);
    if (!data && data.error().code() == Code::kNotFound) break;  // not started yet
    if (!data) {
      finish(f, TaskStatus::kFailed, FailureReason::kAgentError,
             "task output unreadable: " + data.error().message());
      return;
    }
    drained = data->size() < kReadChunk;
    std::size_t end = data->rfind('\n');
    std::size_t consumed = end == std::string::npos ? 0 : end + 1;
    if (consumed == 0 && data->size() == kReadChunk) consumed = data->size();  // a huge line
    // Once the runner is done nothing more comes: a last line without newline counts.
    if (exit_file && drained) consumed = data->size();
    if (consumed == 0) break;
    const int64_t advance = static_cast<int64_t>(consumed);
    data->resize(consumed);
    std::vector<std::pair<std::string, std::string>> events;
    std::size_t start = 0;
    while (start < consumed) {
      std::size_t nl = data->find('\n', start);
      if (nl == std::string::npos || nl >= consumed) nl = consumed;
      // Redacted before it is read, so the tally (final message, errors) never holds a
      // secret either; stored_json is the last check on what normalising made of it.
      const std::string line =
          f.redactor.agent_line(std::string_view(*data).substr(start, nl - start));
      for (auto& e : normalize_agent_line(f.task.agent, line, f.tally))
        events.emplace_back(std::move(e.type), f.redactor.stored_json(e.data_json));
      start = nl + 1;
    }
    TaskRecord next = f.task;
    next.out_offset += advance;
    next.final_message = f.tally.final_message;
    next.error_message = f.tally.first_error;
    if (f.tally.has_usage) next.usage_json = f.tally.usage_json();
    if (auto s = store_.append_task_events(next, events, now); !s.is_ok()) {
      spdlog::error("task {}: storing events: {}", f.task.id, s.message());
      f.tally = tally_from(f.task);  // retried from the stored offset next pass
      return;
    }
    const int64_t first = f.task.next_seq;
    f.task = std::move(next);
    if (!events.empty()) f.feed->publish(first, events, /*ends=*/false);
    if (!drained) return;  // more next pass
  }
  if (exit_file) {
    json x = json::parse(exit_file->content, nullptr, false);
    if (!x.is_object()) x = json::object();
    if (x.contains("files_changed") && x["files_changed"].is_array()) {
      f.task.files_changed.clear();
      for (const auto& p : x["files_changed"])
        if (p.is_string()) f.task.files_changed.push_back(f.redactor.whole(p.get<std::string>()));
    }
    // The tenant can write this file: every field is read only if it has the right type.
    auto integer = [&](const char* key, int fallback) {
      auto it = x.find(key);
      return it != x.end() && it->is_number_integer() && it->get<int64_t>() >= -1000000 &&
                     it->get<int64_t>() <= 1000000
                 ? static_cast<int>(it->get<int64_t>())
                 : fallback;
    };
    auto flag = [&](const char* key) {
      auto it = x.find(key);
      return it != x.end() && it->is_boolean() && it->get<bool>();
    };
    const int code = integer("exit_code", -1);
    const int signal = integer("signal", 0);
    f.task.exit_code = code;
    if (flag("cancelled")) {
      finish(f, TaskStatus::kCancelled, FailureReason::kCancelled, "cancelled on request");
    } else if (flag("timed_out")) {
      finish(f, TaskStatus::kFailed, FailureReason::kAgentTimeout,
             "the agent ran longer than timeout_s (" + std::to_string(f.task.timeout_s) + " s)");
    } else if (code != 0 || signal != 0) {
      std::string why = f.tally.first_error;
      if (why.empty())
        why = signal ? "the agent was killed by signal " + std::to_string(signal)
                     : "the agent exited with code " + std::to_string(code);
      finish(f, TaskStatus::kFailed, FailureReason::kAgentError, why);
    } else if (f.tally.agent_reported_error || !f.tally.first_error.empty()) {
      finish(f, TaskStatus::kFailed, FailureReason::kAgentError, f.tally.first_error);
    } else {
      finish(f, TaskStatus::kSucceeded, FailureReason::kNone, "");
    }
    return;
  }
  if (!f.launched) return;
  auto sandbox = sandboxes_.get(f.task.sandbox_id);
  if (!sandbox || sandbox->status == SandboxStatus::kStopped ||
      sandbox->status == SandboxStatus::kError) {
    finish(f, TaskStatus::kFailed, FailureReason::kSandboxStopped,
           "the sandbox stopped (or was deleted) while the task was running");
  } else if (now > f.task.started_at + f.task.timeout_s * 1000 + kLostGraceMs) {
    finish(f, TaskStatus::kFailed, FailureReason::kLost,
           "the task runner stopped reporting (was the container restarted behind sandboxd?)");
  }
}

std::string TaskService::seal_env(const std::string& task_id,
                                  const std::map<std::string, std::string>& env) {
  auto sealed = sealer_.seal(Redactor::values_of(env), task_id);
  if (!sealed) {
    spdlog::warn(
        "task {}: its env values are not kept for a restart ({}): after one, only "
        "the sandbox's env is redacted from its output",
        task_id, sealed.error().message());
    return "";
  }
  return *sealed;
}

Redactor TaskService::redactor_after_restart(const TaskRecord& t) {
  std::vector<std::string> values;
  if (auto sb = sandboxes_.get(t.sandbox_id)) values = Redactor::values_of(sb->env);
  auto own = sealer_.unseal(t.sealed_env, t.id);
  if (!own) {
    spdlog::warn(
        "task {}: its env values cannot be recovered ({}): only the sandbox's env "
        "is redacted from its output",
        t.id, own.error().message());
    return Redactor(values);
  }
  for (auto& v : *own) values.push_back(std::move(v));
  return Redactor(values);
}

std::size_t TaskService::running_count() {
  std::lock_guard lock(mu_);
  return follows_.size();
}

bool TaskService::finish(Follow& f, TaskStatus status, FailureReason reason,
                         const std::string& message) {
  TaskRecord done = f.task;
  done.status = status;
  done.failure_reason = reason;
  if (!message.empty()) done.error_message = f.redactor.whole(message);
  done.final_message =
      f.redactor.whole(f.tally.final_message.empty() ? done.final_message : f.tally.final_message);
  done.sealed_env.clear();  // in the same write as the end
  if (f.tally.has_usage) done.usage_json = f.tally.usage_json();
  done.finished_at = clock_.now_ms();
  json result = {{"id", done.id},
                 {"status", to_string(done.status)},
                 {"failure_reason", to_string(done.failure_reason)},
                 {"error", done.error_message},
                 {"final_message", done.final_message},
                 {"files_changed", done.files_changed},
                 {"usage", json::parse(done.usage_json, nullptr, false)},
                 {"exit_code", done.exit_code ? json(*done.exit_code) : json(nullptr)},
                 {"duration_ms", done.finished_at - done.started_at}};
  const std::vector<std::pair<std::string, std::string>> last = {
      {"done", f.redactor.stored_json(dump_json(result))}};
  const int64_t first = done.next_seq;
  Status st = store_.append_task_events(done, last, done.finished_at);
  // From here on the feed only lingers for late followers.
  auto linger = [&] {
    std::lock_guard lock(mu_);
    if (auto it = feeds_.find(f.task.id); it != feeds_.end())
      it->second.drop_at_ms = clock_.now_ms() + kFeedLingerMs;
  };
  if (st.code() == Code::kNotFound) {
    // Its row is gone (the sandbox was purged): stop following it.
    f.task.status = status;
    f.busy.release();
    f.feed->close();
    linger();
    return true;
  }
  if (!st.is_ok()) {
    spdlog::error("task {}: recording its end: {}", f.task.id, st.message());
    return false;
  }
  f.task = std::move(done);
  f.busy.release();
  metrics_.inc("sandboxd_tasks_finished_total", {{"agent", std::string(to_string(f.task.agent))},
                                                 {"status", std::string(to_string(status))},
                                                 {"reason", std::string(to_string(reason))}});
  f.feed->publish(first, last, /*ends=*/true);
  linger();
  const std::string why(to_string(reason));
  spdlog::info("task {} of sandbox {} {}{}", f.task.id, f.task.sandbox_id, to_string(status),
               why.empty() ? "" : " (" + why + ")");
  return true;
}

}  // namespace sandboxd
