// Readiness: the answer behind /readyz. kOk when SQLite answers and the runtime answered
// within the last few seconds: the runtime's answer is cached so probes do not fork a
// process each time, and asked without the lock held so probes never queue behind a
// slow engine. Thread-safe.
#pragma once

#include <chrono>
#include <mutex>

#include "sandboxd/os/clock.h"
#include "sandboxd/runtime/runtime.h"
#include "sandboxd/store/store.h"

namespace sandboxd {

class Readiness {
 public:
  Readiness(Store& store, Runtime& runtime, Clock& clock)
      : store_(store), runtime_(runtime), clock_(clock) {}
  Status check();

 private:
  Store& store_;
  Runtime& runtime_;
  Clock& clock_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point checked_{};
  Status answer_;
};

}  // namespace sandboxd
