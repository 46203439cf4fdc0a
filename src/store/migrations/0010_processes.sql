-- Background processes (exec with "background": true): what runs, and how it ended. Their
-- output lives in the sandbox's workspace (~/.sandboxed/procs/<id>/).
CREATE TABLE processes (
  id TEXT PRIMARY KEY,
  sandbox_id TEXT NOT NULL,
  cmd_json TEXT NOT NULL,
  workdir TEXT NOT NULL,
  timeout_s INTEGER NOT NULL,
  state TEXT NOT NULL,
  exit_code INTEGER,
  signal INTEGER NOT NULL,
  timed_out INTEGER NOT NULL,
  os_pid INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  ended_at INTEGER NOT NULL,
  sandbox_started_at INTEGER NOT NULL,
  sealed_env TEXT NOT NULL
);
CREATE INDEX processes_by_sandbox ON processes (sandbox_id, started_at);
CREATE INDEX processes_running ON processes (state) WHERE state = 'running';
