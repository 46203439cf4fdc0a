#include "sandboxd/reconcile/reconciler.h"

#include <spdlog/spdlog.h>

#include <unordered_map>

namespace sandboxd {

bool needs_convergence(const SandboxRecord& row, const ContainerState* c) {
  if (row.status == SandboxStatus::kRunning) return c == nullptr || !c->running || c->paused;
  if (row.status == SandboxStatus::kFrozen) return c == nullptr || !c->running || !c->paused;
  if (row.status == SandboxStatus::kStopped) return c != nullptr && c->running;
  return row.status != SandboxStatus::kError;  // an operation was interrupted
}

Result<ReconcileStats> Reconciler::tick() {
  // Networks may be pruned and egress rules vanish with a reboot or a firewall reload:
  // put them back first (until they are, creates and starts are refused).
  if (auto s = sandboxes_.ensure_networks(); !s.is_ok())
    spdlog::error("reconcile: {}", s.message());
  auto containers = sandboxes_.observe();
  if (!containers) return containers.error().with_context("reconcile");
  auto rows = sandboxes_.all();
  if (!rows) return rows.error().with_context("reconcile");
  ReconcileStats stats;
  stats.rows = static_cast<int>(rows->size());
  stats.containers = static_cast<int>(containers->size());
  std::unordered_map<std::string, const ContainerState*> by_id;
  for (const auto& c : *containers) {
    auto it = c.labels.find("sandboxed.id");
    if (it != c.labels.end()) by_id[it->second] = &c;
  }
  std::unordered_map<std::string, bool> has_row;
  for (const auto& row : *rows) {
    has_row[row.id] = true;
    auto it = by_id.find(row.id);
    if (!needs_convergence(row, it == by_id.end() ? nullptr : it->second)) continue;
    ++stats.converged;
    if (auto s = sandboxes_.converge(row.id); !s.is_ok()) {
      ++stats.failures;
      spdlog::warn("reconcile sandbox {}: {}", row.id, s.message());
    }
  }
  for (const auto& c : *containers) {
    auto it = c.labels.find("sandboxed.id");
    if (it != c.labels.end() && has_row.count(it->second)) continue;
    ++stats.orphans;
    if (auto s = sandboxes_.remove_orphan(c); !s.is_ok()) {
      ++stats.failures;
      spdlog::warn("reconcile orphan {}: {}", c.name, s.message());
    }
  }
  if (stats.converged || stats.orphans) {
    spdlog::info("reconcile: {} rows, {} containers, {} converged, {} orphans, {} failures",
                 stats.rows, stats.containers, stats.converged, stats.orphans, stats.failures);
  }
  return stats;
}

}  // namespace sandboxd
