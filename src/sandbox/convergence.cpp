// SandboxService's convergence: finishing interrupted operations, making the runtime
// match a row, removing orphans, and the reapers' conditional stops.
#include <spdlog/spdlog.h>

#include "sandboxd/sandbox/sandbox_service.h"

namespace sandboxd {

Status SandboxService::finish_create_locked(SandboxRecord rec) {
  spdlog::info("sandbox {}: finishing an interrupted create", rec.id);
  Status st = prepare_locked(rec);
  if (st.is_ok()) {
    auto existing = runtime_.inspect(rec.container_name);
    bool ours = existing && label_of(*existing, "sandboxed.install") == install_id_;
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
    rec.status = SandboxStatus::kError;
    rec.error_message = "interrupted create could not be finished: " + st.message();
    spdlog::error("sandbox {}: {}", rec.id, rec.error_message);
  } else {
    rec.status = SandboxStatus::kRunning;
    rec.started_at = rec.updated_at;
    touch(rec, Trigger::kCreate);
  }
  return store_.update(rec);
}

Status SandboxService::mark_stopped_locked(SandboxRecord rec, const ContainerState* c) {
  // Exited or gone (a gone container is recreated on the next start).
  left_running(rec.id);
  rec.status = SandboxStatus::kStopped;
  rec.stopped_at = rec.updated_at = clock_.now_ms();
  rec.stop_reason =
      c ? "container exited (code " + std::to_string(c->exit_code) + ")" : "container vanished";
  spdlog::info("sandbox {}: marked stopped: {}", rec.id, rec.stop_reason);
  return store_.update(rec);
}

Status SandboxService::converge(const std::string& id) {
  auto guard = locks_.lock(id);
  auto row = store_.get(id);
  if (!row) return row.error();
  if (!row->has_value()) return {};
  SandboxRecord rec = **row;
  switch (rec.status) {
    case SandboxStatus::kCreating: return finish_create_locked(rec);
    case SandboxStatus::kStarting:
      return start_locked(rec, Trigger::kReconciler, true).error_or_ok();
    case SandboxStatus::kStopping:
      // The reason of the interrupted stop was not recorded (it is written with the result).
      return stop_locked(rec, Trigger::kReconciler, "interrupted stop finished by the reconciler")
          .error_or_ok();
    case SandboxStatus::kDeleting: return destroy_locked(id);
    case SandboxStatus::kPurging: return purge_locked(id).error_or_ok();
    case SandboxStatus::kError: return {};
    case SandboxStatus::kRunning:
    case SandboxStatus::kFrozen:
    case SandboxStatus::kStopped: break;
  }
  // Look again under the lock: the tick's view may be stale.
  auto c = runtime_.inspect(rec.container_name);
  if (!c && c.error().code() != Code::kNotFound) return c.error();
  bool running = c && c->running;
  if (rec.status == SandboxStatus::kFrozen) {
    if (running && c->paused) return {};
    forget_frozen(id);
    if (!running) return mark_stopped_locked(std::move(rec), c ? &*c : nullptr);
    // Not paused: the freeze was interrupted, or someone thawed it by hand.
    spdlog::info("sandbox {}: frozen but its container runs; marked running", id);
    rec.status = SandboxStatus::kRunning;
    rec.updated_at = clock_.now_ms();
    return store_.update(rec);
  }
  if (rec.status == SandboxStatus::kRunning && running && c->paused) {
    spdlog::info("sandbox {}: running but its container is paused; unpausing it", id);
    return runtime_.unpause(rec.container_name);
  }
  if (rec.status == SandboxStatus::kRunning && !running) {
    if (rec.idle_policy == IdlePolicy::kAlwaysOn) {
      spdlog::info("sandbox {}: always_on but its container is {}; starting it", id,
                   c ? c->status : "gone");
      return start_locked(rec, Trigger::kReconciler, true).error_or_ok();
    }
    return mark_stopped_locked(std::move(rec), c ? &*c : nullptr);
  }
  if (rec.status == SandboxStatus::kStopped && running) {
    // SQLite is the truth: something started it behind our back.
    spdlog::info("sandbox {}: stopping a container that runs although the sandbox is stopped", id);
    Status st = runtime_.stop(rec.container_name, config_.stop_timeout_s);
    return st.code() == Code::kNotFound ? Status() : st;
  }
  return {};
}

Status SandboxService::remove_orphan(const ContainerState& c) {
  auto id = normalize_id(label_of(c, "sandboxed.id"));
  if (!id || label_of(c, "sandboxed.install") != install_id_) {
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
  if (is_pooled(*id)) return {};    // the warm pool's: fill_pool looks after it
  spdlog::info("removing orphan container {} (sandbox {} has no row)", c.name, *id);
  Status st = runtime_.remove(c.name);
  return st.code() == Code::kNotFound ? Status() : st;
}

Result<bool> SandboxService::stop_if(const std::string& id, Trigger trigger,
                                     const std::string& reason,
                                     const std::function<bool(const SandboxRecord&)>& still) {
  auto guard = locks_.lock(id);
  auto row = store_.get(id);
  if (!row) return row.error();
  if (!row->has_value() || !still(**row)) return false;  // changed since the caller looked
  auto stopped = stop_locked(**row, trigger, reason);
  if (!stopped) return stopped.error();
  return true;
}

}  // namespace sandboxd
