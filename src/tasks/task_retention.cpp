// The retention part of TaskService (see task_service.h).
#include <spdlog/spdlog.h>

#include "sandboxd/base/metrics.h"
#include "sandboxd/tasks/task_service.h"

namespace sandboxd {
namespace {

// Tasks per SQLite transaction, so a large backlog never holds the store for long.
constexpr int kPruneBatch = 500;
constexpr int64_t kDayMs = 86'400'000;

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
    for (const auto& t : *batch) {
      ++(t.over_cap ? out.over_cap : out.expired);
      // The workspace is gone after a purge; anything else is worth a line.
      Status st = files_.remove_tree(t.sandbox_id, task_dir(t.id));
      if (st.is_ok())
        ++out.dirs_removed;
      else if (st.code() != Code::kNotFound)
        spdlog::warn("tasks: removing the directory of pruned task {}: {}", t.id, st.message());
    }
    {
      std::lock_guard lock(mu_);
      for (const auto& t : *batch) last_seq_.erase(t.id);
    }
    if (batch->size() < static_cast<std::size_t>(kPruneBatch)) break;
  }
  if (out.expired)
    metrics().inc("sandboxd_tasks_pruned_total", {{"reason", "age"}},
                  static_cast<double>(out.expired));
  if (out.over_cap)
    metrics().inc("sandboxd_tasks_pruned_total", {{"reason", "count"}},
                  static_cast<double>(out.over_cap));
  auto level = out.expired + out.over_cap > 0 || !failed.is_ok() ? spdlog::level::info
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

}  // namespace sandboxd
