// PressureReaper: while host memory available is below SANDBOXD_MEM_HEADROOM_PCT, stops
// running sandboxes, least recently active first, re-reading memory after each stop. It
// never stops always_on sandboxes or busy ones, except in the emergency band (below
// SANDBOXD_MEM_EMERGENCY_PCT), where they go after all others. Thread-safe; driven by a
// timer.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "sandboxd/base/metrics.h"
#include "sandboxd/os/memory.h"
#include "sandboxd/sandbox/sandbox_service.h"

namespace sandboxd {

// Running and frozen sandboxes the pressure reaper may stop, best victim first (pure):
// idle-eligible ones (sleep, not busy), frozen before running, least recently active
// first; in an emergency, then the busy and always_on ones, in the same order.
std::vector<std::string> pick_pressure_victims(const std::vector<SandboxRecord>& rows,
                                               const std::set<std::string>& busy, bool emergency);

class PressureReaper {
 public:
  PressureReaper(SandboxService& sandboxes, MemoryProbe& memory, const Config& config,
                 Metrics& metrics)
      : sandboxes_(sandboxes), memory_(memory), config_(config), metrics_(metrics) {}
  // One pass; returns how many sandboxes it stopped (at most kMaxStopsPerTick).
  Result<int> tick();

  static constexpr int kMaxStopsPerTick = 10;

 private:
  SandboxService& sandboxes_;
  MemoryProbe& memory_;
  const Config& config_;
  Metrics& metrics_;
};

}  // namespace sandboxd
