#include "sandboxd/sandbox/tree_copy.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "sandbox/remove_tree.h"
#include "sandboxd/os/fd.h"

namespace sandboxd {
namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
// What the read/write fallback moves per call.
constexpr std::size_t kCopyBuffer = 1 << 20;

Code code_of(int err) {
  if (err == EEXIST) return Code::kConflict;
  if (err == ENOSPC || err == EDQUOT) return Code::kUnavailable;
  return Code::kInternal;
}

// `op` failed with `err` on the entry at `rel` (relative to the walk's root).
Status entry_error(int err, const std::string& rel, const char* op) {
  return Status(code_of(err), std::string(op) + ": " + std::strerror(err))
      .with_context(rel.empty() ? "." : rel);
}

Status too_deep(const std::string& rel) {
  return Status(Code::kConflict, "deeper than " + std::to_string(kMaxTreeDepth) + " levels")
      .with_context(rel);
}

// A trailing slash would make O_NOFOLLOW follow a symlink at the last component.
std::string without_trailing_slashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

Result<Fd> open_root(const std::string& path) {
  Fd fd(::open(path.c_str(), kDirFlags));
  if (fd.ok()) return fd;
  const int err = errno;
  if (err == ELOOP || err == ENOTDIR) return Status(Code::kConflict, path + " is not a directory");
  return Status(err == ENOENT ? Code::kNotFound : Code::kInternal,
                "open " + path + ": " + std::strerror(err));
}

struct DirCloser {
  void operator()(DIR* dir) const { ::closedir(dir); }
};
using DirStream = std::unique_ptr<DIR, DirCloser>;

// A stream over the directory `fd` (which it takes over; dirfd() gives it back for
// *at calls, so a level of a walk costs one descriptor).
Result<DirStream> open_stream(Fd fd, const std::string& rel) {
  DIR* dir = ::fdopendir(fd.get());
  if (!dir) return entry_error(errno, rel, "read directory");
  fd.release();
  return DirStream(dir);
}

bool is_dot(const char* name) {
  return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

// The next entry other than . and ..; nullptr at the end, with errno 0 unless reading failed.
dirent* next_entry(DIR* dir) {
  for (;;) {
    errno = 0;
    dirent* entry = ::readdir(dir);
    if (!entry || !is_dot(entry->d_name)) return entry;
  }
}

// The DT_* type of `name`, from readdir when it knows (one fstatat otherwise).
unsigned char type_of(int dirfd, const dirent& e) {
  if (e.d_type != DT_UNKNOWN) return e.d_type;
  struct stat st {};
  if (::fstatat(dirfd, e.d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) return DT_UNKNOWN;
  return IFTODT(st.st_mode);
}

class TreeCopier {
 public:
  TreeCopier(const TreeCopyOptions& opts, const struct stat& to) : opts_(opts), to_(to) {}

  // Copies the entries of the directory `src` (taken over) into the directory `dst`.
  Status copy_dir(Fd src, int dst, int depth) {
    auto dir = open_stream(std::move(src), rel_);
    if (!dir) return dir.error();
    const int sfd = ::dirfd(dir->get());
    const std::size_t base = rel_.size();
    while (dirent* e = next_entry(dir->get())) {
      rel_.resize(base);
      rel_.append(base ? "/" : "").append(e->d_name);
      if (depth == 0 && opts_.exclude_top.count(e->d_name)) continue;
      Status s;
      switch (type_of(sfd, *e)) {
        case DT_REG: s = copy_file(sfd, e->d_name, dst); break;
        case DT_DIR: s = copy_subdir(sfd, e->d_name, dst, depth + 1); break;
        case DT_LNK: s = copy_link(sfd, e->d_name, dst); break;
        default: break;  // FIFOs, sockets and devices are not copied
      }
      if (!s.is_ok()) return s;
    }
    if (errno != 0) return entry_error(errno, rel_.substr(0, base), "read directory");
    rel_.resize(base);
    return {};
  }

  TreeCopyStats stats;

 private:
  Status copy_subdir(int sfd, const char* name, int dst, int depth) {
    if (depth > kMaxTreeDepth) return too_deep(rel_);
    Fd in(::openat(sfd, name, kDirFlags));
    struct stat st {};
    if (!in.ok()) return entry_error(errno, rel_, "open");
    if (::fstat(in.get(), &st) != 0) return entry_error(errno, rel_, "stat");
    if (st.st_dev == to_.st_dev && st.st_ino == to_.st_ino)
      return Status(Code::kConflict, "is the destination").with_context(rel_);
    // Private until its entries are in; its own mode and times come last.
    if (::mkdirat(dst, name, 0700) != 0) return entry_error(errno, rel_, "mkdir");
    Fd out(::openat(dst, name, kDirFlags));
    if (!out.ok()) return entry_error(errno, rel_, "open copy");
    if (auto s = copy_dir(std::move(in), out.get(), depth); !s.is_ok()) return s;
    return finish(out.get(), st);
  }

  Status copy_file(int sfd, const char* name, int dst) {
    // O_NONBLOCK: should a FIFO have taken the file's place, the open does not hang.
    Fd in(::openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    struct stat st {};
    if (!in.ok()) return entry_error(errno, rel_, "open");
    if (::fstat(in.get(), &st) != 0) return entry_error(errno, rel_, "stat");
    if (!S_ISREG(st.st_mode)) return {};
    const int64_t allocated = static_cast<int64_t>(st.st_blocks) * 512;
    if (opts_.max_allocated && stats.allocated + allocated > *opts_.max_allocated)
      return Status(Code::kCapacity, "the copy would pass its limit of " +
                                         std::to_string(*opts_.max_allocated) + " bytes")
          .with_context(rel_);
    Fd out(::openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out.ok()) return entry_error(errno, rel_, "create");
    if (auto s = copy_contents(in.get(), out.get(), st); !s.is_ok()) return s;
    if (auto s = finish(out.get(), st); !s.is_ok()) return s;
    ++stats.files;
    stats.bytes += st.st_size;
    stats.allocated += allocated;
    return {};
  }

  Status copy_link(int sfd, const char* name, int dst) {
    struct stat st {};
    if (::fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
      return entry_error(errno, rel_, "stat");
    char target[PATH_MAX];
    ssize_t n = ::readlinkat(sfd, name, target, sizeof target);
    if (n < 0) return entry_error(errno, rel_, "readlink");
    if (static_cast<std::size_t>(n) == sizeof target)
      return entry_error(ENAMETOOLONG, rel_, "readlink");
    target[n] = '\0';
    if (::symlinkat(target, dst, name) != 0) return entry_error(errno, rel_, "symlink");
    if (::fchownat(dst, name, uid(st), gid(st), AT_SYMLINK_NOFOLLOW) != 0)
      return entry_error(errno, rel_, "chown");
    const struct timespec times[2] = {st.st_atim, st.st_mtim};
    if (::utimensat(dst, name, times, AT_SYMLINK_NOFOLLOW) != 0)
      return entry_error(errno, rel_, "set times");
    return {};
  }

  // Fills `out` (new and empty) with the contents of `in`, keeping holes.
  Status copy_contents(int in, int out, const struct stat& st) {
    if (st.st_size == 0) return {};
    if (clone_ok_) {
      if (::ioctl(out, FICLONE, in) == 0) {
        ++stats.reflinked;
        return {};
      }
      // The file system cannot clone at all (rather than this one file): stop asking.
      if (errno == EOPNOTSUPP || errno == ENOTTY || errno == EXDEV || errno == ENOSYS)
        clone_ok_ = false;
    }
    if (st.st_blocks * 512 >= st.st_size) return copy_range(in, out, 0, st.st_size);
    // Sparse: only the data extents are copied into a file of the full size.
    if (::ftruncate(out, st.st_size) != 0) return entry_error(errno, rel_, "truncate");
    for (off_t pos = 0; pos < st.st_size;) {
      const off_t data = ::lseek(in, pos, SEEK_DATA);
      if (data < 0 && errno == ENXIO) break;  // only a hole is left
      const off_t hole = data < 0 ? -1 : ::lseek(in, data, SEEK_HOLE);
      if (hole < 0) return entry_error(errno, rel_, "seek");
      if (auto s = copy_range(in, out, data, hole - data); !s.is_ok()) return s;
      pos = hole;
    }
    return {};
  }

  // Copies `len` bytes at `off` of `in` to the same offset of `out` (less if `in` ends).
  Status copy_range(int in, int out, off_t off, off_t len) {
    loff_t in_off = off;
    loff_t out_off = off;
    while (len > 0) {
      ssize_t n = -1;
      if (copy_range_ok_) {
        n = ::copy_file_range(in, &in_off, out, &out_off, static_cast<std::size_t>(len), 0);
        if (n < 0 &&
            (errno == EXDEV || errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL)) {
          copy_range_ok_ = false;  // e.g. across file systems: read and write from now on
          continue;
        }
      } else {
        n = copy_through_buffer(in, &in_off, out, &out_off, len);
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return entry_error(errno, rel_, "copy");
      if (n == 0) break;
      len -= n;
    }
    return {};
  }

  ssize_t copy_through_buffer(int in, loff_t* in_off, int out, loff_t* out_off, off_t len) {
    if (!buffer_) buffer_ = std::make_unique<char[]>(kCopyBuffer);
    const auto want = static_cast<std::size_t>(std::min<off_t>(len, kCopyBuffer));
    const ssize_t got = ::pread(in, buffer_.get(), want, *in_off);
    if (got <= 0) return got;
    for (ssize_t done = 0; done < got;) {
      const ssize_t n = ::pwrite(out, buffer_.get() + done, got - done, *out_off + done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return -1;
      done += n;
    }
    *in_off += got;
    *out_off += got;
    return got;
  }

  // Owner, mode and times of `st` onto the copy `fd`. Setuid and setgid bits go: a
  // tenant's file must not become a privileged program on the host or in another sandbox.
  Status finish(int fd, const struct stat& st) {
    if (::fchown(fd, uid(st), gid(st)) != 0) return entry_error(errno, rel_, "chown");
    if (::fchmod(fd, st.st_mode & (S_ISVTX | 0777)) != 0) return entry_error(errno, rel_, "chmod");
    const struct timespec times[2] = {st.st_atim, st.st_mtim};
    if (::futimens(fd, times) != 0) return entry_error(errno, rel_, "set times");
    return {};
  }

  uid_t uid(const struct stat& st) const { return opts_.owner ? *opts_.owner : st.st_uid; }
  gid_t gid(const struct stat& st) const { return opts_.owner ? *opts_.owner : st.st_gid; }

  const TreeCopyOptions& opts_;
  const struct stat to_;
  std::string rel_;  // the entry being copied, relative to the source root
  bool clone_ok_ = true;
  bool copy_range_ok_ = true;
  std::unique_ptr<char[]> buffer_;  // for the read/write fallback, made on first use
};

Status sum_bytes(Fd dirfd, int depth, std::string& rel, int64_t& bytes) {
  auto dir = open_stream(std::move(dirfd), rel);
  if (!dir) return dir.error();
  const int fd = ::dirfd(dir->get());
  const std::size_t base = rel.size();
  while (dirent* e = next_entry(dir->get())) {
    rel.resize(base);
    rel.append(base ? "/" : "").append(e->d_name);
    const unsigned char type = type_of(fd, *e);
    if (type == DT_REG) {
      struct stat st {};
      if (::fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return entry_error(errno, rel, "stat");
      if (S_ISREG(st.st_mode)) bytes += st.st_size;
    } else if (type == DT_DIR) {
      if (depth + 1 > kMaxTreeDepth) return too_deep(rel);
      Fd child(::openat(fd, e->d_name, kDirFlags));
      if (!child.ok()) return entry_error(errno, rel, "open");
      if (auto s = sum_bytes(std::move(child), depth + 1, rel, bytes); !s.is_ok()) return s;
    }
  }
  if (errno != 0) return entry_error(errno, rel.substr(0, base), "read directory");
  rel.resize(base);
  return {};
}

// Removes the entry `name` of `dirfd`, a directory with everything below it.
Status remove_entry(int dirfd, const std::string& name) {
  struct stat st {};
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return errno == ENOENT ? Status() : entry_error(errno, name, "stat");
  if (S_ISDIR(st.st_mode)) {
    Fd child(::openat(dirfd, name.c_str(), kDirFlags));
    if (!child.ok()) return entry_error(errno, name, "open");
    int64_t freed = 0;
    if (auto s = remove_all_below(child.get(), freed); !s.is_ok()) return s.with_context(name);
  }
  if (::unlinkat(dirfd, name.c_str(), S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) != 0 &&
      errno != ENOENT)
    return entry_error(errno, name, "remove");
  return {};
}

}  // namespace

Result<TreeCopyStats> copy_tree(const std::string& from, const std::string& to,
                                const TreeCopyOptions& opts) {
  auto src = open_root(without_trailing_slashes(from));
  if (!src) return src.error();
  auto dst = open_root(without_trailing_slashes(to));
  if (!dst) return dst.error();
  struct stat src_st {};
  struct stat dst_st {};
  if (::fstat(src->get(), &src_st) != 0 || ::fstat(dst->get(), &dst_st) != 0)
    return Status(Code::kInternal, "stat " + from + " or " + to + ": " + std::strerror(errno));
  if (src_st.st_dev == dst_st.st_dev && src_st.st_ino == dst_st.st_ino)
    return Status(Code::kConflict, "copy " + from + " onto itself");
  TreeCopier copier(opts, dst_st);
  if (auto s = copier.copy_dir(std::move(*src), dst->get(), 0); !s.is_ok())
    return s.with_context("copy " + from + " to " + to);
  return copier.stats;
}

Status clear_tree(const std::string& dir, const std::set<std::string>& keep) {
  auto fd = open_root(without_trailing_slashes(dir));
  if (!fd) return fd.error();
  auto stream = open_stream(std::move(*fd), dir);
  if (!stream) return stream.error();
  // Names first: the directory is not changed while it is read.
  std::vector<std::string> doomed;
  while (dirent* e = next_entry(stream->get())) {
    if (!keep.count(e->d_name)) doomed.emplace_back(e->d_name);
  }
  if (errno != 0) return entry_error(errno, dir, "read directory");
  for (const auto& name : doomed) {
    if (auto s = remove_entry(::dirfd(stream->get()), name); !s.is_ok())
      return s.with_context("clear " + dir);
  }
  return {};
}

Status remove_tree(const std::string& dir) {
  const std::string path = without_trailing_slashes(dir);
  auto fd = open_root(path);
  if (!fd) return fd.error().code() == Code::kNotFound ? Status() : fd.error();
  int64_t freed = 0;
  if (auto s = remove_all_below(fd->get(), freed); !s.is_ok())
    return s.with_context("remove " + path);
  fd->reset();
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT)
    return Status(code_of(errno), "remove " + path + ": " + std::strerror(errno));
  return {};
}

Result<int64_t> tree_bytes(const std::string& dir) {
  auto fd = open_root(without_trailing_slashes(dir));
  if (!fd) return fd.error();
  int64_t bytes = 0;
  std::string rel;
  if (auto s = sum_bytes(std::move(*fd), 0, rel, bytes); !s.is_ok())
    return s.with_context("size of " + dir);
  return bytes;
}

}  // namespace sandboxd
