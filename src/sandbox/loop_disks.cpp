#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "sandboxd/os/fd.h"
#include "sandboxd/sandbox/workspace_disks.h"

namespace sandboxd {
namespace {

Status errno_status(int err, const std::string& what) {
  return Status(err == ENOSPC || err == EDQUOT ? Code::kUnavailable : Code::kInternal,
                what + ": " + std::strerror(err));
}

// Mounting and unmounting are quick; mkfs and copying a legacy tree may take a while.
constexpr std::chrono::seconds kMountTimeout{60};
constexpr std::chrono::seconds kCopyTimeout{1800};

// noinit_itable: no background zeroing of inode tables, which a loop device turns into
// punched holes in the image, giving back space its reservation holds.
constexpr const char* kMountOptions = "loop,nosuid,nodev,noatime,noinit_itable";

// In a container (/.dockerenv) whose data dir is a mount of its own (a bind from the
// host), mounts made under `dir` reach dockerd's namespace only when that mount is shared
// (compose: bind propagation rshared); otherwise a sandbox would get the empty directory
// under its disk, on the data disk, unlimited. (Under the container's own root, as on a
// host, sandboxd and dockerd share the mounts.)
Status check_propagation(const std::string& dir) {
  if (::access("/.dockerenv", F_OK) != 0) return {};
  std::ifstream info("/proc/self/mountinfo");
  std::string line, best_point, best_fields;
  while (std::getline(info, line)) {
    std::istringstream in(line);
    std::string id, parent, dev, root, point, opts;
    in >> id >> parent >> dev >> root >> point >> opts;
    const bool under = dir == point || point == "/" || dir.rfind(point + "/", 0) == 0;
    if (under && point.size() >= best_point.size()) {
      best_point = point;
      std::getline(in, best_fields);
    }
  }
  const auto dash = best_fields.find(" - ");
  if (best_point == "/" || best_fields.substr(0, dash).find("shared:") != std::string::npos)
    return {};
  return Status(Code::kUnavailable,
                dir +
                    " is not on a shared mount, so the workspaces' disks sandboxd mounts there "
                    "would not reach dockerd: mount the data dir with bind propagation rshared "
                    "(docker-compose.yml does; ./install.sh makes it a shared mount)");
}

}  // namespace

bool is_mount_point(const std::string& dir) {
  struct stat self {
  }, parent{};
  if (::lstat(dir.c_str(), &self) != 0 || !S_ISDIR(self.st_mode)) return false;
  if (::stat((dir + "/..").c_str(), &parent) != 0) return false;
  return self.st_dev != parent.st_dev;
}

LoopDisks::LoopDisks(ProcessRunner& runner, std::string images_dir)
    : runner_(runner), dir_(std::move(images_dir)) {}

Status LoopDisks::run(const std::vector<std::string>& argv, std::chrono::seconds timeout) {
  ProcessSpec spec;
  spec.argv = argv;
  spec.timeout = timeout;
  auto out = runner_.run(spec);
  if (!out)
    return Status(Code::kUnavailable,
                  argv[0] + ": " + out.error().message() + " (install e2fsprogs and util-linux)");
  if (out->timed_out) return Status(Code::kTimeout, argv[0] + " timed out");
  if (out->exit_code != 0) {
    std::string err = out->stderr_data.empty() ? out->stdout_data : out->stderr_data;
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    return Status(Code::kInternal,
                  argv[0] + " exited " + std::to_string(out->exit_code) + ": " + err);
  }
  return {};
}

Status LoopDisks::init() {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Status(Code::kInternal, "create " + dir_ + ": " + ec.message());
  if (::chmod(dir_.c_str(), 0700) != 0) return errno_status(errno, "chmod " + dir_);
  if (auto s = check_propagation(dir_); !s.is_ok()) return s;
  for (const char* tool : {"mkfs.ext4", "mount", "umount"}) {
    if (auto s = run({tool, "-V"}, kMountTimeout); !s.is_ok() && s.code() == Code::kUnavailable)
      return s.with_context("workspace disks need " + std::string(tool));
  }
  if (::access("/dev/loop-control", R_OK | W_OK) != 0)
    return Status(Code::kUnavailable,
                  "workspace disks need loop devices: /dev/loop-control is missing (modprobe "
                  "loop; in a container: the host's /dev, SYS_ADMIN and the loop devices, as "
                  "docker-compose.yml gives)");
  return {};
}

Result<bool> LoopDisks::exists(const std::string& id) {
  struct stat sb {};
  if (::stat(image(id).c_str(), &sb) == 0) return S_ISREG(sb.st_mode);
  if (errno == ENOENT) return false;
  return errno_status(errno, "stat " + image(id));
}

Status LoopDisks::create(const std::string& id, int64_t bytes, uid_t uid, gid_t gid,
                         const std::string& fill_from) {
  // Made under a temporary name and renamed into place: an image exists complete or not.
  const std::string tmp = image(id) + ".new";
  ::unlink(tmp.c_str());  // a crash's leftover
  auto reserve = [&]() -> Status {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd.ok()) return errno_status(errno, "create " + tmp);
    if (int err = ::posix_fallocate(fd.get(), 0, bytes); err != 0)
      return errno_status(
          err, "reserve " + std::to_string(bytes) + " bytes for sandbox " + id + "'s disk");
    return {};
  };
  // Reserved now, not as the tenant writes: the sum of all quotas is always on disk.
  // mkfs zeroes some ranges by punching holes, so the reservation is made again after it.
  // One inode per 8 KiB suits node_modules-sized trees of small files.
  Status st = reserve();
  if (st.is_ok())
    st = run({"mkfs.ext4", "-q", "-F", "-m", "0", "-i", "8192", "-L", "sandboxed", "-E",
              "nodiscard,root_owner=" + std::to_string(uid) + ":" + std::to_string(gid), tmp},
             kMountTimeout);
  if (st.is_ok()) st = reserve();
  if (st.is_ok() && !fill_from.empty()) {
    st = fill(tmp, fill_from);
    if (!st.is_ok()) st = st.with_context("copy the workspace of sandbox " + id + " onto its disk");
  }
  if (st.is_ok() && ::rename(tmp.c_str(), image(id).c_str()) != 0)
    st = errno_status(errno, "rename " + tmp);
  if (!st.is_ok()) ::unlink(tmp.c_str());
  return st;
}

Result<int64_t> LoopDisks::attach(const std::string& id, const std::string& dir) {
  struct stat sb {};
  if (::stat(image(id).c_str(), &sb) != 0) return errno_status(errno, "stat " + image(id));
  if (!is_mount_point(dir)) {
    if (auto s = run({"mount", "-t", "ext4", "-o", kMountOptions, image(id), dir}, kMountTimeout);
        !s.is_ok())
      return s.with_context("mount sandbox " + id + "'s disk");
  }
  return static_cast<int64_t>(sb.st_size);
}

Status LoopDisks::detach(const std::string& dir) {
  if (!is_mount_point(dir)) return {};
  return run({"umount", dir}, kMountTimeout).with_context("unmount " + dir);
}

Result<int64_t> LoopDisks::destroy(const std::string& id, const std::string& dir) {
  if (auto s = detach(dir); !s.is_ok()) return s;
  struct stat sb {};
  if (::stat(image(id).c_str(), &sb) != 0) {
    if (errno == ENOENT) return int64_t{0};
    return errno_status(errno, "stat " + image(id));
  }
  if (::unlink(image(id).c_str()) != 0) return errno_status(errno, "delete " + image(id));
  return static_cast<int64_t>(sb.st_blocks) * 512;
}

Status LoopDisks::fill(const std::string& image_path, const std::string& from) {
  const std::string mnt = image_path + ".fill";
  if (::mkdir(mnt.c_str(), 0700) != 0 && errno != EEXIST)
    return errno_status(errno, "mkdir " + mnt);
  Status st = run({"mount", "-t", "ext4", "-o", kMountOptions, image_path, mnt}, kMountTimeout);
  if (st.is_ok()) {
    // cp -a copies symlinks as symlinks and never follows them; the tree is root's now.
    st = run({"cp", "-a", "--one-file-system", "--", from + "/.", mnt + "/"}, kCopyTimeout);
    Status un = run({"umount", mnt}, kMountTimeout);
    if (st.is_ok()) st = un;
  }
  ::rmdir(mnt.c_str());
  return st;
}

}  // namespace sandboxd
