// SandboxService's snapshots: taking, listing and deleting them, restoring a workspace
// from one, forking a sandbox, and importing the starter templates as named snapshots.
// A snapshot is a plain tree under <data>/snapshots/<id> (tree_copy.h), written whole
// before its row exists, so a row always names a complete tree.
#include <dirent.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

#include "sandboxd/sandbox/sandbox_service.h"
#include "sandboxd/sandbox/tree_copy.h"

namespace sandboxd {
namespace {

// What a snapshot leaves out of a workspace: the supervisor's state and logs, tasks' work
// directories (all in ~/.sandboxed) and ext4's lost+found.
const std::set<std::string> kNotCopied = {".sandboxed", "lost+found"};

// A directory only root reaches (snapshots hold tenants' files); ok when it exists.
Status make_private_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) return {};
  return Status(Code::kInternal, "mkdir " + path + ": " + std::strerror(errno));
}

bool valid_snapshot_name(const std::string& name) {
  if (name.empty() || name.size() > 64 || !std::isalnum(static_cast<unsigned char>(name[0])))
    return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
      return false;
  return true;
}

std::string read_small_file(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// The names of the directories directly under `dir` (empty when it is missing).
std::vector<std::string> subdirectories(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != ".." && e->d_type == DT_DIR) out.push_back(n);
  }
  ::closedir(d);
  return out;
}

}  // namespace

std::string SandboxService::snapshot_path(const std::string& snapshot_id) const {
  return config_.snapshots_dir() + "/" + snapshot_id;
}

Result<SnapshotRecord> SandboxService::find_snapshot(const std::string& id_or_name) {
  auto snap = store_.get_snapshot(id_or_name);
  if (!snap) return snap.error();
  if (!snap->has_value())
    return Status(Code::kNotFound, "no snapshot or template '" + id_or_name + "'");
  return std::move(**snap);
}

Result<SnapshotRecord> SandboxService::get_snapshot(const std::string& id_or_name) {
  return find_snapshot(id_or_name);
}

Result<std::vector<SnapshotRecord>> SandboxService::snapshots(
    const std::optional<std::string>& sandbox_id) {
  return store_.list_snapshots(sandbox_id);
}

Result<SnapshotRecord> SandboxService::snapshot(const std::string& raw_id,
                                                const std::string& name) {
  if (!name.empty() && !valid_snapshot_name(name))
    return Status(Code::kInvalidArgument,
                  "name: 1..64 characters of [A-Za-z0-9._-], starting with a letter or digit");
  return with_locked(raw_id, [&](SandboxRecord& rec) -> Result<SnapshotRecord> {
    ScopedOperation op(metrics_, Operation::kSnapshot, Trigger::kApi);
    auto snap = take_snapshot_locked(rec, name);
    if (snap) op.succeeded();
    return snap;
  });
}

Result<SnapshotRecord> SandboxService::take_snapshot_locked(const SandboxRecord& rec,
                                                            const std::string& name) {
  const bool up = rec.status == SandboxStatus::kRunning || rec.status == SandboxStatus::kFrozen;
  if (!up && rec.status != SandboxStatus::kStopped && rec.status != SandboxStatus::kError)
    return Status(Code::kConflict,
                  "sandbox " + rec.id + " is " + std::string(to_string(rec.status)));
  if (!name.empty()) {
    auto taken = store_.get_snapshot(name);
    if (!taken) return taken.error();
    if (taken->has_value())
      return Status(Code::kConflict, "a snapshot named '" + name + "' already exists");
  }
  auto mine = store_.list_snapshots(rec.id);
  if (!mine) return mine.error();
  if (static_cast<int>(mine->size()) >= config_.max_snapshots_per_sandbox)
    return Status(Code::kCapacity, "sandbox " + rec.id + " has " + std::to_string(mine->size()) +
                                       " snapshots, the most SANDBOXD_MAX_SNAPSHOTS_PER_SANDBOX "
                                       "allows; delete one first");
  if (auto s = attach_workspace(rec.id); !s.is_ok()) return s;
  auto total = store_.snapshot_bytes();
  if (!total) return total.error();
  const int64_t estimate = workspaces_.used_bytes(rec.id).value_or(0);
  if (*total + estimate > config_.snapshots_max_bytes)
    return Status(Code::kCapacity, "snapshots would take " + std::to_string(*total + estimate) +
                                       " bytes, past SANDBOXD_SNAPSHOTS_MAX_BYTES (" +
                                       std::to_string(config_.snapshots_max_bytes) +
                                       "); delete some first");

  SnapshotRecord snap;
  snap.created_at = clock_.now_ms();
  snap.id = new_ulid(snap.created_at);
  snap.name = name;
  snap.sandbox_id = rec.id;
  // Consistent: the sandbox's processes are paused for the copy (a frozen one already is).
  const bool pause = rec.status == SandboxStatus::kRunning;
  if (pause) {
    if (Status st = runtime_.pause(rec.container_name);
        !st.is_ok() && st.code() != Code::kNotFound && st.code() != Code::kConflict)
      return st.with_context("snapshot sandbox " + rec.id);
  }
  // Bounded by what is left of SANDBOXD_SNAPSHOTS_MAX_BYTES: hard links are copied as
  // separate files, so a tree can take far more than its disk's usage.
  auto copied = store_snapshot(snap, workspaces_.path(rec.id),
                               {kNotCopied, std::nullopt, config_.snapshots_max_bytes - *total});
  if (pause) {
    if (Status st = runtime_.unpause(rec.container_name); !st.is_ok())
      spdlog::warn("sandbox {}: unpause after snapshot: {}", rec.id, st.message());
  }
  if (!copied) return copied.error().with_context("snapshot sandbox " + rec.id);
  spdlog::info("sandbox {}: snapshot {}{} taken ({} files, {} bytes, {} reflinked)", rec.id,
               snap.id, name.empty() ? "" : " (" + name + ")", snap.files, snap.bytes,
               copied->reflinked);
  return snap;
}

Result<TreeCopyStats> SandboxService::store_snapshot(SnapshotRecord& snap, const std::string& from,
                                                     const TreeCopyOptions& opts) {
  const std::string tmp = snapshot_path(snap.id) + ".tmp";
  if (auto s = make_private_dir(tmp); !s.is_ok()) return s;
  auto copied = copy_tree(from, tmp, opts);
  if (!copied) {
    (void)remove_tree(tmp);
    return copied.error();
  }
  snap.bytes = copied->allocated;
  snap.files = copied->files;
  if (::rename(tmp.c_str(), snapshot_path(snap.id).c_str()) != 0) {
    Status st(Code::kInternal, "rename " + tmp + ": " + std::strerror(errno));
    (void)remove_tree(tmp);
    return st;
  }
  if (auto s = store_.insert_snapshot(snap); !s.is_ok()) {
    (void)remove_tree(snapshot_path(snap.id));
    return s;
  }
  return copied;
}

Status SandboxService::delete_snapshot(const std::string& id_or_name) {
  auto snap = find_snapshot(id_or_name);
  if (!snap) return snap.error();
  // Waits for copies out of it (creates, restores) to finish.
  std::unique_lock g(snapshots_mu_);
  if (auto s = store_.remove_snapshot(snap->id); !s.is_ok()) return s;
  if (auto s = remove_tree(snapshot_path(snap->id)); !s.is_ok())
    spdlog::warn("snapshot {}: its tree stays until the next start: {}", snap->id, s.message());
  spdlog::info("snapshot {} deleted", snap->id);
  return {};
}

Status SandboxService::copy_snapshot_into(const SnapshotRecord& snap, const SandboxRecord& rec) {
  if (rec.limits.disk_bytes > 0 && snap.bytes > rec.limits.disk_bytes)
    return Status(Code::kInvalidArgument, "snapshot " + snap.id + " holds " +
                                              std::to_string(snap.bytes) +
                                              " bytes, more than the sandbox's disk (" +
                                              std::to_string(rec.limits.disk_bytes) + ")");
  std::shared_lock g(snapshots_mu_);
  // Looked up before this lock: it may have been deleted since. Checked before the
  // workspace is emptied.
  auto still = store_.get_snapshot(snap.id);
  if (!still) return still.error();
  if (!still->has_value()) return Status(Code::kNotFound, "snapshot " + snap.id + " was deleted");
  const std::string ws = workspaces_.path(rec.id);
  if (auto s = clear_tree(ws, kNotCopied); !s.is_ok()) return s;
  auto copied = copy_tree(snapshot_path(snap.id), ws, {{}, static_cast<uid_t>(rec.uid)});
  if (!copied) return copied.error().with_context("copy snapshot " + snap.id);
  spdlog::info("sandbox {}: workspace copied from snapshot {} ({} files, {} bytes)", rec.id,
               snap.id, copied->files, copied->bytes);
  return {};
}

Result<SandboxRecord> SandboxService::restore(const std::string& raw_id,
                                              const std::string& snapshot) {
  auto snap = find_snapshot(snapshot);
  if (!snap) return snap.error();
  return with_locked(raw_id, [&](SandboxRecord& rec) -> Result<SandboxRecord> {
    ScopedOperation op(metrics_, Operation::kRestore, Trigger::kApi);
    if (rec.status == SandboxStatus::kFrozen) {
      auto thawed = start_locked(rec, Trigger::kApi, /*verify=*/false);
      if (!thawed) return thawed.error();
      rec = std::move(*thawed);
    }
    const bool running = rec.status == SandboxStatus::kRunning;
    if (!running && rec.status != SandboxStatus::kStopped && rec.status != SandboxStatus::kError)
      return Status(Code::kConflict,
                    "sandbox " + rec.id + " is " + std::string(to_string(rec.status)));
    if (auto s = attach_workspace(rec.id); !s.is_ok()) return s;
    // The app sees no half-restored tree: paused for the swap, then restarted.
    if (running) (void)runtime_.pause(rec.container_name);
    Status copied = copy_snapshot_into(*snap, rec);
    if (running) (void)runtime_.unpause(rec.container_name);
    if (!copied.is_ok()) return copied.with_context("restore sandbox " + rec.id);
    if (running) {
      if (Status st = runtime_.signal(rec.container_name, "HUP"); !st.is_ok())
        spdlog::warn("sandbox {}: restart of its app after the restore: {}", rec.id, st.message());
    }
    touch(rec, Trigger::kApi);
    if (auto s = store_.update(rec); !s.is_ok()) return s;
    spdlog::info("sandbox {} restored from snapshot {}", rec.id, snap->id);
    op.succeeded();
    return rec;
  });
}

Result<SandboxRecord> SandboxService::fork(const std::string& raw_id,
                                           std::optional<std::string> new_id) {
  auto source = get(raw_id);
  if (!source) return source.error();
  auto snap = with_locked(raw_id, [&](SandboxRecord& rec) -> Result<SnapshotRecord> {
    return take_snapshot_locked(rec, "");
  });
  if (!snap) return snap.error().with_context("fork sandbox " + source->id);
  CreateRequest req;
  req.id = std::move(new_id);
  req.ports = source->ports;
  req.env = source->env;
  req.metadata = source->metadata;
  req.idle_policy = source->idle_policy;
  req.memory_bytes = source->limits.memory_bytes;
  req.pids = source->limits.pids;
  req.nofile = source->limits.nofile;
  req.disk_bytes = source->limits.disk_bytes;
  req.cpu_millis = source->limits.cpu_millis;
  req.egress = source->egress;
  req.isolation = source->isolation;
  req.snapshot = snap->id;
  auto created = create(req);
  // The fork's snapshot was only the way across: its copy now lives in the new workspace.
  if (auto s = delete_snapshot(snap->id); !s.is_ok())
    spdlog::warn("fork of {}: snapshot {} kept: {}", source->id, snap->id, s.message());
  return created;
}

Status SandboxService::init_snapshots() {
  if (auto s = make_private_dir(config_.snapshots_dir()); !s.is_ok()) return s;
  auto rows = store_.list_snapshots(std::nullopt);
  if (!rows) return rows.error();
  std::set<std::string> known;
  for (const auto& r : *rows) known.insert(r.id);
  // Trees without a row: a copy cut short, or a delete whose removal failed.
  for (const auto& dir : subdirectories(config_.snapshots_dir())) {
    if (known.count(dir)) continue;
    spdlog::info("snapshots: removing leftover {}", dir);
    (void)remove_tree(config_.snapshots_dir() + "/" + dir);
  }
  return import_templates();
}

Status SandboxService::import_templates() {
  const std::string root = config_.templates_path();
  for (const auto& name : subdirectories(root)) {
    if (!valid_snapshot_name(name) || name.rfind("templates.staging", 0) == 0) continue;
    // scripts/build-templates.sh writes the stamp once a template is complete.
    const std::string stamp = read_small_file(root + "/." + name + ".built");
    if (stamp.empty()) {
      spdlog::warn("template {}: no build stamp ({}/.{}.built); not imported", name, root, name);
      continue;
    }
    auto existing = store_.get_snapshot(name);
    if (!existing) return existing.error();
    if (existing->has_value()) {
      const SnapshotRecord& old = **existing;
      if (!old.is_template()) {
        spdlog::warn("template {}: a snapshot of sandbox {} has that name; not imported", name,
                     old.sandbox_id);
        continue;
      }
      if (old.origin == stamp) continue;
      if (auto s = delete_snapshot(old.id); !s.is_ok()) return s;
    }
    SnapshotRecord snap;
    snap.created_at = clock_.now_ms();
    snap.id = new_ulid(snap.created_at);
    snap.name = name;
    snap.origin = stamp;
    if (auto copied = store_snapshot(snap, root + "/" + name, {}); !copied) {
      spdlog::warn("template {}: not imported: {}", name, copied.error().message());
      continue;
    }
    spdlog::info("template {} imported as snapshot {} ({} files, {} bytes)", name, snap.id,
                 snap.files, snap.bytes);
  }
  return {};
}

}  // namespace sandboxd
