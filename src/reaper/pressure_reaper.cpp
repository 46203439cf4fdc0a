#include "sandboxd/reaper/pressure_reaper.h"

#include <spdlog/spdlog.h>

namespace sandboxd {

Result<int> PressureReaper::tick() {
  auto m = memory_.read();
  if (!m) return m.error().with_context("pressure reaper");
  if (m->available_pct() >= config_.mem_headroom_pct) return 0;
  auto rows = sandboxes_.all();
  if (!rows) return rows.error().with_context("pressure reaper");
  bool emergency = m->available_pct() < config_.mem_emergency_pct;
  spdlog::warn("host memory low: {:.1f}% available (headroom {}%{}); stopping sandboxes",
               m->available_pct(), config_.mem_headroom_pct, emergency ? ", EMERGENCY band" : "");
  int stopped = 0;
  for (const auto& id : pick_pressure_victims(*rows, sandboxes_.busy_ids(), emergency)) {
    if (stopped >= kMaxStopsPerTick) break;
    auto r = sandboxes_.stop_for_pressure(id, emergency);
    if (!r) {
      spdlog::warn("pressure reaper: stop sandbox {}: {}", id, r.error().message());
      continue;
    }
    if (!*r) continue;
    ++stopped;
    auto now = memory_.read();
    if (now && now->available_pct() >= config_.mem_headroom_pct) break;
  }
  return stopped;
}

}  // namespace sandboxd
