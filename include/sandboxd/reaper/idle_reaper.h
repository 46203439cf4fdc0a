// IdleReaper: stops `sleep` sandboxes that had no activity (create, start, exec, keepalive)
// for the idle threshold and are past any keepalive. Never stops always_on sandboxes or
// ones with an exec in progress; each candidate is re-checked under its lock, so activity
// that arrives during a tick wins. Thread-safe; driven by a timer.
#pragma once

#include "sandboxd/os/clock.h"
#include "sandboxd/sandbox/sandbox_service.h"

namespace sandboxd {

class IdleReaper {
 public:
  IdleReaper(SandboxService& sandboxes, Clock& clock, int64_t threshold_ms)
      : sandboxes_(sandboxes), clock_(clock), threshold_ms_(threshold_ms) {}
  // One pass; returns how many sandboxes it stopped.
  Result<int> tick();

 private:
  SandboxService& sandboxes_;
  Clock& clock_;
  int64_t threshold_ms_;
};

}  // namespace sandboxd
