#include "sandboxd/reaper/idle_reaper.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "sandboxd/base/ids.h"

namespace sandboxd {

std::vector<std::string> pick_idle(const std::vector<SandboxRecord>& rows, int64_t now_ms,
                                   int64_t threshold_ms, const std::set<std::string>& busy) {
  std::vector<std::string> out;
  for (const auto& r : rows) {
    if ((r.status != SandboxStatus::kRunning && r.status != SandboxStatus::kFrozen) ||
        r.idle_policy != IdlePolicy::kSleep || busy.count(r.id))
      continue;
    if (now_ms < r.last_active_at + threshold_ms || now_ms < r.keepalive_until) continue;
    out.push_back(r.id);
  }
  return out;
}

std::vector<std::string> pick_freeze(const std::vector<SandboxRecord>& rows, int64_t now_ms,
                                     int64_t freeze_after_ms, int64_t threshold_ms,
                                     const std::set<std::string>& busy) {
  std::vector<std::string> out;
  if (freeze_after_ms <= 0) return out;
  for (const auto& r : rows) {
    if (r.status != SandboxStatus::kRunning || r.idle_policy != IdlePolicy::kSleep ||
        busy.count(r.id))
      continue;
    if (now_ms < r.last_active_at + freeze_after_ms || now_ms < r.keepalive_until) continue;
    if (now_ms >= r.last_active_at + threshold_ms) continue;  // due to stop: no freeze first
    out.push_back(r.id);
  }
  return out;
}

IdleInfo idle_info(const SandboxRecord& rec, const Config& config, bool busy) {
  IdleInfo info;
  info.threshold_s = config.idle_threshold_s;
  if (rec.status == SandboxStatus::kStopped) {
    info.reason = "stopped" + (rec.stop_reason.empty() ? "" : " (" + rec.stop_reason + ")");
    return info;
  }
  if (rec.status != SandboxStatus::kRunning && rec.status != SandboxStatus::kFrozen) {
    info.reason = "not running (" + std::string(to_string(rec.status)) + ")";
    return info;
  }
  if (rec.idle_policy == IdlePolicy::kAlwaysOn) {
    info.reason = "idle_policy always_on: never stopped for idleness";
    return info;
  }
  if (busy) {
    info.reason = "busy: an exec, task or background process is running";
    return info;
  }
  int64_t by_activity = rec.last_active_at + int64_t{config.idle_threshold_s} * 1000;
  info.stops_at_ms = std::max(by_activity, rec.keepalive_until);
  const int64_t freeze_by_activity = rec.last_active_at + int64_t{config.freeze_after_s} * 1000;
  if (rec.status == SandboxStatus::kRunning && config.freeze_after_s > 0 &&
      config.freeze_after_s < config.idle_threshold_s)
    info.freezes_at_ms = std::max(freeze_by_activity, rec.keepalive_until);
  if (info.freezes_at_ms >= info.stops_at_ms) info.freezes_at_ms = 0;
  const std::string idle_since =
      "idle since " + format_rfc3339(rec.last_active_at) + " (last activity: " +
      (rec.last_active_source ? std::string(to_string(*rec.last_active_source)) : "none") + ")";
  if (config.idle_reap_interval_s == 0) {
    info.stops_at_ms = info.freezes_at_ms = 0;
    info.reason = "idle reaper disabled (SANDBOXD_IDLE_REAP_INTERVAL_SECONDS=0)";
  } else if (rec.status == SandboxStatus::kFrozen) {
    info.reason = "frozen (paused: no CPU, memory kept; any request thaws it), " + idle_since;
  } else if (rec.keepalive_until > by_activity) {
    info.reason = "kept alive until " + format_rfc3339(rec.keepalive_until);
  } else {
    info.reason = idle_since;
  }
  return info;
}

Result<int> IdleReaper::tick() {
  auto rows = sandboxes_.all();
  if (!rows) return rows.error().with_context("idle reaper");
  int acted = 0;
  for (const auto& id : pick_freeze(*rows, clock_.now_ms(), freeze_after_ms_, threshold_ms_,
                                    sandboxes_.busy().ids())) {
    auto still_idle = [&](const SandboxRecord& row) {
      return !pick_freeze({row}, clock_.now_ms(), freeze_after_ms_, threshold_ms_,
                          sandboxes_.busy().ids())
                  .empty();
    };
    auto r = sandboxes_.freeze_if(id, still_idle);
    if (!r) {
      spdlog::warn("idle reaper: freeze sandbox {}: {}", id, r.error().message());
    } else if (*r) {
      ++acted;
      metrics_.inc("sandboxd_reaper_actions_total", {{"reaper", "idle"}, {"action", "freeze"}});
    }
  }
  for (const auto& id : pick_idle(*rows, clock_.now_ms(), threshold_ms_, sandboxes_.busy().ids())) {
    // Looked at again under the sandbox's lock: activity since the tick read wins.
    auto still_idle = [&](const SandboxRecord& row) {
      return !pick_idle({row}, clock_.now_ms(), threshold_ms_, sandboxes_.busy().ids()).empty();
    };
    auto r = sandboxes_.stop_if(id, Trigger::kIdle, "idle", still_idle);
    if (!r) {
      spdlog::warn("idle reaper: stop sandbox {}: {}", id, r.error().message());
    } else if (*r) {
      ++acted;
      metrics_.inc("sandboxd_reaper_actions_total", {{"reaper", "idle"}, {"action", "stop"}});
    }
  }
  return acted;
}

}  // namespace sandboxd
