#include "sandboxd/reaper/pressure_reaper.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace sandboxd {

std::vector<std::string> pick_pressure_victims(const std::vector<SandboxRecord>& rows,
                                               const std::set<std::string>& busy, bool emergency) {
  std::vector<const SandboxRecord*> normal, protected_;
  for (const auto& r : rows) {
    if (r.status != SandboxStatus::kRunning && r.status != SandboxStatus::kFrozen) continue;
    bool eligible = r.idle_policy == IdlePolicy::kSleep && !busy.count(r.id);
    (eligible ? normal : protected_).push_back(&r);
  }
  // Frozen ones first (nobody is using them), then least recently active first.
  auto lru = [](const SandboxRecord* a, const SandboxRecord* b) {
    const bool fa = a->status == SandboxStatus::kFrozen, fb = b->status == SandboxStatus::kFrozen;
    if (fa != fb) return fa;
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

Result<int> PressureReaper::tick() {
  auto m = memory_.read();
  if (!m) return m.error().with_context("pressure reaper");
  if (m->available_pct() >= config_.mem_headroom_pct) return 0;
  auto rows = sandboxes_.all();
  if (!rows) return rows.error().with_context("pressure reaper");
  bool emergency = m->available_pct() < config_.mem_emergency_pct;
  spdlog::warn("host memory low: {:.1f}% available (headroom {}%{}); stopping sandboxes",
               m->available_pct(), config_.mem_headroom_pct, emergency ? ", EMERGENCY band" : "");
  const Trigger trigger = emergency ? Trigger::kEmergency : Trigger::kPressure;
  const std::string reason = emergency ? "memory emergency" : "memory pressure";
  // Under the sandbox's lock: it still runs and may still be stopped.
  auto still_victim = [&](const SandboxRecord& row) {
    return !pick_pressure_victims({row}, sandboxes_.busy().ids(), emergency).empty();
  };
  int stopped = 0;
  for (const auto& id : pick_pressure_victims(*rows, sandboxes_.busy().ids(), emergency)) {
    if (stopped >= kMaxStopsPerTick) break;
    auto r = sandboxes_.stop_if(id, trigger, reason, still_victim);
    if (!r) {
      spdlog::warn("pressure reaper: stop sandbox {}: {}", id, r.error().message());
      continue;
    }
    if (!*r) continue;
    ++stopped;
    metrics_.inc("sandboxd_reaper_actions_total",
                 {{"reaper", std::string(to_string(trigger))}, {"action", "stop"}});
    auto now = memory_.read();
    if (now && now->available_pct() >= config_.mem_headroom_pct) break;
  }
  return stopped;
}

}  // namespace sandboxd
