// WorkspaceDisks: the filesystem under each workspace, one per sandbox, whose size the
// kernel enforces: a write past it fails with ENOSPC inside that sandbox only. LoopDisks
// keeps each as a preallocated ext4 image under <data>/disks, loop-mounted on the
// workspace directory (ARCHITECTURE.md "Disk quotas" says why this mechanism). A disk
// outlives its container and its row (delete keeps it; purge destroys it) and is mounted
// again after a reboot by the first operation that needs it. Callers serialize per id.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "sandboxd/base/status.h"
#include "sandboxd/os/process_runner.h"

namespace sandboxd {

class WorkspaceDisks {
 public:
  virtual ~WorkspaceDisks() = default;
  // Whether sandbox `id` has a disk.
  virtual Result<bool> exists(const std::string& id) = 0;
  // Makes a new disk of `bytes` for `id`, its root directory owned by uid:gid, all of its
  // space reserved on the host now (so tenants together can never fill the data disk).
  // With `fill_from`, the tree below that directory (a workspace from before disks) is
  // copied onto it first (symlinks as links, never followed): the disk appears complete
  // or not at all. kUnavailable when the host lacks the space; nothing is left behind
  // on failure.
  virtual Status create(const std::string& id, int64_t bytes, uid_t uid, gid_t gid,
                        const std::string& fill_from) = 0;
  // Mounts id's disk on `dir` (an existing directory) unless it already is. Returns the
  // disk's size in bytes.
  virtual Result<int64_t> attach(const std::string& id, const std::string& dir) = 0;
  // Unmounts `dir` when a disk is mounted there; ok when none is.
  virtual Status detach(const std::string& dir) = 0;
  // Detaches `dir` and deletes id's disk; returns the bytes freed (0 without a disk).
  virtual Result<int64_t> destroy(const std::string& id, const std::string& dir) = 0;
};

// True when `dir` is the root of a mounted filesystem other than its parent's.
bool is_mount_point(const std::string& dir);

// Preallocated ext4 images under `images_dir`, loop-mounted with mount(8) (nosuid, nodev).
// Needs root, e2fsprogs, util-linux and loop devices; ready() says what is missing.
class LoopDisks final : public WorkspaceDisks {
 public:
  LoopDisks(ProcessRunner& runner, std::string images_dir);
  // Creates images_dir and checks that mkfs.ext4 and mount run, loop devices exist and,
  // in a container, that mounts made here reach the host (a shared mount). Call once at
  // startup; sandboxd does not serve without it.
  Status init();
  Result<bool> exists(const std::string& id) override;
  Status create(const std::string& id, int64_t bytes, uid_t uid, gid_t gid,
                const std::string& fill_from) override;
  Result<int64_t> attach(const std::string& id, const std::string& dir) override;
  Status detach(const std::string& dir) override;
  Result<int64_t> destroy(const std::string& id, const std::string& dir) override;

 private:
  std::string image(const std::string& id) const { return dir_ + "/" + id + ".img"; }
  // Mounts the image at image_path beside it, copies the tree below `from` onto it and
  // unmounts it again.
  Status fill(const std::string& image_path, const std::string& from);
  // Runs argv (a mount, mkfs, cp...) to completion; its stderr becomes the error.
  Status run(const std::vector<std::string>& argv, std::chrono::seconds timeout);
  ProcessRunner& runner_;
  std::string dir_;
};

}  // namespace sandboxd
