// Periodic: runs a function on its own thread every `interval` until stopped. The first
// run happens one interval after start(), or at once when start(/*run_first_now=*/true).
// stop() wakes the thread and joins it; a run in progress finishes first. Not copyable.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "sandboxd/os/stoppable_thread.h"

namespace sandboxd {

class Periodic {
 public:
  Periodic(std::string name, std::chrono::milliseconds interval, std::function<void()> fn)
      : name_(std::move(name)), interval_(interval), fn_(std::move(fn)) {}
  ~Periodic() { stop(); }
  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;

  void start(bool run_first_now = false) {
    thread_.start([this, due = run_first_now]() mutable {
      while (!(due ? thread_.stopping() : thread_.wait_for(interval_))) {
        due = false;
        fn_();
      }
    });
  }
  void stop() { thread_.stop(); }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::chrono::milliseconds interval_;
  std::function<void()> fn_;
  StoppableThread thread_;
};

}  // namespace sandboxd
