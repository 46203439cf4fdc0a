// A log file that sandbox-init appends to and rotates (to NAME.1) past kLogMaxBytes, so
// what a sandbox's own processes print costs at most 2 MiB of its disk per log: the dev
// server's dev.log and a background process's stdout.log and stderr.log.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <string>
#include <string_view>

#include "sandboxd/os/fd.h"

namespace sandboxd {

inline constexpr off_t kLogMaxBytes = 1 << 20;

class Log {
 public:
  explicit Log(std::string path) : path_(std::move(path)) {}
  ~Log() {
    if (fd_ >= 0) ::close(fd_);
  }
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // Appends to the log, rotating it past kLogMaxBytes.
  void write(const char* data, std::size_t n) {
    if (fd_ < 0) open();
    if (fd_ < 0) return;
    struct stat sb {};
    if (::fstat(fd_, &sb) == 0 && sb.st_size + static_cast<off_t>(n) > kLogMaxBytes) {
      ::close(fd_);
      ::rename(path_.c_str(), (path_ + ".1").c_str());
      open();
      if (fd_ < 0) return;
    }
    write_all(fd_, std::string_view(data, n));
  }
  // One line stamped with the time (UTC) and `who`.
  void line(const std::string& text, const char* who = "sandbox-init") {
    char stamp[32];
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    std::string s = std::string("[") + who + " " + stamp + "] " + text + "\n";
    write(s.data(), s.size());
  }

 private:
  void open() {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  }
  std::string path_;
  int fd_ = -1;
};

}  // namespace sandboxd
