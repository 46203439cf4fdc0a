#include "sandboxd/sandbox/workspace_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "sandbox/open_beneath.h"
#include "sandbox/remove_tree.h"
#include "sandboxd/base/ids.h"
#include "sandboxd/os/fd.h"

namespace sandboxd {
namespace {

constexpr std::size_t kMaxPath = 4096;
constexpr std::size_t kMaxComponent = 255;
constexpr std::size_t kMaxEntries = 10000;

std::string join(const std::vector<std::string>& parts, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += (i ? "/" : "") + parts[i];
  return out.empty() ? "." : out;
}

// The errno of a failed resolution or file operation on `path`, as a Status.
Status fs_error(int err, std::string_view path) {
  std::string p(path);
  switch (err) {
    case ENOENT: return Status(Code::kNotFound, "no such file or directory: " + p);
    case ELOOP: return Status(Code::kInvalidArgument, "path contains a symbolic link: " + p);
    case EXDEV: return Status(Code::kInvalidArgument, "path leaves the workspace: " + p);
    case ENOTDIR:
      return Status(Code::kInvalidArgument, "a component of the path is not a directory: " + p);
    case EISDIR: return Status(Code::kConflict, "is a directory: " + p);
    case ENOTEMPTY:
    case EEXIST: return Status(Code::kConflict, "directory not empty: " + p);
    case ENXIO: return Status(Code::kInvalidArgument, "not a regular file: " + p);
    case ENAMETOOLONG: return Status(Code::kInvalidArgument, "path too long: " + p);
    case ENOSPC:
    case EDQUOT: return Status(Code::kUnavailable, "no space left for " + p);
    default: return Status(Code::kInternal, p + ": " + std::strerror(err));
  }
}

std::string type_of(mode_t mode) {
  if (S_ISREG(mode)) return "file";
  if (S_ISDIR(mode)) return "dir";
  if (S_ISLNK(mode)) return "symlink";
  return "other";
}

int64_t mtime_ms(const struct stat& st) {
  return int64_t{st.st_mtim.tv_sec} * 1000 + st.st_mtim.tv_nsec / 1000000;
}

}  // namespace

int open_beneath(int dirfd, const std::string& rel, uint64_t flags, mode_t mode) {
  open_how how{};
  how.flags = flags | O_CLOEXEC;
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  for (int attempt = 0;; ++attempt) {
    long fd = ::syscall(SYS_openat2, dirfd, rel.c_str(), &how, sizeof how);
    if (fd >= 0 || errno != EAGAIN || attempt == 16) return static_cast<int>(fd);
  }
}

Result<std::vector<std::string>> split_workspace_path(std::string_view path, bool allow_root) {
  if (path.size() > kMaxPath) return Status(Code::kInvalidArgument, "path: too long");
  if (path.find('\0') != std::string_view::npos)
    return Status(Code::kInvalidArgument, "path: must not contain NUL");
  if (!path.empty() && path.front() == '/')
    return Status(Code::kInvalidArgument, "path: must be relative to the workspace");
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  std::vector<std::string> parts;
  if (path.empty() || path == ".") {
    if (allow_root) return parts;
    return Status(Code::kInvalidArgument, "path: must name a file below the workspace");
  }
  std::size_t start = 0;
  while (start <= path.size()) {
    auto slash = path.find('/', start);
    std::string_view part = path.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (part.empty() || part == "." || part == "..")
      return Status(Code::kInvalidArgument, "path: empty, '.' and '..' components are not allowed");
    if (part.size() > kMaxComponent)
      return Status(Code::kInvalidArgument, "path: a component is too long");
    parts.emplace_back(part);
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return parts;
}

WorkspaceFiles::WorkspaceFiles(std::string root, int64_t max_file_bytes)
    : root_(std::move(root)), max_file_bytes_(max_file_bytes) {}

Result<int> WorkspaceFiles::open_workspace(const std::string& id) {
  // The workspaces root and its entries are root's: only the tree below is the tenant's.
  std::string dir = root_ + "/" + id;
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status(Code::kNotFound, "sandbox " + id + " has no workspace");
    return fs_error(errno, "workspace");
  }
  return fd;
}

Result<int> WorkspaceFiles::open_existing(const std::string& id, std::string_view path,
                                          bool allow_root, struct stat* st) {
  auto parts = split_workspace_path(path, allow_root);
  if (!parts) return parts.error();
  auto ws = open_workspace(id);
  if (!ws) return ws.error();
  Fd root(*ws);
  Fd fd(open_beneath(root.get(), join(*parts, parts->size()), O_RDONLY | O_NONBLOCK | O_NOCTTY));
  if (fd.get() < 0) return fs_error(errno, path);
  if (::fstat(fd.get(), st) != 0) return fs_error(errno, path);
  return fd.release();
}

Result<FileNode> WorkspaceFiles::get(const std::string& id, std::string_view path) {
  struct stat st {};
  auto opened = open_existing(id, path, /*allow_root=*/true, &st);
  if (!opened) return opened.error();
  Fd fd(*opened);
  FileNode node;
  node.type = type_of(st.st_mode);
  node.size = st.st_size;
  node.mtime_ms = mtime_ms(st);
  if (S_ISDIR(st.st_mode)) {
    DIR* dir = ::fdopendir(::dup(fd.get()));
    if (!dir) return fs_error(errno, path);
    while (dirent* e = ::readdir(dir)) {
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      if (node.entries.size() == kMaxEntries) {
        node.truncated = true;
        break;
      }
      struct stat est {};
      if (::fstatat(fd.get(), e->d_name, &est, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone
      node.entries.push_back({e->d_name, type_of(est.st_mode), est.st_size, mtime_ms(est)});
    }
    ::closedir(dir);
    std::sort(node.entries.begin(), node.entries.end(),
              [](const FileEntry& a, const FileEntry& b) { return a.name < b.name; });
    return node;
  }
  if (!S_ISREG(st.st_mode))
    return Status(Code::kInvalidArgument, "not a regular file or directory: " + std::string(path));
  if (st.st_size > max_file_bytes_) {
    return Status(Code::kTooLarge, std::string(path) + " is larger than the files API limit of " +
                                       std::to_string(max_file_bytes_) + " bytes");
  }
  // Read at most one byte past the limit: a file growing meanwhile is still bounded.
  node.content.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  for (;;) {
    if (got == node.content.size()) {
      if (static_cast<int64_t>(got) > max_file_bytes_) break;
      node.content.resize(got + 65536);
    }
    ssize_t n = ::read(fd.get(), node.content.data() + got, node.content.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fs_error(errno, path);
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  node.content.resize(got);
  if (static_cast<int64_t>(got) > max_file_bytes_) {
    return Status(Code::kTooLarge, std::string(path) + " is larger than the files API limit of " +
                                       std::to_string(max_file_bytes_) + " bytes");
  }
  node.size = static_cast<int64_t>(got);
  return node;
}

Status WorkspaceFiles::put(const std::string& id, std::string_view path, std::string_view content,
                           bool append) {
  auto parts = split_workspace_path(path, /*allow_root=*/false);
  if (!parts) return parts.error();
  if (static_cast<int64_t>(content.size()) > max_file_bytes_) {
    return Status(Code::kTooLarge, "content is larger than the files API limit of " +
                                       std::to_string(max_file_bytes_) + " bytes");
  }
  auto ws = open_workspace(id);
  if (!ws) return ws.error();
  Fd dir(*ws);
  // What is created belongs to the workspace's owner: the sandbox's own uid and gid.
  struct stat owner {};
  if (::fstat(dir.get(), &owner) != 0) return fs_error(errno, "workspace");
  const uid_t uid = owner.st_uid;
  const gid_t gid = owner.st_gid;
  // Parents: each made (owned by the sandbox user) if missing, then entered beneath the
  // previous one, so a symlink planted at any level stops the walk.
  for (std::size_t i = 0; i + 1 < parts->size(); ++i) {
    const std::string& name = (*parts)[i];
    if (::mkdirat(dir.get(), name.c_str(), 0755) == 0) {
      ::fchownat(dir.get(), name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW);
    } else if (errno != EEXIST) {
      return fs_error(errno, join(*parts, i + 1));
    }
    Fd next(open_beneath(dir.get(), name, O_RDONLY | O_DIRECTORY));
    if (next.get() < 0) return fs_error(errno, join(*parts, i + 1));
    dir = std::move(next);
  }
  const std::string& leaf = parts->back();
  if (append) {
    Fd fd(
        open_beneath(dir.get(), leaf, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_NOCTTY, 0644));
    if (fd.get() < 0) return fs_error(errno, path);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return fs_error(errno, path);
    if (!S_ISREG(st.st_mode))
      return Status(Code::kInvalidArgument, "not a regular file: " + std::string(path));
    if (st.st_size + static_cast<int64_t>(content.size()) > max_file_bytes_) {
      return Status(Code::kTooLarge, std::string(path) +
                                         " would grow past the files API limit of " +
                                         std::to_string(max_file_bytes_) + " bytes");
    }
    if (st.st_uid != uid && ::fchown(fd.get(), uid, gid) != 0) return fs_error(errno, path);
    if (!write_all(fd.get(), content)) return fs_error(errno, path);
    return {};
  }
  mode_t mode = 0644;
  struct stat existing {};
  if (::fstatat(dir.get(), leaf.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISDIR(existing.st_mode)) return fs_error(EISDIR, path);
    if (S_ISLNK(existing.st_mode)) return fs_error(ELOOP, path);
    if (!S_ISREG(existing.st_mode))
      return Status(Code::kInvalidArgument, "not a regular file: " + std::string(path));
    mode = existing.st_mode & 07777;
  }
  // A private temporary name in the same directory, renamed over the target: readers
  // see the old or the new content, never a mix. rename replaces a symlink, never
  // writes through it.
  std::string tmp = ".sandboxed-tmp-" + random_hex(8);
  Fd fd(
      ::openat(dir.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.get() < 0) return fs_error(errno, path);
  bool ok = write_all(fd.get(), content) && ::fchown(fd.get(), uid, gid) == 0 &&
            ::fchmod(fd.get(), mode) == 0;
  int err = errno;
  if (ok && ::renameat(dir.get(), tmp.c_str(), dir.get(), leaf.c_str()) == 0) return {};
  if (ok) err = errno;
  ::unlinkat(dir.get(), tmp.c_str(), 0);
  return fs_error(err, path);
}

Result<std::string> WorkspaceFiles::read_from(const std::string& id, std::string_view path,
                                              int64_t offset, std::size_t max, int64_t* size,
                                              int64_t* mtime) {
  struct stat st {};
  auto opened = open_existing(id, path, /*allow_root=*/false, &st);
  if (!opened) return opened.error();
  Fd fd(*opened);
  if (!S_ISREG(st.st_mode))
    return Status(Code::kInvalidArgument, "not a regular file: " + std::string(path));
  if (size) *size = st.st_size;
  if (mtime) *mtime = mtime_ms(st);
  std::string out(max, '\0');
  std::size_t got = 0;
  while (got < max) {
    ssize_t n = ::pread(fd.get(), out.data() + got, max - got, offset + static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fs_error(errno, path);
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  return out;
}

Status WorkspaceFiles::remove(const std::string& id, std::string_view path) {
  return remove_entry(id, path, /*tree=*/false);
}

Status WorkspaceFiles::remove_tree(const std::string& id, std::string_view path) {
  return remove_entry(id, path, /*tree=*/true);
}

Result<std::vector<std::string>> WorkspaceFiles::workspace_ids() {
  DIR* dir = ::opendir(root_.c_str());
  if (!dir) return fs_error(errno, root_);
  std::vector<std::string> out;
  while (dirent* e = ::readdir(dir)) {
    auto id = normalize_id(e->d_name);
    if (id && *id == e->d_name) out.push_back(*id);
  }
  ::closedir(dir);
  return out;
}

Status WorkspaceFiles::remove_entry(const std::string& id, std::string_view path, bool tree) {
  auto parts = split_workspace_path(path, /*allow_root=*/false);
  if (!parts) return parts.error();
  auto ws = open_workspace(id);
  if (!ws) return ws.error();
  Fd root(*ws);
  Fd parent(open_beneath(root.get(), join(*parts, parts->size() - 1), O_RDONLY | O_DIRECTORY));
  if (parent.get() < 0) return fs_error(errno, path);
  const std::string& leaf = parts->back();
  struct stat st {};
  if (::fstatat(parent.get(), leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return fs_error(errno, path);
  const bool dir = S_ISDIR(st.st_mode);
  if (dir && tree) {
    Fd below(::openat(parent.get(), leaf.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (below.get() < 0) return fs_error(errno, path);
    int64_t freed = 0;
    if (auto s = remove_all_below(below.get(), freed); !s.is_ok())
      return s.with_context("remove " + std::string(path));
  }
  if (::unlinkat(parent.get(), leaf.c_str(), dir ? AT_REMOVEDIR : 0) != 0)
    return fs_error(errno, path);
  return {};
}

}  // namespace sandboxd
