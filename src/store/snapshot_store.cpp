// The snapshots and warm pool part of Store (see store.h, migrations/0008_instant.sql).
#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include "sandboxd/store/store.h"
#include "store/sql.h"

namespace sandboxd {
namespace {

constexpr const char* kSnapshotColumns = "id, name, sandbox_id, origin, bytes, files, created_at";

SnapshotRecord read_snapshot(SQLite::Statement& q) {
  SnapshotRecord r;
  r.id = q.getColumn(0).getString();
  r.name = q.getColumn(1).isNull() ? "" : q.getColumn(1).getString();
  r.sandbox_id = q.getColumn(2).getString();
  r.origin = q.getColumn(3).getString();
  r.bytes = q.getColumn(4).getInt64();
  r.files = q.getColumn(5).getInt64();
  r.created_at = q.getColumn(6).getInt64();
  return r;
}

constexpr const char* kPoolColumns = "id, uid, container_id, fingerprint, ready, created_at";

PoolEntry read_pool(SQLite::Statement& q) {
  PoolEntry e;
  e.id = q.getColumn(0).getString();
  e.uid = q.getColumn(1).getInt64();
  e.container_id = q.getColumn(2).getString();
  e.fingerprint = q.getColumn(3).getString();
  e.ready = q.getColumn(4).getInt() != 0;
  e.created_at = q.getColumn(5).getInt64();
  return e;
}

}  // namespace

Status Store::insert_snapshot(const SnapshotRecord& snap) {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_, std::string("INSERT INTO snapshots(") + kSnapshotColumns +
                                  ") VALUES (?,?,?,?,?,?,?)");
    q.bind(1, snap.id);
    if (snap.name.empty())
      q.bind(2);
    else
      q.bind(2, snap.name);
    q.bind(3, snap.sandbox_id);
    q.bind(4, snap.origin);
    q.bind(5, static_cast<int64_t>(snap.bytes));
    q.bind(6, static_cast<int64_t>(snap.files));
    q.bind(7, static_cast<int64_t>(snap.created_at));
    q.exec();
    return {};
  } catch (const SQLite::Exception& e) {
    if (e.getErrorCode() == SQLITE_CONSTRAINT)
      return Status(Code::kConflict, "a snapshot named '" + snap.name + "' already exists");
    return db_error("insert snapshot " + snap.id, e);
  } catch (const std::exception& e) {
    return db_error("insert snapshot " + snap.id, e);
  }
}

Result<std::optional<SnapshotRecord>> Store::get_snapshot(const std::string& id_or_name) {
  std::lock_guard lock(mu_);
  try {
    // An id match wins over a name match.
    SQLite::Statement q(*db_, std::string("SELECT ") + kSnapshotColumns +
                                  " FROM snapshots WHERE id = ?1 OR name = ?1 "
                                  "ORDER BY id = ?1 DESC LIMIT 1");
    q.bind(1, id_or_name);
    auto rows = read_rows(q, read_snapshot, "snapshots");
    if (rows.empty()) return std::optional<SnapshotRecord>();
    return std::optional<SnapshotRecord>(std::move(rows.front()));
  } catch (const std::exception& e) {
    return db_error("get snapshot " + id_or_name, e);
  }
}

Result<std::vector<SnapshotRecord>> Store::list_snapshots(
    const std::optional<std::string>& sandbox_id) {
  std::lock_guard lock(mu_);
  try {
    std::string sql = std::string("SELECT ") + kSnapshotColumns + " FROM snapshots";
    if (sandbox_id) sql += " WHERE sandbox_id = ?";
    sql += " ORDER BY created_at, id";
    SQLite::Statement q(*db_, sql);
    if (sandbox_id) q.bind(1, *sandbox_id);
    return read_rows(q, read_snapshot, "snapshots");
  } catch (const std::exception& e) {
    return db_error("list snapshots", e);
  }
}

Status Store::remove_snapshot(const std::string& id) {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_, "DELETE FROM snapshots WHERE id = ?");
    q.bind(1, id);
    q.exec();
    return {};
  } catch (const std::exception& e) {
    return db_error("remove snapshot " + id, e);
  }
}

Result<int64_t> Store::snapshot_bytes() {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_, "SELECT COALESCE(SUM(bytes), 0) FROM snapshots");
    q.executeStep();
    return q.getColumn(0).getInt64();
  } catch (const std::exception& e) {
    return db_error("sum snapshot bytes", e);
  }
}

Status Store::insert_pool(const PoolEntry& entry) {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_,
                        std::string("INSERT INTO pool(") + kPoolColumns + ") VALUES (?,?,?,?,?,?)");
    q.bind(1, entry.id);
    q.bind(2, static_cast<int64_t>(entry.uid));
    q.bind(3, entry.container_id);
    q.bind(4, entry.fingerprint);
    q.bind(5, entry.ready ? 1 : 0);
    q.bind(6, static_cast<int64_t>(entry.created_at));
    q.exec();
    return {};
  } catch (const std::exception& e) {
    return db_error("insert pool entry " + entry.id, e);
  }
}

Status Store::update_pool(const PoolEntry& entry) {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_, "UPDATE pool SET container_id = ?, ready = ? WHERE id = ?");
    q.bind(1, entry.container_id);
    q.bind(2, entry.ready ? 1 : 0);
    q.bind(3, entry.id);
    if (q.exec() == 0) return Status(Code::kNotFound, "pool entry " + entry.id + " is gone");
    return {};
  } catch (const std::exception& e) {
    return db_error("update pool entry " + entry.id, e);
  }
}

Result<std::vector<PoolEntry>> Store::list_pool() {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(
        *db_, std::string("SELECT ") + kPoolColumns + " FROM pool ORDER BY created_at, id");
    return read_rows(q, read_pool, "pool");
  } catch (const std::exception& e) {
    return db_error("list pool", e);
  }
}

Status Store::remove_pool(const std::string& id) {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_, "DELETE FROM pool WHERE id = ?");
    q.bind(1, id);
    q.exec();
    return {};
  } catch (const std::exception& e) {
    return db_error("remove pool entry " + id, e);
  }
}

}  // namespace sandboxd
