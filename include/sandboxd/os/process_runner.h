// ProcessRunner: runs one child process from an argv (never a shell string) with a
// deadline and capped output. The only place sandboxd forks. Implementations are
// thread-safe; run() blocks the calling thread until the child exits or is killed.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "sandboxd/base/status.h"

namespace sandboxd {

struct ProcessSpec {
  std::vector<std::string> argv;  // argv[0] is looked up on PATH
  std::string stdin_data;         // written to the child's stdin, then closed
  std::chrono::milliseconds timeout{60000};
  std::size_t max_output_bytes = 4 << 20;  // per stream; the rest is read and dropped
};

struct ProcessOutput {
  int exit_code = -1;  // 128+signal when killed by a signal
  std::string stdout_data;
  std::string stderr_data;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  bool timed_out = false;  // the deadline passed and the process group was killed
  std::chrono::milliseconds duration{0};
};

class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;
  // Runs spec to completion. An error only when the process could not be started;
  // "ran and exited non-zero" and "timed out" are normal outputs.
  virtual Result<ProcessOutput> run(const ProcessSpec& spec) = 0;
};

// posix_spawnp in a new process group; on timeout the whole group gets SIGKILL.
class PosixProcessRunner final : public ProcessRunner {
 public:
  Result<ProcessOutput> run(const ProcessSpec& spec) override;
};

}  // namespace sandboxd
