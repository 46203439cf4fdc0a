#include "sandboxd/sandbox/workspaces.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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

constexpr const char* kSeedPrefix = ".seed-";

}  // namespace

Status remove_all_below(int root_fd, int64_t& freed) {
  int64_t serial = 0;
  for (;;) {
    int64_t moved = 0;
    if (auto st = remove_below(root_fd, root_fd, 0, freed, moved, serial); !st.is_ok()) return st;
    if (moved == 0) return {};
  }
}

Workspaces::Workspaces(std::string root, uid_t uid, gid_t gid)
    : root_(std::move(root)), uid_(uid), gid_(gid) {}

Status Workspaces::init() {
  std::error_code ec;
  std::filesystem::create_directories(root_, ec);
  if (ec) return Status(Code::kInternal, "create " + root_ + ": " + ec.message());
  struct stat sb {};
  if (::lstat(root_.c_str(), &sb) != 0 || !S_ISDIR(sb.st_mode)) {
    return Status(Code::kInternal, root_ + " is not a directory");
  }
  // Half-seeded workspaces left by a crash.
  Fd root(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.ok()) return errno_status("open " + root_);
  auto names = list_names(root.get());
  if (!names) return names.error();
  for (const auto& name : *names) {
    if (name.rfind(kSeedPrefix, 0) != 0) continue;
    Fd dir(::openat(root.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    int64_t ignored = 0;
    if (!dir.ok()) continue;
    if (auto s = remove_all_below(dir.get(), ignored); !s.is_ok()) return s;
    ::unlinkat(root.get(), name.c_str(), AT_REMOVEDIR);
  }
  return {};
}

Result<bool> Workspaces::ensure(const std::string& id) {
  Fd root(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.ok()) return errno_status("open " + root_);
  struct stat sb {};
  if (::fstatat(root.get(), id.c_str(), &sb, AT_SYMLINK_NOFOLLOW) == 0) {
    if (!S_ISDIR(sb.st_mode))
      return Status(Code::kInternal, path(id) + " exists and is not a directory");
    return false;
  }
  if (errno != ENOENT) return errno_status("stat " + path(id));
  // Seeded under a temporary name and renamed into place, so a workspace either exists
  // complete or not at all; a crash leaves only a .seed-* directory that init() removes.
  std::string tmp = kSeedPrefix + id;
  int64_t ignored = 0;
  if (::mkdirat(root.get(), tmp.c_str(), 0700) != 0 && errno != EEXIST)
    return errno_status("mkdir " + tmp);
  Fd ws(::openat(root.get(), tmp.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!ws.ok()) return errno_status("open " + tmp);
  if (auto s = remove_all_below(ws.get(), ignored); !s.is_ok()) return s;
  if (::fchown(ws.get(), uid_, gid_) != 0) return errno_status("chown " + tmp);
  if (::fchmod(ws.get(), 0700) != 0) return errno_status("chmod " + tmp);
  if (auto s = make_owned_dir(ws.get(), "workspace", 0755, uid_, gid_); !s.is_ok()) return s;
  Fd sub(::openat(ws.get(), "workspace", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!sub.ok()) return errno_status("open workspace");
  if (auto s = make_owned_dir(sub.get(), "app", 0755, uid_, gid_); !s.is_ok()) return s;
  if (::renameat(root.get(), tmp.c_str(), root.get(), id.c_str()) != 0)
    return errno_status("rename " + tmp);
  return true;
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
  Fd root(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.ok()) return errno_status("open " + root_);
  struct stat sb {};
  if (::fstatat(root.get(), id.c_str(), &sb, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return int64_t{0};
    return errno_status("stat " + path(id));
  }
  int64_t freed = static_cast<int64_t>(sb.st_blocks) * 512;
  if (!S_ISDIR(sb.st_mode)) {
    if (::unlinkat(root.get(), id.c_str(), 0) != 0) return errno_status("unlink " + path(id));
    return freed;
  }
  Fd ws(::openat(root.get(), id.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!ws.ok()) return errno_status("open " + path(id));
  if (auto s = remove_all_below(ws.get(), freed); !s.is_ok())
    return s.with_context("remove " + path(id));
  if (::unlinkat(root.get(), id.c_str(), AT_REMOVEDIR) != 0)
    return errno_status("rmdir " + path(id));
  return freed;
}

}  // namespace sandboxd
