// `sandbox-run proc DIR --timeout N -- CMD...`: one background process, detached from
// sandboxd (started with `docker exec --detach`), so it keeps running while sandboxd
// restarts; it ends with the container. It reports through files in DIR, which sandboxd
// reads from the host side:
//   pid          the command's pid, which is also its process group id; its mtime is
//                touched every 5 s while this runner lives (sandboxd's liveness check)
//   stdout.log   its stdout, and stderr.log its stderr, each rotated to .1 past 1 MiB
//   exit.json    written last (atomically): exit_code (null when killed), signal,
//                timed_out, and signalled (the signal sandboxd asked for, or "")
// sandboxd asks for a signal by writing its name (TERM, INT, HUP, KILL) to the file
// `signal`, polled every 100 ms and removed once sent; TERM becomes KILL after 5 s. N > 0
// is a deadline: SIGTERM, then SIGKILL 5 s later. The command's stdin is /dev/null, and
// stragglers left in its group are killed when it exits.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "supervisor/files.h"
#include "supervisor/read_file.h"
#include "supervisor/rotating_log.h"
#include "supervisor/sandbox_run.h"

namespace sandboxd {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr auto kKillGrace = std::chrono::seconds(5);
constexpr auto kDrainFor = std::chrono::milliseconds(500);  // output after the exit
constexpr auto kHeartbeat = std::chrono::seconds(5);        // the pid file's mtime

int usage() {
  std::fprintf(stderr, "usage: sandbox-run proc DIR --timeout SECONDS -- CMD...\n");
  return 2;
}

int signal_named(const std::string& name) {
  if (name == "TERM") return SIGTERM;
  if (name == "INT") return SIGINT;
  if (name == "HUP") return SIGHUP;
  if (name == "KILL") return SIGKILL;
  return 0;
}

// Copies what is in the pipe to the log; false once the pipe is closed.
bool pump(int fd, Log& log) {
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      log.write(buf, static_cast<std::size_t>(n));
      continue;
    }
    return n < 0 && (errno == EAGAIN || errno == EINTR);
  }
}

}  // namespace

int run_proc(int argc, char** argv) {
  if (argc < 7 || std::strcmp(argv[3], "--timeout") != 0 || std::strcmp(argv[5], "--") != 0)
    return usage();
  const std::string dir = argv[2];
  char* end = nullptr;
  const long timeout_s = std::strtol(argv[4], &end, 10);
  if (*end != '\0' || timeout_s < 0) return usage();
  std::vector<char*> args(argv + 6, argv + argc);
  args.push_back(nullptr);
  ::signal(SIGHUP, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);

  // The parent of DIR (~/.sandboxed/procs) may not exist yet.
  std::string parent = dir.substr(0, dir.rfind('/'));
  ::mkdir(parent.c_str(), 0700);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    std::perror("sandbox-run proc: mkdir");
    return 1;
  }
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    std::perror("sandbox-run proc: pipe");
    return 1;
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    ::signal(SIGHUP, SIG_DFL);
    ::signal(SIGPIPE, SIG_DFL);
    int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    ::execvp(args[0], args.data());
    dprintf(2, "sandbox-run: exec %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (pid < 0) {
    std::perror("sandbox-run proc: fork");
    return 1;
  }
  ::setpgid(pid, pid);
  write_atomically(dir, "pid", std::to_string(pid) + "\n");
  Log out(dir + "/stdout.log"), err(dir + "/stderr.log");
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  for (auto& p : fds) ::fcntl(p.fd, F_SETFL, O_NONBLOCK);

  std::optional<SteadyClock::time_point> deadline;
  if (timeout_s > 0) deadline = SteadyClock::now() + std::chrono::seconds(timeout_s);
  std::optional<SteadyClock::time_point> kill_at;
  bool timed_out = false;
  std::string signalled;
  int status = 0;
  const std::string pid_file = dir + "/pid";
  auto next_beat = SteadyClock::now() + kHeartbeat;
  for (;;) {
    ::poll(fds, 2, 100);
    for (int i = 0; i < 2; ++i)
      if (fds[i].fd >= 0 && !pump(fds[i].fd, i == 0 ? out : err)) fds[i].fd = -1;
    if (::waitpid(pid, &status, WNOHANG) == pid) break;
    auto now = SteadyClock::now();
    if (now >= next_beat) {
      ::utimensat(AT_FDCWD, pid_file.c_str(), nullptr, AT_SYMLINK_NOFOLLOW);
      next_beat = now + kHeartbeat;
    }
    if (auto asked = read_file(dir + "/signal")) {
      ::unlink((dir + "/signal").c_str());
      std::string name = asked->substr(0, asked->find_first_of(" \r\n"));
      if (int sig = signal_named(name)) {
        signalled = name;
        ::kill(-pid, sig);
        ::kill(-pid, SIGCONT);
        if (sig == SIGTERM && !kill_at) kill_at = now + kKillGrace;
      }
    }
    if (!kill_at && deadline && now >= *deadline) {
      timed_out = true;
      ::kill(-pid, SIGTERM);
      kill_at = now + kKillGrace;
    }
    if (kill_at && now >= *kill_at) ::kill(-pid, SIGKILL);
  }
  ::kill(-pid, SIGKILL);  // what it left running in its group
  // What is left in the pipes; a process outside the group may keep them open.
  auto drain_until = SteadyClock::now() + kDrainFor;
  while ((fds[0].fd >= 0 || fds[1].fd >= 0) && SteadyClock::now() < drain_until) {
    ::poll(fds, 2, 50);
    for (int i = 0; i < 2; ++i)
      if (fds[i].fd >= 0 && !pump(fds[i].fd, i == 0 ? out : err)) fds[i].fd = -1;
  }
  nlohmann::json result = {
      {"exit_code", WIFEXITED(status) ? nlohmann::json(WEXITSTATUS(status)) : nlohmann::json()},
      {"signal", WIFSIGNALED(status) ? WTERMSIG(status) : 0},
      {"timed_out", timed_out},
      {"signalled", signalled}};
  write_atomically(dir, "exit.json", result.dump());
  return 0;
}

}  // namespace sandboxd
