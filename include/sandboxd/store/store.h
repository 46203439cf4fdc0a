// Store: the only code that knows SQL. One SQLite connection in WAL mode, guarded by a
// mutex, so every method is thread-safe and each call is atomic. Migrations are applied
// by open(). Calls block for the duration of one small transaction.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "sandboxd/base/status.h"
#include "sandboxd/store/records.h"

namespace SQLite {
class Database;
}

namespace sandboxd {

class Store {
 public:
  // Opens (creating if needed) the database at `path` (":memory:" for tests), makes the
  // file readable by its owner only, and applies pending migrations.
  static Result<std::unique_ptr<Store>> open(const std::string& path);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Highest applied migration version.
  Result<int> schema_version();
  // The value stored under `key` in the meta table, setting it to `initial` first when
  // there is none (atomically).
  Result<std::string> meta_get_or_set(const std::string& key, const std::string& initial);
  // A trivial query; kUnavailable when the database does not answer.
  Status ping();
  // A uid slot no earlier call returned (a counter in the meta table, starting at 0):
  // slots are never reused, so a workspace kept after delete keeps a uid of its own.
  Result<int64_t> next_uid_slot();
  // Rows whose status is one of `statuses` (every row when empty).
  Result<int64_t> count(const std::vector<SandboxStatus>& statuses);

  Result<std::optional<SandboxRecord>> get(const std::string& id);
  Result<std::vector<SandboxRecord>> list(const ListQuery& query);
  // Inserts a new row; kConflict if the id exists.
  Status insert(const SandboxRecord& rec);
  // Replaces the row with rec.id; kNotFound if there is none.
  Status update(const SandboxRecord& rec);
  // Records activity: sets last_active_at/source unless the row has newer activity.
  // Touches nothing else, so it needs no id lock. A missing row is not an error.
  Status touch(const std::string& id, int64_t at, Trigger source);
  // Deletes the row; succeeds when there is none.
  Status remove(const std::string& id);
  // Purge: deletes the row, the sandbox's tasks and their events, its processes and its
  // snapshots' rows in one transaction;
  // succeeds when there are none.
  Status remove_with_tasks(const std::string& id);

  // --- background processes (process_store.cpp) ---
  // kConflict if the id exists.
  Status insert_process(const ProcessRecord& p);
  // Replaces every column of the process's row.
  Status update_process(const ProcessRecord& p);
  Result<std::optional<ProcessRecord>> get_process(const std::string& id);
  // A sandbox's processes: running ones first, then newest first.
  Result<std::vector<ProcessRecord>> list_processes(const std::string& sandbox_id);
  // Every process still running, of every sandbox.
  Result<std::vector<ProcessRecord>> running_processes();
  // Deletes the sandbox's ended processes beyond its `keep` newest ones; returns their ids.
  Result<std::vector<std::string>> prune_processes(const std::string& sandbox_id, int keep);

  // --- tasks (task_store.cpp) ---
  // kConflict if the id exists.
  Status insert_task(const TaskRecord& task);
  // Replaces every column of the task's row.
  Status update_task(const TaskRecord& task);
  Result<std::optional<TaskRecord>> get_task(const std::string& id);
  // A sandbox's tasks, newest first (at most `limit`).
  Result<std::vector<TaskRecord>> list_tasks(const std::string& sandbox_id, int limit);
  // Every task still running, of every sandbox.
  Result<std::vector<TaskRecord>> running_tasks();
  // In one transaction: appends `events` (type, data JSON) with seqs from task.next_seq
  // and saves the task (which the caller advanced: out_offset, tallies, status). On
  // success task.next_seq has moved past them; on failure nothing was written.
  Status append_task_events(TaskRecord& task,
                            const std::vector<std::pair<std::string, std::string>>& events,
                            int64_t now);
  // Events of a task with seq > after, oldest first (at most `limit`).
  Result<std::vector<StoredEvent>> task_events(const std::string& task_id, int64_t after,
                                               int limit);
  // Retention, in one transaction: deletes up to `limit` finished tasks and their
  // events, first those that finished before `finished_before` (unix ms), then, per
  // sandbox, those beyond its `keep_per_sandbox` most recently finished. Running tasks
  // are never deleted. Fewer than `limit` returned means nothing more is due.
  Result<std::vector<PrunedTask>> prune_finished_tasks(int64_t finished_before,
                                                       int keep_per_sandbox, int limit);

  // --- snapshots (snapshot_store.cpp) ---
  // kConflict when the name is taken.
  Status insert_snapshot(const SnapshotRecord& snap);
  // By id, else by name.
  Result<std::optional<SnapshotRecord>> get_snapshot(const std::string& id_or_name);
  // Every snapshot (and template), oldest first; only sandbox `sandbox_id`'s when given.
  Result<std::vector<SnapshotRecord>> list_snapshots(const std::optional<std::string>& sandbox_id);
  Status remove_snapshot(const std::string& id);
  // Bytes of every snapshot and template together.
  Result<int64_t> snapshot_bytes();

  // --- the warm pool (snapshot_store.cpp) ---
  Status insert_pool(const PoolEntry& entry);
  Status update_pool(const PoolEntry& entry);
  Result<std::vector<PoolEntry>> list_pool();
  Status remove_pool(const std::string& id);
  // In one transaction: removes pool entry `pool_id` and inserts `rec` (the claim).
  // kNotFound when the entry is gone (removed meanwhile).
  Status claim_pool(const std::string& pool_id, const SandboxRecord& rec);

 private:
  explicit Store(std::unique_ptr<SQLite::Database> db);
  Status migrate();

  std::mutex mu_;
  std::unique_ptr<SQLite::Database> db_;
};

}  // namespace sandboxd
