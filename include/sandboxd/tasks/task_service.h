// TaskService: coding-agent tasks. A task runs inside its sandbox under
// `sandbox-init task-run` (started with SandboxService::launch, so it outlives sandboxd), which
// writes the agent's JSON lines to ~/.sandboxed/tasks/<task>/out.jsonl and, at the end,
// exit.json. sandboxd follows those files from the host side (never through a symlink):
// each pass turns new complete lines into normalised events and stores them in SQLite in
// the same transaction that advances the read offset, so after any crash every event is
// stored exactly once, in order. One running task per sandbox (a second is 409); the
// sandbox is held busy while it runs. Each followed task has a TaskFeed: every event
// is published to it once, right after it is stored, for the task's live streams; the
// feed of a finished task is dropped a minute after its end. Thread-safe.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "sandboxd/base/metrics.h"
#include "sandboxd/base/redactor.h"
#include "sandboxd/config/config.h"
#include "sandboxd/os/clock.h"
#include "sandboxd/os/secret_box.h"
#include "sandboxd/sandbox/sandbox_service.h"
#include "sandboxd/sandbox/workspace_files.h"
#include "sandboxd/store/store.h"
#include "sandboxd/tasks/agent_events.h"
#include "sandboxd/tasks/task_feed.h"

namespace sandboxd {

struct TaskRequest {
  std::string prompt;
  Agent agent = Agent::kOpenCode;
  std::string model;  // optional
  std::optional<int> timeout_s;
  // Secret: never logged or returned, stored only sealed (TaskRecord::sealed_env).
  std::map<std::string, std::string> env;
  // Snapshot the workspace first (TaskRecord::checkpoint_id), to restore it later.
  bool checkpoint = false;
};

// What one retention pass removed (TaskService::prune_finished).
struct TaskPrune {
  int64_t expired = 0;       // finished longer ago than SANDBOXD_TASK_RETENTION_DAYS
  int64_t over_cap = 0;      // beyond SANDBOXD_TASK_MAX_FINISHED_PER_SANDBOX of their sandbox
  int64_t dirs_removed = 0;  // task directories without a row (see sweep_task_dirs)
};

// Checks a task request (pure).
Status validate_task(const TaskRequest& req, const Config& config);
// The agent's argv (pure). sandbox-init gives the agent the prompt on its stdin, so it is
// on no command line.
std::vector<std::string> agent_argv(Agent agent, const std::string& model);

class TaskService {
 public:
  // Tasks that end are counted in `metrics`.
  TaskService(const Config& config, Store& store, SandboxService& sandboxes, Clock& clock,
              Workspaces& workspaces, Metrics& metrics);
  ~TaskService();
  TaskService(const TaskService&) = delete;
  TaskService& operator=(const TaskService&) = delete;

  // Takes up tasks left running by an earlier sandboxd and starts following them.
  void start();
  // Stops following (the agents keep running) and closes every feed, which ends their
  // waits.
  void stop();

  // Wakes the sandbox if needed and starts the agent. kConflict while another task of
  // the sandbox runs; a wake or launch failure is returned as the error (the task is
  // kept as failed with failure_reason start_failed).
  Result<TaskRecord> create(const std::string& sandbox_id, const TaskRequest& req);
  Result<TaskRecord> get(const std::string& sandbox_id, const std::string& task_id);
  Result<std::vector<TaskRecord>> list(const std::string& sandbox_id);
  // Asks the runner to end the agent's process group; the task ends `cancelled` once it
  // has. A finished task is returned as it is.
  Result<TaskRecord> cancel(const std::string& sandbox_id, const std::string& task_id);
  // Stored events after `after`.
  Result<std::vector<StoredEvent>> events(const std::string& task_id, int64_t after, int limit);
  // The live feed of a task followed now or ended less than a minute ago (done once its
  // last event is in it; closed once stop() ran); nullptr otherwise: the store has all
  // there is.
  std::shared_ptr<const TaskFeed> feed(const std::string& task_id);

  // One pass over the running tasks. The follower thread runs one whenever inotify says a
  // running task's directory changed, and at least every 200 ms.
  void poll_once();
  // Tasks being followed now (running, or ended but not yet recorded).
  std::size_t running_count();
  // Retention (task_retention.cpp): deletes finished tasks past the retention age or
  // beyond the per-sandbox cap (oldest first), with their events, then sweeps the task
  // directories that have no row. Running tasks are kept. Logs one line and counts them
  // in metrics. Blocks for a few SQLite batches and a listing of every workspace.
  Result<TaskPrune> prune_finished();

 private:
  struct Follow {
    TaskRecord task;
    AgentTally tally;
    bool launched = false;  // the runner was started (until then a stopped sandbox is normal)
    // The sandbox's and the task's env values: hidden in the agent's output before it
    // becomes events (agent_line), and as whole values in its paths and errors.
    Redactor redactor;
    BusyTracker::Hold busy;          // the sandbox is busy until the task's end is recorded
    std::shared_ptr<TaskFeed> feed;  // gets each event once it is stored
  };
  struct FeedSlot {
    std::shared_ptr<TaskFeed> feed;
    int64_t drop_at_ms = 0;  // once the task's end is recorded: when the feed goes (unix ms)
  };
  // A new feed for a task whose events up to `last_seq` are stored, in feeds_ (REQUIRES mu_).
  std::shared_ptr<TaskFeed> add_feed(const std::string& task_id, int64_t last_seq);
  // The redactor of a task taken up again after a restart: the sandbox's env (from its
  // row) and the task's own values (unsealed). What cannot be recovered is logged (never
  // the values) and left out.
  Redactor redactor_after_restart(const TaskRecord& task);
  // The task env values worth redacting, sealed for redactor_after_restart ("" when there
  // are none or they cannot be sealed, which is logged).
  std::string seal_env(const std::string& task_id, const std::map<std::string, std::string>& env);
  // Adds or drops inotify watches to match the running tasks (follower thread only).
  void sync_watches(const std::vector<std::string>& running);
  // Reads new output of one task, stores its events, finishes it when the runner is done.
  void follow(Follow& f);
  // Records the end (a `done` event with the result). On a store error the task stays
  // running and the next pass tries again.
  // Returns false when it could not be recorded (kept running; tried again next pass),
  // true when recorded or when the task's row is gone (purged).
  bool finish(Follow& f, TaskStatus status, FailureReason reason, const std::string& message);
  std::string task_dir(const std::string& task_id) const;  // workspace-relative
  // Removes, in every workspace, the entries of ~/.sandboxed/tasks named like task ids
  // that have no task row (never through a symlink): those of pruned tasks, and any a
  // crash or a failed removal left, so each pass retries them. Returns how many went;
  // failures are logged.
  int64_t sweep_task_dirs();

  const Config& config_;
  Store& store_;
  SandboxService& sandboxes_;
  Clock& clock_;
  Metrics& metrics_;
  WorkspaceFiles files_;
  std::mutex mu_;                    // follows_, feeds_, stopping_; taken before a feed's (a leaf)
  std::condition_variable stop_cv_;  // ends the follower's sleep when stopping
  std::map<std::string, Follow> follows_;  // running tasks by id
  std::map<std::string, FeedSlot> feeds_;  // task id -> its feed (see feed())
  bool stopping_ = false;
  std::thread thread_;
  std::string workspaces_root_;
  int inotify_fd_ = -1;                 // wakes the follower when a task's files change
  std::map<std::string, int> watches_;  // task id -> inotify watch (follower thread only)
  std::mutex poll_mu_;                  // one pass at a time
  ValueSealer sealer_;                  // under <state_dir>/redaction.key
};

}  // namespace sandboxd
