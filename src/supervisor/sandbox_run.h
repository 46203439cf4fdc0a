// `sandbox-run`: sandbox-init under a second name, for the commands sandboxd runs in a
// sandbox on a caller's behalf. A container made before sandbox-run existed has no such
// program, so a new mode can never be mistaken there for "start the supervisor".
//   sandbox-run exec --timeout N -- CMD...       streamed exec (exec_runner.cpp)
//   sandbox-run proc DIR --timeout N -- CMD...   a background process (proc_runner.cpp)
//   sandbox-run pty --cols C --rows R -- CMD...  a terminal (pty_runner.cpp)
// exec and pty write kSandboxRunReady to stdout first, so the caller knows the container
// runs and the mode started before any byte of the command's own output.
#pragma once

namespace sandboxd {

inline constexpr char kSandboxRunReady = '\x06';
// Where the image has it: sandboxd names it by path, never through the caller's PATH.
inline constexpr const char* kSandboxRunPath = "/usr/local/bin/sandbox-run";

// argv[1] is the mode; returns the process's exit status.
int run_exec(int argc, char** argv);
int run_proc(int argc, char** argv);

}  // namespace sandboxd
