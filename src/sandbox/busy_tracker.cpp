#include "sandboxd/sandbox/busy_tracker.h"

#include <utility>

namespace sandboxd {

BusyTracker::Hold::Hold(BusyTracker& tracker, std::string id)
    : tracker_(&tracker), id_(std::move(id)) {
  tracker_->add(id_);
}

BusyTracker::Hold::Hold(Hold&& other) noexcept
    : tracker_(std::exchange(other.tracker_, nullptr)), id_(std::move(other.id_)) {}

BusyTracker::Hold& BusyTracker::Hold::operator=(Hold&& other) noexcept {
  if (this != &other) {
    release();
    tracker_ = std::exchange(other.tracker_, nullptr);
    id_ = std::move(other.id_);
  }
  return *this;
}

void BusyTracker::Hold::release() {
  if (tracker_) std::exchange(tracker_, nullptr)->remove(id_);
}

void BusyTracker::add(const std::string& id) {
  std::lock_guard lock(mu_);
  ++holds_[id];
}

void BusyTracker::remove(const std::string& id) {
  std::lock_guard lock(mu_);
  if (auto it = holds_.find(id); it != holds_.end() && --it->second <= 0) holds_.erase(it);
}

bool BusyTracker::is_busy(const std::string& id) const {
  std::lock_guard lock(mu_);
  return holds_.count(id) > 0;
}

std::set<std::string> BusyTracker::ids() const {
  std::lock_guard lock(mu_);
  std::set<std::string> out;
  for (const auto& [id, n] : holds_) out.insert(id);
  return out;
}

}  // namespace sandboxd
