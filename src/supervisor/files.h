// Small file helpers shared by sandbox-init's modes (task-run, sandbox-run proc).
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "sandboxd/os/fd.h"

namespace sandboxd {

inline bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// Writes `data` to dir/name via a temporary file and rename: readers never see half.
inline bool write_atomically(const std::string& dir, const std::string& name,
                             const std::string& data) {
  std::string tmp = dir + "/." + name + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return false;
  bool ok = write_all(fd, data);
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  return ok && ::rename(tmp.c_str(), (dir + "/" + name).c_str()) == 0;
}

}  // namespace sandboxd
