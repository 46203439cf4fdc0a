// ProcessService: background processes, started by exec with "background": true. Each
// runs in its sandbox under `sandbox-run proc` (detached from sandboxd, so it survives a
// restart of sandboxd), which writes its pid, its output (stdout.log, stderr.log, rotated
// past 1 MiB) and finally exit.json into ~/.sandboxed/procs/<id>/ in the workspace. The
// row in SQLite is the truth of what runs; the files are only read (symlink-safe, the
// tenant owns them) and the tenant cannot add a process by writing one.
// A follower thread polls the running ones every 500 ms: exit.json ends one as `exited`;
// its sandbox no longer running, or started again since, ends it as `stopped` (a stop
// kills every process in the container); a runner whose heartbeat (the pid file's mtime,
// touched every 5 s) stopped for 30 s while its sandbox ran ends it as `lost`. A running process
// holds its sandbox busy (the idle reaper leaves it alone) and its end counts as activity. Output
// shows no secret of the sandbox's env or of the call's (the call's kept sealed, as a task's, for a
// restart). At most kMaxRunning run per sandbox; its kKeepEnded newest ended ones are kept.
// Thread-safe. Lock order: poll_mu_ -> mu_ -> {BusyTracker's, the Store's} (leaves);
// SandboxService is called with mu_ released.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "sandboxd/base/redactor.h"
#include "sandboxd/os/clock.h"
#include "sandboxd/os/secret_box.h"
#include "sandboxd/sandbox/sandbox_service.h"
#include "sandboxd/sandbox/workspace_files.h"
#include "sandboxd/sandbox/workspaces.h"
#include "sandboxd/store/store.h"

namespace sandboxd {

// Output of a process from a position: what was read, and where to read on.
struct ProcessOutputCursor {
  int64_t stdout_offset = 0;  // into stdout.log (or .1 before a rotation was seen)
  int64_t stderr_offset = 0;
  int64_t stdout_size = 0;  // the file's size when last read: a smaller one was rotated
  int64_t stderr_size = 0;
};

struct ProcessLogs {
  std::string stdout_data;
  std::string stderr_data;
};

class ProcessService {
 public:
  static constexpr int kMaxRunning = 32;
  static constexpr int kKeepEnded = 100;

  ProcessService(const Config& config, Store& store, SandboxService& sandboxes,
                 Workspaces& workspaces, Clock& clock);
  ~ProcessService();
  ProcessService(const ProcessService&) = delete;
  ProcessService& operator=(const ProcessService&) = delete;

  // Follows the processes the store says run (after a restart) and starts the follower.
  void start();
  void stop();

  // Starts req.cmd in the background, waking a stopped sandbox first. kInvalidArgument
  // (bad request), kCapacity (kMaxRunning running), kConflict (a container older than
  // sandbox-run), else the sandbox's errors.
  Result<ProcessRecord> start_process(const std::string& sandbox, const ExecRequest& req);
  Result<std::vector<ProcessRecord>> list(const std::string& sandbox);
  Result<ProcessRecord> get(const std::string& sandbox, const std::string& id);
  // Sends `signal` (TERM, INT, HUP or KILL; TERM becomes KILL after 5 s) and waits up to
  // 3 s for the end; the answer may still say running. kConflict once it ended.
  Result<ProcessRecord> signal(const std::string& sandbox, const std::string& id,
                               const std::string& signal);
  // The last `tail` bytes of its stdout and of its stderr, and a cursor after them.
  Result<ProcessLogs> tail(const std::string& sandbox, const std::string& id, int64_t tail,
                           ProcessOutputCursor& cursor);
  // What was written since `cursor`, which moves past it (at most 256 KiB per stream).
  Result<ProcessLogs> read_since(const std::string& sandbox, const std::string& id,
                                 ProcessOutputCursor& cursor);
  // The secrets to hide in the process's output.
  std::vector<std::string> secrets(const ProcessRecord& p);
  // One poll of the running processes (what the follower does every 500 ms).
  void poll_once();

 private:
  struct Follow {
    ProcessRecord rec;
    BusyTracker::Hold busy;
    bool launched = false;      // false while start_process holds the slot
    int64_t running_since = 0;  // since when its sandbox has run unfrozen (0: not now)
  };
  std::string dir_of(const std::string& id) const { return ".sandboxed/procs/" + id; }
  Result<ProcessRecord> load(const std::string& sandbox, const std::string& id);
  // The process's end, if its files or its sandbox say it ended, or its runner has
  // not shown a heartbeat while its sandbox ran for kLivenessMs (`lost`).
  // `running_since` is the Follow's, updated here.
  std::optional<ProcessRecord> ended(const ProcessRecord& p, int64_t& running_since);
  void record_end(const ProcessRecord& done);
  // Reads the pid sandbox-run wrote and stores it, while the process is followed.
  bool learn_pid(ProcessRecord& p);
  void prune(const std::string& sandbox);

  const Config& config_;
  Store& store_;
  SandboxService& sandboxes_;
  Clock& clock_;
  WorkspaceFiles files_;
  ValueSealer sealer_;

  std::mutex poll_mu_;  // one poll at a time (the follower's, a start's or a signal's)
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;                  // guarded by mu_
  std::map<std::string, Follow> running_;  // by process id; guarded by mu_
  std::thread thread_;
};

}  // namespace sandboxd
