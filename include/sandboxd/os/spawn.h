// The one way sandboxd starts a child process: fork and execvp of an argv (never a
// shell) in a new process group (so the whole group can be killed), with default signal
// dispositions, an empty signal mask, only fds 0-2 inherited, and a parent-death signal
// (SIGKILL), so no child outlives sandboxd, even one killed with SIGKILL (the signal
// reaches the direct child; a grandchild goes with its group on timeout or destruction).
//
// The parent-death signal fires when the *thread* that spawned the child ends, not only
// the process. That is safe because every child lives within its spawning thread's call:
// ProcessRunner::run reaps its child before it returns (HTTP connection threads, wake
// threads, timer threads, the task follower all call it synchronously), and a
// LineProcess (the `docker events` feed) is spawned, read and destroyed on the event
// watcher's thread, and a PipedProcess (a streamed exec, a terminal) on the HTTP
// connection thread that serves it, for the stream's whole life. Keep it so: neither may
// outlive the thread that spawned it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sandboxd/base/status.h"
#include "sandboxd/os/fd.h"

namespace sandboxd {

// Spawns args with the given fds as its stdin/stdout/stderr; returns its pid (which is
// also its process group id) once the program runs. kUnavailable when the program does
// not exist, kInternal when it cannot be run otherwise. Blocks until exec; thread-safe.
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
  LineProcess(pid_t pid, Fd fd) : pid_(pid), fd_(std::move(fd)) {}
  pid_t pid_;
  Fd fd_;
  std::string buf_;
};

// A long-running child with a pipe on each of stdin, stdout and stderr, whose output is
// read as it comes (streamed exec, the terminal). Its stdout and stderr read ends are
// non-blocking, for the caller to poll. The destructor closes its stdin, gives it up to
// `grace` to exit by itself, then kills its process group and reaps it. Not thread-safe;
// as any child, it must not outlive the thread that spawned it.
class PipedProcess {
 public:
  static Result<std::unique_ptr<PipedProcess>> spawn(const std::vector<std::string>& args,
                                                     std::chrono::milliseconds grace);
  ~PipedProcess();
  PipedProcess(const PipedProcess&) = delete;
  PipedProcess& operator=(const PipedProcess&) = delete;

  int stdout_fd() const { return out_.get(); }
  int stderr_fd() const { return err_.get(); }
  // Its stdin's write end (non-blocking; -1 once closed), to poll for POLLOUT.
  int stdin_fd() const { return in_.get(); }
  // Writes what its stdin takes now of `data` without blocking: the bytes written (0
  // when the pipe is full), nullopt once it is closed or broken.
  std::optional<std::size_t> write_stdin(std::string_view data);
  void close_stdin() { in_.reset(); }
  // Its exit status (128+signal when killed) once it exited, reaping it; nullopt while it
  // runs. Waits up to `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout);

 private:
  PipedProcess(pid_t pid, Fd in, Fd out, Fd err, std::chrono::milliseconds grace)
      : pid_(pid), in_(std::move(in)), out_(std::move(out)), err_(std::move(err)), grace_(grace) {}
  pid_t pid_;
  Fd in_, out_, err_;
  std::chrono::milliseconds grace_;
  std::optional<int> status_;
};

}  // namespace sandboxd
