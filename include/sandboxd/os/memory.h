// MemoryProbe: host memory as the kernel reports it, for admission and the pressure
// reaper. Implementations are thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "sandboxd/base/status.h"

namespace sandboxd {

struct MemInfo {
  int64_t total_bytes = 0;
  int64_t available_bytes = 0;
  // Available memory as a percentage of the total (0 when the total is unknown).
  double available_pct() const {
    return total_bytes > 0
               ? 100.0 * static_cast<double>(available_bytes) / static_cast<double>(total_bytes)
               : 0;
  }
};

class MemoryProbe {
 public:
  virtual ~MemoryProbe() = default;
  virtual Result<MemInfo> read() = 0;
};

// Reads MemTotal and MemAvailable from /proc/meminfo (or another file in that format).
class ProcMemoryProbe final : public MemoryProbe {
 public:
  explicit ProcMemoryProbe(std::string path = "/proc/meminfo") : path_(std::move(path)) {}
  Result<MemInfo> read() override;

 private:
  std::string path_;
};

// Parses the text of /proc/meminfo.
Result<MemInfo> parse_meminfo(const std::string& text);

}  // namespace sandboxd
