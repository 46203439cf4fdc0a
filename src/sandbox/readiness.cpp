#include "sandboxd/sandbox/readiness.h"

namespace sandboxd {

Status Readiness::check() {
  if (auto s = store_.ping(); !s.is_ok()) return s;
  auto now = clock_.steady_now();
  {
    std::lock_guard lock(mu_);
    bool fresh = checked_ != std::chrono::steady_clock::time_point{} &&
                 now - checked_ <= std::chrono::seconds(3);
    if (fresh) return answer_;
  }
  Status answer = runtime_.ping();
  std::lock_guard lock(mu_);
  answer_ = answer;
  checked_ = now;
  return answer;
}

}  // namespace sandboxd
