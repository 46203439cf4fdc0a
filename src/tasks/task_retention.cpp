// The retention part of TaskService (see task_service.h).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "sandboxd/base/metrics.h"
#include "sandboxd/tasks/task_service.h"

namespace sandboxd {
namespace {

// Tasks per SQLite transaction, so a large backlog never holds the store for long.
constexpr int kPruneBatch = 500;
constexpr int64_t kDayMs = 86'400'000;
constexpr const char* kTasksDir = ".sandboxed/tasks";

// Whether `name` has the shape of a task id (a lower-case ULID): the sweep leaves
// anything else in the tasks directory alone.
bool looks_like_task_id(const std::string& name) {
  return name.size() == 26 && std::all_of(name.begin(), name.end(), [](char c) {
           return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'z');
         });
}

}  // namespace

Result<TaskPrune> TaskService::prune_finished() {
  const int64_t cutoff = clock_.now_ms() - config_.task_retention_days * kDayMs;
  TaskPrune out;
  Status failed;
  for (;;) {
    auto batch = store_.prune_finished_tasks(cutoff, config_.task_max_finished, kPruneBatch);
    if (!batch) {
      failed = batch.error();
      break;
    }
    for (const auto& t : *batch) ++(t.over_cap ? out.over_cap : out.expired);
    if (batch->size() < static_cast<std::size_t>(kPruneBatch)) break;
  }
  out.dirs_removed = sweep_task_dirs();
  if (out.expired)
    metrics_.inc("sandboxd_tasks_pruned_total", {{"reason", "age"}},
                 static_cast<double>(out.expired));
  if (out.over_cap)
    metrics_.inc("sandboxd_tasks_pruned_total", {{"reason", "count"}},
                 static_cast<double>(out.over_cap));
  auto level = out.expired + out.over_cap + out.dirs_removed > 0 || !failed.is_ok()
                   ? spdlog::level::info
                   : spdlog::level::debug;
  spdlog::log(level,
              "tasks: pruned {} finished tasks ({} older than {} days, {} beyond {} per sandbox), "
              "{} directories removed{}",
              out.expired + out.over_cap, out.expired, config_.task_retention_days, out.over_cap,
              config_.task_max_finished, out.dirs_removed,
              failed.is_ok() ? "" : "; stopped: " + failed.message());
  if (!failed.is_ok()) return failed.with_context("prune tasks");
  return out;
}

int64_t TaskService::sweep_task_dirs() {
  auto ids = files_.workspace_ids();
  if (!ids) {
    spdlog::warn("tasks: listing the workspaces: {}", ids.error().message());
    return 0;
  }
  int64_t removed = 0;
  for (const auto& sandbox : *ids) {
    // Absent until the sandbox's first task (and the workspace may be purged meanwhile).
    auto listing = files_.get(sandbox, kTasksDir);
    if (!listing) {
      if (listing.error().code() != Code::kNotFound)
        spdlog::warn("tasks: listing the task directories of sandbox {}: {}", sandbox,
                     listing.error().message());
      continue;
    }
    for (const auto& entry : listing->entries) {
      if (!looks_like_task_id(entry.name)) continue;
      // A task's row is stored before its directory is made, so this never hits a live
      // task; on a store error the directory is kept for the next pass.
      auto row = store_.get_task(entry.name);
      if (!row || row->has_value()) continue;
      Status st = files_.remove_tree(sandbox, task_dir(entry.name));
      if (st.is_ok())
        ++removed;
      else if (st.code() != Code::kNotFound)
        spdlog::warn("tasks: removing the directory of deleted task {} (sandbox {}): {}",
                     entry.name, sandbox, st.message());
    }
  }
  return removed;
}

}  // namespace sandboxd
