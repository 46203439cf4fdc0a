#include "sandboxd/sandbox/sandbox_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "sandboxd/base/ids.h"
#include "sandboxd/base/metrics.h"
#include "sandboxd/base/redactor.h"

namespace sandboxd {
namespace {

constexpr int kMaxPorts = 16;
constexpr std::size_t kMaxEnvVars = 256;
constexpr std::size_t kMaxEnvKey = 256;
constexpr std::size_t kMaxEnvValue = 32 * 1024;
constexpr std::size_t kMaxExecArgs = 4096;
// Docker's own log of a sandbox (its PID 1 output, which the tenant can write to).
constexpr int64_t kContainerLogMaxBytes = 1 << 20;

bool valid_env_key(const std::string& k) {
  if (k.empty() || k.size() > kMaxEnvKey) return false;
  if (!(std::isalpha(static_cast<unsigned char>(k[0])) || k[0] == '_')) return false;
  for (char c : k)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

Status invalid(const std::string& msg) { return Status(Code::kInvalidArgument, msg); }

}  // namespace

std::string container_name(const std::string& instance, const std::string& id) {
  return instance == "default" ? "s-" + id : instance + "-s-" + id;
}

std::map<std::string, std::string> traefik_labels(const Config& config, const std::string& id,
                                                  const std::vector<int>& ports) {
  std::map<std::string, std::string> l;
  if (ports.empty()) return l;
  l["traefik.enable"] = "true";
  l["traefik.docker.network"] = config.network;
  std::string prefix = config.instance == "default" ? "" : config.instance + "-";
  for (int port : ports) {
    std::string p = std::to_string(port);
    std::string name = prefix + "s-" + id + "-" + p;
    std::string router = "traefik.http.routers." + name;
    l[router + ".rule"] = "Host(`s-" + id + "-" + p + ".preview." + config.preview_domain + "`)";
    l[router + ".entrypoints"] = config.preview_entrypoint;
    l[router + ".priority"] = "100";  // above the priority-1 wake catch-all
    l[router + ".service"] = name;
    if (config.preview_tls) l[router + ".tls"] = "true";
    l["traefik.http.services." + name + ".loadbalancer.server.port"] = p;
  }
  return l;
}

Status validate_env(const std::map<std::string, std::string>& env, const std::string& field) {
  if (env.size() > kMaxEnvVars)
    return invalid(field + ": at most " + std::to_string(kMaxEnvVars) + " variables");
  for (const auto& [k, v] : env) {
    if (!valid_env_key(k)) {
      // The key is not secret, but may be garbage: show a bounded, printable form.
      std::string shown;
      for (char c : k.substr(0, 64)) shown += (c >= 0x20 && c < 0x7f) ? c : '?';
      return invalid(field + ": key '" + shown + "' must match [A-Za-z_][A-Za-z0-9_]*");
    }
    if (v.size() > kMaxEnvValue) return invalid(field + "." + k + ": value longer than 32 KiB");
    if (v.find_first_of(std::string("\r\n\0", 3)) != std::string::npos) {
      return invalid(field + "." + k + ": value must not contain newlines or NUL");
    }
  }
  return {};
}

Status validate_create(const CreateRequest& req, const Config& config) {
  if (req.id) {
    if (auto id = normalize_id(*req.id); !id) return id.error();
  }
  if (req.ports.size() > static_cast<std::size_t>(kMaxPorts)) {
    return invalid("ports: at most " + std::to_string(kMaxPorts) + " ports");
  }
  std::set<int> seen;
  for (int p : req.ports) {
    if (p < 1 || p > 65535) return invalid("ports: " + std::to_string(p) + " is not in 1..65535");
    if (!seen.insert(p).second) return invalid("ports: " + std::to_string(p) + " is listed twice");
  }
  if (auto s = validate_env(req.env, "env"); !s.is_ok()) return s;
  if (req.idle_policy != "sleep" && req.idle_policy != "always_on") {
    return invalid("idle_policy: must be 'sleep' or 'always_on'");
  }
  const Limits& max = config.max_limits;
  if (req.memory_bytes &&
      (*req.memory_bytes < (6LL << 20) || *req.memory_bytes > max.memory_bytes)) {
    return invalid("memory: must be between 6m and the operator maximum of " +
                   std::to_string(max.memory_bytes) + " bytes");
  }
  if (req.pids && (*req.pids < 16 || *req.pids > max.pids)) {
    return invalid("pids_limit: must be between 16 and " + std::to_string(max.pids));
  }
  if (req.nofile && (*req.nofile < 64 || *req.nofile > max.nofile)) {
    return invalid("nofile: must be between 64 and " + std::to_string(max.nofile));
  }
  return {};
}

SandboxService::SandboxService(const Config& config, Store& store, Docker& docker, Clock& clock,
                               Workspaces& workspaces, MemoryProbe& memory)
    : config_(config),
      store_(store),
      docker_(docker),
      clock_(clock),
      workspaces_(workspaces),
      files_(workspaces.root(), workspaces.uid(), workspaces.gid(), config.files_max_bytes),
      memory_(memory) {}

Status SandboxService::admit(const std::string& what) {
  auto m = memory_.read();
  if (!m) return {};
  if (m->available_pct() < config_.mem_refuse_pct) {
    return Status(Code::kUnavailable, what + " refused: host memory low (" +
                                          std::to_string(static_cast<int>(m->available_pct())) +
                                          "% available, below SANDBOXD_MEM_REFUSE_PCT=" +
                                          std::to_string(config_.mem_refuse_pct) +
                                          "%); retry later");
  }
  return {};
}

std::map<std::string, std::string> SandboxService::instance_labels() const {
  return {{"sandboxed.managed", "true"}, {"sandboxed.instance", config_.instance}};
}

Status SandboxService::init() {
  auto install = store_.meta_get_or_set("install_id", random_hex(16));
  if (!install) return install.error();
  install_id_ = *install;
  if (auto s = workspaces_.init(); !s.is_ok()) return s;
  return docker_.ensure_network(config_.network, instance_labels());
}

RunSpec SandboxService::run_spec(const SandboxRecord& rec) const {
  RunSpec s;
  s.name = rec.container_name;
  s.hostname = "s-" + rec.id;
  s.image = rec.image;
  s.network = config_.network;
  s.user = std::to_string(kSandboxUid) + ":" + std::to_string(kSandboxUid);
  s.workdir = kSandboxAppDir;
  s.labels = instance_labels();
  s.labels["sandboxed.id"] = rec.id;
  s.labels["sandboxed.install"] = install_id_;
  s.labels.merge(traefik_labels(config_, rec.id, rec.ports));
  s.env = rec.env;
  s.env.try_emplace("HOME", kSandboxHome);
  std::string ports;
  for (int p : rec.ports) ports += (ports.empty() ? "" : ",") + std::to_string(p);
  s.env["SANDBOXED_PORTS"] = ports;  // read by sandbox-init: the dev server's default PORT
  s.mounts.push_back({workspaces_.path(rec.id), kSandboxHome});
  s.memory_bytes = rec.limits.memory_bytes;
  s.pids_limit = rec.limits.pids;
  s.nofile = rec.limits.nofile;
  s.tmpfs_bytes = config_.tmpfs_bytes;
  s.log_max_bytes = kContainerLogMaxBytes;
  return s;
}

Result<SandboxRecord> SandboxService::load(const std::string& raw_id) {
  auto id = normalize_id(raw_id);
  if (!id) return id.error();
  auto row = store_.get(*id);
  if (!row) return row.error();
  if (!row->has_value()) return Status(Code::kNotFound, "sandbox " + *id + " not found");
  return std::move(**row);
}

void SandboxService::touch(SandboxRecord& rec, const std::string& source) {
  rec.last_active_at = clock_.now_ms();
  rec.last_active_source = source;
  rec.updated_at = rec.last_active_at;
}

Result<std::string> SandboxService::run_container(const SandboxRecord& rec) {
  auto id = run_container_unredacted(rec);
  if (id) return id;
  // docker's words about a failed run may quote the env it was given.
  return Redactor(Redactor::values_of(rec.env)).status(id.error());
}

Result<std::string> SandboxService::run_container_unredacted(const SandboxRecord& rec) {
  RunSpec spec = run_spec(rec);
  auto id = docker_.run(spec);
  if (id) {
    forget_all_addresses();
    return id;
  }
  Status err = id.error();
  if (is_missing_network(err)) {
    // The sandbox network vanished (e.g. pruned): recreate it and try once more.
    if (auto s = docker_.ensure_network(config_.network, instance_labels()); !s.is_ok()) return s;
  } else if (err.code() == Code::kConflict) {
    // Something holds the container name. Only a container this installation made for
    // this sandbox (left by a crash or a failed start) is ours to replace.
    auto holder = docker_.inspect(rec.container_name);
    if (!holder) return holder.error();
    auto label = [&](const char* key) {
      auto it = holder->labels.find(key);
      return it == holder->labels.end() ? std::string() : it->second;
    };
    if (label("sandboxed.install") != install_id_ || label("sandboxed.id") != rec.id) {
      return Status(Code::kConflict, "container name " + rec.container_name +
                                         " is held by a container this sandboxd did not create");
    }
    spdlog::warn("sandbox {}: replacing stale container {}", rec.id, rec.container_name);
    if (auto s = docker_.remove(rec.container_name); !s.is_ok() && s.code() != Code::kNotFound)
      return s;
  } else {
    // docker run may have created the container and then failed to start it.
    (void)remove_own_container(rec.id, rec.container_name, /*has_row=*/true);
    return err;
  }
  auto again = docker_.run(spec);
  if (!again) (void)remove_own_container(rec.id, rec.container_name, /*has_row=*/true);
  return again;
}

Result<SandboxRecord> SandboxService::create(const CreateRequest& req) {
  if (auto s = validate_create(req, config_); !s.is_ok()) return s;
  ScopedOperation op("create", "api");
  if (auto s = admit("create"); !s.is_ok()) return s;
  int64_t now = clock_.now_ms();
  std::string id = req.id ? *normalize_id(*req.id) : new_ulid(now);
  auto guard = locks_.lock(id);

  auto existing = store_.get(id);
  if (!existing) return existing.error();
  if (existing->has_value()) {
    return Status(Code::kConflict,
                  "sandbox " + id + " already exists (status " + (*existing)->status + ")");
  }

  SandboxRecord rec;
  rec.id = id;
  rec.status = kStatusCreating;
  rec.image = config_.image;
  rec.container_name = container_name(config_.instance, id);
  rec.ports = req.ports;
  rec.env = req.env;
  rec.idle_policy = req.idle_policy;
  rec.limits = config_.default_limits;
  if (req.memory_bytes) rec.limits.memory_bytes = *req.memory_bytes;
  if (req.pids) rec.limits.pids = *req.pids;
  if (req.nofile) rec.limits.nofile = *req.nofile;
  rec.created_at = rec.updated_at = now;
  // Written first: a crash from here on leaves a `creating` row to converge.
  if (auto s = store_.insert(rec); !s.is_ok()) return s;

  auto created_ws = workspaces_.ensure(id);
  auto rollback = [&](const Status& cause) -> Status {
    spdlog::warn("create sandbox {} failed, rolling back: {}", id, cause.message());
    if (created_ws && *created_ws) (void)workspaces_.remove(id);
    if (auto s = store_.remove(id); !s.is_ok())
      spdlog::error("create sandbox {}: rollback: {}", id, s.message());
    return cause.with_context("create sandbox " + id);
  };
  if (!created_ws) return rollback(created_ws.error());
  auto cid = run_container(rec);
  if (!cid) return rollback(cid.error());

  rec.status = kStatusRunning;
  rec.container_id = *cid;
  rec.started_at = clock_.now_ms();
  touch(rec, "create");
  if (auto s = store_.update(rec); !s.is_ok()) return s;
  spdlog::info("sandbox {} created ({}, workspace {})", id, rec.container_name,
               *created_ws ? "new" : "re-attached");
  op.succeeded();
  return rec;
}

Result<SandboxRecord> SandboxService::get(const std::string& id) { return load(id); }

Result<ListResult> SandboxService::list(const ListQuery& query) {
  if (query.limit < 1) return invalid("limit: must be at least 1");
  ListQuery q = query;
  q.limit = query.limit + 1;  // one extra row tells whether another page exists
  auto rows = store_.list(q);
  if (!rows) return rows.error();
  ListResult out;
  out.sandboxes = std::move(*rows);
  if (out.sandboxes.size() > static_cast<std::size_t>(query.limit)) {
    out.sandboxes.pop_back();
    out.next_after = out.sandboxes.back().id;
  }
  return out;
}

Result<SandboxRecord> SandboxService::start_locked(SandboxRecord rec, const std::string& source,
                                                   bool verify) {
  if (rec.status == kStatusRunning && !verify) return rec;
  bool startable = rec.status == kStatusRunning || rec.status == kStatusStopped ||
                   rec.status == kStatusError || rec.status == kStatusStarting ||
                   rec.status == kStatusStopping;
  if (!startable) return Status(Code::kConflict, "sandbox " + rec.id + " is " + rec.status);
  const bool was_running = rec.status == kStatusRunning;
  const bool was_error = rec.status == kStatusError;  // rebuilt from the row, not restarted
  // A start on the API's request is a start; one on a preview hit or a task is a wake.
  ScopedOperation op(source == "api" ? "start" : "wake", source);
  if (was_running) op.cancel();
  forget_address(rec.id);
  if (!was_running) {
    if (auto s = admit("start of sandbox " + rec.id); !s.is_ok()) return s;
    rec.status = kStatusStarting;  // intent first: a crash from here on leaves `starting`
    rec.updated_at = clock_.now_ms();
    if (auto s = store_.update(rec); !s.is_ok()) return s;
  }
  // `docker start` is a no-op on a running container, so it also verifies one.
  Status st = was_error ? Status(Code::kNotFound, "recreate after error")
                        : docker_.start(rec.container_name);
  if (is_missing_network(st)) {
    if (auto s = docker_.ensure_network(config_.network, instance_labels()); !s.is_ok()) return s;
    st = docker_.start(rec.container_name);
  }
  if (st.code() == Code::kNotFound && !is_missing_network(st)) {
    // The container vanished (dockerd reset, `docker rm`, prune) or never ran: recreate
    // it from the row, on the same workspace.
    spdlog::info("sandbox {}: recreating container {} from its row", rec.id, rec.container_name);
    if (auto ws = workspaces_.ensure(rec.id); !ws)
      return ws.error().with_context("start sandbox " + rec.id);
    auto cid = run_container(rec);
    if (!cid) return cid.error().with_context("start sandbox " + rec.id);
    rec.container_id = *cid;
  } else if (!st.is_ok()) {
    return st.with_context("start sandbox " + rec.id);
  } else if (!was_running) {
    forget_all_addresses();
  }
  if (was_running) return rec;
  rec.status = kStatusRunning;
  rec.error_message.clear();
  rec.started_at = clock_.now_ms();
  touch(rec, source);
  if (auto s = store_.update(rec); !s.is_ok()) return s;
  spdlog::info("sandbox {} started (by {})", rec.id, source);
  op.succeeded();
  return rec;
}

Result<SandboxRecord> SandboxService::start(const std::string& raw_id, const std::string& source) {
  auto id = normalize_id(raw_id);
  if (!id) return id.error();
  auto guard = locks_.lock(*id);
  auto rec = load(*id);
  if (!rec) return rec.error();
  return start_locked(std::move(*rec), source, /*verify=*/true);
}

Result<SandboxRecord> SandboxService::stop(const std::string& raw_id) {
  auto id = normalize_id(raw_id);
  if (!id) return id.error();
  auto guard = locks_.lock(*id);
  auto rec = load(*id);
  if (!rec) return rec.error();
  return stop_locked(std::move(*rec), "api");
}

Result<SandboxRecord> SandboxService::stop_locked(SandboxRecord rec, const std::string& reason) {
  if (rec.status == kStatusStopped) return rec;
  if (rec.status != kStatusRunning && rec.status != kStatusStarting &&
      rec.status != kStatusStopping) {
    return Status(Code::kConflict, "sandbox " + rec.id + " is " + rec.status + ", not running");
  }
  ScopedOperation op("stop", reason);
  forget_address(rec.id);
  rec.status = kStatusStopping;  // intent first: a crash from here on leaves `stopping`
  rec.updated_at = clock_.now_ms();
  if (auto s = store_.update(rec); !s.is_ok()) return s;
  Status st = docker_.stop(rec.container_name, config_.stop_timeout_s);
  if (!st.is_ok() && !(st.code() == Code::kNotFound && !is_missing_network(st))) {
    return st.with_context("stop sandbox " + rec.id);
  }
  rec.status = kStatusStopped;
  rec.stopped_at = clock_.now_ms();
  rec.updated_at = rec.stopped_at;
  rec.stop_reason = reason;
  if (auto s = store_.update(rec); !s.is_ok()) return s;
  spdlog::info("sandbox {} stopped ({})", rec.id, reason);
  op.succeeded();
  return rec;
}

Status SandboxService::destroy(const std::string& raw_id) {
  auto id = normalize_id(raw_id);
  if (!id) return id.error();
  auto guard = locks_.lock(*id);
  ScopedOperation op("delete", "api");
  Status st = destroy_locked(*id);
  if (st.is_ok()) op.succeeded();
  return st;
}

Status SandboxService::remove_own_container(const std::string& id, const std::string& name,
                                            bool has_row) {
  auto c = docker_.inspect(name);
  if (!c) return c.error().code() == Code::kNotFound ? Status() : c.error();
  auto label = [&](const char* key) {
    auto it = c->labels.find(key);
    return it == c->labels.end() ? std::string() : it->second;
  };
  bool ours = label("sandboxed.managed") == "true" &&
              label("sandboxed.instance") == config_.instance && label("sandboxed.id") == id;
  if (!ours) {
    spdlog::warn("sandbox {}: container {} lacks this instance's labels; left alone", id, name);
    if (has_row) return {};
    return Status(Code::kNotFound, "no sandbox " + id + " (container " + name +
                                       " does not belong to this sandboxd and was left alone)");
  }
  // By its id: a container that took the name meanwhile is not hit.
  Status st = docker_.remove(c->id);
  return st.code() == Code::kNotFound ? Status() : st;
}

Status SandboxService::destroy_locked(const std::string& id) {
  auto row = store_.get(id);
  if (!row) return row.error();
  std::string name = container_name(config_.instance, id);
  forget_address(id);
  if (row->has_value()) {
    SandboxRecord rec = **row;
    rec.status = kStatusDeleting;  // a crash from here on leaves a row to finish deleting
    rec.updated_at = clock_.now_ms();
    if (auto s = store_.update(rec); !s.is_ok()) return s;
    name = rec.container_name;
  }
  if (auto s = remove_own_container(id, name, row->has_value()); !s.is_ok()) {
    return s.code() == Code::kNotFound ? s : s.with_context("delete sandbox " + id);
  }
  if (auto s = store_.remove(id); !s.is_ok()) return s;
  spdlog::info("sandbox {} deleted (workspace kept)", id);
  return {};
}

Result<int64_t> SandboxService::purge(const std::string& raw_id) {
  auto id = normalize_id(raw_id);
  if (!id) return id.error();
  auto guard = locks_.lock(*id);
  ScopedOperation op("purge", "api");
  auto freed = purge_locked(*id);
  if (freed) op.succeeded();
  return freed;
}

Result<int64_t> SandboxService::purge_locked(const std::string& id) {
  auto row = store_.get(id);
  if (!row) return row.error();
  std::string name = container_name(config_.instance, id);
  forget_address(id);
  if (row->has_value()) {
    SandboxRecord rec = **row;
    rec.status = kStatusPurging;
    rec.updated_at = clock_.now_ms();
    if (auto s = store_.update(rec); !s.is_ok()) return s;
    name = rec.container_name;
  }
  if (auto s = remove_own_container(id, name, row->has_value()); !s.is_ok()) {
    return s.code() == Code::kNotFound ? s : s.with_context("purge sandbox " + id);
  }
  // The container is gone, so the tenant can no longer change the tree under us.
  auto freed = workspaces_.remove(id);
  if (!freed) return freed.error().with_context("purge sandbox " + id);
  if (auto s = store_.remove_with_tasks(id); !s.is_ok()) return s;
  spdlog::info("sandbox {} purged ({} bytes freed)", id, *freed);
  return freed;
}

Result<ExecResult> SandboxService::exec(const std::string& raw_id, const ExecRequest& req) {
  auto id = normalize_id(raw_id);
  if (!id) return id.error();
  if (req.cmd.empty()) return invalid("cmd: must be a non-empty array of strings");
  if (req.cmd.size() > kMaxExecArgs) return invalid("cmd: too many arguments");
  for (const auto& a : req.cmd)
    if (a.find('\0') != std::string::npos) return invalid("cmd: arguments must not contain NUL");
  if (req.cmd[0].empty()) return invalid("cmd[0]: must not be empty");
  if (auto s = validate_env(req.env, "env"); !s.is_ok()) return s;
  if (!req.workdir.empty() &&
      (req.workdir[0] != '/' || req.workdir.find('\0') != std::string::npos)) {
    return invalid("workdir: must be an absolute path");
  }
  int timeout = req.timeout_s.value_or(config_.exec_default_timeout_s);
  if (timeout < 1 || timeout > config_.exec_max_timeout_s) {
    return invalid("timeout_s: must be between 1 and " +
                   std::to_string(config_.exec_max_timeout_s));
  }

  // Each exec holds an HTTP worker for its whole run: past the cap, callers retry.
  if (execs_in_flight_.fetch_add(1) >= config_.max_concurrent_execs) {
    execs_in_flight_.fetch_sub(1);
    return Status(Code::kUnavailable, "too many concurrent execs (" +
                                          std::to_string(config_.max_concurrent_execs) +
                                          "); retry shortly");
  }
  struct InFlight {
    std::atomic<int>& n;
    ~InFlight() { n.fetch_sub(1); }
  } in_flight{execs_in_flight_};

  ExecSpec spec;
  spec.cmd = req.cmd;
  spec.env = req.env;
  spec.user = std::to_string(kSandboxUid) + ":" + std::to_string(kSandboxUid);
  spec.workdir = req.workdir.empty() ? kSandboxAppDir : req.workdir;
  spec.timeout = std::chrono::seconds(timeout);
  spec.max_output_bytes = static_cast<std::size_t>(config_.exec_output_max_bytes);
  // The lock covers bringing the sandbox up, not the command itself, so a long exec
  // does not block stop or delete of the same sandbox. `verify` makes sure a row that
  // says running really has a running container (after a dockerd restart it may not).
  std::vector<std::string> secrets = Redactor::values_of(req.env);
  auto bring_up = [&](bool verify) -> Status {
    auto guard = locks_.lock(*id);
    auto rec = load(*id);
    if (!rec) return rec.error();
    auto running = start_locked(std::move(*rec), "exec", verify);
    if (!running) return running.error();
    touch(*running, "exec");
    if (auto s = store_.update(*running); !s.is_ok()) return s;
    spec.container = running->container_name;
    for (auto& v : Redactor::values_of(running->env)) secrets.push_back(std::move(v));
    return {};
  };
  if (auto s = bring_up(false); !s.is_ok()) return s;
  // Busy while the command runs: the idle reaper leaves the sandbox alone, and the end
  // of the command counts as activity too.
  {
    std::lock_guard lock(busy_mu_);
    ++busy_[*id];
  }
  struct BusyMark {
    SandboxService& svc;
    const std::string& id;
    ~BusyMark() {
      {
        std::lock_guard lock(svc.busy_mu_);
        if (--svc.busy_[id] == 0) svc.busy_.erase(id);
      }
      (void)svc.store_.touch(id, svc.clock_.now_ms(), "exec");
    }
  } busy_mark{*this, *id};
  auto result = docker_.exec(spec);
  if (!result &&
      (result.error().code() == Code::kNotFound || result.error().code() == Code::kConflict)) {
    // The container was not running after all: bring it up once and try again.
    if (auto s = bring_up(true); !s.is_ok()) return s;
    result = docker_.exec(spec);
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

Result<std::vector<ContainerState>> SandboxService::observe() {
  return docker_.list(instance_labels());
}

Result<std::vector<SandboxRecord>> SandboxService::all() {
  std::vector<SandboxRecord> out;
  ListQuery q;
  q.limit = 500;
  for (;;) {
    auto page = store_.list(q);
    if (!page) return page.error();
    if (page->empty()) return out;
    q.after_id = page->back().id;
    bool last = page->size() < static_cast<std::size_t>(q.limit);
    std::move(page->begin(), page->end(), std::back_inserter(out));
    if (last) return out;
  }
}

std::set<std::string> SandboxService::busy_ids() {
  std::lock_guard lock(busy_mu_);
  std::set<std::string> out;
  for (const auto& [id, n] : busy_) out.insert(id);
  return out;
}

void SandboxService::hold_busy(const std::string& id, bool hold) {
  std::lock_guard lock(busy_mu_);
  if (hold) {
    ++busy_[id];
  } else if (auto it = busy_.find(id); it != busy_.end() && --it->second <= 0) {
    busy_.erase(it);
  }
}

IdleInfo SandboxService::idle_info(const SandboxRecord& rec) {
  IdleInfo info;
  info.threshold_s = config_.idle_threshold_s;
  if (rec.status == kStatusStopped) {
    info.reason = "stopped" + (rec.stop_reason.empty() ? "" : " (" + rec.stop_reason + ")");
    return info;
  }
  if (rec.status != kStatusRunning) {
    info.reason = "not running (" + rec.status + ")";
    return info;
  }
  if (rec.idle_policy == "always_on") {
    info.reason = "idle_policy always_on: never stopped for idleness";
    return info;
  }
  if (busy_ids().count(rec.id)) {
    info.reason = "busy: an exec is running";
    return info;
  }
  int64_t by_activity = rec.last_active_at + int64_t{config_.idle_threshold_s} * 1000;
  info.stops_at_ms = std::max(by_activity, rec.keepalive_until);
  if (config_.idle_reap_interval_s == 0) {
    info.stops_at_ms = 0;
    info.reason = "idle reaper disabled (SANDBOXD_IDLE_REAP_INTERVAL_SECONDS=0)";
  } else if (rec.keepalive_until > by_activity) {
    info.reason = "kept alive until " + format_rfc3339(rec.keepalive_until);
  } else {
    info.reason = "idle since " + format_rfc3339(rec.last_active_at) + " (last activity: " +
                  (rec.last_active_source.empty() ? "none" : rec.last_active_source) + ")";
  }
  return info;
}

Result<bool> SandboxService::stop_if_idle(const std::string& id) {
  auto guard = locks_.lock(id);
  auto row = store_.get(id);
  if (!row) return row.error();
  if (!row->has_value()) return false;
  auto picked =
      pick_idle({**row}, clock_.now_ms(), int64_t{config_.idle_threshold_s} * 1000, busy_ids());
  if (picked.empty()) return false;  // activity arrived since the tick looked
  auto stopped = stop_locked(**row, "idle");
  if (!stopped) return stopped.error();
  metrics().inc("sandboxd_reaper_actions_total", {{"reaper", "idle"}, {"action", "stop"}});
  return true;
}

Status SandboxService::finish_create_locked(SandboxRecord rec) {
  spdlog::info("sandbox {}: finishing an interrupted create", rec.id);
  auto ws = workspaces_.ensure(rec.id);
  Status st = ws ? Status() : ws.error();
  if (st.is_ok()) {
    auto existing = docker_.inspect(rec.container_name);
    bool ours = existing && existing->labels.count("sandboxed.install") &&
                existing->labels.at("sandboxed.install") == install_id_;
    if (ours && existing->running) {
      rec.container_id = existing->id;
    } else {
      auto cid = run_container(rec);
      if (cid)
        rec.container_id = *cid;
      else
        st = cid.error();
    }
  }
  rec.updated_at = clock_.now_ms();
  if (!st.is_ok()) {
    rec.status = kStatusError;
    rec.error_message = "interrupted create could not be finished: " + st.message();
    spdlog::error("sandbox {}: {}", rec.id, rec.error_message);
  } else {
    rec.status = kStatusRunning;
    rec.started_at = rec.updated_at;
    touch(rec, "create");
  }
  return store_.update(rec);
}

Status SandboxService::converge(const std::string& id) {
  auto guard = locks_.lock(id);
  auto row = store_.get(id);
  if (!row) return row.error();
  if (!row->has_value()) return {};
  SandboxRecord rec = **row;
  if (rec.status == kStatusCreating) return finish_create_locked(rec);
  if (rec.status == kStatusStarting) return start_locked(rec, "reconciler", true).error_or_ok();
  if (rec.status == kStatusStopping)
    // The reason of the interrupted stop was not recorded (it is written with the result).
    return stop_locked(rec, "interrupted stop finished by the reconciler").error_or_ok();
  if (rec.status == kStatusDeleting) return destroy_locked(id);
  if (rec.status == kStatusPurging) return purge_locked(id).error_or_ok();
  if (rec.status != kStatusRunning && rec.status != kStatusStopped) return {};
  // Look again under the lock: the tick's view may be stale.
  auto c = docker_.inspect(rec.container_name);
  if (!c && c.error().code() != Code::kNotFound) return c.error();
  bool running = c && c->running;
  if (rec.status == kStatusRunning && !running) {
    if (rec.idle_policy == "always_on") {
      spdlog::info("sandbox {}: always_on but its container is {}; starting it", id,
                   c ? c->status : "gone");
      return start_locked(rec, "reconciler", true).error_or_ok();
    }
    // Exited or gone (a gone container is recreated on the next start).
    forget_address(id);
    rec.status = kStatusStopped;
    rec.stopped_at = rec.updated_at = clock_.now_ms();
    rec.stop_reason =
        c ? "container exited (code " + std::to_string(c->exit_code) + ")" : "container vanished";
    spdlog::info("sandbox {}: marked stopped: {}", id, rec.stop_reason);
    return store_.update(rec);
  }
  if (rec.status == kStatusStopped && running) {
    // SQLite is the truth: something started it behind our back.
    spdlog::info("sandbox {}: stopping a container that runs although the sandbox is stopped", id);
    Status st = docker_.stop(rec.container_name, config_.stop_timeout_s);
    return st.code() == Code::kNotFound ? Status() : st;
  }
  return {};
}

Result<FileNode> SandboxService::get_file(const std::string& raw_id, std::string_view path) {
  auto id = normalize_id(raw_id);
  if (!id) return id.error();
  if (auto rec = load(*id); !rec) return rec.error();
  record_activity(*id, "files");
  return files_.get(*id, path);
}

Status SandboxService::put_file(const std::string& raw_id, std::string_view path,
                                std::string_view content, bool append) {
  auto id = normalize_id(raw_id);
  if (!id) return id.error();
  if (auto rec = load(*id); !rec) return rec.error();
  record_activity(*id, "files");
  return files_.put(*id, path, content, append);
}

Status SandboxService::delete_file(const std::string& raw_id, std::string_view path) {
  auto id = normalize_id(raw_id);
  if (!id) return id.error();
  if (auto rec = load(*id); !rec) return rec.error();
  record_activity(*id, "files");
  return files_.remove(*id, path);
}

Result<std::optional<std::string>> SandboxService::preview_address(const std::string& raw_id,
                                                                   int port) {
  auto id = normalize_id(raw_id);
  if (!id) return Status(Code::kNotFound, "no sandbox " + raw_id);
  auto rec = load(*id);
  if (!rec) return rec.error();
  if (std::find(rec->ports.begin(), rec->ports.end(), port) == rec->ports.end())
    return Status(Code::kNotFound,
                  "sandbox " + *id + " does not expose port " + std::to_string(port));
  if (rec->status != kStatusRunning) return std::optional<std::string>();
  std::lock_guard lock(edge_mu_);
  auto it = addresses_.find(*id);
  if (it == addresses_.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

Result<std::string> SandboxService::wake(const std::string& raw_id, const std::string& source) {
  auto id = normalize_id(raw_id);
  if (!id) return id.error();
  auto guard = locks_.lock(*id);
  auto rec = load(*id);
  if (!rec) return rec.error();
  auto started = start_locked(std::move(*rec), source, /*verify=*/true);
  if (!started) return started.error();
  auto c = docker_.inspect(started->container_name);
  if (!c) return c.error().with_context("wake sandbox " + *id);
  auto ip = c->ips.find(config_.network);
  if (!c->running || ip == c->ips.end())
    return Status(Code::kUnavailable, "sandbox " + *id + " has no address on network " +
                                          config_.network + " after its start");
  std::lock_guard lock(edge_mu_);
  addresses_[*id] = ip->second;
  return ip->second;
}

void SandboxService::forget_all_addresses() {
  std::lock_guard lock(edge_mu_);
  addresses_.clear();
}

void SandboxService::forget_address(const std::string& id) {
  std::lock_guard lock(edge_mu_);
  addresses_.erase(id);
  activity_written_.erase(id);
}

void SandboxService::record_activity(const std::string& id, const std::string& source) {
  auto now = clock_.steady_now();
  {
    std::lock_guard lock(edge_mu_);
    auto [it, fresh] = activity_written_.try_emplace(id, now);
    if (!fresh) {
      if (now - it->second < std::chrono::seconds(1)) return;
      it->second = now;
    }
  }
  if (auto s = store_.touch(id, clock_.now_ms(), source); !s.is_ok())
    spdlog::warn("sandbox {}: recording {} activity: {}", id, source, s.message());
}

Status SandboxService::remove_orphan(const ContainerState& c) {
  auto label = [&](const char* key) {
    auto it = c.labels.find(key);
    return it == c.labels.end() ? std::string() : it->second;
  };
  auto id = normalize_id(label("sandboxed.id"));
  if (!id || label("sandboxed.install") != install_id_) {
    spdlog::warn(
        "container {} carries this instance's label but was not made by this installation; "
        "leaving it alone",
        c.name);
    return {};
  }
  auto guard = locks_.lock(*id);
  auto row = store_.get(*id);
  if (!row) return row.error();
  if (row->has_value()) return {};  // created meanwhile: not an orphan
  spdlog::info("removing orphan container {} (sandbox {} has no row)", c.name, *id);
  Status st = docker_.remove(c.name);
  return st.code() == Code::kNotFound ? Status() : st;
}

std::vector<std::string> pick_pressure_victims(const std::vector<SandboxRecord>& rows,
                                               const std::set<std::string>& busy, bool emergency) {
  std::vector<const SandboxRecord*> normal, protected_;
  for (const auto& r : rows) {
    if (r.status != kStatusRunning) continue;
    (r.idle_policy == "sleep" && !busy.count(r.id) ? normal : protected_).push_back(&r);
  }
  auto lru = [](const SandboxRecord* a, const SandboxRecord* b) {
    return a->last_active_at < b->last_active_at;
  };
  std::sort(normal.begin(), normal.end(), lru);
  std::sort(protected_.begin(), protected_.end(), lru);
  std::vector<std::string> out;
  for (const auto* r : normal) out.push_back(r->id);
  if (emergency)
    for (const auto* r : protected_) out.push_back(r->id);
  return out;
}

Result<bool> SandboxService::stop_for_pressure(const std::string& id, bool emergency) {
  auto guard = locks_.lock(id);
  auto row = store_.get(id);
  if (!row) return row.error();
  if (!row->has_value()) return false;
  auto victims = pick_pressure_victims({**row}, busy_ids(), emergency);
  if (victims.empty()) return false;
  auto stopped = stop_locked(**row, emergency ? "memory emergency" : "memory pressure");
  if (!stopped) return stopped.error();
  metrics().inc("sandboxd_reaper_actions_total",
                {{"reaper", emergency ? "emergency" : "pressure"}, {"action", "stop"}});
  return true;
}

std::vector<std::string> pick_idle(const std::vector<SandboxRecord>& rows, int64_t now_ms,
                                   int64_t threshold_ms, const std::set<std::string>& busy) {
  std::vector<std::string> out;
  for (const auto& r : rows) {
    if (r.status != kStatusRunning || r.idle_policy != "sleep" || busy.count(r.id)) continue;
    if (now_ms < r.last_active_at + threshold_ms || now_ms < r.keepalive_until) continue;
    out.push_back(r.id);
  }
  return out;
}

bool needs_convergence(const SandboxRecord& row, const ContainerState* c) {
  if (row.status == kStatusRunning) return c == nullptr || !c->running;
  if (row.status == kStatusStopped) return c != nullptr && c->running;
  return row.status != kStatusError;  // an operation was interrupted
}

Result<std::string> SandboxService::logs(const std::string& raw_id, std::size_t max_bytes) {
  auto rec = load(raw_id);
  if (!rec) return rec.error();
  auto tail = workspaces_.read_tail(rec->id, {".sandboxed", "logs", "dev.log"}, max_bytes);
  if (!tail) return tail;
  // The app may print its env: the tail shows none of the sandbox's secrets.
  return Redactor(Redactor::values_of(rec->env)).whole(*tail);
}

Status SandboxService::readiness() {
  if (auto s = store_.ping(); !s.is_ok()) return s;
  auto now = clock_.steady_now();
  {
    std::lock_guard lock(ready_mu_);
    bool fresh = docker_checked_ != std::chrono::steady_clock::time_point{} &&
                 now - docker_checked_ <= std::chrono::seconds(3);
    if (fresh) return docker_status_;
  }
  // Asked without the lock held, so probes never queue behind a slow dockerd.
  Status answer = docker_.ping();
  std::lock_guard lock(ready_mu_);
  docker_status_ = answer;
  docker_checked_ = now;
  return answer;
}

Result<SandboxRecord> SandboxService::keepalive(const std::string& raw_id,
                                                std::optional<int64_t> seconds) {
  auto id = normalize_id(raw_id);
  if (!id) return id.error();
  if (seconds && *seconds < 0) return invalid("seconds: must not be negative");
  auto guard = locks_.lock(*id);
  auto rec = load(*id);
  if (!rec) return rec.error();
  if (rec->status == kStatusDeleting || rec->status == kStatusPurging) {
    return Status(Code::kConflict, "sandbox " + *id + " is " + rec->status);
  }
  touch(*rec, "keepalive");
  if (seconds) {
    int64_t capped = std::min<int64_t>(*seconds, config_.keepalive_max_s);
    rec->keepalive_until = std::max(rec->keepalive_until, rec->last_active_at + capped * 1000);
  }
  if (auto s = store_.update(*rec); !s.is_ok()) return s;
  return rec;
}

}  // namespace sandboxd
