// `sandbox-run exec --timeout N -- CMD...`: one command of a streamed exec, attached to
// sandboxd through `docker exec -i`. The command's stdout and stderr are this process's
// (no copy); its stdin is /dev/null. This process watches its own stdin instead: sandboxd
// holds it open for as long as the caller listens, and closing it (the caller went away,
// or sandboxd or its docker CLI died, which makes the engine close it) ends the command:
// SIGTERM to its process group, SIGKILL 2 s later. N > 0 is a deadline: SIGTERM, SIGKILL
// 5 s later, and exit status 124 (as GNU timeout). Otherwise the exit status is the
// command's (128+signal when killed); stragglers left in its group are killed.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "supervisor/sandbox_run.h"

namespace sandboxd {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr auto kHangupGrace = std::chrono::seconds(2);
constexpr auto kTimeoutGrace = std::chrono::seconds(5);

int usage() {
  std::fprintf(stderr, "usage: sandbox-run exec --timeout SECONDS -- CMD...\n");
  return 2;
}

}  // namespace

int run_exec(int argc, char** argv) {
  if (argc < 6 || std::strcmp(argv[2], "--timeout") != 0 || std::strcmp(argv[4], "--") != 0)
    return usage();
  char* end = nullptr;
  const long timeout_s = std::strtol(argv[3], &end, 10);
  if (*end != '\0' || timeout_s < 0) return usage();
  std::vector<char*> args(argv + 5, argv + argc);
  args.push_back(nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::execvp(args[0], args.data());
    dprintf(2, "sandbox-run: exec %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  if (pid < 0) {
    std::perror("sandbox-run exec: fork");
    return 1;
  }
  ::setpgid(pid, pid);
  ::close(1);  // the command's copy is what the caller reads; this one would keep it open
  ::close(2);

  std::optional<SteadyClock::time_point> deadline;
  if (timeout_s > 0) deadline = SteadyClock::now() + std::chrono::seconds(timeout_s);
  std::optional<SteadyClock::time_point> kill_at;
  bool stdin_open = true, timed_out = false;
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    auto now = SteadyClock::now();
    if (!kill_at && deadline && now >= *deadline) {
      timed_out = true;
      ::kill(-pid, SIGTERM);
      kill_at = now + kTimeoutGrace;
    }
    if (kill_at && now >= *kill_at) ::kill(-pid, SIGKILL);
    pollfd p{0, POLLIN, 0};
    if (::poll(&p, stdin_open ? 1 : 0, 100) > 0) {
      char buf[4096];
      ssize_t n = ::read(0, buf, sizeof buf);
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
        stdin_open = false;
        ::kill(-pid, SIGTERM);
        ::kill(-pid, SIGCONT);  // a stopped group would never see the TERM
        if (!kill_at) kill_at = SteadyClock::now() + kHangupGrace;
      }
    }
  }
  ::kill(-pid, SIGKILL);
  if (timed_out) return 124;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace sandboxd
