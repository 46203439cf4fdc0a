// Reading a small file inside the sandbox, for sandbox-init's modes.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <optional>
#include <string>

namespace sandboxd {

// The file's first MiB, never through a symlink at its last component; nullopt when it
// cannot be opened.
inline std::optional<std::string> read_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return std::nullopt;
  std::string out;
  char buf[8192];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0 && out.size() < (1 << 20))
    out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

}  // namespace sandboxd
