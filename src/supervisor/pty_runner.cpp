// `sandbox-run pty`: runs a command (a login shell) on a new pseudo-terminal, for the
// terminal route. The command is a session leader with the terminal as its controlling
// tty and stdin/stdout/stderr.
//   stdin   frames from sandboxd (include/sandboxd/os/pty_frames.h): input bytes are
//           written to the terminal, a resize sets its window size (the kernel then
//           signals SIGWINCH to the foreground group)
//   stdout  the terminal's output, raw
//   stderr  this program's own errors
// EOF on stdin (sandboxd or the browser went away) or a broken frame hangs the session
// up: SIGHUP to every process of the session, SIGKILL after 2 s. When the command exits,
// what it wrote is drained from the terminal and its status becomes ours.
#include "supervisor/pty_runner.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sandboxd/os/fd.h"
#include "sandboxd/os/pty_frames.h"

namespace sandboxd {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;
constexpr auto kKillGrace = std::chrono::seconds(2);
// After the command exits: how long the terminal may stay quiet, and how long draining
// may take at most, while a straggler still holds it open.
constexpr milliseconds kDrainQuiet{100};
constexpr auto kDrainMax = std::chrono::seconds(1);
constexpr std::size_t kMaxPendingInput = 256 * 1024;  // stdin is not read beyond it
constexpr milliseconds kTick{100};                    // how often the child is reaped

struct Options {
  unsigned short cols = 80;
  unsigned short rows = 24;
  std::vector<char*> argv;  // null-terminated
};

std::optional<unsigned short> parse_size(const char* s) {
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < 1 || v > 65535) return std::nullopt;
  return static_cast<unsigned short>(v);
}

// argv[1] is the mode ("pty"); options follow until "--", then the command.
std::optional<Options> parse_args(int argc, char** argv) {
  Options o;
  int i = 2;
  for (; i + 1 < argc && std::strcmp(argv[i], "--") != 0; i += 2) {
    auto v = parse_size(argv[i + 1]);
    if (!v) return std::nullopt;
    if (std::strcmp(argv[i], "--cols") == 0) {
      o.cols = *v;
    } else if (std::strcmp(argv[i], "--rows") == 0) {
      o.rows = *v;
    } else {
      return std::nullopt;
    }
  }
  if (i + 1 >= argc || std::strcmp(argv[i], "--") != 0) return std::nullopt;
  o.argv.assign(argv + i + 1, argv + argc);
  o.argv.push_back(nullptr);
  return o;
}

// In the forked child: a new session whose controlling tty is the terminal `slave`.
[[noreturn]] void exec_on_terminal(int slave, const Options& o) {
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGPIPE, SIG_DFL);
  ::signal(SIGHUP, SIG_DFL);
  winsize ws{};
  ws.ws_col = o.cols;
  ws.ws_row = o.rows;
  if (::setsid() < 0 || ::ioctl(slave, TIOCSCTTY, 0) != 0 || ::ioctl(slave, TIOCSWINSZ, &ws) != 0) {
    dprintf(2, "sandbox-run pty: set up the terminal: %s\n", std::strerror(errno));
    _exit(1);
  }
  ::dup2(slave, 0);
  ::dup2(slave, 1);
  ::dup2(slave, 2);
  ::execvp(o.argv[0], o.argv.data());
  dprintf(2, "sandbox-run pty: exec %s: %s\n", o.argv[0], std::strerror(errno));
  _exit(127);
}

// Sends `sig` to every process of session `sid`: its groups, including jobs a shell
// moved out of the leader's group.
void signal_session(pid_t sid, int sig) {
  ::kill(-sid, sig);
  DIR* d = ::opendir("/proc");
  if (!d) return;
  while (dirent* e = ::readdir(d)) {
    pid_t pid = static_cast<pid_t>(std::strtol(e->d_name, nullptr, 10));
    if (pid > 0 && ::getsid(pid) == sid) ::kill(pid, sig);
  }
  ::closedir(d);
}

// Writes all of `data` to `fd`, waiting while a non-blocking `fd` is full.
bool write_fully(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, -1);
      continue;
    }
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

int exit_status(int wstatus) {
  if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
  return WEXITSTATUS(wstatus);
}

// The parent's side: pumps stdin frames to the terminal and its output to stdout until
// the command has exited and the terminal is drained.
class PtySession {
 public:
  PtySession(int master, pid_t child) : master_(master), child_(child) {}

  int run() {
    while (!done()) {
      std::vector<pollfd> fds;
      if (stdin_open_ && pending_.size() < kMaxPendingInput) fds.push_back({0, POLLIN, 0});
      if (master_open_) {
        short events = pending_.empty() ? POLLIN : POLLIN | POLLOUT;
        fds.push_back({master_, events, 0});
      }
      int n = ::poll(fds.data(), fds.size(), static_cast<int>(timeout().count()));
      if (n < 0 && errno != EINTR) {
        std::perror("sandbox-run pty: poll");
        hang_up();
      }
      if (n == 0 && status_) master_open_ = false;  // quiet after the exit: drained
      for (const pollfd& p : fds) {
        if (n <= 0 || p.revents == 0) continue;
        if (p.fd == 0) read_stdin();
        if (p.fd == master_ && (p.revents & POLLOUT)) flush_input();
        if (p.fd == master_ && (p.revents & ~POLLOUT)) read_master();
      }
      tick();
    }
    return exit_status(*status_);
  }

 private:
  bool done() const { return status_ && (!master_open_ || SteadyClock::now() >= *drain_until_); }

  milliseconds timeout() const {
    if (status_) return kDrainQuiet;
    if (kill_at_) {
      auto left = std::chrono::duration_cast<milliseconds>(*kill_at_ - SteadyClock::now());
      return std::clamp(left, milliseconds(0), kTick);
    }
    return kTick;
  }

  void read_stdin() {
    char buf[65536];
    ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) return hang_up();
    for (PtyFrame& f : decoder_.feed(std::string_view(buf, static_cast<std::size_t>(n)))) {
      if (f.type == kPtyInput) {
        pending_ += f.input;
      } else {
        flush_input();  // input typed before a resize reaches the old size
        winsize ws{};
        ws.ws_col = f.cols;
        ws.ws_row = f.rows;
        ::ioctl(master_, TIOCSWINSZ, &ws);
      }
    }
    if (decoder_.failed()) {
      std::fprintf(stderr, "sandbox-run pty: broken frame on stdin\n");
      hang_up();
    }
    flush_input();
  }

  // Writes what the terminal takes now of the pending input.
  void flush_input() {
    if (!master_open_) pending_.clear();
    while (!pending_.empty()) {
      ssize_t n = ::write(master_, pending_.data(), pending_.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      if (n <= 0) {
        pending_.clear();
        return;
      }
      pending_.erase(0, static_cast<std::size_t>(n));
    }
  }

  void read_master() {
    char buf[65536];
    ssize_t n = ::read(master_, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    // EIO: no process has the terminal open any more.
    if (n <= 0) {
      master_open_ = false;
      return;
    }
    if (!write_fully(1, std::string_view(buf, static_cast<std::size_t>(n)))) hang_up();
  }

  void hang_up() {
    stdin_open_ = false;
    pending_.clear();
    if (kill_at_ || status_) return;
    signal_session(child_, SIGHUP);
    kill_at_ = SteadyClock::now() + kKillGrace;
  }

  // Reaps the command, and kills its session once the grace after a hang-up is over.
  void tick() {
    if (status_) return;
    int wstatus = 0;
    if (::waitpid(child_, &wstatus, WNOHANG) == child_) {
      status_ = wstatus;
      stdin_open_ = false;  // input for a command that is gone
      drain_until_ = SteadyClock::now() + kDrainMax;
    } else if (kill_at_ && SteadyClock::now() >= *kill_at_) {
      signal_session(child_, SIGKILL);
      kill_at_ = SteadyClock::time_point::max();  // sent: now only wait for the exit
    }
  }

  int master_;
  pid_t child_;
  PtyFrameDecoder decoder_;
  std::string pending_;  // input not yet taken by the terminal
  bool stdin_open_ = true;
  bool master_open_ = true;
  std::optional<SteadyClock::time_point> kill_at_;
  std::optional<int> status_;  // the command's wait status, once reaped
  std::optional<SteadyClock::time_point> drain_until_;
};

}  // namespace

int run_pty(int argc, char** argv) {
  auto opts = parse_args(argc, argv);
  if (!opts) {
    std::fprintf(stderr, "usage: sandbox-run pty [--cols C] [--rows R] -- CMD...\n");
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  Fd master(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  char name[128];
  if (!master.ok() || ::grantpt(master.get()) != 0 || ::unlockpt(master.get()) != 0 ||
      ::ptsname_r(master.get(), name, sizeof name) != 0) {
    std::perror("sandbox-run pty: open a terminal");
    return 1;
  }
  // Opened here, not in the child, so the terminal never looks hung up (EIO) before the
  // child has it.
  Fd slave(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!slave.ok()) {
    std::perror("sandbox-run pty: open the terminal's slave");
    return 1;
  }
  pid_t pid = ::fork();
  if (pid == 0) exec_on_terminal(slave.get(), *opts);
  slave.reset();
  if (pid < 0) {
    std::perror("sandbox-run pty: fork");
    return 1;
  }
  ::fcntl(master.get(), F_SETFL, ::fcntl(master.get(), F_GETFL) | O_NONBLOCK);
  return PtySession(master.get(), pid).run();
}

}  // namespace sandboxd
