// `sandbox-init task-run`: runs one agent task inside the sandbox, detached from
// sandboxd (started with `docker exec -d`), so the agent keeps running when sandboxd
// restarts. Everything it reports goes to files in the task directory, which sandboxd
// reads from the host side:
//   out.jsonl   the agent's stdout (its JSON lines), appended
//   stderr.log  the agent's stderr: its first 1 MiB (the rest is read and dropped)
//   pid         the agent's pid, which is also its process group id
//   exit.json   written last (atomically): exit code or signal, timed_out, cancelled,
//               and the files under the app directory it added, changed or removed
// The agent runs in the app directory in its own process group, with the file `prompt`
// as its stdin, so the prompt is on no command line (`ps` shows every process's argv to
// every user of the host). A `cancel` file
// appearing in the task directory, or the timeout, ends the whole group: SIGTERM, then
// SIGKILL after 5 s. When the agent exits, stragglers in its group are killed too.
#include "supervisor/task_runner.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "sandboxd/os/fd.h"
#include "supervisor/files.h"

namespace sandboxd {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr auto kKillGrace = std::chrono::seconds(5);
constexpr std::size_t kMaxSnapshot = 50000;  // files compared for files_changed
constexpr std::size_t kMaxChanged = 1000;    // paths reported (files_changed_truncated past it)
constexpr std::size_t kMaxStderr = 1 << 20;  // bytes of the agent's stderr kept

struct FileState {
  int64_t mtime_ns = 0;
  int64_t size = 0;
};

// Regular files and symlinks below dir (never following links), keyed by relative path,
// skipping dependency and VCS directories, which agents and installs churn.
void snapshot(const std::string& dir, const std::string& rel,
              std::map<std::string, FileState>& out) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == ".." || name == "node_modules" || name == ".git") continue;
    if (out.size() >= kMaxSnapshot) break;
    std::string path = dir + "/" + name;
    std::string key = rel.empty() ? name : rel + "/" + name;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      snapshot(path, key, out);
    } else {
      out[key] = {int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec, st.st_size};
    }
  }
  ::closedir(d);
}

std::vector<std::string> changed(const std::map<std::string, FileState>& before,
                                 const std::map<std::string, FileState>& after) {
  std::vector<std::string> out;
  for (const auto& [path, st] : after) {
    auto it = before.find(path);
    if (it == before.end() || it->second.mtime_ns != st.mtime_ns || it->second.size != st.size)
      out.push_back(path);
  }
  for (const auto& [path, st] : before)
    if (!after.count(path)) out.push_back(path);
  std::sort(out.begin(), out.end());
  return out;
}

// The agent's stderr: a pipe whose first kMaxStderr bytes go to stderr.log. Everything
// is read, so the agent never blocks on a full pipe however much it writes.
class StderrSink {
 public:
  StderrSink(int pipe_fd, int log_fd) : in_(pipe_fd), log_(log_fd) {
    ::fcntl(in_, F_SETFL, ::fcntl(in_, F_GETFL) | O_NONBLOCK);
  }
  ~StderrSink() {
    if (in_ >= 0) ::close(in_);
    ::close(log_);
  }
  // Waits up to `ms` for output and copies what is there; after EOF it only sleeps.
  void pump(int ms) {
    if (in_ < 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      return;
    }
    pollfd p{in_, POLLIN, 0};
    if (::poll(&p, 1, ms) > 0) drain();
  }
  // Copies what can be read now, at most 4 MiB (a chatty agent must not hold up the
  // runner's checks of the deadline and the cancel file).
  void drain() {
    char buf[65536];
    for (int i = 0; i < 64 && in_ >= 0; ++i) {
      ssize_t n = ::read(in_, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      if (n <= 0) {  // EOF (or an error): every writer is gone
        ::close(in_);
        in_ = -1;
        return;
      }
      std::size_t keep = std::min(static_cast<std::size_t>(n), kMaxStderr - kept_);
      if (keep > 0 && write_all(log_, std::string_view(buf, keep))) kept_ += keep;
    }
  }

 private:
  int in_;
  int log_;
  std::size_t kept_ = 0;
};

}  // namespace

int run_task(int argc, char** argv) {
  // task-run <task_dir> <timeout_s> <app_dir> -- <argv...>
  if (argc < 7 || std::strcmp(argv[5], "--") != 0) {
    std::fprintf(stderr, "usage: sandbox-init task-run TASK_DIR TIMEOUT_S APP_DIR -- CMD...\n");
    return 2;
  }
  const std::string dir = argv[2];
  const long timeout_s = std::strtol(argv[3], nullptr, 10);
  const std::string app_dir = argv[4];
  std::vector<char*> args(argv + 6, argv + argc);
  args.push_back(nullptr);
  ::signal(SIGHUP, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);

  std::map<std::string, FileState> before;
  snapshot(app_dir, "", before);

  int out = ::open((dir + "/out.jsonl").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int err = ::open((dir + "/stderr.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int in = ::open((dir + "/prompt").c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (in < 0) in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int err_pipe[2];
  if (out < 0 || err < 0 || in < 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    std::perror("sandbox-init task-run: open task files");
    return 1;
  }
  StderrSink agent_stderr(err_pipe[0], err);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err_pipe[1], 2);
    if (::chdir(app_dir.c_str()) != 0) _exit(126);
    ::execvp(args[0], args.data());
    dprintf(2, "sandbox-init task-run: exec %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  ::close(err_pipe[1]);
  ::close(in);
  if (pid < 0) {
    std::perror("sandbox-init task-run: fork");
    return 1;
  }
  ::setpgid(pid, pid);  // also here: no race with the child's own call
  write_atomically(dir, "pid", std::to_string(pid) + "\n");

  const auto deadline = SteadyClock::now() + std::chrono::seconds(timeout_s);
  bool cancelled = false, timed_out = false;
  std::optional<SteadyClock::time_point> kill_at;
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    auto now = SteadyClock::now();
    if (!kill_at) {
      if (exists(dir + "/cancel"))
        cancelled = true;
      else if (now >= deadline)
        timed_out = true;
      if (cancelled || timed_out) {
        ::kill(-pid, SIGTERM);
        kill_at = now + kKillGrace;
      }
    } else if (now >= *kill_at) {
      ::kill(-pid, SIGKILL);
    }
    agent_stderr.pump(100);
  }
  ::kill(-pid, SIGKILL);  // what the agent left running in its group
  agent_stderr.drain();   // what is left; a process outside the group may keep it open

  std::map<std::string, FileState> after;
  snapshot(app_dir, "", after);
  std::vector<std::string> files = changed(before, after);
  const bool truncated = files.size() > kMaxChanged;
  if (truncated) files.resize(kMaxChanged);
  nlohmann::json result = {{"exit_code", WIFEXITED(status) ? WEXITSTATUS(status) : -1},
                           {"signal", WIFSIGNALED(status) ? WTERMSIG(status) : 0},
                           {"timed_out", timed_out},
                           {"cancelled", cancelled},
                           {"files_changed", files},
                           {"files_changed_truncated", truncated}};
  write_atomically(dir, "exit.json",
                   result.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return 0;
}

}  // namespace sandboxd
