// FakeDisks: WorkspaceDisks without the kernel: a "disk" is only a record of its size,
// and the workspace stays a plain directory (no quota), for unit tests of what sits above
// disks. LoopDisks itself is tested by the integration tests on real loop devices.
#pragma once

#include <unistd.h>

#include <filesystem>
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
  // With fill_from the "copy" is the directory itself: it stays the workspace, and
  // Workspaces then empties the original, so the fake keeps what it holds aside and puts
  // it back on the next attach.
  Status create(const std::string& id, int64_t bytes, uid_t, gid_t,
                const std::string& fill_from) override {
    std::lock_guard lock(mu_);
    if (fail_create) return Status(Code::kUnavailable, "no space left for the disk");
    sizes_[id] = bytes;
    if (!fill_from.empty()) {
      filled_.insert(id);
      std::filesystem::copy(
          fill_from, stash(id),
          std::filesystem::copy_options::recursive | std::filesystem::copy_options::copy_symlinks);
    }
    return {};
  }
  Result<int64_t> attach(const std::string& id, const std::string& dir) override {
    std::lock_guard lock(mu_);
    attached_.insert(id);
    if (filled_.count(id) && std::filesystem::exists(stash(id))) {
      std::filesystem::copy(stash(id), dir,
                            std::filesystem::copy_options::recursive |
                                std::filesystem::copy_options::copy_symlinks |
                                std::filesystem::copy_options::overwrite_existing);
      std::filesystem::remove_all(stash(id));
    }
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

  // Test inspection and failure injection.
  std::optional<int64_t> size(const std::string& id) {
    std::lock_guard lock(mu_);
    auto it = sizes_.find(id);
    return it == sizes_.end() ? std::nullopt : std::optional<int64_t>(it->second);
  }
  bool was_filled(const std::string& id) {
    std::lock_guard lock(mu_);
    return filled_.count(id) > 0;
  }
  // Where a filled disk's copy waits (beside the system's temp dir, per process).
  std::string stash(const std::string& id) const {
    return std::filesystem::temp_directory_path().string() + "/fake-disk-" +
           std::to_string(::getpid()) + "-" + id;
  }
  bool was_detached(const std::string& dir) {
    std::lock_guard lock(mu_);
    return detached_.count(dir) > 0;
  }
  bool fail_create = false;

 private:
  std::mutex mu_;
  std::map<std::string, int64_t> sizes_;
  std::set<std::string> attached_, detached_, filled_;
};

}  // namespace sandboxd
