// sandbox-init: the in-sandbox supervisor, the container's command under docker's
// --init (tini reaps orphans as PID 1 and forwards signals here). It runs the app's dev
// server (see app_spec.h), restarts it with backoff for as long as the sandbox runs,
// starts it as soon as an app appears, writes its output to a size-capped log, keeps
// ~/.sandboxed/app.json (see app_status.h) up to date on every change of the app's state,
// restarts the app at once on SIGHUP, and on SIGTERM stops it and exits within a couple of
// seconds, so `docker stop` is quick.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include "sandboxd/os/fd.h"
#include "supervisor/app_spec.h"
#include "supervisor/app_status.h"
#include "supervisor/pty_runner.h"
#include "supervisor/read_file.h"
#include "supervisor/rotating_log.h"
#include "supervisor/sandbox_run.h"
#include "supervisor/task_runner.h"

extern char** environ;

namespace sandboxd {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kStableRun = std::chrono::seconds(30);  // a run this long resets the backoff
constexpr auto kMaxBackoff = std::chrono::seconds(30);
constexpr auto kAppPoll = std::chrono::seconds(2);    // how often to look for an app
constexpr auto kStopGrace = std::chrono::seconds(3);  // SIGTERM to SIGKILL, on stop and SIGHUP
constexpr auto kStartingCheck = std::chrono::milliseconds(100);  // does the port listen yet?
constexpr auto kListeningCheck = std::chrono::seconds(2);        // does it still listen?
constexpr const char* kDefaultEnvFile = "/run/sandboxed/env";

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string getenv_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

// app.json: rewritten (a temp file in the same directory, renamed over it, mode 0600)
// whenever the state differs from the one last written.
class StateFile {
 public:
  explicit StateFile(std::string path) : path_(std::move(path)) {}
  // Writes `s`, stamped with the time, unless it is the state last written; a failed
  // write is tried again on the next call.
  void publish(AppStatus s) {
    s.updated_at = 0;
    std::string unstamped = render_app_status(s);
    if (unstamped == written_) return;
    s.updated_at = unix_ms();
    std::string tmp = path_ + ".tmp";
    ::unlink(tmp.c_str());
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    bool ok = fd.ok() && write_all(fd.get(), render_app_status(s) + "\n");
    fd.reset();
    if (!ok || ::rename(tmp.c_str(), path_.c_str()) != 0) {
      ::unlink(tmp.c_str());
      return;
    }
    written_ = std::move(unstamped);
  }
  // The next publish writes even an unchanged state (after SIGHUP: sandboxd may have
  // removed the file).
  void rewrite() { written_.clear(); }

 private:
  std::string path_;
  std::string written_;  // the last state written, unstamped
};

// Whether `port` listens in this network namespace (the sandbox's), at any address.
bool listens(int port) {
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    if (port_listens(read_file(table).value_or(""), port)) return true;
  }
  return false;
}

// Copies what the app wrote, as far as it is in the pipe now, to the log; true at its end.
bool pump(int fd, Log& log) {
  char buf[16384];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) log.write(buf, static_cast<std::size_t>(n));
  return n == 0;
}

struct Child {
  pid_t pid = -1;
  int out_fd = -1;  // read end of the child's stdout+stderr
  Clock::time_point started;
};

// Starts `app` in its own process group with `extra_env` (the env file's records).
Child spawn(const AppSpec& app, const std::map<std::string, std::string>& extra_env, Log& log) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {};
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return {};
  }
  if (pid == 0) {
    ::setpgid(0, 0);  // its own group: stop and restart reach every process it starts
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    if (::chdir(app.cwd.c_str()) != 0) {
      std::fprintf(stderr, "sandbox-init: cannot enter %s: %s\n", app.cwd.c_str(),
                   std::strerror(errno));
      _exit(126);
    }
    // The app's env, each layer winning over the ones before: the container's (inherited),
    // the env file's (the sandbox's env as sandboxd last wrote it), PORT and HOST (so the
    // port it listens on is the one watched), then the manifest's "env".
    for (const auto& [k, v] : extra_env) ::setenv(k.c_str(), v.c_str(), 1);
    ::setenv("PORT", std::to_string(app.port).c_str(), 1);
    ::setenv("HOST", "0.0.0.0", 1);
    for (const auto& [k, v] : app.env) ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv;
    for (const auto& a : app.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    std::fprintf(stderr, "sandbox-init: cannot run %s: %s\n", argv[0], std::strerror(errno));
    _exit(127);
  }
  ::close(fds[1]);
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  std::string cmd;
  for (const auto& a : app.argv) cmd += (cmd.empty() ? "" : " ") + a;
  log.line("started (" + app.source + ", port " + std::to_string(app.port) + ", pid " +
           std::to_string(pid) + "): " + cmd);
  return {pid, fds[0], Clock::now()};
}

int run() {
  const std::string home = getenv_or("HOME", "/home/sandbox");
  const std::string app_dir = getenv_or("SANDBOXED_APP_DIR", home + "/workspace/app");
  const std::vector<int> ports = parse_ports(getenv_or("SANDBOXED_PORTS", ""));
  const std::string env_file = getenv_or("SANDBOXED_ENV_FILE", kDefaultEnvFile);
  const std::string log_dir = home + "/.sandboxed/logs";
  ::mkdir((home + "/.sandboxed").c_str(), 0700);
  ::mkdir(log_dir.c_str(), 0700);
  Log log(log_dir + "/dev.log");
  StateFile state_file(home + "/.sandboxed/app.json");

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  sigaddset(&mask, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &mask, nullptr);
  int sfd = ::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

  Child child;
  AppStatus status;  // what app.json says; published at the top of every round
  bool started_once = false;
  auto backoff = std::chrono::seconds(1);
  Clock::time_point next_start = Clock::now();
  Clock::time_point next_port_check;
  std::string last_error;
  bool stopping = false;
  Clock::time_point stop_deadline;
  bool restarting = false;  // SIGHUP: the app was told to stop, to be started again at once
  Clock::time_point restart_deadline;
  // Nothing is published before the first look for an app: sandboxd removes app.json
  // before a start, and waits (wait_for_app) for this run's first real word.
  bool looked = false;

  for (;;) {
    if (looked) state_file.publish(status);
    bool urgent = status.phase == AppPhase::kStarting || restarting;
    pollfd fds[2] = {{sfd, POLLIN, 0}, {child.out_fd, POLLIN, 0}};
    ::poll(fds, child.out_fd >= 0 ? 2 : 1, !looked ? 0 : urgent ? 100 : 500);
    const Clock::time_point now = Clock::now();
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo si{};
      while (::read(sfd, &si, sizeof si) == sizeof si) {
        if ((si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) && !stopping) {
          stopping = true;
          stop_deadline = now + kStopGrace;
          if (child.pid > 0) ::kill(-child.pid, SIGTERM);
        } else if (si.ssi_signo == SIGHUP && !stopping) {
          log.line("SIGHUP: restarting the dev server");
          state_file.rewrite();
          backoff = std::chrono::seconds(1);
          if (child.pid <= 0) {
            next_start = now;  // look for an app now, or end a crashed one's backoff
          } else if (!restarting) {
            status.phase = AppPhase::kStarting;  // the old run's state is not reported again
            restarting = true;
            restart_deadline = now + kStopGrace;
            ::kill(-child.pid, SIGTERM);
          }
        }
      }
    }
    if (child.out_fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP)) && pump(child.out_fd, log)) {
      ::close(child.out_fd);
      child.out_fd = -1;
    }
    // Reap everything (tini hands us nothing else, but a dev server's own children may be
    // re-parented to us when it dies).
    int wstatus = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &wstatus, WNOHANG)) > 0) {
      if (pid != child.pid) continue;
      auto ran = now - child.started;
      std::string how = WIFEXITED(wstatus)
                            ? "exited with " + std::to_string(WEXITSTATUS(wstatus))
                            : "killed by signal " + std::to_string(WTERMSIG(wstatus));
      if (child.pid > 0) ::kill(-child.pid, SIGKILL);  // leftovers of its group
      child.pid = -1;
      status.pid = 0;
      status.started_at = 0;
      if (stopping) break;
      if (restarting) {
        // Asked for, so not a crash: last_exit stays that of the last crash.
        restarting = false;
        next_start = now;
        log.line("dev server " + how + "; starting it again");
        continue;
      }
      backoff = ran >= kStableRun ? std::chrono::seconds(1)
                                  : std::min(backoff * 2, std::chrono::seconds(kMaxBackoff));
      next_start = now + backoff;
      status.phase = AppPhase::kCrashed;
      status.exit_code.reset();
      status.exit_signal.reset();
      if (WIFEXITED(wstatus)) {
        status.exit_code = WEXITSTATUS(wstatus);
      } else {
        status.exit_signal = WTERMSIG(wstatus);
      }
      status.last_exit_at = unix_ms();
      log.line("dev server " + how + "; restarting in " + std::to_string(backoff.count()) + " s");
    }
    if (stopping) {
      if (child.pid <= 0 || now >= stop_deadline) {
        if (child.pid > 0) ::kill(-child.pid, SIGKILL);
        log.line("stopped");
        status.phase = AppPhase::kNone;
        status.port = 0;
        status.pid = 0;
        status.started_at = 0;
        status.reason = "the sandbox stopped";
        state_file.publish(status);
        return 0;
      }
      continue;
    }
    if (restarting && now >= restart_deadline) {
      ::kill(-child.pid, SIGKILL);
      restart_deadline = Clock::time_point::max();
    }
    if (child.pid > 0 && now >= next_port_check) {
      bool up = listens(status.port);
      status.phase = up ? AppPhase::kListening : AppPhase::kStarting;
      next_port_check = now + (up ? Clock::duration(kListeningCheck) : kStartingCheck);
    }
    if (child.pid <= 0 && now >= next_start) {
      std::string error;
      // The env file (rewritten by sandboxd when a pooled container becomes a sandbox) may
      // name the sandbox's ports; the container's own env is the fallback.
      const auto file_env = parse_env_records(read_file(env_file).value_or(""));
      const auto named = file_env.find("SANDBOXED_PORTS");
      auto app = resolve_app(app_dir, read_file(app_dir + "/" + kManifestName),
                             read_file(app_dir + "/package.json"),
                             named == file_env.end() ? ports : parse_ports(named->second), &error);
      looked = true;
      if (!error.empty() && error != last_error) log.line("not starting: " + error);
      last_error = error;
      if (!app) {
        status.phase = AppPhase::kNone;
        status.port = 0;
        status.reason = error.empty() ? "" : "not starting: " + error;
        next_start = now + kAppPoll;  // an app may appear later (an agent writes it)
        continue;
      }
      if (child.out_fd >= 0) {
        pump(child.out_fd, log);  // the last words of the one before
        ::close(child.out_fd);
      }
      child = spawn(*app, file_env, log);
      if (child.pid <= 0) {
        status.phase = AppPhase::kNone;
        status.port = 0;
        status.reason = "cannot start the dev server: pipe or fork failed";
        next_start = now + backoff;
        continue;
      }
      // Every start after the first counts as a restart: after a crash, after SIGHUP, and
      // when an app appears again after there was none.
      if (started_once) ++status.restarts;
      started_once = true;
      status.phase = AppPhase::kStarting;
      status.port = app->port;
      status.pid = child.pid;
      status.started_at = unix_ms();
      status.reason.clear();
      next_port_check = Clock::now();
    }
  }
}

}  // namespace
}  // namespace sandboxd

int main(int argc, char** argv) {
  const char* name = std::strrchr(argv[0], '/');
  name = name ? name + 1 : argv[0];
  const char* mode = argc > 1 ? argv[1] : "";
  if (std::strcmp(name, "sandbox-run") == 0) {
    if (std::strcmp(mode, "proc") == 0) return sandboxd::run_proc(argc, argv);
    if (std::strcmp(mode, "exec") == 0 || std::strcmp(mode, "pty") == 0) {
      // The caller reads this before any output of the command (sandbox_run.h).
      if (!sandboxd::write_all(1, std::string_view(&sandboxd::kSandboxRunReady, 1))) return 1;
      return mode[0] == 'e' ? sandboxd::run_exec(argc, argv) : sandboxd::run_pty(argc, argv);
    }
    std::fprintf(stderr, "sandbox-run: unknown mode '%s' (exec, proc, pty)\n", mode);
    return 2;
  }
  if (std::strcmp(mode, "task-run") == 0) return sandboxd::run_task(argc, argv);
  if (argc > 1) {
    std::fprintf(stderr, "sandbox-init: unknown mode '%s' (none runs the supervisor)\n", mode);
    return 2;
  }
  return sandboxd::run();
}
