-- Agent tasks and their events. A task's events are appended with increasing seq in
-- the same transaction that advances out_offset (how far the agent's JSON-lines output
-- has been read), so a crash never loses or repeats an event. Rows outlive the sandbox
-- (results stay readable after a stop or a DELETE; purge removes them).
CREATE TABLE tasks (
  id              TEXT PRIMARY KEY NOT NULL,   -- ULID, lower case
  sandbox_id      TEXT NOT NULL,
  agent           TEXT NOT NULL,               -- opencode | claude
  model           TEXT NOT NULL DEFAULT '',
  prompt          TEXT NOT NULL,
  env_keys_json   TEXT NOT NULL DEFAULT '[]',  -- names only; values are never stored
  timeout_s       INTEGER NOT NULL,
  status          TEXT NOT NULL,               -- queued|running|succeeded|failed|cancelled
  failure_reason  TEXT NOT NULL DEFAULT '',    -- agent_error|agent_timeout|sandbox_stopped|start_failed|...
  error_message   TEXT NOT NULL DEFAULT '',
  final_message   TEXT NOT NULL DEFAULT '',
  files_changed_json TEXT NOT NULL DEFAULT '[]',
  usage_json      TEXT NOT NULL DEFAULT '{}',
  exit_code       INTEGER,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  out_offset      INTEGER NOT NULL DEFAULT 0,
  next_seq        INTEGER NOT NULL DEFAULT 1,
  created_at      INTEGER NOT NULL,
  started_at      INTEGER NOT NULL DEFAULT 0,
  finished_at     INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE INDEX tasks_sandbox_idx ON tasks(sandbox_id, created_at);
CREATE INDEX tasks_status_idx ON tasks(status);

CREATE TABLE task_events (
  task_id     TEXT NOT NULL,
  seq         INTEGER NOT NULL,
  type        TEXT NOT NULL,                   -- status|message|tool|usage|error|done
  data_json   TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (task_id, seq)
) WITHOUT ROWID;
