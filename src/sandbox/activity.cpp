#include "sandboxd/sandbox/activity.h"

#include <spdlog/spdlog.h>

namespace sandboxd {

void ActivityRecorder::record(const std::string& id, Trigger source) {
  auto now = clock_.steady_now();
  {
    std::lock_guard lock(mu_);
    auto [it, fresh] = written_.try_emplace(id, now);
    if (!fresh) {
      if (now - it->second < std::chrono::seconds(1)) return;
      it->second = now;
    }
  }
  if (auto s = store_.touch(id, clock_.now_ms(), source); !s.is_ok())
    spdlog::warn("sandbox {}: recording {} activity: {}", id, to_string(source), s.message());
}

void ActivityRecorder::forget(const std::string& id) {
  std::lock_guard lock(mu_);
  written_.erase(id);
}

}  // namespace sandboxd
