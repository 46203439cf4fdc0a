// ActivityRecorder: records that a sandbox was used (a preview request through the edge,
// a files call), which holds off the idle reaper. Writes at most once per
// second per sandbox, so a busy preview costs no SQLite write per request. Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "sandboxd/domain/domain.h"
#include "sandboxd/os/clock.h"
#include "sandboxd/store/store.h"

namespace sandboxd {

class ActivityRecorder {
 public:
  ActivityRecorder(Store& store, Clock& clock) : store_(store), clock_(clock) {}
  // Records activity now, unless this sandbox's was written less than a second ago.
  void record(const std::string& id, Trigger source);
  // Drops the throttle state of `id` (it left running: the next activity writes at once).
  void forget(const std::string& id);

 private:
  Store& store_;
  Clock& clock_;
  std::mutex mu_;
  std::map<std::string, std::chrono::steady_clock::time_point> written_;
};

}  // namespace sandboxd
