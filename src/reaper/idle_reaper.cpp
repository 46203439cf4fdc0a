#include "sandboxd/reaper/idle_reaper.h"

#include <spdlog/spdlog.h>

namespace sandboxd {

Result<int> IdleReaper::tick() {
  auto rows = sandboxes_.all();
  if (!rows) return rows.error().with_context("idle reaper");
  int stopped = 0;
  for (const auto& id : pick_idle(*rows, clock_.now_ms(), threshold_ms_, sandboxes_.busy_ids())) {
    auto r = sandboxes_.stop_if_idle(id);
    if (!r)
      spdlog::warn("idle reaper: stop sandbox {}: {}", id, r.error().message());
    else if (*r)
      ++stopped;
  }
  return stopped;
}

}  // namespace sandboxd
