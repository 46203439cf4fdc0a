// sandboxd's child processes die with it, also when it is killed with SIGKILL: its
// `docker events` child must not run on, re-parented to init (issue 11).
#include <gtest/gtest.h>
#include <sys/types.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "integration/daemon.h"

namespace sandboxd::testing_support {
namespace {

// Fields of /proc/<pid>/stat after the command name: state, ppid.
struct ProcStat {
  char state = '?';
  pid_t ppid = -1;
};

std::optional<ProcStat> proc_stat(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(f)), {});
  auto close = text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  ProcStat st;
  std::istringstream rest(text.substr(close + 1));
  rest >> st.state >> st.ppid;
  return st;
}

// argv of a process (empty once it is gone or a zombie).
std::vector<std::string> proc_argv(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/cmdline");
  std::vector<std::string> argv;
  for (std::string arg; std::getline(f, arg, '\0');) argv.push_back(arg);
  return argv;
}

bool alive(pid_t pid) {
  auto st = proc_stat(pid);
  return st && st->state != 'Z' && st->state != 'X';
}

std::vector<pid_t> all_pids() {
  std::vector<pid_t> pids;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") == std::string::npos) pids.push_back(std::stoi(name));
  }
  return pids;
}

std::vector<pid_t> live_children_of(pid_t parent) {
  std::vector<pid_t> out;
  for (pid_t pid : all_pids())
    if (auto st = proc_stat(pid); st && st->ppid == parent && alive(pid)) out.push_back(pid);
  return out;
}

// Live `docker events` processes that filter on `instance`'s label.
std::vector<pid_t> docker_events_of(const std::string& instance) {
  std::vector<pid_t> out;
  const std::string filter = "label=sandboxed.instance=" + instance;
  for (pid_t pid : all_pids()) {
    auto argv = proc_argv(pid);
    bool events = false, ours = false;
    for (const auto& a : argv) {
      events = events || a == "events";
      ours = ours || a == filter;
    }
    if (events && ours && alive(pid)) out.push_back(pid);
  }
  return out;
}

TEST(Children, NoChildOutlivesSandboxdKilledWithSigkill) {
  Daemon d("kids", {{"SANDBOXD_DOCKER_EVENTS", "true"}});
  ASSERT_TRUE(d.start()) << d.log();
  std::vector<pid_t> children;
  ASSERT_TRUE(eventually(
      [&] {
        children = live_children_of(d.pid());
        return !docker_events_of(d.instance()).empty();
      },
      std::chrono::seconds(20)))
      << "sandboxd never started its docker events child\n"
      << d.log();
  ASSERT_FALSE(children.empty());
  ASSERT_TRUE(d.stop(/*hard=*/true));
  EXPECT_TRUE(eventually(
      [&] {
        for (pid_t pid : children)
          if (alive(pid)) return false;
        return docker_events_of(d.instance()).empty();
      },
      std::chrono::seconds(20)))
      << "a child of sandboxd still runs after it was killed";
}

}  // namespace
}  // namespace sandboxd::testing_support
