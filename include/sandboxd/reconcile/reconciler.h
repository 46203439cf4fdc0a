// Reconciler: converges Docker to SQLite. One tick costs one `docker ps` for the whole
// instance plus work only for sandboxes that drifted: interrupted operations are
// finished, running rows whose container exited or vanished become stopped (always_on
// ones are started again), containers running for a stopped row are stopped, and
// containers of this installation with no row are removed (others are reported).
// Runs at boot and on a timer; every change goes through SandboxService. Thread-safe.
#pragma once

#include "sandboxd/sandbox/sandbox_service.h"

namespace sandboxd {

struct ReconcileStats {
  int rows = 0;
  int containers = 0;
  int converged = 0;
  int orphans = 0;
  int failures = 0;
};

class Reconciler {
 public:
  explicit Reconciler(SandboxService& sandboxes) : sandboxes_(sandboxes) {}
  // One pass. kUnavailable when docker or SQLite could not be read (nothing changed).
  Result<ReconcileStats> tick();

 private:
  SandboxService& sandboxes_;
};

}  // namespace sandboxd
