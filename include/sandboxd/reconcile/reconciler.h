// Reconciler: converges the runtime to SQLite. One tick costs one runtime list call for the whole
// instance plus work only for sandboxes that drifted: interrupted operations are
// finished, running rows whose container exited or vanished become stopped (always_on
// ones are started again), containers running for a stopped row are stopped, and
// containers of this installation with no row are removed (others are reported).
// Runs at boot and on a timer; every change goes through SandboxService. Thread-safe.
#pragma once

#include "sandboxd/sandbox/sandbox_service.h"

namespace sandboxd {

// Whether a row and its observed container (nullptr: none) need converging (pure).
bool needs_convergence(const SandboxRecord& row, const ContainerState* container);

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
  // One pass. kUnavailable when the runtime or SQLite could not be read (nothing changed).
  Result<ReconcileStats> tick();

 private:
  SandboxService& sandboxes_;
};

}  // namespace sandboxd
