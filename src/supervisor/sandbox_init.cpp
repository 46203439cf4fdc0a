// sandbox-init: the in-sandbox supervisor, the container's command under docker's
// --init (tini reaps orphans as PID 1 and forwards signals here). It runs the app's dev
// server (see app_spec.h), restarts it with backoff for as long as the sandbox runs,
// starts it as soon as an app appears, writes its output to a size-capped log, and on
// SIGTERM stops it and exits within a couple of seconds, so `docker stop` is quick.
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
#include "supervisor/read_file.h"
#include "supervisor/task_runner.h"

extern char** environ;

namespace sandboxd {
namespace {

using Clock = std::chrono::steady_clock;

constexpr off_t kLogMaxBytes = 1 << 20;                // dev.log is rotated to dev.log.1 past this
constexpr auto kStableRun = std::chrono::seconds(30);  // a run this long resets the backoff
constexpr auto kMaxBackoff = std::chrono::seconds(30);
constexpr auto kAppPoll = std::chrono::seconds(2);  // how often to look for an app
constexpr auto kStopGrace = std::chrono::seconds(3);

std::string getenv_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

class Log {
 public:
  explicit Log(std::string path) : path_(std::move(path)) {}
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
  void line(const std::string& text) {
    char stamp[32];
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    std::string s = std::string("[sandbox-init ") + stamp + "] " + text + "\n";
    write(s.data(), s.size());
  }

 private:
  void open() {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  }
  std::string path_;
  int fd_ = -1;
};

struct Child {
  pid_t pid = -1;
  int out_fd = -1;  // read end of the child's stdout+stderr
  Clock::time_point started;
};

Child spawn(const AppSpec& app, Log& log) {
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
  const std::string log_dir = home + "/.sandboxed/logs";
  ::mkdir((home + "/.sandboxed").c_str(), 0700);
  ::mkdir(log_dir.c_str(), 0700);
  Log log(log_dir + "/dev.log");

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &mask, nullptr);
  int sfd = ::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

  Child child;
  auto backoff = std::chrono::seconds(1);
  Clock::time_point next_start = Clock::now();
  std::string last_error;
  bool stopping = false;
  Clock::time_point stop_deadline;

  for (;;) {
    pollfd fds[2] = {{sfd, POLLIN, 0}, {child.out_fd, POLLIN, 0}};
    ::poll(fds, child.out_fd >= 0 ? 2 : 1, 500);
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo si{};
      while (::read(sfd, &si, sizeof si) == sizeof si) {
        if ((si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) && !stopping) {
          stopping = true;
          stop_deadline = Clock::now() + kStopGrace;
          if (child.pid > 0) ::kill(-child.pid, SIGTERM);
        }
      }
    }
    if (child.out_fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP))) {
      char buf[16384];
      ssize_t n;
      while ((n = ::read(child.out_fd, buf, sizeof buf)) > 0)
        log.write(buf, static_cast<std::size_t>(n));
      if (n == 0) {
        ::close(child.out_fd);
        child.out_fd = -1;
      }
    }
    // Reap everything (tini hands us nothing else, but a dev server's own children may be
    // re-parented to us when it dies).
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      if (pid != child.pid) continue;
      auto ran = Clock::now() - child.started;
      std::string how = WIFEXITED(status) ? "exited with " + std::to_string(WEXITSTATUS(status))
                                          : "killed by signal " + std::to_string(WTERMSIG(status));
      if (child.pid > 0) ::kill(-child.pid, SIGKILL);  // leftovers of its group
      child.pid = -1;
      if (stopping) break;
      backoff = ran >= kStableRun ? std::chrono::seconds(1)
                                  : std::min(backoff * 2, std::chrono::seconds(kMaxBackoff));
      next_start = Clock::now() + backoff;
      log.line("dev server " + how + "; restarting in " + std::to_string(backoff.count()) + " s");
    }
    if (stopping) {
      if (child.pid <= 0 || Clock::now() >= stop_deadline) {
        if (child.pid > 0) ::kill(-child.pid, SIGKILL);
        log.line("stopped");
        return 0;
      }
      continue;
    }
    if (child.pid <= 0 && Clock::now() >= next_start) {
      std::string error;
      auto app = resolve_app(app_dir, read_file(app_dir + "/" + kManifestName),
                             read_file(app_dir + "/package.json"), ports, &error);
      if (!error.empty() && error != last_error) log.line("not starting: " + error);
      last_error = error;
      if (!app) {
        next_start = Clock::now() + kAppPoll;  // an app may appear later (an agent writes it)
        continue;
      }
      if (child.out_fd >= 0) ::close(child.out_fd);
      child = spawn(*app, log);
      if (child.pid <= 0) next_start = Clock::now() + backoff;
    }
  }
}

}  // namespace
}  // namespace sandboxd

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "task-run") == 0) return sandboxd::run_task(argc, argv);
  return sandboxd::run();
}
