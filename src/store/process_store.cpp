// The background-processes part of Store (see store.h).
#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include "base/json_dump.h"
#include "sandboxd/store/store.h"
#include "store/sql.h"

namespace sandboxd {
namespace {

constexpr const char* kProcessColumns =
    "id, sandbox_id, cmd_json, workdir, timeout_s, state, exit_code, signal, timed_out, os_pid, "
    "started_at, ended_at, sandbox_started_at, sealed_env";
constexpr int kProcessColumnCount = 14;

void bind_process(SQLite::Statement& q, const ProcessRecord& p) {
  int i = 1;
  q.bind(i++, p.id);
  q.bind(i++, p.sandbox_id);
  q.bind(i++, dump_json(p.cmd));
  q.bind(i++, p.workdir);
  q.bind(i++, p.timeout_s);
  q.bind(i++, std::string(to_string(p.state)));
  if (p.exit_code)
    q.bind(i++, *p.exit_code);
  else
    q.bind(i++);
  q.bind(i++, p.signal);
  q.bind(i++, p.timed_out ? 1 : 0);
  q.bind(i++, static_cast<int64_t>(p.os_pid));
  q.bind(i++, static_cast<int64_t>(p.started_at));
  q.bind(i++, static_cast<int64_t>(p.ended_at));
  q.bind(i++, static_cast<int64_t>(p.sandbox_started_at));
  q.bind(i++, p.sealed_env);
}

ProcessRecord read_process(SQLite::Statement& q) {
  ProcessRecord p;
  int i = 0;
  p.id = q.getColumn(i++).getString();
  p.sandbox_id = q.getColumn(i++).getString();
  p.cmd = nlohmann::json::parse(q.getColumn(i++).getString()).get<std::vector<std::string>>();
  p.workdir = q.getColumn(i++).getString();
  p.timeout_s = q.getColumn(i++).getInt();
  p.state = column_enum(q.getColumn(i++).getString(), parse_process_state, "process state");
  if (!q.getColumn(i).isNull()) p.exit_code = q.getColumn(i).getInt();
  ++i;
  p.signal = q.getColumn(i++).getInt();
  p.timed_out = q.getColumn(i++).getInt() != 0;
  p.os_pid = q.getColumn(i++).getInt64();
  p.started_at = q.getColumn(i++).getInt64();
  p.ended_at = q.getColumn(i++).getInt64();
  p.sandbox_started_at = q.getColumn(i++).getInt64();
  p.sealed_env = q.getColumn(i++).getString();
  return p;
}

}  // namespace

Status Store::insert_process(const ProcessRecord& p) {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_, std::string("INSERT INTO processes (") + kProcessColumns +
                                  ") VALUES (" + placeholders(kProcessColumnCount) + ")");
    bind_process(q, p);
    q.exec();
    return {};
  } catch (const SQLite::Exception& e) {
    if (e.getErrorCode() == SQLITE_CONSTRAINT)
      return Status(Code::kConflict, "process " + p.id + " exists");
    return db_error("insert process", e);
  } catch (const std::exception& e) {
    return db_error("insert process", e);
  }
}

Status Store::update_process(const ProcessRecord& p) {
  std::lock_guard lock(mu_);
  try {
    static const std::string kSql = update_by_id_sql("processes", kProcessColumns);
    SQLite::Statement q(*db_, kSql);
    bind_process(q, p);
    q.bind(kProcessColumnCount + 1, p.id);
    if (q.exec() == 0) return Status(Code::kNotFound, "process " + p.id + " not found");
    return {};
  } catch (const std::exception& e) {
    return db_error("update process", e);
  }
}

Result<std::optional<ProcessRecord>> Store::get_process(const std::string& id) {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_,
                        std::string("SELECT ") + kProcessColumns + " FROM processes WHERE id = ?");
    q.bind(1, id);
    if (!q.executeStep()) return std::optional<ProcessRecord>();
    return std::optional<ProcessRecord>(read_process(q));
  } catch (const std::exception& e) {
    return db_error("get process", e);
  }
}

Result<std::vector<ProcessRecord>> Store::list_processes(const std::string& sandbox_id) {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_, std::string("SELECT ") + kProcessColumns +
                                  " FROM processes WHERE sandbox_id = ? ORDER BY "
                                  "state = 'running' DESC, started_at DESC, id DESC");
    q.bind(1, sandbox_id);
    return read_rows(q, read_process, "processes");
  } catch (const std::exception& e) {
    return db_error("list processes", e);
  }
}

Result<std::vector<ProcessRecord>> Store::running_processes() {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_, std::string("SELECT ") + kProcessColumns +
                                  " FROM processes WHERE state = 'running' ORDER BY started_at");
    return read_rows(q, read_process, "processes");
  } catch (const std::exception& e) {
    return db_error("running processes", e);
  }
}

Result<std::vector<std::string>> Store::prune_processes(const std::string& sandbox_id, int keep) {
  std::lock_guard lock(mu_);
  try {
    SQLite::Transaction tx(*db_);
    SQLite::Statement q(*db_,
                        "SELECT id FROM processes WHERE sandbox_id = ? AND state != 'running' "
                        "ORDER BY started_at DESC, id DESC LIMIT -1 OFFSET ?");
    q.bind(1, sandbox_id);
    q.bind(2, keep);
    std::vector<std::string> ids;
    while (q.executeStep()) ids.push_back(q.getColumn(0).getString());
    for (const auto& id : ids) {
      SQLite::Statement del(*db_, "DELETE FROM processes WHERE id = ?");
      del.bind(1, id);
      del.exec();
    }
    tx.commit();
    return ids;
  } catch (const std::exception& e) {
    return db_error("prune processes", e);
  }
}

}  // namespace sandboxd
