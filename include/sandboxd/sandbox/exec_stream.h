// ExecStream: a command in a sandbox whose output is read as it comes (streamed exec and
// the terminal), made by SandboxService::exec_stream / open_terminal. A streamed exec's
// output shows no secret of the sandbox's env or of the call's (StreamRedactor). Destroying it ends
// the command if it still runs (its stdin closes: sandbox-run ends it) and frees its
// exec slot; a streamed exec's end also releases its busy hold and counts as activity.
// Not thread-safe; used and destroyed on the thread that opened it (os/spawn.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sandboxd/base/redactor.h"
#include "sandboxd/runtime/runtime.h"

namespace sandboxd {

struct ExecEnd {
  int exit_code = -1;  // 128+signal when killed
  bool timed_out = false;
  int64_t duration_ms = 0;
};

class ExecStream {
 public:
  ExecStream(std::unique_ptr<ExecSession> session, const std::vector<std::string>& secrets,
             int timeout_s, std::function<void()> on_end);
  ~ExecStream();
  ExecStream(const ExecStream&) = delete;
  ExecStream& operator=(const ExecStream&) = delete;

  // Descriptors to poll for POLLIN: read() or end() has news when one is readable.
  std::vector<int> fds() const { return session_->fds(); }
  // The output there is now, redacted; empty when none.
  std::vector<ExecSession::Output> read();
  // How it ended, once it did and all its output was read; nullopt before.
  Result<std::optional<ExecEnd>> end();
  // The command's stdin, and a write of what it takes now (ExecSession::write).
  int stdin_fd() const { return session_->stdin_fd(); }
  std::optional<std::size_t> write(std::string_view data) { return session_->write(data); }

 private:
  std::unique_ptr<ExecSession> session_;
  StreamRedactor out_, err_;
  bool flushed_ = false;
  int timeout_s_;
  std::chrono::steady_clock::time_point started_;
  std::function<void()> on_end_;
};

}  // namespace sandboxd
