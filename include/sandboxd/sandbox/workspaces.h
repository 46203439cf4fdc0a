// Workspaces: the per-sandbox directories under <data>/workspaces, each the mount point
// of the sandbox's own disk (workspace_disks.h). Contents are tenant-controlled, so
// nothing here follows a symlink: the root is opened once and every step is relative to
// a directory fd with O_NOFOLLOW. Thread-safe for distinct ids; callers serialize per id.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sandboxd/base/status.h"
#include "sandboxd/sandbox/workspace_disks.h"

namespace sandboxd {

// What ensure() found or made.
struct AttachedWorkspace {
  bool created = false;    // new (nothing of an earlier workspace of this id was kept)
  int64_t disk_bytes = 0;  // the size of its disk
};

class Workspaces {
 public:
  // `root` is created (mode 0755) if missing; each workspace lives on its own disk.
  Workspaces(std::string root, WorkspaceDisks& disks);

  // Creates the root directory. Call once at startup.
  Status init();
  const std::string& root() const { return root_; }
  // Host path of the workspace of `id` (which must be a validated id).
  std::string path(const std::string& id) const { return root_ + "/" + id; }
  // Makes sure the workspace exists, mounted on its disk, mode 0700, owned by uid:uid
  // and seeded with workspace/app. A new one gets a disk of `disk_bytes`. Migrations:
  // a plain directory from before disks is first given to root (so its old owner cannot
  // change it), then copied onto a new disk of `disk_bytes` or its size and a quarter
  // more, whichever is larger; a tree owned by another uid (from before per-sandbox
  // uids, or re-attached) is given to `uid`. No walk follows a symlink. Existing disks
  // keep their size. A disk this call made is destroyed again when a later step fails.
  // Call with the sandbox's container stopped or absent when a migration may be due.
  Result<AttachedWorkspace> ensure(const std::string& id, uid_t uid, int64_t disk_bytes);
  // Mounts the workspace's existing disk if it is not mounted (after a reboot); makes
  // nothing. Ok without a disk.
  Status attach(const std::string& id);
  // Unmounts the workspace's disk (kept for a later ensure); ok when it is not mounted.
  Status detach(const std::string& id);
  // Bytes in use on the workspace's disk when it is mounted; nullopt otherwise.
  std::optional<int64_t> used_bytes(const std::string& id) const;
  // The last `max_bytes` of the regular file at `components` below the workspace (e.g.
  // {".sandboxed", "logs", "dev.log"}), never following a symlink at any step. An absent
  // file is empty; a symlink or non-regular file is kConflict.
  Result<std::string> read_tail(const std::string& id, const std::vector<std::string>& components,
                                std::size_t max_bytes);
  // Deletes the workspace, its disk and its tree, without following symlinks; returns the
  // bytes freed (allocated blocks). A missing workspace frees 0.
  Result<int64_t> remove(const std::string& id);

 private:
  std::string root_;
  WorkspaceDisks& disks_;
};

}  // namespace sandboxd
