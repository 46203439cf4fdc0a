// The symlink-proof tree removal shared by Workspaces and WorkspaceFiles (private to
// sandbox/; defined in workspaces.cpp).
#pragma once

#include <cstdint>

#include "sandboxd/base/status.h"

namespace sandboxd {

// Empties the directory `dir_fd`, however deep its tree, adding the allocated bytes of
// what it removes to `freed`. Never follows a symlink: entries are examined with
// fstatat(AT_SYMLINK_NOFOLLOW) and directories opened with O_NOFOLLOW. At most about 32
// descriptors are open at once (deeper subtrees are moved up into dir_fd and removed in
// a later pass).
Status remove_all_below(int dir_fd, int64_t& freed);

}  // namespace sandboxd
