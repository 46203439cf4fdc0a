// SandboxService's warm pool: started sandboxes made ahead for creates of the default
// image and limits. An entry is made exactly as a cold create of its (pre-chosen) id
// would make it: the same container name, hostname, labels, mounts and limits, and an
// empty env file. A claim turns it into that sandbox: the env file is rewritten (the
// container's own env has none of the sandbox's, see run_spec) and the app restarted,
// so what the API returns and how the sandbox behaves are a cold create's.
#include <spdlog/spdlog.h>

#include <map>
#include <optional>

#include "sandboxd/sandbox/identity.h"
#include "sandboxd/sandbox/sandbox_service.h"

namespace sandboxd {
namespace {

// What a pooled container was made with that a create could ask differently: a create
// fits an entry when these are equal (env and ports are not here: they are in the env
// file, and previews are routed by the edge from the row).
std::string pool_fingerprint(const SandboxRecord& rec) {
  return rec.image + "|" + std::to_string(rec.limits.memory_bytes) + "|" +
         std::to_string(rec.limits.pids) + "|" + std::to_string(rec.limits.nofile) + "|" +
         std::to_string(rec.limits.disk_bytes) + "|" + std::to_string(rec.limits.cpu_millis) + "|" +
         std::string(to_string(rec.egress)) + "|" + std::string(to_string(rec.isolation));
}

}  // namespace

bool SandboxService::is_pooled(const std::string& id) {
  auto entries = store_.list_pool();
  if (!entries) return true;  // unsure: the caller leaves it alone
  for (const auto& e : *entries)
    if (e.id == id) return true;
  return false;
}

int SandboxService::pool_ready() {
  auto entries = store_.list_pool();
  if (!entries) return 0;
  int n = 0;
  for (const auto& e : *entries) n += e.ready ? 1 : 0;
  return n;
}

std::optional<SandboxRecord> SandboxService::claim_pooled(
    const CreateRequest& req, Isolation isolation, const std::optional<SnapshotRecord>& snap) {
  const std::string fingerprint = pool_fingerprint(new_record(req, "", isolation));
  auto entries = store_.list_pool();
  if (!entries) return std::nullopt;
  for (const auto& listed : *entries) {
    if (!listed.ready || listed.fingerprint != fingerprint) continue;
    auto guard = locks_.lock(listed.id);
    // Another create may have claimed it while this one waited for the lock.
    auto now_entries = store_.list_pool();
    if (!now_entries) return std::nullopt;
    const PoolEntry* entry = nullptr;
    for (const auto& e : *now_entries)
      if (e.id == listed.id && e.ready) entry = &e;
    if (!entry) continue;
    SandboxRecord rec = new_record(req, entry->id, isolation);
    rec.uid = entry->uid;
    rec.status = SandboxStatus::kRunning;
    rec.container_id = entry->container_id;
    rec.created_at = clock_.now_ms();
    rec.started_at = rec.created_at;
    touch(rec, Trigger::kCreate);
    auto fail = [&](const Status& why) -> std::optional<SandboxRecord> {
      // Its env file or workspace may hold this create's data now: it is not reused.
      discard_pooled_locked(*entry, "claim failed: " + why.message());
      return std::nullopt;
    };
    {
      // A create refused for capacity costs no entry: checked before the entry is
      // touched (and again with the claim). The cold path gives the caller the error.
      std::lock_guard cap(capacity_mu_);
      if (!admit_capacity(/*new_row=*/true, /*will_run=*/true).is_ok()) return std::nullopt;
    }
    // Not ready from here on: after a crash mid-claim the entry (which may hold this
    // create's env and files) is discarded, never claimed again.
    PoolEntry taken = *entry;
    taken.ready = false;
    if (auto s = store_.update_pool(taken); !s.is_ok()) return fail(s);
    if (auto s = write_identity(config_.identity_dir(), rec.id, rec.uid, env_file_values(rec));
        !s.is_ok())
      return fail(s);
    if (snap) {
      // Paused for the copy: its supervisor must not start a half-copied app.
      if (auto s = runtime_.pause(rec.container_name); !s.is_ok()) return fail(s);
      Status copied = copy_snapshot_into(*snap, rec);
      Status resumed = runtime_.unpause(rec.container_name);
      if (!copied.is_ok()) return fail(copied);
      if (!resumed.is_ok()) return fail(resumed);
    }
    // The pooled app's state is not this sandbox's: its supervisor writes it anew after
    // the SIGHUP (app() reads "not reported yet" until then).
    forget_app_state(rec.id);
    // The supervisor reads the env file (env, ports) and the app's files when it starts
    // the app: it starts it again now. Before the row exists, so a crash never leaves a
    // sandbox whose app did not get its env.
    if (auto s = runtime_.signal(rec.container_name, "HUP"); !s.is_ok()) return fail(s);
    {
      std::lock_guard cap(capacity_mu_);
      Status s = admit_capacity(/*new_row=*/true, /*will_run=*/true);
      if (s.is_ok()) s = store_.claim_pool(entry->id, rec);
      if (!s.is_ok()) return fail(s);
    }
    metrics_.inc("sandboxd_warm_pool_claims_total", {{"result", "hit"}});
    spdlog::info("sandbox {} created from the warm pool ({}, uid {}{})", rec.id, rec.container_name,
                 rec.uid, snap ? ", snapshot " + snap->id : "");
    return rec;
  }
  // Only creates the pool is made for count as misses.
  if (fingerprint == pool_fingerprint(new_record(CreateRequest{}, "", config_.isolation)))
    metrics_.inc("sandboxd_warm_pool_claims_total", {{"result", "miss"}});
  return std::nullopt;
}

Status SandboxService::fill_pool() {
  auto entries = store_.list_pool();
  if (!entries) return entries.error();
  const std::string fingerprint =
      pool_fingerprint(new_record(CreateRequest{}, "", config_.isolation));
  // One runtime call for all entries' containers (none when it fails: nothing is judged).
  std::optional<std::map<std::string, ContainerState>> containers;
  if (!entries->empty()) {
    if (auto seen = observe()) {
      containers.emplace();
      for (auto& c : *seen) (*containers)[c.name] = std::move(c);
    }
  }
  int kept = 0;
  for (const auto& listed : *entries) {
    auto guard = locks_.lock(listed.id);
    if (!is_pooled(listed.id)) continue;  // claimed meanwhile
    std::string why;
    if (!listed.ready)
      why = "left unfinished";  // entries are made under their lock, so this one was cut short
    else if (listed.fingerprint != fingerprint)
      why = "made for other defaults";
    else if (kept >= config_.warm_pool)
      why = "beyond SANDBOXD_WARM_POOL";
    else if (containers) {
      auto c = containers->find(container_name(config_.instance, listed.id));
      if (c == containers->end() || !c->second.running || c->second.paused)
        why = "its container is not running";
    }
    if (why.empty()) {
      ++kept;
      continue;
    }
    discard_pooled_locked(listed, why);
  }
  while (kept < config_.warm_pool) {
    if (auto s = admit("warm pool fill"); !s.is_ok()) return {};  // tried again next pass
    const std::string id = new_ulid(clock_.now_ms());
    auto guard = locks_.lock(id);
    if (auto s = make_pooled_locked(id); !s.is_ok()) return s.with_context("warm pool");
    ++kept;
  }
  return {};
}

Status SandboxService::make_pooled_locked(const std::string& id) {
  SandboxRecord rec = new_record(CreateRequest{}, id, config_.isolation);
  auto slot = store_.next_uid_slot();
  if (!slot) return slot.error();
  PoolEntry entry;
  entry.id = id;
  entry.uid = sandbox_uid(config_, *slot);
  entry.fingerprint = pool_fingerprint(rec);
  entry.created_at = clock_.now_ms();
  rec.uid = entry.uid;
  // Written first: a crash from here on leaves an unfinished entry to discard.
  if (auto s = store_.insert_pool(entry); !s.is_ok()) return s;
  auto disk = workspaces_.ensure(id, static_cast<uid_t>(rec.uid), rec.limits.disk_bytes);
  Status st = disk ? write_identity(config_.identity_dir(), id, rec.uid, env_file_values(rec))
                   : disk.error();
  if (st.is_ok()) {
    auto cid = run_container(rec);
    if (cid) {
      entry.container_id = *cid;
      entry.ready = true;
      st = store_.update_pool(entry);
    } else {
      st = cid.error();
    }
  }
  if (!st.is_ok()) {
    discard_pooled_locked(entry, st.message());
    return st;
  }
  spdlog::info("warm pool: {} ready ({}, uid {})", id, rec.container_name, rec.uid);
  return {};
}

void SandboxService::discard_pooled_locked(const PoolEntry& entry, const std::string& why) {
  spdlog::info("warm pool: discarding {} ({})", entry.id, why);
  PoolEntry gone = entry;
  gone.ready = false;  // no longer counted or claimed, whatever happens below
  (void)store_.update_pool(gone);
  const std::string name = container_name(config_.instance, entry.id);
  if (auto s = remove_own_container(entry.id, name, /*has_row=*/true); !s.is_ok()) {
    spdlog::warn("warm pool: {}: {} (retried next pass)", entry.id, s.message());
    return;
  }
  if (auto freed = workspaces_.remove(entry.id); !freed) {
    spdlog::warn("warm pool: {}: {} (retried next pass)", entry.id, freed.error().message());
    return;
  }
  (void)remove_identity(config_.identity_dir(), entry.id);
  if (auto s = store_.remove_pool(entry.id); !s.is_ok())
    spdlog::warn("warm pool: {}: {}", entry.id, s.message());
}

}  // namespace sandboxd
