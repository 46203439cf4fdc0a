-- Sandboxes: one row per sandbox this instance manages. SQLite is the source of truth;
-- docker is converged to it. Times are unix milliseconds; 0 means "never".
CREATE TABLE sandboxes (
  id                 TEXT PRIMARY KEY NOT NULL,   -- [a-z0-9]{1,32}, lower case
  status             TEXT NOT NULL,               -- creating|running|stopped|error|deleting|purging
  image              TEXT NOT NULL,
  container_name     TEXT NOT NULL,
  container_id       TEXT NOT NULL DEFAULT '',
  ports_json         TEXT NOT NULL DEFAULT '[]',
  env_json           TEXT NOT NULL DEFAULT '{}',  -- secrets: never logged or returned
  idle_policy        TEXT NOT NULL DEFAULT 'sleep',
  memory_bytes       INTEGER NOT NULL,
  pids_limit         INTEGER NOT NULL,
  nofile_limit       INTEGER NOT NULL,
  error_message      TEXT NOT NULL DEFAULT '',
  created_at         INTEGER NOT NULL,
  updated_at         INTEGER NOT NULL,
  started_at         INTEGER NOT NULL DEFAULT 0,
  stopped_at         INTEGER NOT NULL DEFAULT 0,
  last_active_at     INTEGER NOT NULL DEFAULT 0,
  last_active_source TEXT NOT NULL DEFAULT '',
  keepalive_until    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE INDEX sandboxes_status_active_idx ON sandboxes(status, last_active_at);
CREATE INDEX sandboxes_created_idx ON sandboxes(created_at, id);
