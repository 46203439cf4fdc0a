#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "sandboxd/os/spawn.h"

namespace sandboxd {
namespace {
constexpr std::size_t kMaxLine = 1 << 20;
}  // namespace

Result<std::unique_ptr<LineProcess>> LineProcess::spawn(const std::vector<std::string>& args) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0)
    return Status(Code::kInternal, std::string("pipe: ") + std::strerror(errno));
  Fd read_end(out[0]), write_end(out[1]);
  Fd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  auto pid = spawn_in_own_group(args, devnull.get(), write_end.get(), devnull.get());
  if (!pid) return pid.error();
  ::fcntl(read_end.get(), F_SETFL, O_NONBLOCK);
  return std::unique_ptr<LineProcess>(new LineProcess(*pid, std::move(read_end)));
}

LineProcess::~LineProcess() {
  ::kill(-pid_, SIGKILL);
  fd_.reset();
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

Result<std::optional<std::string>> LineProcess::next_line(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto nl = buf_.find('\n'); nl != std::string::npos) {
      std::string line = buf_.substr(0, std::min(nl, kMaxLine));
      buf_.erase(0, nl + 1);
      return std::optional<std::string>(std::move(line));
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd_.get(), POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) return std::optional<std::string>();
    char chunk[16384];
    ssize_t n = ::read(fd_.get(), chunk, sizeof chunk);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return Status(Code::kUnavailable, "the process ended");
    std::string_view in(chunk, static_cast<std::size_t>(n));
    if (buf_.size() + in.size() > 2 * kMaxLine) {
      // buf_ holds no newline here (complete lines were returned before reading): an
      // overlong line. Drop it, and resume after its end if this chunk holds it.
      buf_.clear();
      auto nl = in.find('\n');
      if (nl == std::string_view::npos) continue;
      in.remove_prefix(nl + 1);
    }
    buf_.append(in);
  }
}

Result<std::unique_ptr<PipedProcess>> PipedProcess::spawn(const std::vector<std::string>& args,
                                                          std::chrono::milliseconds grace) {
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0)
    return Status(Code::kInternal, std::string("pipe: ") + std::strerror(errno));
  Fd in_r(in[0]), in_w(in[1]);
  if (::pipe2(out, O_CLOEXEC) != 0)
    return Status(Code::kInternal, std::string("pipe: ") + std::strerror(errno));
  Fd out_r(out[0]), out_w(out[1]);
  if (::pipe2(err, O_CLOEXEC) != 0)
    return Status(Code::kInternal, std::string("pipe: ") + std::strerror(errno));
  Fd err_r(err[0]), err_w(err[1]);
  auto pid = spawn_in_own_group(args, in_r.get(), out_w.get(), err_w.get());
  if (!pid) return pid.error();
  ::fcntl(in_w.get(), F_SETFL, O_NONBLOCK);
  ::fcntl(out_r.get(), F_SETFL, O_NONBLOCK);
  ::fcntl(err_r.get(), F_SETFL, O_NONBLOCK);
  return std::unique_ptr<PipedProcess>(
      new PipedProcess(*pid, std::move(in_w), std::move(out_r), std::move(err_r), grace));
}

PipedProcess::~PipedProcess() {
  in_.reset();
  if (!wait(grace_)) {
    ::kill(-pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
}

std::optional<std::size_t> PipedProcess::write_stdin(std::string_view data) {
  if (!in_.ok()) return std::nullopt;
  for (;;) {
    ssize_t n = ::write(in_.get(), data.data(), data.size());
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return std::size_t{0};
    return std::nullopt;
  }
}

std::optional<int> PipedProcess::wait(std::chrono::milliseconds timeout) {
  if (status_) return status_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      return status_;
    }
    if (r < 0 && errno != EINTR) return status_ = -1;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    ::usleep(5000);
  }
}

}  // namespace sandboxd
