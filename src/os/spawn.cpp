#include "sandboxd/os/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "sandboxd/os/fd.h"

namespace sandboxd {
namespace {

// Between fork and exec only async-signal-safe calls: a failure is reported to the
// parent as its errno through `report` (close-on-exec, so a successful exec closes it).
[[noreturn]] void child_fail(int report) {
  int err = errno;
  (void)!::write(report, &err, sizeof err);
  ::_exit(127);
}

[[noreturn]] void exec_child(char* const* argv, const int (&stdio)[3], int report, pid_t parent) {
  // Dispositions the daemon set (SIGPIPE ignored) would survive exec: reset them all
  // while every signal is still blocked.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
  if (::setpgid(0, 0) != 0) child_fail(report);
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(report);
  if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took hold
  // Sources are first copied above 2, so dup2 onto 0-2 cannot clobber one still needed.
  int keep = ::fcntl(report, F_DUPFD_CLOEXEC, 3);
  if (keep < 0) child_fail(report);
  int src[3];
  for (int i = 0; i < 3; ++i)
    if ((src[i] = ::fcntl(stdio[i], F_DUPFD_CLOEXEC, 3)) < 0) child_fail(keep);
  for (int i = 0; i < 3; ++i)
    if (::dup2(src[i], i) != i) child_fail(keep);
  if (::dup2(keep, 3) != 3 || ::fcntl(3, F_SETFD, FD_CLOEXEC) != 0) child_fail(keep);
  // The daemon's sockets (cpp-httplib does not mark them close-on-exec) must not leak
  // into children: fds 0-2 and the report pipe (closed by exec) are all that is left.
  ::closefrom(4);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execvp(argv[0], argv);
  child_fail(3);
}

}  // namespace

Result<pid_t> spawn_in_own_group(const std::vector<std::string>& args, int stdin_fd, int stdout_fd,
                                 int stderr_fd) {
  if (args.empty()) return Status(Code::kInvalidArgument, "empty argv");
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int report_fds[2];
  if (::pipe2(report_fds, O_CLOEXEC) != 0)
    return Status(Code::kInternal, "spawn " + args[0] + ": pipe: " + std::strerror(errno));
  Fd report_read(report_fds[0]), report_write(report_fds[1]);
  const int stdio[3] = {stdin_fd, stdout_fd, stderr_fd};
  const pid_t parent = ::getpid();
  // No handler of the daemon may run in the child before its dispositions are reset.
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = ::fork();
  if (pid == 0) exec_child(argv.data(), stdio, report_write.get(), parent);
  int fork_err = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return Status(Code::kInternal, "spawn " + args[0] + ": " + std::strerror(fork_err));
  report_write.reset();
  // EOF: exec succeeded. An errno: it failed, and the child exits at once.
  int child_err = 0;
  ssize_t n;
  while ((n = ::read(report_read.get(), &child_err, sizeof child_err)) < 0 && errno == EINTR) {
  }
  if (n == 0) return pid;
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (n != sizeof child_err) child_err = EIO;
  return Status(child_err == ENOENT ? Code::kUnavailable : Code::kInternal,
                "spawn " + args[0] + ": " + std::strerror(child_err));
}

}  // namespace sandboxd
