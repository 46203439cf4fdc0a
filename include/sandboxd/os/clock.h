// Clock: the only source of time for sandboxd logic. Wall time for stored timestamps,
// monotonic time for deadlines. Implementations are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace sandboxd {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time as unix milliseconds (stored, shown to users).
  virtual int64_t now_ms() const = 0;
  // Monotonic time, for measuring durations and deadlines.
  virtual std::chrono::steady_clock::time_point steady_now() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t now_ms() const override;
  std::chrono::steady_clock::time_point steady_now() const override;
};

// RFC 3339 UTC with milliseconds, e.g. 2026-11-28T00:30:26.123Z.
std::string format_rfc3339(int64_t unix_ms);

}  // namespace sandboxd
