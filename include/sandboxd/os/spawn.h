// The one way sandboxd starts a child process: posix_spawnp of an argv (never a shell)
// in a new process group (so the whole group can be killed), with default signal
// dispositions and only fds 0-2 inherited.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sandboxd/base/status.h"

namespace sandboxd {

// Spawns args with the given fds as its stdin/stdout/stderr; returns its pid (which is
// also its process group id). kUnavailable when the program does not exist.
Result<pid_t> spawn_in_own_group(const std::vector<std::string>& args, int stdin_fd, int stdout_fd,
                                 int stderr_fd);

// A long-running child whose stdout is read line by line (e.g. `docker events`). The
// destructor kills its process group and reaps it. Not thread-safe.
class LineProcess {
 public:
  static Result<std::unique_ptr<LineProcess>> spawn(const std::vector<std::string>& args);
  ~LineProcess();
  LineProcess(const LineProcess&) = delete;
  LineProcess& operator=(const LineProcess&) = delete;

  // The next line (without its newline), waiting up to `timeout`: nullopt on timeout,
  // kUnavailable once the child closed its stdout (it exited). Lines over 1 MiB are cut,
  // over 2 MiB dropped.
  Result<std::optional<std::string>> next_line(std::chrono::milliseconds timeout);

 private:
  LineProcess(pid_t pid, int fd) : pid_(pid), fd_(fd) {}
  pid_t pid_;
  int fd_;
  std::string buf_;
};

}  // namespace sandboxd
