// SandboxService: construction, reads, files, the preview edge's calls and keepalive.
// The lifecycle operations are in lifecycle.cpp, convergence in convergence.cpp, exec in
// sandbox_exec.cpp.
#include "sandboxd/sandbox/sandbox_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>
#include <thread>

#include "sandboxd/base/redactor.h"
#include "sandboxd/sandbox/identity.h"

namespace sandboxd {

SandboxService::SandboxService(const Config& config, Store& store, Runtime& runtime, Clock& clock,
                               Workspaces& workspaces, MemoryProbe& memory, Metrics& metrics,
                               EgressFirewall* egress)
    : config_(config),
      store_(store),
      runtime_(runtime),
      clock_(clock),
      workspaces_(workspaces),
      files_(workspaces.root(), config.files_max_bytes),
      memory_(memory),
      metrics_(metrics),
      egress_(egress),
      activity_(store, clock),
      readiness_(store, runtime, clock) {}

Status SandboxService::admit(const std::string& what) {
  // Fail closed: no sandbox runs without its egress rules (the reconciler retries them).
  if (egress_ && !egress_ok_)
    return Status(Code::kUnavailable, what +
                                          " refused: the egress rules are not installed (see "
                                          "sandboxd's log and `sandboxd doctor`); retry later");
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

Status SandboxService::admit_capacity(bool new_row, bool will_run, bool counted) {
  if (new_row) {
    auto rows = store_.count({});
    if (!rows) return rows.error();
    if (*rows >= config_.max_sandboxes)
      return Status(Code::kCapacity, "this host holds its maximum of " +
                                         std::to_string(config_.max_sandboxes) +
                                         " sandboxes (SANDBOXD_MAX_SANDBOXES): delete one first");
  }
  if (will_run) {
    auto running = store_.count({SandboxStatus::kCreating, SandboxStatus::kStarting,
                                 SandboxStatus::kRunning, SandboxStatus::kFrozen});
    if (!running) return running.error();
    if (*running - (counted ? 1 : 0) >= config_.max_running)
      return Status(Code::kCapacity, "this host runs its maximum of " +
                                         std::to_string(config_.max_running) +
                                         " sandboxes at once (SANDBOXD_MAX_RUNNING): stop one "
                                         "or retry once one sleeps");
  }
  return {};
}

Status SandboxService::ensure_networks() {
  for (Egress e : {Egress::kPublic, Egress::kNone}) {
    if (auto s =
            runtime_.ensure_network(sandbox_network(config_, e), instance_labels(config_.instance));
        !s.is_ok())
      return s;
  }
  return ensure_egress();
}

Result<EgressPlan> egress_plan(const Config& config, Runtime& runtime) {
  EgressPlan plan;
  plan.instance = config.instance;
  plan.allow = config.egress_allow;
  auto pub = runtime.network_interface(sandbox_network(config, Egress::kPublic));
  if (!pub) return pub.error();
  auto none = runtime.network_interface(sandbox_network(config, Egress::kNone));
  if (!none) return none.error();
  plan.public_bridge = *pub;
  plan.none_bridge = *none;
  // Docker's embedded DNS forwards to the host's nameservers from inside the sandbox's
  // namespace, so a private one must stay reachable (net/egress.h). Behind
  // systemd-resolved (/etc/resolv.conf names only 127.0.0.53) they are in resolved's file.
  for (const char* path : {"/etc/resolv.conf", "/run/systemd/resolve/resolv.conf"}) {
    std::ifstream resolv(path);
    plan.dns = dns_upstreams(std::string(std::istreambuf_iterator<char>(resolv), {}));
    if (!plan.dns.empty()) break;
  }
  return plan;
}

Status SandboxService::ensure_egress() {
  if (!egress_) return {};
  Status st = [&]() -> Status {
    auto plan = egress_plan(config_, runtime_);
    if (!plan) return plan.error().with_context("egress rules");
    auto problems = egress_->check(*plan);
    if (problems && problems->empty()) return {};
    if (problems)
      spdlog::warn("egress rules of instance {} incomplete ({}): installing them", config_.instance,
                   problems->front());
    return egress_->install(*plan).with_context("install egress rules");
  }();
  egress_ok_ = st.is_ok();
  return st;
}

Status SandboxService::init() {
  auto install = store_.meta_get_or_set("install_id", random_hex(16));
  if (!install) return install.error();
  install_id_ = *install;
  if (auto s = workspaces_.init(); !s.is_ok()) return s;
  // Frozen before a restart: activity thaws them as it would have.
  auto rows = all();
  if (!rows) return rows.error();
  for (const auto& r : *rows)
    if (r.status == SandboxStatus::kFrozen) frozen_[r.id] = "";
  return ensure_networks();
}

RunSpec SandboxService::run_spec(const SandboxRecord& rec) const {
  return sandboxd::run_spec(rec, config_, install_id_, workspaces_.path(rec.id),
                            config_.identity_dir() + "/" + rec.id);
}

Status SandboxService::prepare_locked(SandboxRecord& rec) {
  SandboxRecord next = rec;
  const bool legacy = rec.limits.disk_bytes == 0 || rec.uid == 0;
  if (legacy) {
    // A row from before quotas and per-sandbox uids: the defaults, and a uid of its own.
    // Saved only once its workspace and identity are ready, so a crash on the way leaves
    // a row that is migrated again.
    if (next.limits.disk_bytes == 0) next.limits.disk_bytes = config_.default_limits.disk_bytes;
    if (next.limits.cpu_millis == 0) next.limits.cpu_millis = config_.default_limits.cpu_millis;
    if (next.uid == 0) {
      auto slot = store_.next_uid_slot();
      if (!slot) return slot.error();
      next.uid = sandbox_uid(config_, *slot);
    }
    spdlog::info("sandbox {}: migrating to its own uid {} and its own disk", rec.id, next.uid);
  }
  auto ws = workspaces_.ensure(next.id, static_cast<uid_t>(next.uid), next.limits.disk_bytes);
  if (!ws) return ws.error();
  next.limits.disk_bytes = ws->disk_bytes;  // a kept disk keeps its size
  if (auto s = write_identity(config_.identity_dir(), next.id, next.uid, env_file_values(next));
      !s.is_ok())
    return s;
  if (legacy || next.limits.disk_bytes != rec.limits.disk_bytes) {
    if (auto s = store_.update(next); !s.is_ok()) return s;
  }
  rec = std::move(next);
  return {};
}

Status SandboxService::attach_workspace(const std::string& id) {
  if (is_mount_point(workspaces_.path(id))) return {};
  // After a reboot (or a delete and a re-create) the disk is not mounted yet. Only an
  // existing disk is mounted, and not for a sandbox on its way out.
  return with_locked(id, [&](SandboxRecord& rec) -> Status {
    if (rec.status == SandboxStatus::kDeleting || rec.status == SandboxStatus::kPurging) return {};
    return workspaces_.attach(rec.id);
  });
}

SandboxUsage SandboxService::usage(const SandboxRecord& rec) {
  SandboxUsage u;
  u.disk_used_bytes = workspaces_.used_bytes(rec.id);
  if (rec.status == SandboxStatus::kRunning) u.container = runtime_.usage(rec.container_id);
  return u;
}

Result<SandboxRecord> SandboxService::load(const std::string& raw_id) {
  auto id = normalize_id(raw_id);
  if (!id) return id.error();
  auto row = store_.get(*id);
  if (!row) return row.error();
  if (!row->has_value()) return Status(Code::kNotFound, "sandbox " + *id + " not found");
  return std::move(**row);
}

void SandboxService::touch(SandboxRecord& rec, Trigger source) {
  rec.last_active_at = clock_.now_ms();
  rec.last_active_source = source;
  rec.updated_at = rec.last_active_at;
}

void SandboxService::left_running(const std::string& id) {
  addresses_.forget(id);
  activity_.forget(id);
}

bool SandboxService::is_frozen(const std::string& id) {
  std::lock_guard g(frozen_mu_);
  return frozen_.count(id) > 0;
}

bool SandboxService::forget_frozen(const std::string& id) {
  std::lock_guard g(frozen_mu_);
  return frozen_.erase(id) > 0;
}

void SandboxService::record_activity(const std::string& id, Trigger source) {
  activity_.record(id, source);
  if (!is_frozen(id)) return;
  if (auto woken = wake(id, source); !woken)
    spdlog::warn("sandbox {}: thaw on {} activity failed: {}", id, to_string(source),
                 woken.error().message());
}

Result<SandboxRecord> SandboxService::get(const std::string& id) { return load(id); }

Result<ListResult> SandboxService::list(const ListQuery& query) {
  if (query.limit < 1) return Status(Code::kInvalidArgument, "limit: must be at least 1");
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

Result<std::vector<ContainerState>> SandboxService::observe() {
  return runtime_.list(instance_labels(config_.instance));
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

Result<FileNode> SandboxService::get_file(const std::string& raw_id, std::string_view path) {
  auto rec = load(raw_id);
  if (!rec) return rec.error();
  if (auto s = attach_workspace(rec->id); !s.is_ok()) return s;
  record_activity(rec->id, Trigger::kFiles);
  return files_.get(rec->id, path);
}

Status SandboxService::put_file(const std::string& raw_id, std::string_view path,
                                std::string_view content, bool append) {
  auto rec = load(raw_id);
  if (!rec) return rec.error();
  if (auto s = attach_workspace(rec->id); !s.is_ok()) return s;
  record_activity(rec->id, Trigger::kFiles);
  return files_.put(rec->id, path, content, append);
}

Status SandboxService::delete_file(const std::string& raw_id, std::string_view path) {
  auto rec = load(raw_id);
  if (!rec) return rec.error();
  if (auto s = attach_workspace(rec->id); !s.is_ok()) return s;
  record_activity(rec->id, Trigger::kFiles);
  return files_.remove(rec->id, path);
}

Result<PreviewTarget> SandboxService::preview_address(const std::string& raw_id, int port) {
  if (!normalize_id(raw_id)) return Status(Code::kNotFound, "no sandbox " + raw_id);
  auto rec = load(raw_id);
  if (!rec) return rec.error();
  if (std::find(rec->ports.begin(), rec->ports.end(), port) == rec->ports.end())
    return Status(Code::kNotFound,
                  "sandbox " + rec->id + " does not expose port " + std::to_string(port));
  PreviewTarget target;
  target.frozen = rec->status == SandboxStatus::kFrozen;
  if (rec->status == SandboxStatus::kRunning) target.address = addresses_.get(rec->id);
  return target;
}

Result<std::string> SandboxService::wake(const std::string& raw_id, Trigger trigger) {
  return with_locked(raw_id, [&](SandboxRecord& rec) -> Result<std::string> {
    auto started = start_locked(std::move(rec), trigger, /*verify=*/true);
    if (!started) return started.error();
    // Valid while it runs (AddressCache's contract): a thawed sandbox's address is known.
    if (auto known = addresses_.get(started->id)) return *known;
    auto c = runtime_.inspect(started->container_name);
    if (!c) return c.error().with_context("wake sandbox " + started->id);
    const std::string network = sandbox_network(config_, started->egress);
    auto ip = c->ips.find(network);
    if (!c->running || ip == c->ips.end())
      return Status(Code::kUnavailable, "sandbox " + started->id + " has no address on network " +
                                            network + " after its start");
    addresses_.put(started->id, ip->second);
    return ip->second;
  });
}

Result<std::string> SandboxService::logs(const std::string& raw_id, std::size_t max_bytes) {
  auto rec = load(raw_id);
  if (!rec) return rec.error();
  if (auto s = attach_workspace(rec->id); !s.is_ok()) return s;
  auto tail = workspaces_.read_tail(rec->id, {".sandboxed", "logs", "dev.log"}, max_bytes);
  if (!tail) return tail;
  // The app may print its env: the tail shows none of the sandbox's secrets.
  return Redactor(Redactor::values_of(rec->env)).whole(*tail);
}

AppView SandboxService::app(const SandboxRecord& rec, std::size_t log_bytes) {
  AppView view;
  const bool up = rec.status == SandboxStatus::kRunning || rec.status == SandboxStatus::kFrozen;
  const Redactor redactor(Redactor::values_of(rec.env));
  if (up) {
    auto text = workspaces_.read_tail(rec.id, {".sandboxed", "app.json"}, kAppStateMaxBytes + 1);
    // Removed before every start (forget_app_state): what is there is this run's word.
    auto parsed = text ? parse_app_state(*text) : Result<AppState>(text.error());
    if (parsed) {
      view.reported = true;
      view.state = std::move(*parsed);
      view.state.reason = redactor.whole(view.state.reason);
    } else {
      view.state.reason = "the supervisor has not reported yet";
    }
  } else {
    view.state.reason = "the sandbox is " + std::string(to_string(rec.status));
  }
  if (log_bytes > 0) {
    auto tail = workspaces_.read_tail(rec.id, {".sandboxed", "logs", "dev.log"}, log_bytes);
    if (tail) view.log_tail = redactor.whole(*tail);
  }
  return view;
}

void SandboxService::forget_app_state(const std::string& id) {
  if (auto s = files_.remove(id, ".sandboxed/app.json"); !s.is_ok() && s.code() != Code::kNotFound)
    spdlog::warn("sandbox {}: its last app state stays until the supervisor writes: {}", id,
                 s.message());
}

void SandboxService::wait_for_app(const std::string& id, int seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    auto rec = load(id);
    if (!rec) return;
    const bool up = rec->status == SandboxStatus::kRunning ||
                    rec->status == SandboxStatus::kStarting ||
                    rec->status == SandboxStatus::kFrozen;
    if (!up) return;
    AppView v = app(*rec, 0);
    // Reported "none": the supervisor found no app to run (its reason says why).
    if (v.reported && v.state.state != "starting") return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

Result<SandboxRecord> SandboxService::keepalive(const std::string& raw_id,
                                                std::optional<int64_t> seconds) {
  if (auto id = normalize_id(raw_id); !id) return id.error();
  if (seconds && *seconds < 0)
    return Status(Code::kInvalidArgument, "seconds: must not be negative");
  return with_locked(raw_id, [&](SandboxRecord& rec) -> Result<SandboxRecord> {
    if (rec.status == SandboxStatus::kDeleting || rec.status == SandboxStatus::kPurging) {
      return Status(Code::kConflict,
                    "sandbox " + rec.id + " is " + std::string(to_string(rec.status)));
    }
    if (rec.status == SandboxStatus::kFrozen) {
      // Kept alive means awake: a frozen one is thawed (a stopped one stays stopped).
      auto thawed = start_locked(std::move(rec), Trigger::kKeepalive, /*verify=*/false);
      if (!thawed) return thawed.error();
      rec = std::move(*thawed);
    }
    touch(rec, Trigger::kKeepalive);
    if (seconds) {
      int64_t capped = std::min<int64_t>(*seconds, config_.keepalive_max_s);
      rec.keepalive_until = std::max(rec.keepalive_until, rec.last_active_at + capped * 1000);
    }
    if (auto s = store_.update(rec); !s.is_ok()) return s;
    return rec;
  });
}

}  // namespace sandboxd
