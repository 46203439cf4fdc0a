// The pty frame codec (include/sandboxd/os/pty_frames.h), and `sandbox-run pty` run in a
// forked child with pipes as its stdin and stdout: the terminal's size, input, resize,
// the exit status, and the hang-up on stdin EOF.
#include "supervisor/pty_runner.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "sandboxd/os/fd.h"
#include "sandboxd/os/pty_frames.h"

namespace sandboxd {
namespace {

using std::chrono::seconds;
using SteadyClock = std::chrono::steady_clock;

std::vector<PtyFrame> decode(std::string_view bytes, bool byte_by_byte, bool* failed = nullptr) {
  PtyFrameDecoder dec;
  std::vector<PtyFrame> out;
  for (std::size_t at = 0; at < bytes.size(); at += byte_by_byte ? 1 : bytes.size()) {
    for (auto& f : dec.feed(bytes.substr(at, byte_by_byte ? 1 : bytes.size())))
      out.push_back(std::move(f));
  }
  if (failed) *failed = dec.failed();
  return out;
}

PtyFrame input(std::string s) {
  return {.type = kPtyInput, .input = std::move(s), .cols = 0, .rows = 0};
}
PtyFrame resize(uint16_t cols, uint16_t rows) {
  return {.type = kPtyResize, .input = {}, .cols = cols, .rows = rows};
}

TEST(PtyFrames, EncodesTypeBigEndianLengthAndPayload) {
  EXPECT_EQ(pty_input_frames("ls\n"), std::string("i\0\0\0\x03ls\n", 8));
  EXPECT_EQ(pty_resize_frame(300, 40), std::string("r\0\0\0\x04\x01\x2c\x00\x28", 9));
  EXPECT_EQ(pty_input_frames(""), "");
}

TEST(PtyFrames, DecodeTheSameWhateverTheSplit) {
  std::string big(kPtyMaxPayload + 10, 'x');
  std::string stream = pty_input_frames("echo hi\n") + pty_resize_frame(100, 30) +
                       std::string("z\0\0\0\x02??", 7) +  // an unknown type is skipped
                       pty_input_frames(big);
  std::vector<PtyFrame> want = {input("echo hi\n"), resize(100, 30),
                                input(std::string(kPtyMaxPayload, 'x')),
                                input(std::string(10, 'x'))};
  for (bool split : {false, true}) {
    bool failed = true;
    EXPECT_EQ(decode(stream, split, &failed), want) << split;
    EXPECT_FALSE(failed);
  }
}

TEST(PtyFrames, ABadResizeOrAnOversizedFrameEndsDecoding) {
  for (const std::string& bad : {std::string("r\0\0\0\x03"
                                             "abc",
                                             8),
                                 std::string("i\0\x01\0\x01", 5)}) {  // 65537 bytes
    bool failed = false;
    EXPECT_EQ(decode(pty_input_frames("a") + bad + pty_input_frames("b"), false, &failed),
              std::vector<PtyFrame>{input("a")});
    EXPECT_TRUE(failed);
  }
}

// `sandbox-run pty ARGS...` in a forked child whose stdin and stdout are pipes.
class PtyRun {
 public:
  explicit PtyRun(std::vector<std::string> args) {
    args.insert(args.begin(), {"sandbox-run", "pty"});
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::close(in[1]);
      ::close(out[0]);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      _exit(run_pty(static_cast<int>(argv.size()), argv.data()));
    }
    ::close(in[0]);
    ::close(out[1]);
    in_.reset(in[1]);
    out_.reset(out[0]);
  }
  ~PtyRun() {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool started() const { return pid_ > 0; }
  bool send(std::string_view bytes) { return write_all(in_.get(), bytes); }
  void close_stdin() { in_.reset(); }
  const std::string& output() const { return output_; }

  // Reads stdout until it holds `needle`; false at EOF or after `timeout`.
  bool read_until(std::string_view needle, seconds timeout = seconds(10)) {
    const auto deadline = SteadyClock::now() + timeout;
    while (output_.find(needle) == std::string::npos) {
      if (SteadyClock::now() >= deadline || !read_some(deadline)) return false;
    }
    return true;
  }
  // Reads stdout to EOF and reaps the runner: its exit status, or nullopt after `timeout`.
  std::optional<int> wait_exit(seconds timeout = seconds(10)) {
    const auto deadline = SteadyClock::now() + timeout;
    while (SteadyClock::now() < deadline && read_some(deadline)) {
    }
    while (!status_ && SteadyClock::now() < deadline) {
      int ws = 0;
      if (::waitpid(pid_, &ws, WNOHANG) == pid_) {
        status_ = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    return status_;
  }

 private:
  // One read of stdout, waiting until `deadline`; false at EOF or at the deadline.
  bool read_some(SteadyClock::time_point deadline) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    pollfd p{out_.get(), POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[4096];
    ssize_t n = ::read(out_.get(), buf, sizeof buf);
    if (n <= 0) return false;
    output_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  Fd in_;
  Fd out_;
  std::string output_;
  std::optional<int> status_;
};

TEST(PtyRunner, RunsTheCommandOnATerminalOfTheGivenSizeAndReturnsItsStatus) {
  PtyRun run({"--cols", "80", "--rows", "24", "--", "/bin/sh", "-c",
              "stty size; read x; echo got:$x; exit 3"});
  ASSERT_TRUE(run.started());
  EXPECT_TRUE(run.read_until("24 80")) << run.output();
  ASSERT_TRUE(run.send(pty_input_frames("hello\n")));
  EXPECT_TRUE(run.read_until("got:hello")) << run.output();
  EXPECT_EQ(run.wait_exit(), 3) << run.output();
}

TEST(PtyRunner, AResizeFrameChangesTheTerminalsSize) {
  PtyRun run({"--cols", "80", "--rows", "24", "--", "/bin/sh", "-c",
              "echo ready; read x; stty size; read y; exit 0"});
  ASSERT_TRUE(run.read_until("ready")) << run.output();
  ASSERT_TRUE(run.send(pty_resize_frame(100, 30) + pty_input_frames("\n")));
  EXPECT_TRUE(run.read_until("30 100")) << run.output();
  ASSERT_TRUE(run.send(pty_input_frames("\n")));
  EXPECT_EQ(run.wait_exit(), 0) << run.output();
}

// A process of the session that is gone or a zombie (waiting for init to reap it).
bool gone(const std::string& pid) {
  std::ifstream stat("/proc/" + pid + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  auto paren = line.rfind(')');
  return paren != std::string::npos && line.compare(paren + 2, 1, "Z") == 0;
}

TEST(PtyRunner, StdinEofHangsUpTheWholeSession) {
  PtyRun run({"--", "/bin/sh", "-c", "sleep 100 & echo bg:$!; wait"});
  ASSERT_TRUE(run.read_until("bg:") && run.read_until("\r\n")) << run.output();
  const auto start = run.output().find("bg:") + 3;
  const std::string sleep_pid = run.output().substr(start, run.output().find('\r', start) - start);
  ASSERT_FALSE(gone(sleep_pid)) << sleep_pid;
  run.close_stdin();
  EXPECT_EQ(run.wait_exit(seconds(5)), 128 + SIGHUP);
  const auto deadline = SteadyClock::now() + seconds(5);
  while (!gone(sleep_pid) && SteadyClock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(gone(sleep_pid)) << sleep_pid;
}

TEST(PtyRunner, ACommandIgnoringTheHangUpIsKilled) {
  PtyRun run({"--", "/bin/sh", "-c", "trap '' HUP; echo ready; sleep 100"});
  ASSERT_TRUE(run.read_until("ready")) << run.output();
  const auto closed = SteadyClock::now();
  run.close_stdin();
  EXPECT_EQ(run.wait_exit(seconds(10)), 128 + SIGKILL);
  EXPECT_GE(SteadyClock::now() - closed, std::chrono::milliseconds(1900));
}

TEST(PtyRunner, ACommandThatCannotRunExits127) {
  PtyRun run({"--", "/nonexistent/cmd"});
  EXPECT_EQ(run.wait_exit(), 127);
  EXPECT_NE(run.output().find("exec /nonexistent/cmd"), std::string::npos) << run.output();
}

TEST(PtyRunner, BadArgumentsAreAUsageError) {
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"sandbox-run", "pty", "--cols", "80"},
           {"sandbox-run", "pty", "--cols", "0", "--", "sh"},
           {"sandbox-run", "pty", "--width", "80", "--", "sh"},
           {"sandbox-run", "pty", "--"},
       }) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    EXPECT_EQ(run_pty(static_cast<int>(argv.size()), argv.data()), 2) << args.size();
  }
}

}  // namespace
}  // namespace sandboxd
