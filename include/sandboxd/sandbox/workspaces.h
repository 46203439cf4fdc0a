// Workspaces: the per-sandbox directories under <data>/workspaces. Contents are
// tenant-controlled, so nothing here follows a symlink: the root is opened once and
// every step is relative to a directory fd with O_NOFOLLOW. Thread-safe for distinct
// ids; callers serialize per id.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sandboxd/base/status.h"

namespace sandboxd {

class Workspaces {
 public:
  // `root` is created (mode 0755) if missing; new workspaces are owned by uid:gid.
  Workspaces(std::string root, uid_t uid, gid_t gid);

  // Creates the root directory. Call once at startup.
  Status init();
  const std::string& root() const { return root_; }
  uid_t uid() const { return uid_; }
  gid_t gid() const { return gid_; }
  // Host path of the workspace of `id` (which must be a validated id).
  std::string path(const std::string& id) const { return root_ + "/" + id; }
  // Makes sure the workspace exists. A new one is mode 0700, owned by uid:gid and seeded
  // with workspace/app; an existing one is left as it is. Returns true when it was created.
  Result<bool> ensure(const std::string& id);
  // The last `max_bytes` of the regular file at `components` below the workspace (e.g.
  // {".sandboxed", "logs", "dev.log"}), never following a symlink at any step. An absent
  // file is empty; a symlink or non-regular file is kConflict.
  Result<std::string> read_tail(const std::string& id, const std::vector<std::string>& components,
                                std::size_t max_bytes);
  // Deletes the workspace tree without following symlinks; returns the bytes freed
  // (allocated blocks). A missing workspace frees 0.
  Result<int64_t> remove(const std::string& id);

 private:
  std::string root_;
  uid_t uid_;
  gid_t gid_;
};

}  // namespace sandboxd
