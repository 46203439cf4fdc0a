// A sandbox's identity inside its container: its own uid (and gid), named `sandbox` with
// home /home/sandbox in an /etc/passwd and /etc/group that sandboxd writes per sandbox
// and mounts read-only over the image's, so tools (whoami, npm, git, ssh) see a normal
// user while no two sandboxes, and no host account, share the uid.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "sandboxd/base/status.h"

namespace sandboxd {

// The files' contents for `uid` (pure): root, nobody and sandbox (uid:uid).
std::string identity_passwd(int64_t uid);
std::string identity_group(int64_t uid);

// The sandbox's env as an env file's records: "KEY=VALUE\0" each (values may hold
// newlines), the format sandbox-init reads (parse_env_records).
std::string env_records(const std::map<std::string, std::string>& env);

// Writes <dir>/<id>/passwd and group (root-owned, mode 0644) and <dir>/<id>/run/env (the
// sandbox's env: owned by `uid`, mode 0400), each replaced atomically. <dir>/<id>/run is
// mounted read-only at /run/sandboxed, so a rewrite shows in a running container.
Status write_identity(const std::string& dir, const std::string& id, int64_t uid,
                      const std::map<std::string, std::string>& env);
// Removes <dir>/<id>; ok when absent.
Status remove_identity(const std::string& dir, const std::string& id);

}  // namespace sandboxd
