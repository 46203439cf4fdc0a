#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "sandboxd/os/fd.h"
#include "sandboxd/os/process_runner.h"
#include "sandboxd/os/spawn.h"

namespace sandboxd {
namespace {

// A close-on-exec pipe: [0] reads, [1] writes.
using Pipe = Fd[2];

bool make_pipe(Pipe& p) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return false;
  p[0].reset(fds[0]);
  p[1].reset(fds[1]);
  return true;
}

// Appends what is readable on fd to out up to cap; returns false at EOF or error.
bool drain(int fd, std::string& out, std::size_t cap, bool& truncated) {
  char buf[16384];
  ssize_t n = ::read(fd, buf, sizeof buf);
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (n == 0) return false;
  std::size_t room = cap > out.size() ? cap - out.size() : 0;
  std::size_t take = std::min(room, static_cast<std::size_t>(n));
  out.append(buf, take);
  if (take < static_cast<std::size_t>(n)) truncated = true;
  return true;
}

}  // namespace

Result<ProcessOutput> PosixProcessRunner::run(const ProcessSpec& spec) {
  if (spec.argv.empty()) return Status(Code::kInvalidArgument, "empty argv");
  Pipe in, out, err;
  if (!make_pipe(in) || !make_pipe(out) || !make_pipe(err)) {
    return Status(Code::kInternal, std::string("pipe: ") + std::strerror(errno));
  }
  auto start = std::chrono::steady_clock::now();
  auto spawned = spawn_in_own_group(spec.argv, in[0].get(), out[1].get(), err[1].get());
  if (!spawned) return spawned.error();
  const pid_t pid = *spawned;
  in[0].reset();
  out[1].reset();
  err[1].reset();

  ProcessOutput result;
  std::size_t written = 0;
  if (spec.stdin_data.empty())
    in[1].reset();
  else
    ::fcntl(in[1].get(), F_SETFL, O_NONBLOCK);
  bool out_open = true, err_open = true;
  auto deadline = start + spec.timeout;
  while (out_open || err_open) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      result.timed_out = true;
      ::kill(-pid, SIGKILL);
      break;
    }
    pollfd fds[3];
    nfds_t nfds = 0;
    int out_i = -1, err_i = -1, in_i = -1;
    if (out_open) {
      out_i = static_cast<int>(nfds);
      fds[nfds++] = {out[0].get(), POLLIN, 0};
    }
    if (err_open) {
      err_i = static_cast<int>(nfds);
      fds[nfds++] = {err[0].get(), POLLIN, 0};
    }
    if (in[1].ok()) {
      in_i = static_cast<int>(nfds);
      fds[nfds++] = {in[1].get(), POLLOUT, 0};
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    int pr = ::poll(fds, nfds, static_cast<int>(std::min<long long>(left + 1, 1000)));
    if (pr < 0 && errno != EINTR) break;
    if (pr <= 0) continue;
    if (out_i >= 0 && fds[out_i].revents)
      out_open =
          drain(out[0].get(), result.stdout_data, spec.max_output_bytes, result.stdout_truncated);
    if (err_i >= 0 && fds[err_i].revents)
      err_open =
          drain(err[0].get(), result.stderr_data, spec.max_output_bytes, result.stderr_truncated);
    if (in_i >= 0 && fds[in_i].revents) {
      ssize_t n =
          ::write(in[1].get(), spec.stdin_data.data() + written, spec.stdin_data.size() - written);
      if (n > 0) written += static_cast<std::size_t>(n);
      if (n < 0 && errno != EAGAIN && errno != EINTR) in[1].reset();
      if (written >= spec.stdin_data.size()) in[1].reset();
    }
  }
  // The pipes are closed, but the child may still run (e.g. it closed its outputs):
  // keep enforcing the deadline while waiting for it.
  int wstatus = 0;
  auto nap = std::chrono::microseconds(50);  // an exiting child is reaped within microseconds
  for (;;) {
    pid_t r = ::waitpid(pid, &wstatus, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) break;
    if (r == 0 && std::chrono::steady_clock::now() >= deadline && !result.timed_out) {
      result.timed_out = true;
      ::kill(-pid, SIGKILL);
    }
    if (r == 0) {
      std::this_thread::sleep_for(nap);
      nap = std::min(nap * 2, std::chrono::microseconds(5000));
    }
  }
  if (result.timed_out) ::kill(-pid, SIGKILL);  // grandchildren still holding the group
  if (WIFEXITED(wstatus))
    result.exit_code = WEXITSTATUS(wstatus);
  else if (WIFSIGNALED(wstatus))
    result.exit_code = 128 + WTERMSIG(wstatus);
  result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  return result;
}

}  // namespace sandboxd
