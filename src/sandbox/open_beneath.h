// The one symlink-safe path walker of sandbox/ (private; defined in workspace_files.cpp),
// shared by WorkspaceFiles and Workspaces::read_tail.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace sandboxd {

// Opens `rel` (components joined by '/') beneath the directory `dirfd` with
// openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)
// and O_CLOEXEC added to `flags`: no symlink is followed at any component and `..` cannot
// climb out. -1 with errno on failure (ELOOP for a symlink, EXDEV for an escape). EAGAIN
// (a concurrent rename the kernel could not rule out) is retried.
int open_beneath(int dirfd, const std::string& rel, uint64_t flags, mode_t mode = 0);

}  // namespace sandboxd
