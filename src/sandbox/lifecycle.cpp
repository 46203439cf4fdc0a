// SandboxService's lifecycle operations: create, start, stop, delete, purge. Each writes
// its intent (the new status) to the Store before the runtime call it announces.
#include <spdlog/spdlog.h>

#include "sandboxd/base/redactor.h"
#include "sandboxd/sandbox/identity.h"
#include "sandboxd/sandbox/sandbox_service.h"
#include "sandboxd/sandbox/tree_copy.h"

namespace sandboxd {
namespace {

std::string status_text(const SandboxRecord& rec) { return std::string(to_string(rec.status)); }

}  // namespace

Result<std::string> SandboxService::run_container(const SandboxRecord& rec) {
  auto id = run_container_unredacted(rec);
  if (id) return id;
  // The runtime's words about a failed run may quote the env it was given.
  return Redactor(Redactor::values_of(rec.env)).status(id.error());
}

Result<std::string> SandboxService::run_container_unredacted(const SandboxRecord& rec) {
  RunSpec spec = run_spec(rec);
  auto id = runtime_.create(spec);
  if (id) {
    addresses_.clear();
    return id;
  }
  Status err = id.error();
  if (is_missing_network(err)) {
    // The sandbox network vanished (e.g. pruned): recreate it and try once more.
    if (auto s = ensure_networks(); !s.is_ok()) return s;
  } else if (err.code() == Code::kConflict) {
    // Something holds the container name. Only a container this installation made for
    // this sandbox (left by a crash or a failed start) is ours to replace.
    auto holder = runtime_.inspect(rec.container_name);
    if (!holder) return holder.error();
    if (label_of(*holder, "sandboxed.install") != install_id_ ||
        label_of(*holder, "sandboxed.id") != rec.id) {
      return Status(Code::kConflict, "container name " + rec.container_name +
                                         " is held by a container this sandboxd did not create");
    }
    spdlog::warn("sandbox {}: replacing stale container {}", rec.id, rec.container_name);
    if (auto s = runtime_.remove(rec.container_name); !s.is_ok() && s.code() != Code::kNotFound)
      return s;
  } else {
    // The container may have been created and then failed to start.
    (void)remove_own_container(rec.id, rec.container_name, /*has_row=*/true);
    return err;
  }
  auto again = runtime_.create(spec);
  if (!again)
    (void)remove_own_container(rec.id, rec.container_name, /*has_row=*/true);
  else
    addresses_.clear();
  return again;
}

SandboxRecord SandboxService::new_record(const CreateRequest& req, const std::string& id,
                                         Isolation isolation) const {
  SandboxRecord rec;
  rec.id = id;
  rec.status = SandboxStatus::kCreating;
  rec.image = config_.image;
  rec.container_name = container_name(config_.instance, id);
  rec.ports = req.ports;
  rec.env = req.env;
  rec.metadata = req.metadata;
  rec.idle_policy = req.idle_policy;
  rec.limits = config_.default_limits;
  if (req.memory_bytes) rec.limits.memory_bytes = *req.memory_bytes;
  if (req.pids) rec.limits.pids = *req.pids;
  if (req.nofile) rec.limits.nofile = *req.nofile;
  if (req.disk_bytes) rec.limits.disk_bytes = *req.disk_bytes;
  if (req.cpu_millis) rec.limits.cpu_millis = *req.cpu_millis;
  rec.egress = req.egress.value_or(config_.egress);
  rec.isolation = isolation;
  return rec;
}

Result<SandboxRecord> SandboxService::create(const CreateRequest& req) {
  if (auto s = validate_create(req, config_); !s.is_ok()) return s;
  const Isolation isolation = req.isolation.value_or(config_.isolation);
  if (isolation == Isolation::kGvisor && !gvisor_seen_) {
    // Asked of the engine until it once says yes (a runtime, once registered, stays).
    auto has = runtime_.has_oci_runtime(oci_runtime(isolation));
    if (!has) return has.error();
    gvisor_seen_ = *has;
    if (!*has)
      return Status(Code::kInvalidArgument,
                    "runtime: gvisor is not available on this host (install and register runsc: "
                    "scripts/gvisor.sh; `sandboxd doctor` checks it)");
  }
  ScopedOperation op(metrics_, Operation::kCreate, Trigger::kApi);
  if (auto s = admit("create"); !s.is_ok()) return s;
  std::optional<SnapshotRecord> snap;
  if (req.snapshot) {
    auto found = find_snapshot(*req.snapshot);
    if (!found) return found.error();
    snap = std::move(*found);
  }
  if (!req.id && config_.warm_pool > 0) {
    // A create that fits the warm pool is served by a pooled sandbox when one is ready
    // (before this create takes any id lock: the claim takes the pooled one's).
    if (auto claimed = claim_pooled(req, isolation, snap)) {
      op.succeeded();
      return std::move(*claimed);
    }
  }
  int64_t now = clock_.now_ms();
  std::string id = req.id ? *normalize_id(*req.id) : new_ulid(now);
  auto guard = locks_.lock(id);

  auto existing = store_.get(id);
  if (!existing) return existing.error();
  if (existing->has_value()) {
    return Status(Code::kConflict,
                  "sandbox " + id + " already exists (status " + status_text(**existing) + ")");
  }
  if (is_pooled(id)) return Status(Code::kConflict, "sandbox id " + id + " is taken");

  SandboxRecord rec = new_record(req, id, isolation);
  auto slot = store_.next_uid_slot();
  if (!slot) return slot.error();
  rec.uid = sandbox_uid(config_, *slot);
  rec.created_at = rec.updated_at = now;
  {
    std::lock_guard cap(capacity_mu_);
    if (auto s = admit_capacity(/*new_row=*/true, /*will_run=*/true); !s.is_ok()) return s;
    // Written first: a crash from here on leaves a `creating` row to converge.
    if (auto s = store_.insert(rec); !s.is_ok()) return s;
  }

  auto disk = workspaces_.ensure(id, static_cast<uid_t>(rec.uid), rec.limits.disk_bytes);
  auto rollback = [&](const Status& cause) -> Status {
    spdlog::warn("create sandbox {} failed, rolling back: {}", id, cause.message());
    if (disk && disk->created) (void)workspaces_.remove(id);
    (void)remove_identity(config_.identity_dir(), id);
    if (auto s = store_.remove(id); !s.is_ok())
      spdlog::error("create sandbox {}: rollback: {}", id, s.message());
    return cause.with_context("create sandbox " + id);
  };
  if (!disk) return rollback(disk.error());
  rec.limits.disk_bytes = disk->disk_bytes;  // a kept workspace keeps its disk's size
  if (auto s = write_identity(config_.identity_dir(), id, rec.uid, env_file_values(rec));
      !s.is_ok())
    return rollback(s);
  if (snap) {
    if (auto s = copy_snapshot_into(*snap, rec); !s.is_ok()) return rollback(s);
  }
  forget_app_state(id);  // a kept workspace holds its last run's
  auto cid = run_container(rec);
  if (!cid) return rollback(cid.error());

  rec.status = SandboxStatus::kRunning;
  rec.container_id = *cid;
  rec.started_at = clock_.now_ms();
  touch(rec, Trigger::kCreate);
  if (auto s = store_.update(rec); !s.is_ok()) return s;
  spdlog::info("sandbox {} created ({}, uid {}, workspace {}, disk {} bytes, egress {}, {})", id,
               rec.container_name, rec.uid, disk->created ? "new" : "re-attached",
               rec.limits.disk_bytes, to_string(rec.egress), to_string(rec.isolation));
  op.succeeded();
  return rec;
}

Result<SandboxRecord> SandboxService::start_locked(SandboxRecord rec, Trigger trigger,
                                                   bool verify) {
  const bool was_frozen = rec.status == SandboxStatus::kFrozen;
  if (was_frozen) {
    auto thawed = thaw_locked(rec, trigger);
    if (thawed || thawed.error().code() != Code::kNotFound) return thawed;
    // Its container exited or vanished while frozen: started from the row like a stopped one.
    rec.status = SandboxStatus::kStopped;
  }
  const SandboxStatus was = rec.status;
  if (was == SandboxStatus::kRunning && !verify) return rec;
  bool startable = was == SandboxStatus::kRunning || was == SandboxStatus::kStopped ||
                   was == SandboxStatus::kError || was == SandboxStatus::kStarting ||
                   was == SandboxStatus::kStopping;
  if (!startable) return Status(Code::kConflict, "sandbox " + rec.id + " is " + status_text(rec));
  const bool was_running = was == SandboxStatus::kRunning;
  // A start on the API's request is a start; one on a preview hit or a task is a wake.
  ScopedOperation op(metrics_, trigger == Trigger::kApi ? Operation::kStart : Operation::kWake,
                     trigger);
  if (was_running) op.cancel();
  left_running(rec.id);
  const bool legacy = rec.uid == 0 || rec.limits.disk_bytes == 0;
  if (!was_running) {
    if (auto s = admit("start of sandbox " + rec.id); !s.is_ok()) return s;
    std::lock_guard cap(capacity_mu_);
    if (auto s = admit_capacity(/*new_row=*/false, /*will_run=*/true,
                                /*counted=*/was == SandboxStatus::kStarting || was_frozen);
        !s.is_ok())
      return s;
    rec.status = SandboxStatus::kStarting;  // intent first: a crash leaves `starting`
    rec.updated_at = clock_.now_ms();
    if (auto s = store_.update(rec); !s.is_ok()) return s;
  }
  // A running row from before per-sandbox uids is left as it is until it stops: its
  // processes use the workspace. A stopped one loses its container first (it runs as the
  // old uid) and is rebuilt from the migrated row; an errored one is rebuilt from its row.
  // Everything else gets its mounted disk and identity before any start, so no container
  // ever starts on an unmounted workspace. Starting a running container is a no-op, so it
  // also verifies one.
  // Limits a PATCH changed need a new container: the old one goes, as for a legacy row.
  const bool recreate = (legacy || !rec.pending_restart.empty()) && !was_running;
  const bool rebuild = was == SandboxStatus::kError || recreate;
  if (recreate) {
    if (auto s = remove_own_container(rec.id, rec.container_name, /*has_row=*/true); !s.is_ok())
      return s.with_context("start sandbox " + rec.id);
  }
  const bool prepared = !(was_running && legacy);
  if (prepared) {
    if (auto s = prepare_locked(rec); !s.is_ok()) return s.with_context("start sandbox " + rec.id);
  }
  if (!was_running) forget_app_state(rec.id);
  Status st = rebuild ? Status(Code::kNotFound, "recreate from the row")
                      : runtime_.start(rec.container_name);
  if (is_missing_network(st)) {
    if (auto s = ensure_networks(); !s.is_ok()) return s;
    st = runtime_.start(rec.container_name);
  }
  if (st.code() == Code::kNotFound && !is_missing_network(st)) {
    // The container vanished (engine reset, removed by hand, pruned) or never ran:
    // recreate it from the row, on the same workspace.
    spdlog::info("sandbox {}: recreating container {} from its row", rec.id, rec.container_name);
    if (auto s = prepared ? Status() : prepare_locked(rec); !s.is_ok())
      return s.with_context("start sandbox " + rec.id);
    auto cid = run_container(rec);
    if (!cid) return cid.error().with_context("start sandbox " + rec.id);
    rec.container_id = *cid;
    rec.pending_restart.clear();  // the new container has every limit of the row
  } else if (!st.is_ok()) {
    return st.with_context("start sandbox " + rec.id);
  } else if (!was_running) {
    addresses_.clear();
  }
  if (was_running) return rec;
  rec.status = SandboxStatus::kRunning;
  rec.error_message.clear();
  rec.started_at = clock_.now_ms();
  touch(rec, trigger);
  if (auto s = store_.update(rec); !s.is_ok()) return s;
  spdlog::info("sandbox {} started (by {})", rec.id, to_string(trigger));
  op.succeeded();
  return rec;
}

Result<SandboxRecord> SandboxService::start(const std::string& raw_id, Trigger trigger) {
  return with_locked(raw_id, [&](SandboxRecord& rec) {
    return start_locked(std::move(rec), trigger, /*verify=*/true);
  });
}

Result<SandboxRecord> SandboxService::stop(const std::string& raw_id) {
  return with_locked(raw_id, [&](SandboxRecord& rec) {
    return stop_locked(std::move(rec), Trigger::kApi, "api");
  });
}

Result<SandboxRecord> SandboxService::stop_locked(SandboxRecord rec, Trigger trigger,
                                                  const std::string& reason) {
  if (rec.status == SandboxStatus::kStopped) return rec;
  if (rec.status != SandboxStatus::kRunning && rec.status != SandboxStatus::kStarting &&
      rec.status != SandboxStatus::kStopping && rec.status != SandboxStatus::kFrozen) {
    return Status(Code::kConflict,
                  "sandbox " + rec.id + " is " + status_text(rec) + ", not running");
  }
  ScopedOperation op(metrics_, Operation::kStop, trigger);
  // A paused container is thawed first, so its processes get the SIGTERM and the grace;
  // so is one whose stop was interrupted (it may have been frozen; unpausing a running
  // container only fails).
  const bool maybe_paused =
      rec.status == SandboxStatus::kFrozen ||
      (rec.status == SandboxStatus::kStopping && trigger == Trigger::kReconciler);
  forget_frozen(rec.id);
  left_running(rec.id);
  rec.status = SandboxStatus::kStopping;  // intent first: a crash leaves `stopping`
  rec.updated_at = clock_.now_ms();
  if (auto s = store_.update(rec); !s.is_ok()) return s;
  if (maybe_paused) (void)runtime_.unpause(rec.container_name);
  Status st = runtime_.stop(rec.container_name, config_.stop_timeout_s);
  if (!st.is_ok() && !(st.code() == Code::kNotFound && !is_missing_network(st))) {
    return st.with_context("stop sandbox " + rec.id);
  }
  rec.status = SandboxStatus::kStopped;
  rec.stopped_at = clock_.now_ms();
  rec.updated_at = rec.stopped_at;
  rec.stop_reason = reason;
  if (auto s = store_.update(rec); !s.is_ok()) return s;
  spdlog::info("sandbox {} stopped ({})", rec.id, reason);
  op.succeeded();
  return rec;
}

Result<SandboxRecord> SandboxService::freeze_locked(SandboxRecord rec) {
  if (rec.status == SandboxStatus::kFrozen) return rec;
  if (rec.status != SandboxStatus::kRunning)
    return Status(Code::kConflict,
                  "sandbox " + rec.id + " is " + status_text(rec) + ", not running");
  ScopedOperation op(metrics_, Operation::kFreeze, Trigger::kIdle);
  const std::string address = addresses_.get(rec.id).value_or("");
  // Before the pause: the edge looks the sandbox up again and holds new requests for a
  // thaw, which waits for this lock.
  left_running(rec.id);
  {
    std::lock_guard g(frozen_mu_);
    frozen_[rec.id] = address;
  }
  rec.status = SandboxStatus::kFrozen;  // intent first: converge knows a frozen row may run
  rec.updated_at = clock_.now_ms();
  if (auto s = store_.update(rec); !s.is_ok()) {
    forget_frozen(rec.id);
    return s;
  }
  if (Status st = runtime_.pause(rec.container_name); !st.is_ok()) {
    forget_frozen(rec.id);
    rec.status = SandboxStatus::kRunning;  // the reconciler sorts out a vanished container
    rec.updated_at = clock_.now_ms();
    (void)store_.update(rec);
    return st.with_context("freeze sandbox " + rec.id);
  }
  spdlog::info("sandbox {} frozen (idle)", rec.id);
  op.succeeded();
  return rec;
}

Result<SandboxRecord> SandboxService::thaw_locked(SandboxRecord rec, Trigger trigger) {
  ScopedOperation op(metrics_, Operation::kThaw, trigger);
  if (Status st = runtime_.unpause(rec.container_name); !st.is_ok()) {
    // Not paused after all: fine if it runs (thawed by hand, or the pause never happened);
    // gone or exited: the caller starts it from the row.
    auto c = runtime_.inspect(rec.container_name);
    if (!c && c.error().code() != Code::kNotFound) return c.error();
    if (c && c->paused)  // still frozen: not a vanished container, whatever the error said
      return Status(Code::kUnavailable, "thaw sandbox " + rec.id + ": " + st.message());
    if (!c || !c->running) {
      forget_frozen(rec.id);
      return Status(Code::kNotFound, "sandbox " + rec.id + ": its frozen container is " +
                                         (c ? c->status : "gone") + " (" + st.message() + ")");
    }
  }
  std::string address;
  {
    std::lock_guard g(frozen_mu_);
    if (auto it = frozen_.find(rec.id); it != frozen_.end()) {
      address = it->second;
      frozen_.erase(it);
    }
  }
  rec.status = SandboxStatus::kRunning;
  touch(rec, trigger);
  if (auto s = store_.update(rec); !s.is_ok()) return s;
  // A paused container keeps its address; nothing else can have taken it.
  if (!address.empty()) addresses_.put(rec.id, address);
  spdlog::info("sandbox {} thawed (by {})", rec.id, to_string(trigger));
  op.succeeded();
  return rec;
}

Result<bool> SandboxService::freeze_if(const std::string& id,
                                       const std::function<bool(const SandboxRecord&)>& still) {
  auto guard = locks_.lock(id);
  auto row = store_.get(id);
  if (!row) return row.error();
  if (!row->has_value() || !still(**row)) return false;  // changed since the caller looked
  auto frozen = freeze_locked(**row);
  if (!frozen) return frozen.error();
  return true;
}

Status SandboxService::destroy(const std::string& raw_id) {
  auto id = normalize_id(raw_id);
  if (!id) return id.error();
  auto guard = locks_.lock(*id);
  ScopedOperation op(metrics_, Operation::kDelete, Trigger::kApi);
  Status st = destroy_locked(*id);
  if (st.is_ok()) op.succeeded();
  return st;
}

Status SandboxService::remove_own_container(const std::string& id, const std::string& name,
                                            bool has_row) {
  auto c = runtime_.inspect(name);
  if (!c) return c.error().code() == Code::kNotFound ? Status() : c.error();
  if (!is_instance_container(*c, config_.instance, id)) {
    spdlog::warn("sandbox {}: container {} lacks this instance's labels; left alone", id, name);
    if (has_row) return {};
    return Status(Code::kNotFound, "no sandbox " + id + " (container " + name +
                                       " does not belong to this sandboxd and was left alone)");
  }
  // By its id: a container that took the name meanwhile is not hit.
  Status st = runtime_.remove(c->id);
  return st.code() == Code::kNotFound ? Status() : st;
}

Result<std::pair<std::string, bool>> SandboxService::mark_for_removal(const std::string& id,
                                                                      SandboxStatus status) {
  auto row = store_.get(id);
  if (!row) return row.error();
  left_running(id);
  forget_frozen(id);
  if (!row->has_value() && is_pooled(id)) return Status(Code::kNotFound, "no sandbox " + id);
  if (!row->has_value()) return std::make_pair(container_name(config_.instance, id), false);
  SandboxRecord rec = **row;
  rec.status = status;  // a crash from here on leaves a row to finish removing
  rec.updated_at = clock_.now_ms();
  if (auto s = store_.update(rec); !s.is_ok()) return s;
  return std::make_pair(rec.container_name, true);
}

Status SandboxService::destroy_locked(const std::string& id) {
  auto marked = mark_for_removal(id, SandboxStatus::kDeleting);
  if (!marked) return marked.error();
  const auto& [name, has_row] = *marked;
  if (auto s = remove_own_container(id, name, has_row); !s.is_ok()) {
    return s.code() == Code::kNotFound ? s : s.with_context("delete sandbox " + id);
  }
  // The disk is kept (a create of the same id re-attaches it), but not mounted.
  if (auto s = workspaces_.detach(id); !s.is_ok()) return s.with_context("delete sandbox " + id);
  (void)remove_identity(config_.identity_dir(), id);
  if (auto s = store_.remove(id); !s.is_ok()) return s;
  spdlog::info("sandbox {} deleted (workspace kept)", id);
  return {};
}

Result<int64_t> SandboxService::purge(const std::string& raw_id) {
  auto id = normalize_id(raw_id);
  if (!id) return id.error();
  auto guard = locks_.lock(*id);
  ScopedOperation op(metrics_, Operation::kPurge, Trigger::kApi);
  auto freed = purge_locked(*id);
  if (freed) op.succeeded();
  return freed;
}

Result<int64_t> SandboxService::purge_locked(const std::string& id) {
  auto marked = mark_for_removal(id, SandboxStatus::kPurging);
  if (!marked) return marked.error();
  const auto& [name, has_row] = *marked;
  if (auto s = remove_own_container(id, name, has_row); !s.is_ok()) {
    return s.code() == Code::kNotFound ? s : s.with_context("purge sandbox " + id);
  }
  // The container is gone, so the tenant can no longer change the tree under us.
  auto freed = workspaces_.remove(id);
  if (!freed) return freed.error().with_context("purge sandbox " + id);
  (void)remove_identity(config_.identity_dir(), id);
  // Its snapshots go with it (a delete keeps them): rows first, then their trees.
  auto snaps = store_.list_snapshots(id);
  if (!snaps) return snaps.error();
  if (auto s = store_.remove_with_tasks(id); !s.is_ok()) return s;
  {
    std::unique_lock g(snapshots_mu_);
    for (const auto& snap : *snaps) {
      if (auto s = remove_tree(snapshot_path(snap.id)); !s.is_ok())
        spdlog::warn("purge {}: snapshot {} stays until the next start: {}", id, snap.id,
                     s.message());
    }
  }
  spdlog::info("sandbox {} purged ({} bytes freed, {} snapshots removed)", id, *freed,
               snaps->size());
  return freed;
}

}  // namespace sandboxd
