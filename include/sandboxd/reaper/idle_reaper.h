// IdleReaper: the idle ladder of `sleep` sandboxes. One that had no activity (create,
// start, exec, files, preview, keepalive) for SANDBOXD_FREEZE_AFTER_SECONDS is frozen
// (paused: no CPU, memory kept), and after the idle threshold stopped, running or frozen;
// both wait for any keepalive. Never touches always_on sandboxes or busy ones (an exec or a
// task in progress); each candidate is re-checked under its lock, so activity that arrives
// during a tick wins. Thread-safe; driven by a timer.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "sandboxd/base/metrics.h"
#include "sandboxd/os/clock.h"
#include "sandboxd/sandbox/sandbox_service.h"

namespace sandboxd {

// The ids among `rows` that the idle reaper should stop at now_ms (pure): running or
// frozen, idle_policy sleep, not busy, and past both last activity + threshold and keepalive.
std::vector<std::string> pick_idle(const std::vector<SandboxRecord>& rows, int64_t now_ms,
                                   int64_t threshold_ms, const std::set<std::string>& busy);
// The ids among `rows` to freeze at now_ms (pure): running, idle_policy sleep, not busy,
// past last activity + freeze_after and keepalive, and not yet due to stop. None when
// freeze_after_ms is 0.
std::vector<std::string> pick_freeze(const std::vector<SandboxRecord>& rows, int64_t now_ms,
                                     int64_t freeze_after_ms, int64_t threshold_ms,
                                     const std::set<std::string>& busy);

// What the idle reaper makes of a sandbox, for GET /sandbox/{id}.
struct IdleInfo {
  int64_t threshold_s = 0;
  int64_t freezes_at_ms = 0;  // when the idle reaper will freeze it; 0: it will not (now)
  int64_t stops_at_ms = 0;    // when the idle reaper will stop it; 0: it will not (now)
  std::string reason;       // why it will, or will not, be stopped
};
// The idle reaper's view of `rec` under `config` (pure).
IdleInfo idle_info(const SandboxRecord& rec, const Config& config, bool busy);

class IdleReaper {
 public:
  IdleReaper(SandboxService& sandboxes, Clock& clock, int64_t threshold_ms,
             int64_t freeze_after_ms, Metrics& metrics)
      : sandboxes_(sandboxes),
        clock_(clock),
        threshold_ms_(threshold_ms),
        freeze_after_ms_(freeze_after_ms),
        metrics_(metrics) {}
  // One pass; returns how many sandboxes it stopped or froze.
  Result<int> tick();

 private:
  SandboxService& sandboxes_;
  Clock& clock_;
  int64_t threshold_ms_;
  int64_t freeze_after_ms_;
  Metrics& metrics_;
};

}  // namespace sandboxd
