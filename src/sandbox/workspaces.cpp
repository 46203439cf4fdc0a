#include "sandboxd/sandbox/workspaces.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace sandboxd {
namespace {

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_;
};

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

// Sums allocated bytes of, and removes, every entry below dirfd (which stays open).
// Never follows symlinks: entries are examined with fstatat(AT_SYMLINK_NOFOLLOW) and
// directories opened with O_NOFOLLOW.
Status remove_below(int dirfd, int64_t& freed, int depth) {
  if (depth > 4096) return Status(Code::kInternal, "directory tree too deep");
  int dup = ::dup(dirfd);
  if (dup < 0) return errno_status("dup");
  DIR* dir = ::fdopendir(dup);
  if (!dir) {
    ::close(dup);
    return errno_status("fdopendir");
  }
  Status st;
  while (dirent* e = ::readdir(dir)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    struct stat sb {};
    if (::fstatat(dirfd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0) continue;
    freed += static_cast<int64_t>(sb.st_blocks) * 512;
    if (S_ISDIR(sb.st_mode)) {
      Fd child(::openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!child.ok()) {
        st = errno_status(std::string("open ") + e->d_name);
        break;
      }
      if (st = remove_below(child.get(), freed, depth + 1); !st.is_ok()) break;
      if (::unlinkat(dirfd, e->d_name, AT_REMOVEDIR) != 0) {
        st = errno_status(std::string("rmdir ") + e->d_name);
        break;
      }
    } else if (::unlinkat(dirfd, e->d_name, 0) != 0) {
      st = errno_status(std::string("unlink ") + e->d_name);
      break;
    }
  }
  ::closedir(dir);
  return st;
}

}  // namespace

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
  return {};
}

Result<bool> Workspaces::ensure(const std::string& id) {
  Fd root(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.ok()) return errno_status("open " + root_);
  if (::mkdirat(root.get(), id.c_str(), 0700) != 0) {
    if (errno != EEXIST) return errno_status("mkdir " + path(id));
    struct stat sb {};
    if (::fstatat(root.get(), id.c_str(), &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(sb.st_mode)) {
      return Status(Code::kInternal, path(id) + " exists and is not a directory");
    }
    return false;
  }
  // Seed a new workspace. A failure leaves a partial directory that remove() clears.
  Fd ws(::openat(root.get(), id.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!ws.ok()) return errno_status("open " + path(id));
  if (::fchown(ws.get(), uid_, gid_) != 0) return errno_status("chown " + path(id));
  if (auto s = make_owned_dir(ws.get(), "workspace", 0755, uid_, gid_); !s.is_ok()) return s;
  Fd sub(::openat(ws.get(), "workspace", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!sub.ok()) return errno_status("open workspace");
  if (auto s = make_owned_dir(sub.get(), "app", 0755, uid_, gid_); !s.is_ok()) return s;
  return true;
}

bool Workspaces::exists(const std::string& id) const {
  struct stat sb {};
  return ::lstat(path(id).c_str(), &sb) == 0 && S_ISDIR(sb.st_mode);
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
  if (auto s = remove_below(ws.get(), freed, 0); !s.is_ok())
    return s.with_context("remove " + path(id));
  if (::unlinkat(root.get(), id.c_str(), AT_REMOVEDIR) != 0)
    return errno_status("rmdir " + path(id));
  return freed;
}

}  // namespace sandboxd
