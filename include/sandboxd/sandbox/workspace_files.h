// WorkspaceFiles: the files API's file system work inside one sandbox's workspace, done
// as root on the host against a tree the tenant controls. Every path is resolved by the
// kernel beneath the workspace's directory fd with openat2(RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV), one component chain
// at a time, so no symlink is followed at any component, `..` cannot climb out, and a
// symlink swapped in mid-operation makes it fail rather than redirect it. FIFOs, sockets
// and devices are refused (opened O_NONBLOCK, checked with fstat). What it creates is
// owned by the workspace directory's owner (the sandbox's uid and gid). Thread-safe.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sandboxd/base/status.h"

namespace sandboxd {

struct FileEntry {
  std::string name;
  std::string type;  // file | dir | symlink | other
  int64_t size = 0;
  int64_t mtime_ms = 0;
};

struct FileNode {
  std::string type;  // file | dir
  int64_t size = 0;
  int64_t mtime_ms = 0;
  std::string content;             // a file's bytes
  std::vector<FileEntry> entries;  // a directory's entries, sorted by name
  bool truncated = false;          // more entries than the listing cap
};

// Splits a workspace-relative path into components (pure). "" and "." name the
// workspace itself when `allow_root`; absolute paths, "..", ".", empty components (but
// a trailing "/"), NUL and over-long paths are kInvalidArgument.
Result<std::vector<std::string>> split_workspace_path(std::string_view path, bool allow_root);

class WorkspaceFiles {
 public:
  // `root` holds one directory per sandbox id; files over `max_file_bytes` are refused.
  WorkspaceFiles(std::string root, int64_t max_file_bytes);

  // A directory's listing or a regular file's content. kNotFound when absent,
  // kInvalidArgument for a symlink anywhere on the path or a special file, kTooLarge
  // for a file over the limit.
  Result<FileNode> get(const std::string& id, std::string_view path);
  // Writes `content` to the file atomically (a temporary file renamed over it; an
  // existing regular file's mode is kept) or appends to it; missing parent directories
  // are created. kConflict when the target is a directory; kInvalidArgument when it is a
  // symlink or a special file (nothing is replaced or written through).
  Status put(const std::string& id, std::string_view path, std::string_view content, bool append);
  // Up to `max` bytes of a regular file from `offset` (fewer at its end), resolved as
  // safely as get(). For tailing a file the tenant could tamper with. `size` and
  // `mtime_ms`, when given, get the file's size and modification time.
  Result<std::string> read_from(const std::string& id, std::string_view path, int64_t offset,
                                std::size_t max, int64_t* size = nullptr,
                                int64_t* mtime_ms = nullptr);
  // Removes a file, a symlink (itself) or an empty directory. kConflict for a non-empty
  // directory; the workspace itself cannot be removed.
  Status remove(const std::string& id, std::string_view path);
  // Removes a directory with everything below it (or a file, or a symlink itself),
  // never following a symlink inside it. kNotFound when absent.
  Status remove_tree(const std::string& id, std::string_view path);
  // The ids that have a workspace: the root's entries named like ids (the root and its
  // entries are sandboxd's, not a tenant's).
  Result<std::vector<std::string>> workspace_ids();

 private:
  Result<int> open_workspace(const std::string& id);
  // An existing path beneath the workspace, opened read-only and non-blocking (so a FIFO
  // cannot hang it), with its fstat in *st. The caller closes the descriptor.
  Result<int> open_existing(const std::string& id, std::string_view path, bool allow_root,
                            struct stat* st);
  // remove() (`tree` false) or remove_tree() (`tree` true).
  Status remove_entry(const std::string& id, std::string_view path, bool tree);
  std::string root_;
  int64_t max_file_bytes_;
};

}  // namespace sandboxd
