// PressureReaper: while host memory available is below SANDBOXD_MEM_HEADROOM_PCT, stops
// running sandboxes, least recently active first, re-reading memory after each stop. It
// never stops always_on sandboxes or ones with an exec in progress, except in the
// emergency band (below SANDBOXD_MEM_EMERGENCY_PCT), where they go after all others.
// Thread-safe; driven by a timer.
#pragma once

#include "sandboxd/os/memory.h"
#include "sandboxd/sandbox/sandbox_service.h"

namespace sandboxd {

class PressureReaper {
 public:
  PressureReaper(SandboxService& sandboxes, MemoryProbe& memory, const Config& config)
      : sandboxes_(sandboxes), memory_(memory), config_(config) {}
  // One pass; returns how many sandboxes it stopped (at most kMaxStopsPerTick).
  Result<int> tick();

  static constexpr int kMaxStopsPerTick = 10;

 private:
  SandboxService& sandboxes_;
  MemoryProbe& memory_;
  const Config& config_;
};

}  // namespace sandboxd
