// FakeDisks: WorkspaceDisks without the kernel: a "disk" is only a record of its size,
// and the workspace stays a plain directory (no quota), for unit tests of what sits above
// disks. LoopDisks itself is tested by the integration tests on real loop devices.
#pragma once

#include <map>
#include <mutex>
#include <set>

#include "sandboxd/sandbox/workspace_disks.h"

namespace sandboxd {

class FakeDisks final : public WorkspaceDisks {
 public:
  Result<bool> exists(const std::string& id) override {
    std::lock_guard lock(mu_);
    return sizes_.count(id) > 0;
  }
  Status create(const std::string& id, int64_t bytes, uid_t, gid_t) override {
    std::lock_guard lock(mu_);
    if (fail_create) return Status(Code::kUnavailable, "no space left for the disk");
    sizes_[id] = bytes;
    return {};
  }
  Result<int64_t> attach(const std::string& id, const std::string&) override {
    std::lock_guard lock(mu_);
    attached_.insert(id);
    return sizes_.at(id);
  }
  Status detach(const std::string& dir) override {
    std::lock_guard lock(mu_);
    detached_.insert(dir);
    return {};
  }
  Result<int64_t> destroy(const std::string& id, const std::string&) override {
    std::lock_guard lock(mu_);
    auto it = sizes_.find(id);
    if (it == sizes_.end()) return int64_t{0};
    int64_t bytes = it->second;
    sizes_.erase(it);
    return bytes;
  }
  Status move_in(const std::string& id, const std::string&) override {
    std::lock_guard lock(mu_);
    moved_in_.insert(id);
    return {};
  }

  // Test inspection and failure injection.
  std::optional<int64_t> size(const std::string& id) {
    std::lock_guard lock(mu_);
    auto it = sizes_.find(id);
    return it == sizes_.end() ? std::nullopt : std::optional<int64_t>(it->second);
  }
  bool was_moved_in(const std::string& id) {
    std::lock_guard lock(mu_);
    return moved_in_.count(id) > 0;
  }
  bool was_detached(const std::string& dir) {
    std::lock_guard lock(mu_);
    return detached_.count(dir) > 0;
  }
  bool fail_create = false;

 private:
  std::mutex mu_;
  std::map<std::string, int64_t> sizes_;
  std::set<std::string> attached_, detached_, moved_in_;
};

}  // namespace sandboxd
