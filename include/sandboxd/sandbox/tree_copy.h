// Whole-tree copy and removal for workspace snapshots, restores and forks, done as root
// on the host against trees a tenant wrote. Descriptor-relative throughout: a symlink
// in a source tree is copied as a link and never followed, nothing is written through
// a symlink in a destination, and entries are examined with fstatat(AT_SYMLINK_NOFOLLOW)
// or on the descriptor they were opened as. A walk holds at most two descriptors per
// directory level and refuses trees deeper than kMaxTreeDepth. Thread-safe (no shared
// state); each call blocks for as long as its tree takes.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "sandboxd/base/status.h"

namespace sandboxd {

// Directory levels below the root a walk enters; a deeper tree is an error (kConflict).
inline constexpr int kMaxTreeDepth = 256;

struct TreeCopyOptions {
  std::set<std::string> exclude_top = {};  // names directly under `from` that are not copied
  std::optional<uid_t> owner = {};         // every copied entry to owner:owner; else the source's
  // The copy stops with kCapacity once the copied files' allocated bytes pass this (hard
  // links are copied as separate files, so a tree's copy may outgrow the tree).
  std::optional<int64_t> max_allocated = {};
};

struct TreeCopyStats {
  int64_t bytes = 0;      // sum of the copied regular files' sizes (apparent, holes included)
  int64_t allocated = 0;  // sum of their allocated bytes (st_blocks * 512: holes excluded)
  int64_t files = 0;      // regular files copied
  int64_t reflinked = 0;  // of those, cloned with FICLONE rather than copied
};

// Copies the tree below directory `from` into the existing directory `to`, whose own
// metadata is left alone. Regular files are cloned with FICLONE where the file system
// allows, else copied with copy_file_range (read/write across file systems), keeping
// holes. Copies keep their atime, mtime and uid:gid (owner:owner with opts.owner), files
// and directories their mode without setuid/setgid, symlinks their target text. Hard
// links become separate files; FIFOs, sockets and devices are skipped. Errors name the
// entry's path relative to `from`: kConflict when an entry already exists in `to` (a
// symlink there included), when `to` lies inside `from`, when the tree is too deep, or
// when `from` or `to` is not a directory; kNotFound when one is missing; kUnavailable when
// the destination is out of space; else kInternal. On error what was copied so far stays
// in `to`. `from` must not change meanwhile.
Result<TreeCopyStats> copy_tree(const std::string& from, const std::string& to,
                                const TreeCopyOptions& opts);

// Removes everything below directory `dir` except the entries directly under it named in
// `keep`. Never follows a symlink; descriptors stay bounded however deep the tree.
Status clear_tree(const std::string& dir, const std::set<std::string>& keep);

// Removes directory `dir` and everything below it, as clear_tree does; ok when `dir` does
// not exist, kConflict when it is not a directory (a symlink included).
Status remove_tree(const std::string& dir);

// The sum of the sizes of the regular files below directory `dir` (symlinks not followed).
// kConflict for a tree deeper than kMaxTreeDepth.
Result<int64_t> tree_bytes(const std::string& dir);

}  // namespace sandboxd
