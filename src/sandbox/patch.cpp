// PATCH /v1/sandboxes/{id}: changes a sandbox's metadata, env, ports, idle policy and
// limits (see SandboxService::patch).
#include <spdlog/spdlog.h>

#include <algorithm>

#include "sandboxd/base/ids.h"
#include "sandboxd/sandbox/identity.h"
#include "sandboxd/sandbox/sandbox_service.h"
#include "sandboxd/sandbox/sandbox_spec.h"

namespace sandboxd {

Result<SandboxRecord> SandboxService::patch(const std::string& raw_id, const PatchRequest& req) {
  if (auto id = normalize_id(raw_id); !id) return id.error();
  return with_locked(raw_id, [&](SandboxRecord& rec) -> Result<SandboxRecord> {
    if (rec.status == SandboxStatus::kDeleting || rec.status == SandboxStatus::kPurging ||
        rec.status == SandboxStatus::kCreating)
      return Status(Code::kConflict,
                    "sandbox " + rec.id + " is " + std::string(to_string(rec.status)));
    if (auto s = validate_patch(req, rec, config_); !s.is_ok()) return s;
    SandboxRecord next = rec;
    if (req.metadata) next.metadata = merged(rec.metadata, *req.metadata);
    if (req.env) next.env = merged(rec.env, *req.env);
    if (req.ports) next.ports = *req.ports;
    if (req.idle_policy) next.idle_policy = *req.idle_policy;
    // A container's limits are fixed when it is made: a changed one waits for the next.
    auto limit = [&](const char* name, int64_t& field, const std::optional<int64_t>& value) {
      if (!value || *value == field) return;
      field = *value;
      auto& pending = next.pending_restart;
      if (std::find(pending.begin(), pending.end(), name) == pending.end()) pending.push_back(name);
    };
    limit("memory", next.limits.memory_bytes, req.memory_bytes);
    limit("pids_limit", next.limits.pids, req.pids);
    limit("nofile", next.limits.nofile, req.nofile);
    limit("cpus", next.limits.cpu_millis, req.cpu_millis);
    const bool env_changed = next.env != rec.env || next.ports != rec.ports;
    next.updated_at = clock_.now_ms();
    if (auto s = store_.update(next); !s.is_ok()) return s;
    if (env_changed && next.uid != 0) {
      // Exec and tasks read the row; the app reads the env file, at its (re)start.
      if (auto s = write_identity(config_.identity_dir(), next.id, next.uid, env_file_values(next));
          !s.is_ok())
        return s.with_context("patch sandbox " + next.id);
      // A running app's supervisor restarts it with the new env; a frozen or stopped one
      // gets it at its next (re)start.
      if (next.status == SandboxStatus::kRunning) {
        forget_app_state(next.id);
        if (auto s = runtime_.signal(next.container_name, "HUP"); !s.is_ok())
          spdlog::warn("sandbox {}: the dev server keeps its old env until its next start: {}",
                       next.id, s.message());
      }
    }
    spdlog::info("sandbox {} changed (metadata={} env={} ports={} idle_policy={} pending={})",
                 next.id, req.metadata.has_value(), req.env.has_value(), req.ports.has_value(),
                 req.idle_policy.has_value(), next.pending_restart.size());
    return next;
  });
}

}  // namespace sandboxd
