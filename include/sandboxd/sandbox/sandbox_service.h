// SandboxService: the one lifecycle service. Every state change of a sandbox (API,
// reconciler, reapers, wake path, tasks) goes through here, under the sandbox's id lock,
// and is written to the Store before and after each runtime action so a crash between
// any two steps leaves a row that can be converged. Thread-safe; methods block for the
// runtime calls they make (up to the runtime's timeout).
//
// Its parts live beside it: what a container is (sandbox_spec.h), request checks
// (validation.h), busy holds (busy_tracker.h), activity (activity.h), the preview address
// cache (preview/address_cache.h); the policies that decide what to stop or converge
// live with their reapers and the reconciler. The class itself is implemented in
// sandbox_service.cpp (reads, files, edge), lifecycle.cpp (create/start/stop/delete/
// purge), convergence.cpp (converge, orphans, conditional stops) and sandbox_exec.cpp.
//
// Lock order: a sandbox's id lock first, then capacity_mu_; the Store's, BusyTracker's,
// AddressCache's, ActivityRecorder's and Readiness's mutexes are leaves, held only inside their own
// calls. Two id locks are never held at once.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "sandboxd/base/ids.h"
#include "sandboxd/base/metrics.h"
#include "sandboxd/config/config.h"
#include "sandboxd/net/egress.h"
#include "sandboxd/os/clock.h"
#include "sandboxd/os/memory.h"
#include "sandboxd/preview/address_cache.h"
#include "sandboxd/runtime/runtime.h"
#include "sandboxd/sandbox/activity.h"
#include "sandboxd/sandbox/app_state.h"
#include "sandboxd/sandbox/busy_tracker.h"
#include "sandboxd/sandbox/exec_stream.h"
#include "sandboxd/sandbox/id_locks.h"
#include "sandboxd/sandbox/readiness.h"
#include "sandboxd/sandbox/sandbox_spec.h"
#include "sandboxd/sandbox/tree_copy.h"
#include "sandboxd/sandbox/validation.h"
#include "sandboxd/sandbox/workspace_files.h"
#include "sandboxd/sandbox/workspaces.h"
#include "sandboxd/store/store.h"

namespace sandboxd {

// What a sandbox uses now (GET /v1/sandboxes/{id}, /metrics); unknown parts are nullopt.
struct SandboxUsage {
  std::optional<int64_t> disk_used_bytes;  // while its disk is mounted
  ContainerUsage container;                // while it runs
};

// The egress rules' plan for the sandbox networks of `config` on `runtime` (their
// interfaces, the operator's exceptions, the host's DNS upstreams).
Result<EgressPlan> egress_plan(const Config& config, Runtime& runtime);

// What the preview edge knows of a sandbox's port without a runtime call.
struct PreviewTarget {
  std::optional<std::string> address;  // running and its address known: go there
  bool frozen = false;  // paused: hold the request and thaw it (no waking page needed)
};

// The sandbox's dev server as its supervisor last reported it, and the tail of its log.
struct AppView {
  AppState state;         // "none" (with a reason) unless the sandbox runs or is frozen
  bool reported = false;  // `state` is the supervisor's word since the sandbox's start
  std::string log_tail;   // env values hidden (Redactor::whole)
};

struct ListResult {
  std::vector<SandboxRecord> sandboxes;
  std::string next_after;  // empty when this is the last page
};

class SandboxService {
 public:
  // `memory` gates creates and starts (503 below SANDBOXD_MEM_REFUSE_PCT available);
  // lifecycle operations are counted in `metrics`. `egress` installs the host's egress
  // rules for the sandbox networks (null: none, for unit tests on a fake runtime).
  SandboxService(const Config& config, Store& store, Runtime& runtime, Clock& clock,
                 Workspaces& workspaces, MemoryProbe& memory, Metrics& metrics,
                 EgressFirewall* egress);

  // Ensures the sandbox networks (one per egress policy) and their egress rules exist.
  // Call once at startup.
  Status init();
  // Creates a missing sandbox network (e.g. pruned) and re-installs the egress rules when
  // any is missing (after a reboot, a firewall reload or a hand edit); the reconciler
  // calls it on every tick.
  Status ensure_networks();

  // Creates and starts a sandbox. kInvalidArgument (bad input; nothing is written),
  // kConflict (id in use), kUnavailable (runtime down / image missing). On a failure
  // after validation everything this call made is rolled back.
  Result<SandboxRecord> create(const CreateRequest& req);
  Result<SandboxRecord> get(const std::string& id);
  // What the sandbox of `rec` uses now: its disk's bytes in use, its memory and CPU time.
  SandboxUsage usage(const SandboxRecord& rec);
  Result<ListResult> list(const ListQuery& query);
  // Starts a stopped sandbox (recreating its container from the row if it vanished) or
  // thaws a frozen one. Idempotent for a running one. kConflict while creating/deleting/
  // purging.
  Result<SandboxRecord> start(const std::string& id, Trigger trigger);
  // Stops a running (or frozen) sandbox gracefully. Idempotent for a stopped one.
  Result<SandboxRecord> stop(const std::string& id);
  // Removes the container and the row, keeps the workspace. Idempotent. Only a container
  // with this instance's labels is removed: for an id without a row whose container name
  // is held by another container, kNotFound and nothing is changed.
  Status destroy(const std::string& id);
  // Removes container, row, tasks and workspace; returns the bytes freed. Idempotent;
  // the same rule as destroy for containers that are not this instance's.
  Result<int64_t> purge(const std::string& id);
  // Runs a command as the sandbox user, starting a stopped sandbox first. Its output and
  // errors show the sandbox's and the request's env values as "***" (Redactor::whole).
  Result<ExecResult> exec(const std::string& id, const ExecRequest& req);
  // exec with the output streamed (exec_stream.h): the same checks, and every error
  // comes before the first byte of output. The command runs under `sandbox-run exec`,
  // which ends it when the stream is destroyed; kConflict for a container
  // older than sandbox-run. Busy until the stream is destroyed.
  Result<std::unique_ptr<ExecStream>> exec_stream(const std::string& id, const ExecRequest& req);
  // A login shell (bash) on a pseudo-terminal of `cols` x `rows`, as the sandbox user in
  // the app directory, starting a stopped sandbox first. Input is framed for
  // `sandbox-run pty` (os/pty_frames.h); output is the terminal's bytes. Takes an exec
  // slot but no busy hold: an idle open terminal does not keep the sandbox awake. Its
  // output is not redacted (a held-back byte would delay the echo of typing).
  Result<std::unique_ptr<ExecStream>> open_terminal(const std::string& id, int cols, int rows);
  // Starts `cmd` as the sandbox user in `workdir` (empty: the app directory) of a
  // running sandbox and returns at once (it outlives this call and sandboxd).
  // kUnavailable if it could not be started. Errors are not redacted: the caller knows which env
  // values to hide.
  Status launch(const std::string& id, std::vector<std::string> cmd,
                std::map<std::string, std::string> env, const std::string& workdir = "");
  // The tail (up to max_bytes) of the dev server's log that sandbox-init keeps in the
  // workspace (~/.sandboxed/logs/dev.log), the sandbox's env values hidden (Redactor::whole).
  // Works whether the sandbox runs or not.
  Result<std::string> logs(const std::string& id, std::size_t max_bytes);
  // The app's state from ~/.sandboxed/app.json (trusted only while the sandbox runs; the
  // file is removed before each start) and the last `log_bytes` of its log.
  AppView app(const SandboxRecord& rec, std::size_t log_bytes = 4096);
  // Polls app() until the app listens, crashed, or its supervisor says there is none to
  // run, or `seconds` pass (what app() says then tells the caller why).
  void wait_for_app(const std::string& id, int seconds);
  // Changes what `req` sets (patch.cpp). Metadata and the idle policy apply at once; env
  // and ports rewrite the env file and restart a running app with them; limits are
  // recorded in pending_restart and the next start makes a new container with them.
  // kInvalidArgument (nothing changed) for what a create would refuse.
  Result<SandboxRecord> patch(const std::string& id, const PatchRequest& req);
  // Records activity now and optionally holds off the idle reaper for `seconds`.
  Result<SandboxRecord> keepalive(const std::string& id, std::optional<int64_t> seconds);

  // --- snapshots (snapshots.cpp) ---
  // Copies sandbox `id`'s workspace (all but ~/.sandboxed) into a new snapshot named
  // `name` ("" for none); a running sandbox is paused for the copy. kCapacity past
  // SANDBOXD_MAX_SNAPSHOTS_PER_SANDBOX or SANDBOXD_SNAPSHOTS_MAX_BYTES, kConflict for a
  // name in use or a sandbox on its way in or out.
  Result<SnapshotRecord> snapshot(const std::string& id, const std::string& name);
  // By id or name (templates are named snapshots without a sandbox).
  Result<SnapshotRecord> get_snapshot(const std::string& id_or_name);
  Result<std::vector<SnapshotRecord>> snapshots(const std::optional<std::string>& sandbox_id);
  Status delete_snapshot(const std::string& id_or_name);
  // Replaces sandbox `id`'s workspace (all but ~/.sandboxed) with a copy of the snapshot;
  // a running app is paused for the swap, then restarted by its supervisor (SIGHUP).
  Result<SandboxRecord> restore(const std::string& id, const std::string& snapshot);
  // A new sandbox (id `new_id`, or a new one) with sandbox `id`'s settings and a copy of
  // its workspace: a snapshot, a create from it, and the snapshot's removal.
  Result<SandboxRecord> fork(const std::string& id, std::optional<std::string> new_id);
  // Call once at startup (after init): removes snapshot trees without a row and imports
  // the templates of SANDBOXD_TEMPLATES_DIR whose build stamp is new.
  Status init_snapshots();

  // --- the warm pool (warm_pool.cpp) ---
  // One pass of the pool's upkeep: discards entries that are broken, unfinished (a crash),
  // made for other defaults, or beyond SANDBOXD_WARM_POOL, then makes new ones until
  // SANDBOXD_WARM_POOL are ready (while memory admits). Run on a timer.
  Status fill_pool();
  // Pool entries ready to be claimed.
  int pool_ready();

  // --- for the reconciler and reapers; each takes the sandbox's lock ---
  // This instance's containers as the runtime sees them (one runtime call).
  Result<std::vector<ContainerState>> observe();
  // Every row (paged internally).
  Result<std::vector<SandboxRecord>> all();
  // Converges one sandbox: finishes an interrupted operation (creating, starting,
  // stopping, deleting, purging) or makes the runtime match a running/stopped row (an
  // always_on sandbox whose container died is started again).
  Status converge(const std::string& id);
  // Removes a container of this instance that has no row, if this installation made it
  // (re-checked under the id lock); anything else is only reported.
  Status remove_orphan(const ContainerState& container);
  // Stops the sandbox for `trigger` (recording `reason` as its stop reason) if, looked at
  // again under its lock, `still` holds for its row. True if it stopped it.
  Result<bool> stop_if(const std::string& id, Trigger trigger, const std::string& reason,
                       const std::function<bool(const SandboxRecord&)>& still);
  // Freezes (pauses) the running sandbox if, looked at again under its lock, `still` holds
  // for its row. True if it froze it.
  Result<bool> freeze_if(const std::string& id,
                         const std::function<bool(const SandboxRecord&)>& still);

  // --- the files API: the workspace, running or not; each call counts as activity ---
  // A directory listing or a file's content (path relative to the workspace, i.e. the
  // sandbox user's home; "" is the workspace itself).
  Result<FileNode> get_file(const std::string& id, std::string_view path);
  // Writes (atomically) or appends; parent directories are created.
  Status put_file(const std::string& id, std::string_view path, std::string_view content,
                  bool append);
  // Removes a file, a symlink itself or an empty directory.
  Status delete_file(const std::string& id, std::string_view path);

  // --- for the preview edge ---
  // Where a sandbox's port is, without any runtime call: the address when the row is
  // running and its address is known; no address when it must be woken (or thawed, when
  // `frozen`) first. kNotFound when there is no such sandbox or it does not declare `port`.
  Result<PreviewTarget> preview_address(const std::string& id, int port);
  // AddressCache::generation(): an address preview_address gave stays valid while this
  // value, read before the call, is unchanged.
  uint64_t address_generation() const { return addresses_.generation(); }
  // Brings the sandbox to running (starting or thawing it, or recreating a vanished
  // container, under its lock; a running one is verified) and returns its address on the
  // sandbox network.
  Result<std::string> wake(const std::string& id, Trigger trigger);
  // Records activity now (writes at most once per second per sandbox) and thaws the
  // sandbox if it is frozen (blocking, as wake does): a relayed WebSocket or a files call
  // reaches a frozen app this way.
  void record_activity(const std::string& id, Trigger source);

  // Sandboxes with an exec or a task in progress; the reapers leave them alone.
  BusyTracker& busy() { return busy_; }
  const std::string& install_id() const { return install_id_; }
  // kOk when SQLite and the runtime answer (see readiness.h).
  Status readiness() { return readiness_.check(); }
  // The RunSpec for a sandbox row (public for tests of the exact hardening).
  RunSpec run_spec(const SandboxRecord& rec) const;
  // Callers blocked on sandbox `id`'s lock (for tests that prove operations serialize).
  int lock_waiters(const std::string& id) { return locks_.waiting(id); }

 private:
  // The prologue of every operation on one sandbox: normalizes `raw_id`, takes its lock
  // and loads its row (kInvalidArgument, kNotFound), then returns fn(row) under the lock.
  template <class Fn>
  auto with_locked(const std::string& raw_id, Fn&& fn)
      -> decltype(fn(std::declval<SandboxRecord&>())) {
    auto id = normalize_id(raw_id);
    if (!id) return id.error();
    auto guard = locks_.lock(*id);
    auto rec = load(*id);
    if (!rec) return rec.error();
    return fn(*rec);
  }
  Result<SandboxRecord> load(const std::string& id);
  // Runs the container for rec; retries once after creating a missing network or removing
  // a stale container of this sandbox that holds the name. Returns the container id. Its
  // error is redacted with the sandbox's env (run_container_unredacted does the work).
  Result<std::string> run_container(const SandboxRecord& rec);
  Result<std::string> run_container_unredacted(const SandboxRecord& rec);
  // Requires the id lock. Brings rec to running (start, or recreate a vanished
  // container) and saves it. A running row is returned as is unless `verify`, which
  // makes sure its container really runs.
  Result<SandboxRecord> start_locked(SandboxRecord rec, Trigger trigger, bool verify);
  // Brings the sandbox up for a command (sandbox_exec.cpp): fills in spec's container,
  // user and the row's env (the call's values win), and adds the row's secrets.
  Status bring_up_for(const std::string& id, ExecSpec& spec, std::vector<std::string>& secrets,
                      bool verify);
  // exec_stream and open_terminal: `spec.cmd` already wrapped in sandbox-run. An
  // `interactive` one (the terminal) takes no busy hold and is not redacted.
  Result<std::unique_ptr<ExecStream>> open_stream(const std::string& id, ExecSpec spec,
                                                  std::vector<std::string> secrets, int timeout_s,
                                                  bool interactive);
  // The bodies of stop/destroy/purge; require the id lock.
  Result<SandboxRecord> stop_locked(SandboxRecord rec, Trigger trigger, const std::string& reason);
  // Require the id lock. Pause a running sandbox / unpause a frozen one (kNotFound when
  // its container vanished: the caller starts it from the row).
  Result<SandboxRecord> freeze_locked(SandboxRecord rec);
  Result<SandboxRecord> thaw_locked(SandboxRecord rec, Trigger trigger);
  Status destroy_locked(const std::string& id);
  Result<int64_t> purge_locked(const std::string& id);
  // Marks the row of `id` (if any) `status` before its removal; returns the container
  // name to remove and whether there was a row.
  Result<std::pair<std::string, bool>> mark_for_removal(const std::string& id,
                                                        SandboxStatus status);
  // Removes container `name` of sandbox `id` only if it carries this instance's labels
  // (sandboxed.managed, sandboxed.instance, sandboxed.id); ok when there is none. Any
  // other container is left alone: ok when the sandbox `has_row`, else kNotFound.
  Status remove_own_container(const std::string& id, const std::string& name, bool has_row);
  Status finish_create_locked(SandboxRecord rec);
  // Requires the id lock. Readies what a container of rec needs before it runs: its
  // workspace on its mounted disk, owned by its uid, and its identity files; a row from
  // before quotas and per-sandbox uids gets the defaults and a uid of its own, saved once
  // all of that is ready.
  Status prepare_locked(SandboxRecord& rec);
  // Mounts the workspace's existing disk if it is not (after a reboot), under the id
  // lock; nothing for a row being deleted or purged.
  Status attach_workspace(const std::string& id);
  // kCapacity when a new row (`new_row`) or one more running sandbox (`will_run`) would
  // pass SANDBOXD_MAX_SANDBOXES / SANDBOXD_MAX_RUNNING (creating, starting and running
  // rows count as running; `counted`: the caller's own row is one of them already).
  // Requires capacity_mu_.
  Status admit_capacity(bool new_row, bool will_run, bool counted = false);
  // Marks a running container's row stopped after it exited or vanished.
  Status mark_stopped_locked(SandboxRecord rec, const ContainerState* container);
  void touch(SandboxRecord& rec, Trigger source);
  // The row a create of `req` makes for sandbox `id` (status creating, no uid yet).
  SandboxRecord new_record(const CreateRequest& req, const std::string& id,
                           Isolation isolation) const;
  // Serves a create (without an id) with a ready pool entry whose container fits it:
  // writes its env file, copies `snap` in, inserts the row and removes the entry in one
  // transaction, and restarts its app (SIGHUP) when it has env or files. nullopt when
  // none fits or the claim failed (the caller creates cold). Takes the entry's id lock.
  std::optional<SandboxRecord> claim_pooled(const CreateRequest& req, Isolation isolation,
                                            const std::optional<SnapshotRecord>& snap);
  // Whether `id` is a warm pool entry's (made or being made).
  bool is_pooled(const std::string& id);
  // Require the entry's id lock. Makes one entry / removes one and all it made.
  Status make_pooled_locked(const std::string& id);
  void discard_pooled_locked(const PoolEntry& entry, const std::string& why);
  // Removes ~/.sandboxed/app.json before a container starts (or a pooled one becomes a
  // sandbox), so app() never reads a previous run's state as this one's.
  void forget_app_state(const std::string& id);
  std::string snapshot_path(const std::string& snapshot_id) const;
  Result<SnapshotRecord> find_snapshot(const std::string& id_or_name);
  // Copies `from` into snapshot `snap`'s tree (through <id>.tmp, renamed when whole), sets
  // its bytes and files, and inserts its row; on failure nothing of it is left.
  Result<TreeCopyStats> store_snapshot(SnapshotRecord& snap, const std::string& from,
                                       const TreeCopyOptions& opts);
  // Require the id lock.
  Result<SnapshotRecord> take_snapshot_locked(const SandboxRecord& rec, const std::string& name);
  // Empties rec's workspace (but ~/.sandboxed) and copies the snapshot in, owned by rec's
  // uid. Requires the id lock.
  Status copy_snapshot_into(const SnapshotRecord& snap, const SandboxRecord& rec);
  Status import_templates();
  bool is_frozen(const std::string& id);
  // Drops `id` from the frozen set; true if it was there.
  bool forget_frozen(const std::string& id);
  // The sandbox left `running`: its address and activity throttle go.
  void left_running(const std::string& id);
  // kUnavailable when the egress rules are not in place, or host memory is below the
  // refuse band (an unreadable meminfo admits).
  Status admit(const std::string& what);
  // Installs the egress rules when any is missing; records the outcome in egress_ok_.
  Status ensure_egress();

  const Config& config_;
  Store& store_;
  Runtime& runtime_;
  Clock& clock_;
  Workspaces& workspaces_;
  WorkspaceFiles files_;
  MemoryProbe& memory_;
  Metrics& metrics_;
  EgressFirewall* egress_;
  std::atomic<bool> egress_ok_{false};    // the last ensure_egress() succeeded
  std::atomic<bool> gvisor_seen_{false};  // the engine has said it runs gVisor
  IdLocks locks_;
  // Held from a capacity check to the write that makes it count (the new row, or the
  // `starting` intent), so concurrent creates and starts cannot pass a cap together.
  // Taken under an id lock; a leaf otherwise.
  std::mutex capacity_mu_;
  std::string install_id_;  // labelled on every container; see run_container
  std::atomic<int> execs_in_flight_{0};
  BusyTracker busy_;
  ActivityRecorder activity_;
  AddressCache addresses_;
  // Frozen sandboxes (as this process froze them) -> their address, which a paused
  // container keeps, so a thaw needs no inspect. A leaf mutex.
  std::mutex frozen_mu_;
  std::map<std::string, std::string> frozen_;
  // Shared while a snapshot's tree is copied out, exclusive while one is deleted. A leaf.
  std::shared_mutex snapshots_mu_;
  Readiness readiness_;
};

}  // namespace sandboxd
