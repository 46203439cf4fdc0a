#include "sandboxd/base/log_limiter.h"

namespace sandboxd {

LogLimiter::Verdict LogLimiter::admit(const std::string& kind, TimePoint now) {
  std::lock_guard lock(mu_);
  auto [it, fresh] = kinds_.try_emplace(kind, State{now, 0, 0});
  State& s = it->second;
  if (!fresh && now - s.window_start >= window_) {
    s.window_start = now;
    s.written = 0;
  }
  if (s.written >= burst_) {
    ++s.suppressed;
    return {};
  }
  Verdict v{true, ++s.written == burst_, s.suppressed};
  s.suppressed = 0;
  return v;
}

}  // namespace sandboxd
