// `sandbox-init task-run`: runs one agent task inside the sandbox, detached from
// sandboxd (started with `docker exec -d`), so the agent keeps running when sandboxd
// restarts. Everything it reports goes to files in the task directory, which sandboxd
// reads from the host side:
//   out.jsonl   the agent's stdout (its JSON lines), appended
//   stderr.log  the agent's stderr (first 1 MiB)
//   pid         the agent's pid, which is also its process group id
//   exit.json   written last (atomically): exit code or signal, timed_out, cancelled,
//               and the files under the app directory it added, changed or removed
// The agent runs in the app directory in its own process group, stdin from /dev/null,
// with the prompt (read from the file `prompt`) as its last argument. A `cancel` file
// appearing in the task directory, or the timeout, ends the whole group: SIGTERM, then
// SIGKILL after 5 s. When the agent exits, stragglers in its group are killed too.
#include "supervisor/task_runner.h"

#include <dirent.h>
#include <fcntl.h>
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
#include <thread>
#include <vector>

#include "supervisor/read_file.h"

namespace sandboxd {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr auto kKillGrace = std::chrono::seconds(5);
constexpr std::size_t kMaxSnapshot = 50000;  // files compared for files_changed
constexpr std::size_t kMaxChanged = 1000;    // paths reported (files_changed_truncated past it)

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

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// Writes `data` to dir/name via a temporary file and rename: readers never see half.
bool write_atomically(const std::string& dir, const std::string& name, const std::string& data) {
  std::string tmp = dir + "/." + name + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return false;
  bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  return ok && ::rename(tmp.c_str(), (dir + "/" + name).c_str()) == 0;
}

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
  std::vector<std::string> cmd(argv + 6, argv + argc);
  std::string prompt = read_file(dir + "/prompt").value_or("");
  if (!prompt.empty() && prompt[0] == '-') prompt = " " + prompt;  // never taken for an option
  cmd.push_back(prompt);
  ::signal(SIGHUP, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);

  std::map<std::string, FileState> before;
  snapshot(app_dir, "", before);

  int out = ::open((dir + "/out.jsonl").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int err = ::open((dir + "/stderr.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (out < 0 || err < 0 || null < 0) {
    std::perror("sandbox-init task-run: open task files");
    return 1;
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    ::dup2(null, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    if (::chdir(app_dir.c_str()) != 0) _exit(126);
    std::vector<char*> args;
    for (auto& a : cmd) args.push_back(a.data());
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    std::fprintf(stderr, "sandbox-init task-run: exec %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
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
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ::kill(-pid, SIGKILL);  // what the agent left running in its group

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
