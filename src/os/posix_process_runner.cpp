#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "sandboxd/os/process_runner.h"
#include "sandboxd/os/spawn.h"

extern char** environ;

namespace sandboxd {
namespace {

struct Pipe {
  int fds[2] = {-1, -1};
  ~Pipe() {
    for (int fd : fds)
      if (fd >= 0) ::close(fd);
  }
  void close_end(int i) {
    if (fds[i] >= 0) ::close(fds[i]);
    fds[i] = -1;
  }
};

bool make_pipe(Pipe& p) { return ::pipe2(p.fds, O_CLOEXEC) == 0; }

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

Result<pid_t> spawn_in_own_group(const std::vector<std::string>& args, int stdin_fd, int stdout_fd,
                                 int stderr_fd) {
  if (args.empty()) return Status(Code::kInvalidArgument, "empty argv");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, stdin_fd, 0);
  posix_spawn_file_actions_adddup2(&fa, stdout_fd, 1);
  posix_spawn_file_actions_adddup2(&fa, stderr_fd, 2);
  // The daemon's sockets (cpp-httplib does not mark them close-on-exec) must not leak
  // into children, which may outlive a crashed daemon and keep its port bound.
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);  // the daemon blocks signals; the child must not
  sigset_t dfl;
  sigemptyset(&dfl);
  sigaddset(&dfl, SIGPIPE);
  sigaddset(&dfl, SIGTERM);
  sigaddset(&dfl, SIGINT);
  posix_spawnattr_setsigdefault(&attr, &dfl);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return Status(rc == ENOENT ? Code::kUnavailable : Code::kInternal,
                  "spawn " + args[0] + ": " + std::strerror(rc));
  }
  return pid;
}

Result<ProcessOutput> PosixProcessRunner::run(const ProcessSpec& spec) {
  if (spec.argv.empty()) return Status(Code::kInvalidArgument, "empty argv");
  Pipe in, out, err;
  if (!make_pipe(in) || !make_pipe(out) || !make_pipe(err)) {
    return Status(Code::kInternal, std::string("pipe: ") + std::strerror(errno));
  }
  auto start = std::chrono::steady_clock::now();
  auto spawned = spawn_in_own_group(spec.argv, in.fds[0], out.fds[1], err.fds[1]);
  if (!spawned) return spawned.error();
  const pid_t pid = *spawned;
  in.close_end(0);
  out.close_end(1);
  err.close_end(1);

  ProcessOutput result;
  std::size_t written = 0;
  if (spec.stdin_data.empty())
    in.close_end(1);
  else
    ::fcntl(in.fds[1], F_SETFL, O_NONBLOCK);
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
      fds[nfds++] = {out.fds[0], POLLIN, 0};
    }
    if (err_open) {
      err_i = static_cast<int>(nfds);
      fds[nfds++] = {err.fds[0], POLLIN, 0};
    }
    if (in.fds[1] >= 0) {
      in_i = static_cast<int>(nfds);
      fds[nfds++] = {in.fds[1], POLLOUT, 0};
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    int pr = ::poll(fds, nfds, static_cast<int>(std::min<long long>(left + 1, 1000)));
    if (pr < 0 && errno != EINTR) break;
    if (pr <= 0) continue;
    if (out_i >= 0 && fds[out_i].revents)
      out_open =
          drain(out.fds[0], result.stdout_data, spec.max_output_bytes, result.stdout_truncated);
    if (err_i >= 0 && fds[err_i].revents)
      err_open =
          drain(err.fds[0], result.stderr_data, spec.max_output_bytes, result.stderr_truncated);
    if (in_i >= 0 && fds[in_i].revents) {
      ssize_t n =
          ::write(in.fds[1], spec.stdin_data.data() + written, spec.stdin_data.size() - written);
      if (n > 0) written += static_cast<std::size_t>(n);
      if (n < 0 && errno != EAGAIN && errno != EINTR) in.close_end(1);
      if (written >= spec.stdin_data.size()) in.close_end(1);
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
