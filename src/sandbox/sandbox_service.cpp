// SandboxService: construction, reads, files, the preview edge's calls and keepalive.
// The lifecycle operations are in lifecycle.cpp, convergence in convergence.cpp, exec in
// sandbox_exec.cpp.
#include "sandboxd/sandbox/sandbox_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "sandboxd/base/redactor.h"

namespace sandboxd {

SandboxService::SandboxService(const Config& config, Store& store, Runtime& runtime, Clock& clock,
                               Workspaces& workspaces, MemoryProbe& memory, Metrics& metrics)
    : config_(config),
      store_(store),
      runtime_(runtime),
      clock_(clock),
      workspaces_(workspaces),
      files_(workspaces.root(), workspaces.uid(), workspaces.gid(), config.files_max_bytes),
      memory_(memory),
      metrics_(metrics),
      activity_(store, clock),
      readiness_(store, runtime, clock) {}

Status SandboxService::admit(const std::string& what) {
  auto m = memory_.read();
  if (!m) return {};
  if (m->available_pct() < config_.mem_refuse_pct) {
    return Status(Code::kUnavailable, what + " refused: host memory low (" +
                                          std::to_string(static_cast<int>(m->available_pct())) +
                                          "% available, below SANDBOXD_MEM_REFUSE_PCT=" +
                                          std::to_string(config_.mem_refuse_pct) +
                                          "%); retry later");
  }
  return {};
}

Status SandboxService::ensure_network() {
  return runtime_.ensure_network(config_.network, instance_labels(config_.instance));
}

Status SandboxService::init() {
  auto install = store_.meta_get_or_set("install_id", random_hex(16));
  if (!install) return install.error();
  install_id_ = *install;
  if (auto s = workspaces_.init(); !s.is_ok()) return s;
  return ensure_network();
}

RunSpec SandboxService::run_spec(const SandboxRecord& rec) const {
  return sandboxd::run_spec(rec, config_, install_id_, workspaces_.path(rec.id));
}

Result<SandboxRecord> SandboxService::load(const std::string& raw_id) {
  auto id = normalize_id(raw_id);
  if (!id) return id.error();
  auto row = store_.get(*id);
  if (!row) return row.error();
  if (!row->has_value()) return Status(Code::kNotFound, "sandbox " + *id + " not found");
  return std::move(**row);
}

void SandboxService::touch(SandboxRecord& rec, Trigger source) {
  rec.last_active_at = clock_.now_ms();
  rec.last_active_source = source;
  rec.updated_at = rec.last_active_at;
}

void SandboxService::left_running(const std::string& id) {
  addresses_.forget(id);
  activity_.forget(id);
}

Result<SandboxRecord> SandboxService::get(const std::string& id) { return load(id); }

Result<ListResult> SandboxService::list(const ListQuery& query) {
  if (query.limit < 1) return Status(Code::kInvalidArgument, "limit: must be at least 1");
  ListQuery q = query;
  q.limit = query.limit + 1;  // one extra row tells whether another page exists
  auto rows = store_.list(q);
  if (!rows) return rows.error();
  ListResult out;
  out.sandboxes = std::move(*rows);
  if (out.sandboxes.size() > static_cast<std::size_t>(query.limit)) {
    out.sandboxes.pop_back();
    out.next_after = out.sandboxes.back().id;
  }
  return out;
}

Result<std::vector<ContainerState>> SandboxService::observe() {
  return runtime_.list(instance_labels(config_.instance));
}

Result<std::vector<SandboxRecord>> SandboxService::all() {
  std::vector<SandboxRecord> out;
  ListQuery q;
  q.limit = 500;
  for (;;) {
    auto page = store_.list(q);
    if (!page) return page.error();
    if (page->empty()) return out;
    q.after_id = page->back().id;
    bool last = page->size() < static_cast<std::size_t>(q.limit);
    std::move(page->begin(), page->end(), std::back_inserter(out));
    if (last) return out;
  }
}

Result<FileNode> SandboxService::get_file(const std::string& raw_id, std::string_view path) {
  auto rec = load(raw_id);
  if (!rec) return rec.error();
  record_activity(rec->id, Trigger::kFiles);
  return files_.get(rec->id, path);
}

Status SandboxService::put_file(const std::string& raw_id, std::string_view path,
                                std::string_view content, bool append) {
  auto rec = load(raw_id);
  if (!rec) return rec.error();
  record_activity(rec->id, Trigger::kFiles);
  return files_.put(rec->id, path, content, append);
}

Status SandboxService::delete_file(const std::string& raw_id, std::string_view path) {
  auto rec = load(raw_id);
  if (!rec) return rec.error();
  record_activity(rec->id, Trigger::kFiles);
  return files_.remove(rec->id, path);
}

Result<std::optional<std::string>> SandboxService::preview_address(const std::string& raw_id,
                                                                   int port) {
  if (!normalize_id(raw_id)) return Status(Code::kNotFound, "no sandbox " + raw_id);
  auto rec = load(raw_id);
  if (!rec) return rec.error();
  if (std::find(rec->ports.begin(), rec->ports.end(), port) == rec->ports.end())
    return Status(Code::kNotFound,
                  "sandbox " + rec->id + " does not expose port " + std::to_string(port));
  if (rec->status != SandboxStatus::kRunning) return std::optional<std::string>();
  return addresses_.get(rec->id);
}

Result<std::string> SandboxService::wake(const std::string& raw_id, Trigger trigger) {
  return with_locked(raw_id, [&](SandboxRecord& rec) -> Result<std::string> {
    auto started = start_locked(std::move(rec), trigger, /*verify=*/true);
    if (!started) return started.error();
    auto c = runtime_.inspect(started->container_name);
    if (!c) return c.error().with_context("wake sandbox " + started->id);
    auto ip = c->ips.find(config_.network);
    if (!c->running || ip == c->ips.end())
      return Status(Code::kUnavailable, "sandbox " + started->id + " has no address on network " +
                                            config_.network + " after its start");
    addresses_.put(started->id, ip->second);
    return ip->second;
  });
}

Result<std::string> SandboxService::logs(const std::string& raw_id, std::size_t max_bytes) {
  auto rec = load(raw_id);
  if (!rec) return rec.error();
  auto tail = workspaces_.read_tail(rec->id, {".sandboxed", "logs", "dev.log"}, max_bytes);
  if (!tail) return tail;
  // The app may print its env: the tail shows none of the sandbox's secrets.
  return Redactor(Redactor::values_of(rec->env)).whole(*tail);
}

Result<SandboxRecord> SandboxService::keepalive(const std::string& raw_id,
                                                std::optional<int64_t> seconds) {
  if (auto id = normalize_id(raw_id); !id) return id.error();
  if (seconds && *seconds < 0)
    return Status(Code::kInvalidArgument, "seconds: must not be negative");
  return with_locked(raw_id, [&](SandboxRecord& rec) -> Result<SandboxRecord> {
    if (rec.status == SandboxStatus::kDeleting || rec.status == SandboxStatus::kPurging) {
      return Status(Code::kConflict,
                    "sandbox " + rec.id + " is " + std::string(to_string(rec.status)));
    }
    touch(rec, Trigger::kKeepalive);
    if (seconds) {
      int64_t capped = std::min<int64_t>(*seconds, config_.keepalive_max_s);
      rec.keepalive_until = std::max(rec.keepalive_until, rec.last_active_at + capped * 1000);
    }
    if (auto s = store_.update(rec); !s.is_ok()) return s;
    return rec;
  });
}

}  // namespace sandboxd
