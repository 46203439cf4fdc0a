// FakeMemoryProbe: host memory that a test sets (plenty by default).
#pragma once

#include <atomic>

#include "sandboxd/os/memory.h"

namespace sandboxd {

class FakeMemoryProbe final : public MemoryProbe {
 public:
  Result<MemInfo> read() override {
    ++reads;
    MemInfo m;
    m.total_bytes = 100LL << 30;
    m.available_bytes = static_cast<int64_t>(available_pct.load() * static_cast<double>(1LL << 30));
    return m;
  }
  std::atomic<double> available_pct{80.0};
  std::atomic<int> reads{0};
};

}  // namespace sandboxd
