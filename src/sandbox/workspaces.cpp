#include "sandboxd/sandbox/workspaces.h"

#include <dirent.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "sandbox/open_beneath.h"
#include "sandbox/remove_tree.h"
#include "sandboxd/os/fd.h"

namespace sandboxd {
namespace {

Status errno_status(const std::string& what) {
  return Status(errno == ENOSPC ? Code::kUnavailable : Code::kInternal,
                what + ": " + std::strerror(errno));
}

// Makes dir `name` under dirfd owned by uid:gid; an existing directory is fine.
Status make_owned_dir(int dirfd, const char* name, mode_t mode, uid_t uid, gid_t gid) {
  if (::mkdirat(dirfd, name, mode) != 0 && errno != EEXIST)
    return errno_status(std::string("mkdir ") + name);
  Fd fd(::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.ok()) return errno_status(std::string("open ") + name);
  if (::fchown(fd.get(), uid, gid) != 0) return errno_status(std::string("chown ") + name);
  if (::fchmod(fd.get(), mode) != 0) return errno_status(std::string("chmod ") + name);
  return {};
}

// Names in dirfd (without . and ..). Reads through its own descriptor, closed on return,
// so a walk holds one descriptor per level it is in.
Result<std::vector<std::string>> list_names(int dirfd) {
  int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_status("open directory");
  DIR* dir = ::fdopendir(fd);
  if (!dir) {
    ::close(fd);
    return errno_status("fdopendir");
  }
  std::vector<std::string> names;
  while (dirent* e = ::readdir(dir)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
      names.push_back(e->d_name);
  }
  ::closedir(dir);
  return names;
}

// Deeper directories are moved up to the workspace root and removed in a later pass,
// so a tenant-made tree of any depth costs at most this many open descriptors.
constexpr int kMaxWalkDepth = 32;

// Removes every entry below dirfd, adding the allocated bytes of what it removes to
// `freed`. Never follows symlinks: entries are examined with fstatat(AT_SYMLINK_NOFOLLOW)
// and directories opened with O_NOFOLLOW. Directories at kMaxWalkDepth are renamed into
// root_fd (counted in `moved`) instead of being descended into.
Status remove_below(int dirfd, int root_fd, int depth, int64_t& freed, int64_t& moved,
                    int64_t& serial) {
  auto names = list_names(dirfd);
  if (!names) return names.error();
  for (const auto& name : *names) {
    struct stat sb {};
    if (::fstatat(dirfd, name.c_str(), &sb, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(sb.st_mode)) {
      if (depth >= kMaxWalkDepth) {
        // A fresh name in the root; the tenant may have planted entries with such names.
        int tries = 0;
        while (::renameat2(dirfd, name.c_str(), root_fd,
                           (".purge-" + std::to_string(serial++)).c_str(), RENAME_NOREPLACE) != 0) {
          if (errno != EEXIST || ++tries > 1000) return errno_status("move " + name);
        }
        ++moved;
        continue;
      }
      Fd child(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!child.ok()) return errno_status("open " + name);
      if (auto st = remove_below(child.get(), root_fd, depth + 1, freed, moved, serial);
          !st.is_ok())
        return st;
      if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0) return errno_status("rmdir " + name);
    } else if (::unlinkat(dirfd, name.c_str(), 0) != 0) {
      return errno_status("unlink " + name);
    }
    freed += static_cast<int64_t>(sb.st_blocks) * 512;
  }
  return {};
}

// Below this depth own_tree leaves entries as they are (a tenant's own deep tree only
// hurts the tenant; the walk holds one descriptor per level).
constexpr int kMaxOwnDepth = 128;

// Gives every entry below dirfd to uid:gid and adds their allocated bytes to `bytes`.
// Descriptor-relative and never following a symlink (fchownat AT_SYMLINK_NOFOLLOW
// re-owns a link itself; directories are entered with O_NOFOLLOW), so an entry swapped
// mid-walk is at worst skipped, never a way out of the tree.
Status own_tree(int dirfd, uid_t uid, gid_t gid, int depth, int64_t& bytes) {
  auto names = list_names(dirfd);
  if (!names) return names.error();
  for (const auto& name : *names) {
    struct stat sb {};
    if (::fstatat(dirfd, name.c_str(), &sb, AT_SYMLINK_NOFOLLOW) != 0) continue;
    bytes += static_cast<int64_t>(sb.st_blocks) * 512;
    if ((sb.st_uid != uid || sb.st_gid != gid) &&
        ::fchownat(dirfd, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0 && errno != ENOENT)
      return errno_status("give " + name + " to uid " + std::to_string(uid));
    if (!S_ISDIR(sb.st_mode) || depth >= kMaxOwnDepth) continue;
    Fd child(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!child.ok()) continue;
    if (auto s = own_tree(child.get(), uid, gid, depth + 1, bytes); !s.is_ok()) return s;
  }
  return {};
}

// The root of a tree and everything below it to uid:gid (mode 0700 for the root).
Status own_root(int fd, uid_t uid, gid_t gid, int64_t& bytes) {
  if (::fchown(fd, uid, gid) != 0 || ::fchmod(fd, 0700) != 0) return errno_status("chown root");
  return own_tree(fd, uid, gid, 0, bytes);
}

bool has_entries(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.ok()) return false;
  auto names = list_names(fd.get());
  return names && !names->empty();
}

}  // namespace

Status remove_all_below(int root_fd, int64_t& freed) {
  int64_t serial = 0;
  for (;;) {
    int64_t moved = 0;
    if (auto st = remove_below(root_fd, root_fd, 0, freed, moved, serial); !st.is_ok()) return st;
    if (moved == 0) return {};
  }
}

Workspaces::Workspaces(std::string root, WorkspaceDisks& disks)
    : root_(std::move(root)), disks_(disks) {}

Status Workspaces::init() {
  std::error_code ec;
  std::filesystem::create_directories(root_, ec);
  if (ec) return Status(Code::kInternal, "create " + root_ + ": " + ec.message());
  struct stat sb {};
  if (::lstat(root_.c_str(), &sb) != 0 || !S_ISDIR(sb.st_mode)) {
    return Status(Code::kInternal, root_ + " is not a directory");
  }
  return {};
}

Result<AttachedWorkspace> Workspaces::ensure(const std::string& id, uid_t uid, int64_t disk_bytes) {
  const std::string dir = path(id);
  AttachedWorkspace out;
  struct stat sb {};
  const bool dir_exists = ::lstat(dir.c_str(), &sb) == 0;
  if (!dir_exists && errno != ENOENT) return errno_status("stat " + dir);
  if (dir_exists && !S_ISDIR(sb.st_mode))
    return Status(Code::kInternal, dir + " exists and is not a directory");
  auto has_disk = disks_.exists(id);
  if (!has_disk) return has_disk.error();
  bool made = false;
  if (!*has_disk) {
    // A workspace from before disks (a plain directory) is copied onto its new disk.
    const bool legacy = dir_exists && !is_mount_point(dir) && has_entries(dir);
    Fd old;
    if (legacy) {
      // First taken from its old owner, the shared uid 1000, which may be a host account:
      // nothing in it can change while root copies it.
      old = Fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      int64_t used = 0;
      if (!old.ok()) return errno_status("open " + dir);
      if (auto s = own_root(old.get(), 0, 0, used); !s.is_ok()) return s;
      // Room for what it holds and a quarter more, whatever the default.
      disk_bytes = std::max(disk_bytes, (used + used / 4 + (1 << 20)) & ~int64_t{(1 << 20) - 1});
    }
    if (auto s = disks_.create(id, disk_bytes, uid, uid, legacy ? dir : ""); !s.is_ok())
      return s.with_context("workspace of sandbox " + id);
    made = true;
    if (legacy) {
      int64_t freed = 0;  // the copy is on the disk: the old tree goes
      if (auto s = remove_all_below(old.get(), freed); !s.is_ok())
        spdlog::warn("sandbox {}: the old workspace tree under its disk stays: {}", id,
                     s.message());
    }
    out.created = !legacy;
  }
  auto attached = [&]() -> Status {
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return errno_status("mkdir " + dir);
    auto size = disks_.attach(id, dir);
    if (!size) return size.error();
    out.disk_bytes = *size;
    Fd ws(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!ws.ok()) return errno_status("open " + dir);
    if (::fstat(ws.get(), &sb) != 0) return errno_status("stat " + dir);
    int64_t ignored = 0;
    if (sb.st_uid != uid || sb.st_gid != uid) {
      if (auto s = own_root(ws.get(), uid, uid, ignored); !s.is_ok()) return s;
    }
    if (::fchmod(ws.get(), 0700) != 0) return errno_status("chmod " + dir);
    if (auto s = make_owned_dir(ws.get(), "workspace", 0755, uid, uid); !s.is_ok()) return s;
    Fd sub(::openat(ws.get(), "workspace", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sub.ok()) return errno_status("open workspace");
    return make_owned_dir(sub.get(), "app", 0755, uid, uid);
  }();
  if (!attached.is_ok()) {
    if (made) (void)disks_.destroy(id, dir);  // a disk this call made is not left behind
    return attached;
  }
  return out;
}

Status Workspaces::attach(const std::string& id) {
  auto has = disks_.exists(id);
  if (!has) return has.error();
  if (!*has || is_mount_point(path(id))) return {};
  auto size = disks_.attach(id, path(id));
  return size ? Status() : size.error();
}

Status Workspaces::detach(const std::string& id) { return disks_.detach(path(id)); }

std::optional<int64_t> Workspaces::used_bytes(const std::string& id) const {
  if (!is_mount_point(path(id))) return std::nullopt;
  struct statvfs vfs {};
  if (::statvfs(path(id).c_str(), &vfs) != 0) return std::nullopt;
  return static_cast<int64_t>(vfs.f_blocks - vfs.f_bfree) * static_cast<int64_t>(vfs.f_frsize);
}
Result<std::string> Workspaces::read_tail(const std::string& id,
                                          const std::vector<std::string>& components,
                                          std::size_t max_bytes) {
  Fd root(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.ok()) return errno_status("open " + root_);
  Fd ws(::openat(root.get(), id.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!ws.ok())
    return errno == ENOENT ? Result<std::string>(std::string()) : errno_status("open workspace");
  std::string rel;
  for (const auto& c : components) rel += (rel.empty() ? "" : "/") + c;
  Fd file(open_beneath(ws.get(), rel, O_RDONLY | O_NONBLOCK | O_NOCTTY));
  if (!file.ok()) {
    if (errno == ENOENT) return std::string();
    return Status(Code::kConflict, rel + " is not a regular file below plain directories");
  }
  struct stat sb {};
  if (::fstat(file.get(), &sb) != 0 || !S_ISREG(sb.st_mode)) {
    return Status(Code::kConflict, rel + " is not a regular file");
  }
  auto size = static_cast<std::size_t>(sb.st_size);
  std::size_t want = std::min(size, max_bytes);
  std::string out(want, '\0');
  ssize_t n = ::pread(file.get(), out.data(), want, static_cast<off_t>(size - want));
  if (n < 0) return errno_status("read " + components.back());
  out.resize(static_cast<std::size_t>(n));
  return out;
}

Result<int64_t> Workspaces::remove(const std::string& id) {
  // The disk first: what is left at the path is its empty mount point (or, without a
  // disk, a tree from before disks).
  auto freed = disks_.destroy(id, path(id));
  if (!freed) return freed.error().with_context("remove workspace of sandbox " + id);
  Fd root(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.ok()) return errno_status("open " + root_);
  struct stat sb {};
  if (::fstatat(root.get(), id.c_str(), &sb, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return *freed;
    return errno_status("stat " + path(id));
  }
  *freed += static_cast<int64_t>(sb.st_blocks) * 512;
  if (!S_ISDIR(sb.st_mode)) {
    if (::unlinkat(root.get(), id.c_str(), 0) != 0) return errno_status("unlink " + path(id));
    return *freed;
  }
  Fd ws(::openat(root.get(), id.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!ws.ok()) return errno_status("open " + path(id));
  if (auto s = remove_all_below(ws.get(), *freed); !s.is_ok())
    return s.with_context("remove " + path(id));
  if (::unlinkat(root.get(), id.c_str(), AT_REMOVEDIR) != 0)
    return errno_status("rmdir " + path(id));
  return *freed;
}

}  // namespace sandboxd
