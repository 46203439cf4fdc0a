// The tasks part of Store (see store.h).
#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include "sandboxd/store/store.h"
#include "store/sql.h"

namespace sandboxd {
namespace {

constexpr const char* kTaskColumns =
    "id, sandbox_id, agent, model, prompt, env_keys_json, timeout_s, status, failure_reason, "
    "error_message, final_message, files_changed_json, usage_json, exit_code, cancel_requested, "
    "out_offset, next_seq, created_at, started_at, finished_at, sealed_env, checkpoint_id";
constexpr int kTaskColumnCount = 22;

void bind_task(SQLite::Statement& q, const TaskRecord& t) {
  int i = 1;
  q.bind(i++, t.id);
  q.bind(i++, t.sandbox_id);
  q.bind(i++, std::string(to_string(t.agent)));
  q.bind(i++, t.model);
  q.bind(i++, t.prompt);
  q.bind(i++, nlohmann::json(t.env_keys).dump());
  q.bind(i++, static_cast<int64_t>(t.timeout_s));
  q.bind(i++, std::string(to_string(t.status)));
  q.bind(i++, std::string(to_string(t.failure_reason)));
  q.bind(i++, t.error_message);
  q.bind(i++, t.final_message);
  q.bind(i++, nlohmann::json(t.files_changed)
                  .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  q.bind(i++, t.usage_json);
  if (t.exit_code)
    q.bind(i++, static_cast<int64_t>(*t.exit_code));
  else
    q.bind(i++);
  q.bind(i++, t.cancel_requested ? 1 : 0);
  q.bind(i++, static_cast<int64_t>(t.out_offset));
  q.bind(i++, static_cast<int64_t>(t.next_seq));
  q.bind(i++, static_cast<int64_t>(t.created_at));
  q.bind(i++, static_cast<int64_t>(t.started_at));
  q.bind(i++, static_cast<int64_t>(t.finished_at));
  q.bind(i++, t.sealed_env);
  q.bind(i++, t.checkpoint_id);
}

TaskRecord read_task(SQLite::Statement& q) {
  TaskRecord t;
  int i = 0;
  t.id = q.getColumn(i++).getString();
  t.sandbox_id = q.getColumn(i++).getString();
  t.agent = column_enum(q.getColumn(i++).getString(), parse_agent, "agent");
  t.model = q.getColumn(i++).getString();
  t.prompt = q.getColumn(i++).getString();
  t.env_keys = nlohmann::json::parse(q.getColumn(i++).getString()).get<std::vector<std::string>>();
  t.timeout_s = q.getColumn(i++).getInt64();
  t.status = column_enum(q.getColumn(i++).getString(), parse_task_status, "task status");
  t.failure_reason =
      column_enum(q.getColumn(i++).getString(), parse_failure_reason, "failure_reason");
  t.error_message = q.getColumn(i++).getString();
  t.final_message = q.getColumn(i++).getString();
  t.files_changed =
      nlohmann::json::parse(q.getColumn(i++).getString()).get<std::vector<std::string>>();
  t.usage_json = q.getColumn(i++).getString();
  if (!q.getColumn(i).isNull()) t.exit_code = q.getColumn(i).getInt64();
  ++i;
  t.cancel_requested = q.getColumn(i++).getInt() != 0;
  t.out_offset = q.getColumn(i++).getInt64();
  t.next_seq = q.getColumn(i++).getInt64();
  t.created_at = q.getColumn(i++).getInt64();
  t.started_at = q.getColumn(i++).getInt64();
  t.finished_at = q.getColumn(i++).getInt64();
  t.sealed_env = q.getColumn(i++).getString();
  t.checkpoint_id = q.getColumn(i++).getString();
  return t;
}

std::string update_sql() { return update_by_id_sql("tasks", kTaskColumns); }

}  // namespace

Status Store::insert_task(const TaskRecord& task) {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_, std::string("INSERT INTO tasks (") + kTaskColumns + ") VALUES (" +
                                  placeholders(kTaskColumnCount) + ")");
    bind_task(q, task);
    q.exec();
    return {};
  } catch (const SQLite::Exception& e) {
    if (e.getErrorCode() == SQLITE_CONSTRAINT)
      return Status(Code::kConflict, "task " + task.id + " exists");
    return db_error("insert task", e);
  } catch (const std::exception& e) {
    return db_error("insert task", e);
  }
}

Status Store::update_task(const TaskRecord& task) {
  std::lock_guard lock(mu_);
  try {
    static const std::string kSql = update_sql();
    SQLite::Statement q(*db_, kSql);
    bind_task(q, task);
    q.bind(kTaskColumnCount + 1, task.id);
    if (q.exec() == 0) return Status(Code::kNotFound, "task " + task.id + " not found");
    return {};
  } catch (const std::exception& e) {
    return db_error("update task", e);
  }
}

Result<std::optional<TaskRecord>> Store::get_task(const std::string& id) {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_, std::string("SELECT ") + kTaskColumns + " FROM tasks WHERE id = ?");
    q.bind(1, id);
    if (!q.executeStep()) return std::optional<TaskRecord>();
    return std::optional<TaskRecord>(read_task(q));
  } catch (const std::exception& e) {
    return db_error("get task", e);
  }
}

Result<std::vector<TaskRecord>> Store::list_tasks(const std::string& sandbox_id, int limit) {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_, std::string("SELECT ") + kTaskColumns +
                                  " FROM tasks WHERE sandbox_id = ? ORDER BY created_at DESC, "
                                  "id DESC LIMIT ?");
    q.bind(1, sandbox_id);
    q.bind(2, limit);
    return read_rows(q, read_task, "tasks");
  } catch (const std::exception& e) {
    return db_error("list tasks", e);
  }
}

Result<std::vector<TaskRecord>> Store::running_tasks() {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_, std::string("SELECT ") + kTaskColumns +
                                  " FROM tasks WHERE status = 'running' ORDER BY created_at");
    return read_rows(q, read_task, "tasks");
  } catch (const std::exception& e) {
    return db_error("running tasks", e);
  }
}

Status Store::append_task_events(TaskRecord& task,
                                 const std::vector<std::pair<std::string, std::string>>& events,
                                 int64_t now) {
  std::lock_guard lock(mu_);
  const int64_t first_seq = task.next_seq;
  try {
    SQLite::Transaction tx(*db_);
    SQLite::Statement ins(*db_,
                          "INSERT INTO task_events (task_id, seq, type, data_json, created_at) "
                          "VALUES (?, ?, ?, ?, ?)");
    int64_t seq = first_seq;
    for (const auto& [type, data] : events) {
      ins.reset();
      ins.bind(1, task.id);
      ins.bind(2, static_cast<int64_t>(seq++));
      ins.bind(3, type);
      ins.bind(4, data);
      ins.bind(5, static_cast<int64_t>(now));
      ins.exec();
    }
    task.next_seq = seq;
    static const std::string kSql = update_sql();
    SQLite::Statement up(*db_, kSql);
    bind_task(up, task);
    up.bind(kTaskColumnCount + 1, task.id);
    if (up.exec() == 0) {
      task.next_seq = first_seq;
      return Status(Code::kNotFound, "task " + task.id + " not found");
    }
    tx.commit();
    return {};
  } catch (const std::exception& e) {
    task.next_seq = first_seq;
    return db_error("append task events", e);
  }
}

Result<std::vector<StoredEvent>> Store::task_events(const std::string& task_id, int64_t after,
                                                    int limit) {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_,
                        "SELECT seq, type, data_json, created_at FROM task_events "
                        "WHERE task_id = ? AND seq > ? ORDER BY seq LIMIT ?");
    q.bind(1, task_id);
    q.bind(2, static_cast<int64_t>(after));
    q.bind(3, limit);
    std::vector<StoredEvent> out;
    while (q.executeStep()) {
      out.push_back({q.getColumn(0).getInt64(), q.getColumn(1).getString(),
                     q.getColumn(2).getString(), q.getColumn(3).getInt64()});
    }
    return out;
  } catch (const std::exception& e) {
    return db_error("task events", e);
  }
}

Result<std::vector<PrunedTask>> Store::prune_finished_tasks(int64_t finished_before,
                                                            int keep_per_sandbox, int limit) {
  std::lock_guard lock(mu_);
  try {
    SQLite::Transaction tx(*db_);
    std::vector<PrunedTask> out;
    // The WHERE clauses repeat the partial indexes' `status != 'running'` (0005).
    SQLite::Statement old(*db_,
                          "SELECT id, sandbox_id FROM tasks WHERE status != 'running' "
                          "AND finished_at < ? ORDER BY finished_at LIMIT ?");
    old.bind(1, static_cast<int64_t>(finished_before));
    old.bind(2, limit);
    while (old.executeStep())
      out.push_back({old.getColumn(0).getString(), old.getColumn(1).getString(), false});
    if (static_cast<int>(out.size()) < limit) {
      SQLite::Statement over(
          *db_,
          "SELECT id, sandbox_id FROM (SELECT id, sandbox_id, finished_at, ROW_NUMBER() OVER ("
          "PARTITION BY sandbox_id ORDER BY finished_at DESC, id DESC) AS n "
          "FROM tasks WHERE status != 'running') WHERE n > ? AND finished_at >= ? LIMIT ?");
      over.bind(1, keep_per_sandbox);
      over.bind(2, static_cast<int64_t>(finished_before));  // those are in `out` already
      over.bind(3, limit - static_cast<int>(out.size()));
      while (over.executeStep())
        out.push_back({over.getColumn(0).getString(), over.getColumn(1).getString(), true});
    }
    SQLite::Statement ev(*db_, "DELETE FROM task_events WHERE task_id = ?");
    SQLite::Statement task(*db_, "DELETE FROM tasks WHERE id = ? AND status != 'running'");
    for (const auto& p : out) {
      ev.reset();
      ev.bind(1, p.id);
      ev.exec();
      task.reset();
      task.bind(1, p.id);
      task.exec();
    }
    tx.commit();
    return out;
  } catch (const std::exception& e) {
    return db_error("prune tasks", e);
  }
}

}  // namespace sandboxd
