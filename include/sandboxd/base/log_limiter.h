// LogLimiter: bounds log lines that outside parties can repeat at will (e.g. one per
// anonymous preview request). Per kind, at most `burst` lines per `window`; the rest are
// only counted, and the first line written after the window closes reports how many
// were dropped. Time is passed in, so the decision is testable without a clock.
// Thread-safe. The kinds are the caller's fixed set of names (one state each).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace sandboxd {

class LogLimiter {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  struct Verdict {
    bool log = false;        // write this line
    bool last = false;       // the last one written in this window: later ones are dropped
    int64_t suppressed = 0;  // lines of this kind dropped before this one (when `log`)
  };

  LogLimiter(std::chrono::steady_clock::duration window, int burst)
      : window_(window), burst_(burst) {}

  // Whether a line of `kind` may be written at `now`.
  Verdict admit(const std::string& kind, TimePoint now);

 private:
  struct State {
    TimePoint window_start;
    int written = 0;
    int64_t suppressed = 0;
  };
  const std::chrono::steady_clock::duration window_;
  const int burst_;
  std::mutex mu_;
  std::map<std::string, State> kinds_;  // guarded by mu_
};

}  // namespace sandboxd
