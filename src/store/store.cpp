#include "sandboxd/store/store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "store/migrations.h"
#include "store/sql.h"

namespace sandboxd {
namespace {

constexpr const char* kColumns =
    "id, status, image, container_name, container_id, ports_json, env_json, idle_policy, "
    "memory_bytes, pids_limit, nofile_limit, error_message, created_at, updated_at, "
    "started_at, stopped_at, last_active_at, last_active_source, keepalive_until, stop_reason, "
    "disk_bytes, cpu_millis, uid, egress, isolation, metadata_json, pending_restart_json";
constexpr int kColumnCount = 27;

SandboxRecord read_row(SQLite::Statement& q) {
  SandboxRecord r;
  int i = 0;
  r.id = q.getColumn(i++).getString();
  r.status = column_enum(q.getColumn(i++).getString(), parse_sandbox_status, "status");
  r.image = q.getColumn(i++).getString();
  r.container_name = q.getColumn(i++).getString();
  r.container_id = q.getColumn(i++).getString();
  r.ports = nlohmann::json::parse(q.getColumn(i++).getString()).get<std::vector<int>>();
  r.env =
      nlohmann::json::parse(q.getColumn(i++).getString()).get<std::map<std::string, std::string>>();
  r.idle_policy = column_enum(q.getColumn(i++).getString(), parse_idle_policy, "idle_policy");
  r.limits.memory_bytes = q.getColumn(i++).getInt64();
  r.limits.pids = q.getColumn(i++).getInt64();
  r.limits.nofile = q.getColumn(i++).getInt64();
  r.error_message = q.getColumn(i++).getString();
  r.created_at = q.getColumn(i++).getInt64();
  r.updated_at = q.getColumn(i++).getInt64();
  r.started_at = q.getColumn(i++).getInt64();
  r.stopped_at = q.getColumn(i++).getInt64();
  r.last_active_at = q.getColumn(i++).getInt64();
  r.last_active_source = parse_trigger(q.getColumn(i++).getString());  // "": none yet
  r.keepalive_until = q.getColumn(i++).getInt64();
  r.stop_reason = q.getColumn(i++).getString();
  r.limits.disk_bytes = q.getColumn(i++).getInt64();
  r.limits.cpu_millis = q.getColumn(i++).getInt64();
  r.uid = q.getColumn(i++).getInt64();
  r.egress = column_enum(q.getColumn(i++).getString(), parse_egress, "egress");
  r.isolation = column_enum(q.getColumn(i++).getString(), parse_isolation, "isolation");
  r.metadata =
      nlohmann::json::parse(q.getColumn(i++).getString()).get<std::map<std::string, std::string>>();
  r.pending_restart =
      nlohmann::json::parse(q.getColumn(i++).getString()).get<std::vector<std::string>>();
  return r;
}

// Binds every column of rec in kColumns order, starting at parameter 1.
void bind_row(SQLite::Statement& q, const SandboxRecord& r) {
  int i = 1;
  q.bind(i++, r.id);
  q.bind(i++, std::string(to_string(r.status)));
  q.bind(i++, r.image);
  q.bind(i++, r.container_name);
  q.bind(i++, r.container_id);
  q.bind(i++, nlohmann::json(r.ports).dump());
  q.bind(i++, nlohmann::json(r.env).dump());
  q.bind(i++, std::string(to_string(r.idle_policy)));
  q.bind(i++, static_cast<int64_t>(r.limits.memory_bytes));
  q.bind(i++, static_cast<int64_t>(r.limits.pids));
  q.bind(i++, static_cast<int64_t>(r.limits.nofile));
  q.bind(i++, r.error_message);
  q.bind(i++, static_cast<int64_t>(r.created_at));
  q.bind(i++, static_cast<int64_t>(r.updated_at));
  q.bind(i++, static_cast<int64_t>(r.started_at));
  q.bind(i++, static_cast<int64_t>(r.stopped_at));
  q.bind(i++, static_cast<int64_t>(r.last_active_at));
  q.bind(i++, r.last_active_source ? std::string(to_string(*r.last_active_source)) : "");
  q.bind(i++, static_cast<int64_t>(r.keepalive_until));
  q.bind(i++, r.stop_reason);
  q.bind(i++, static_cast<int64_t>(r.limits.disk_bytes));
  q.bind(i++, static_cast<int64_t>(r.limits.cpu_millis));
  q.bind(i++, static_cast<int64_t>(r.uid));
  q.bind(i++, std::string(to_string(r.egress)));
  q.bind(i++, std::string(to_string(r.isolation)));
  q.bind(i++, nlohmann::json(r.metadata).dump());
  q.bind(i++, nlohmann::json(r.pending_restart).dump());
}

}  // namespace

Store::Store(std::unique_ptr<SQLite::Database> db) : db_(std::move(db)) {}
Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::open(const std::string& path) {
  std::unique_ptr<SQLite::Database> db;
  // The db, -wal and -shm files are created owner-only; the umask is restored however
  // the open ends.
  struct UmaskGuard {
    mode_t old = ::umask(077);
    ~UmaskGuard() { ::umask(old); }
  };
  try {
    UmaskGuard guard;
    db = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db->exec("PRAGMA journal_mode=WAL");
    db->exec("PRAGMA synchronous=NORMAL");
    db->exec("PRAGMA foreign_keys=ON");
    db->setBusyTimeout(5000);
  } catch (const std::exception& e) {
    return Status(Code::kUnavailable, "open database " + path + ": " + e.what());
  }
  if (path != ":memory:" && ::chmod(path.c_str(), 0600) != 0) {
    return Status(Code::kInternal, "chmod 0600 " + path + " failed");
  }
  std::unique_ptr<Store> store(new Store(std::move(db)));
  if (auto s = store->migrate(); !s.is_ok()) return s;
  return store;
}

Status Store::migrate() {
  std::lock_guard lock(mu_);
  try {
    db_->exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
        "name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
    for (const auto& m : embedded_migrations()) {
      SQLite::Statement q(*db_, "SELECT 1 FROM schema_migrations WHERE version = ?");
      q.bind(1, m.version);
      if (q.executeStep()) continue;
      SQLite::Transaction tx(*db_);
      db_->exec(m.sql);
      SQLite::Statement ins(*db_,
                            "INSERT INTO schema_migrations(version, name, applied_at) "
                            "VALUES (?, ?, CAST(strftime('%s','now') AS INTEGER) * 1000)");
      ins.bind(1, m.version);
      ins.bind(2, m.name);
      ins.exec();
      tx.commit();
    }
  } catch (const std::exception& e) {
    return db_error("migrate", e);
  }
  return {};
}

Result<int> Store::schema_version() {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    q.executeStep();
    return q.getColumn(0).getInt();
  } catch (const std::exception& e) {
    return db_error("schema_version", e);
  }
}

Result<std::string> Store::meta_get_or_set(const std::string& key, const std::string& initial) {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement ins(*db_, "INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)");
    ins.bind(1, key);
    ins.bind(2, initial);
    ins.exec();
    SQLite::Statement q(*db_, "SELECT value FROM meta WHERE key = ?");
    q.bind(1, key);
    q.executeStep();
    return q.getColumn(0).getString();
  } catch (const std::exception& e) {
    return db_error("meta " + key, e);
  }
}

Result<int64_t> Store::next_uid_slot() {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_,
                        "INSERT INTO meta(key, value) VALUES ('next_uid_slot', '1') "
                        "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1 "
                        "RETURNING CAST(value AS INTEGER) - 1");
    q.executeStep();
    return q.getColumn(0).getInt64();
  } catch (const std::exception& e) {
    return db_error("next uid slot", e);
  }
}

Result<int64_t> Store::count(const std::vector<SandboxStatus>& statuses) {
  std::lock_guard lock(mu_);
  try {
    std::string sql = "SELECT COUNT(*) FROM sandboxes";
    for (std::size_t i = 0; i < statuses.size(); ++i) sql += i == 0 ? " WHERE status IN (?" : ",?";
    if (!statuses.empty()) sql += ")";
    SQLite::Statement q(*db_, sql);
    int i = 1;
    for (auto st : statuses) q.bind(i++, std::string(to_string(st)));
    q.executeStep();
    return q.getColumn(0).getInt64();
  } catch (const std::exception& e) {
    return db_error("count", e);
  }
}

Status Store::ping() {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_, "SELECT 1");
    q.executeStep();
    return {};
  } catch (const std::exception& e) {
    return Status(Code::kUnavailable, std::string("sqlite: ") + e.what());
  }
}

Result<std::optional<SandboxRecord>> Store::get(const std::string& id) {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_, std::string("SELECT ") + kColumns + " FROM sandboxes WHERE id = ?");
    q.bind(1, id);
    if (!q.executeStep()) return std::optional<SandboxRecord>();
    return std::optional<SandboxRecord>(read_row(q));
  } catch (const std::exception& e) {
    return db_error("get " + id, e);
  }
}

Result<std::vector<SandboxRecord>> Store::list(const ListQuery& query) {
  std::lock_guard lock(mu_);
  try {
    std::string sql = std::string("SELECT ") + kColumns + " FROM sandboxes WHERE id > ?";
    if (query.status) sql += " AND status = ?";
    for (std::size_t k = 0; k < query.metadata.size(); ++k)
      sql += " AND json_extract(metadata_json, ?) IS ?";
    sql += " ORDER BY id LIMIT ?";
    SQLite::Statement q(*db_, sql);
    int i = 1;
    q.bind(i++, query.after_id);
    if (query.status) q.bind(i++, std::string(to_string(*query.status)));
    for (const auto& [key, value] : query.metadata) {
      // A quoted JSON path: the key is matched as it is, whatever its characters.
      q.bind(i++, "$." + nlohmann::json(key).dump());
      q.bind(i++, value);
    }
    q.bind(i++, query.limit);
    return read_rows(q, read_row, "sandboxes");
  } catch (const std::exception& e) {
    return db_error("list", e);
  }
}

Status Store::insert(const SandboxRecord& rec) {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_,
                        std::string("INSERT INTO sandboxes(") + kColumns +
                            ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    bind_row(q, rec);
    q.exec();
    return {};
  } catch (const SQLite::Exception& e) {
    if (e.getErrorCode() == SQLITE_CONSTRAINT) {
      return Status(Code::kConflict, "sandbox " + rec.id + " already exists");
    }
    return db_error("insert " + rec.id, e);
  } catch (const std::exception& e) {
    return db_error("insert " + rec.id, e);
  }
}

Status Store::claim_pool(const std::string& pool_id, const SandboxRecord& rec) {
  std::lock_guard lock(mu_);
  try {
    SQLite::Transaction tx(*db_);
    SQLite::Statement del(*db_, "DELETE FROM pool WHERE id = ?");
    del.bind(1, pool_id);
    if (del.exec() == 0) return Status(Code::kNotFound, "pool entry " + pool_id + " is gone");
    SQLite::Statement q(*db_,
                        std::string("INSERT INTO sandboxes(") + kColumns +
                            ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    bind_row(q, rec);
    q.exec();
    tx.commit();
    return {};
  } catch (const SQLite::Exception& e) {
    if (e.getErrorCode() == SQLITE_CONSTRAINT)
      return Status(Code::kConflict, "sandbox " + rec.id + " already exists");
    return db_error("claim " + pool_id, e);
  } catch (const std::exception& e) {
    return db_error("claim " + pool_id, e);
  }
}

Status Store::update(const SandboxRecord& rec) {
  std::lock_guard lock(mu_);
  try {
    // A real UPDATE (not REPLACE, whose delete would fire ON DELETE cascades). The id is
    // bound first and again as the WHERE parameter.
    static const std::string kSql = update_by_id_sql("sandboxes", kColumns);
    SQLite::Statement q(*db_, kSql);
    bind_row(q, rec);
    q.bind(kColumnCount + 1, rec.id);
    if (q.exec() == 0) return Status(Code::kNotFound, "sandbox " + rec.id + " not found");
    return {};
  } catch (const std::exception& e) {
    return db_error("update " + rec.id, e);
  }
}

Status Store::touch(const std::string& id, int64_t at, Trigger source) {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_,
                        "UPDATE sandboxes SET last_active_at = ?, last_active_source = ? "
                        "WHERE id = ? AND last_active_at <= ?");
    q.bind(1, static_cast<int64_t>(at));
    q.bind(2, std::string(to_string(source)));
    q.bind(3, id);
    q.bind(4, static_cast<int64_t>(at));
    q.exec();
    return {};
  } catch (const std::exception& e) {
    return db_error("touch " + id, e);
  }
}

Status Store::remove(const std::string& id) {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_, "DELETE FROM sandboxes WHERE id = ?");
    q.bind(1, id);
    q.exec();
    return {};
  } catch (const std::exception& e) {
    return db_error("remove " + id, e);
  }
}

Status Store::remove_with_tasks(const std::string& id) {
  std::lock_guard lock(mu_);
  try {
    SQLite::Transaction tx(*db_);
    for (const char* sql :
         {"DELETE FROM task_events WHERE task_id IN "
          "(SELECT id FROM tasks WHERE sandbox_id = ?)",
          "DELETE FROM tasks WHERE sandbox_id = ?", "DELETE FROM processes WHERE sandbox_id = ?",
          "DELETE FROM snapshots WHERE sandbox_id = ?", "DELETE FROM sandboxes WHERE id = ?"}) {
      SQLite::Statement q(*db_, sql);
      q.bind(1, id);
      q.exec();
    }
    tx.commit();
    return {};
  } catch (const std::exception& e) {
    return db_error("remove " + id + " with its tasks", e);
  }
}

}  // namespace sandboxd
