#include "sandboxd/os/process_runner.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "sandboxd/os/spawn.h"

namespace sandboxd {
namespace {

ProcessSpec sh(const std::string& script) {
  ProcessSpec s;
  s.argv = {"/bin/sh", "-c", script};
  s.timeout = std::chrono::seconds(20);
  return s;
}

TEST(PosixProcessRunner, CapturesStdoutStderrAndExitCode) {
  PosixProcessRunner r;
  auto out = r.run(sh("echo out; echo err >&2; exit 3"));
  ASSERT_TRUE(out);
  EXPECT_EQ(out->exit_code, 3);
  EXPECT_EQ(out->stdout_data, "out\n");
  EXPECT_EQ(out->stderr_data, "err\n");
  EXPECT_FALSE(out->timed_out);
}

TEST(PosixProcessRunner, PassesArgvVerbatimWithoutAShell) {
  PosixProcessRunner r;
  ProcessSpec s;
  s.argv = {"printf", "%s|", "a b", "$HOME", ";rm -rf /"};
  auto out = r.run(s);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->stdout_data, "a b|$HOME|;rm -rf /|");
}

TEST(PosixProcessRunner, WritesStdin) {
  PosixProcessRunner r;
  ProcessSpec s;
  s.argv = {"cat"};
  s.stdin_data = std::string(200000, 'x');
  auto out = r.run(s);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->stdout_data.size(), 200000u);
}

TEST(PosixProcessRunner, TimeoutKillsTheWholeProcessGroup) {
  PosixProcessRunner r;
  ProcessSpec s = sh("sleep 30 & echo $!; wait");
  s.timeout = std::chrono::milliseconds(300);
  auto out = r.run(s);
  ASSERT_TRUE(out);
  EXPECT_TRUE(out->timed_out);
  EXPECT_LT(out->duration, std::chrono::seconds(10));
  int child = std::stoi(out->stdout_data);
  // The grandchild got SIGKILL too (it may linger as a zombie of init briefly).
  auto check = r.run(
      sh("for i in $(seq 50); do s=$(awk '{print $3}' /proc/" + std::to_string(child) +
         "/stat 2>/dev/null); [ -z \"$s\" ] || [ \"$s\" = Z ] && exit 0; sleep 0.1; done; exit 1"));
  ASSERT_TRUE(check);
  EXPECT_EQ(check->exit_code, 0) << "sleep grandchild still running";
}

TEST(PosixProcessRunner, DeadlineHoldsWhenTheChildClosesItsOutputsButKeepsRunning) {
  PosixProcessRunner r;
  ProcessSpec s = sh("exec >/dev/null 2>&1; sleep 30");
  s.timeout = std::chrono::milliseconds(300);
  auto out = r.run(s);
  ASSERT_TRUE(out);
  EXPECT_TRUE(out->timed_out);
  EXPECT_LT(out->duration, std::chrono::seconds(10));
}

TEST(PosixProcessRunner, ChildrenDoNotInheritTheDaemonsDescriptors) {
  // A descriptor that is not close-on-exec, like httplib's sockets, at a number the
  // child would not open by itself.
  ASSERT_EQ(::dup2(STDERR_FILENO, 57), 57);
  PosixProcessRunner r;
  auto out = r.run(sh("ls /proc/self/fd"));
  ::close(57);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->stdout_data.find("57\n"), std::string::npos) << out->stdout_data;
}

TEST(PosixProcessRunner, CapsOutputAndSaysSo) {
  PosixProcessRunner r;
  ProcessSpec s = sh("head -c 100000 /dev/zero");
  s.max_output_bytes = 1000;
  auto out = r.run(s);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->stdout_data.size(), 1000u);
  EXPECT_TRUE(out->stdout_truncated);
  EXPECT_EQ(out->exit_code, 0);
}

TEST(PosixProcessRunner, MissingBinaryIsAnError) {
  PosixProcessRunner r;
  ProcessSpec s;
  s.argv = {"/nonexistent/binary"};
  auto out = r.run(s);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code(), Code::kUnavailable);
}

TEST(SpawnInOwnGroup, ChildrenStartWithDefaultSignalsAndAnEmptyMask) {
  // As in the daemon: SIGPIPE ignored, SIGTERM blocked.
  auto old_pipe = ::signal(SIGPIPE, SIG_IGN);
  sigset_t term, old_mask;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ::pthread_sigmask(SIG_BLOCK, &term, &old_mask);
  PosixProcessRunner r;
  ProcessSpec s;
  s.argv = {"grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"};
  auto out = r.run(s);
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  ::signal(SIGPIPE, old_pipe);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->stdout_data, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
}

TEST(SpawnInOwnGroup, AChildIsKilledWhenTheThreadThatSpawnedItEnds) {
  // The parent-death signal: what makes every child die with sandboxd (and why a child
  // must not outlive its spawning thread; see spawn.h).
  Result<pid_t> spawned = Status(Code::kInternal, "not run");
  std::thread([&] {
    spawned = spawn_in_own_group({"sleep", "60"}, STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO);
  }).join();
  ASSERT_TRUE(spawned) << spawned.error().message();
  int status = 0;
  ASSERT_EQ(::waitpid(*spawned, &status, 0), *spawned);
  ASSERT_TRUE(WIFSIGNALED(status)) << "sleep ran to its end";
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
}

TEST(SpawnInOwnGroup, AMissingProgramIsUnavailableAndOtherExecFailuresInternal) {
  auto missing = spawn_in_own_group({"no-such-program-sandboxd"}, 0, 1, 2);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Code::kUnavailable);
  auto not_executable = spawn_in_own_group({"/etc/passwd"}, 0, 1, 2);
  ASSERT_FALSE(not_executable);
  EXPECT_EQ(not_executable.error().code(), Code::kInternal);
  EXPECT_NE(not_executable.error().message().find("Permission denied"), std::string::npos)
      << not_executable.error().message();
}

TEST(LineProcess, ReadsLinesThenReportsTheEndOfTheStream) {
  auto p =
      LineProcess::spawn({"/bin/sh", "-c", "printf 'one\\ntwo\\npartial'; exec 1>&-; sleep 5"});
  ASSERT_TRUE(p) << p.error().message();
  auto next = [&] { return (*p)->next_line(std::chrono::seconds(10)); };
  auto one = next();
  ASSERT_TRUE(one && *one);
  EXPECT_EQ(**one, "one");
  auto two = next();
  ASSERT_TRUE(two && *two);
  EXPECT_EQ(**two, "two");
  auto end = next();
  ASSERT_FALSE(end) << "stdout closed: the stream ended (an unfinished line is dropped)";
  EXPECT_EQ(end.error().code(), Code::kUnavailable);
}

TEST(LineProcess, TimesOutQuietlyAndKillsTheGroupWhenDestroyed) {
  // The shell prints its background child's pid, then waits without printing more.
  auto p = LineProcess::spawn({"/bin/sh", "-c", "sleep 60 & echo $!; wait"});
  ASSERT_TRUE(p);
  auto first = (*p)->next_line(std::chrono::seconds(30));
  ASSERT_TRUE(first && *first);
  const pid_t grandchild = std::stoi(**first);
  auto none = (*p)->next_line(std::chrono::milliseconds(50));
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  // A pidfd of the grandchild becomes readable when it exits (zombie or reaped).
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, grandchild, 0));
  ASSERT_GE(pidfd, 0) << std::strerror(errno);
  pollfd exited{pidfd, POLLIN, 0};
  EXPECT_EQ(::poll(&exited, 1, 0), 0) << "alive while the LineProcess lives";
  p->reset();
  // It was in the child's process group, so destroying the LineProcess killed it too.
  EXPECT_EQ(::poll(&exited, 1, 30'000), 1);
  ::close(pidfd);
}

TEST(LineProcess, AMissingProgramIsUnavailable) {
  auto p = LineProcess::spawn({"/nonexistent/docker", "events"});
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code(), Code::kUnavailable);
}

}  // namespace
}  // namespace sandboxd
