// The `pty` mode of sandbox-run: a command on a pseudo-terminal, driven through
// stdin/stdout by sandboxd's terminal route. See pty_runner.cpp.
#pragma once

namespace sandboxd {

// argv: sandbox-run pty --cols C --rows R -- CMD... ; returns the command's exit status
// (128+signal when a signal ended it), 2 on a usage error, 1 when the terminal cannot be
// set up. Blocks until the command exits.
int run_pty(int argc, char** argv);

}  // namespace sandboxd
