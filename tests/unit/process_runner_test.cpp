#include "sandboxd/os/process_runner.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>

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
  std::string pidfile = testing::TempDir() + "/line-process-" + std::to_string(::getpid());
  auto p = LineProcess::spawn({"/bin/sh", "-c", "sleep 60 & echo $! > " + pidfile + "; wait"});
  ASSERT_TRUE(p);
  auto none = (*p)->next_line(std::chrono::milliseconds(50));
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  pid_t grandchild = 0;
  for (int i = 0; i < 100 && grandchild == 0; ++i) {
    std::ifstream(pidfile) >> grandchild;
    if (grandchild == 0) ::usleep(20000);
  }
  ASSERT_GT(grandchild, 0);
  p->reset();
  // The grandchild was in the child's process group, so it is gone too (reaped by init,
  // or a zombie until then: signal 0 then fails or the /proc state is Z).
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    std::ifstream stat("/proc/" + std::to_string(grandchild) + "/stat");
    std::string pid, comm, state;
    gone = !(stat >> pid >> comm >> state) || state == "Z";
    if (!gone) ::usleep(20000);
  }
  EXPECT_TRUE(gone);
  std::remove(pidfile.c_str());
}

TEST(LineProcess, AMissingProgramIsUnavailable) {
  auto p = LineProcess::spawn({"/nonexistent/docker", "events"});
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code(), Code::kUnavailable);
}

}  // namespace
}  // namespace sandboxd
