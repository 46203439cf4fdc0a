// The `task-run` mode of sandbox-init: one agent task, detached from sandboxd. See
// task_runner.cpp for the files it writes in the task directory.
#pragma once

namespace sandboxd {

// argv: sandbox-init task-run TASK_DIR TIMEOUT_S APP_DIR -- CMD... ; returns the exit status.
int run_task(int argc, char** argv);

}  // namespace sandboxd
