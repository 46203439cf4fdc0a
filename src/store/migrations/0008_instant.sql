-- Instant sandboxes (issue 14): workspace snapshots (and the starter templates imported
-- as snapshots), the warm pool's pre-created containers, and a task's checkpoint.
CREATE TABLE snapshots (
  id          TEXT PRIMARY KEY NOT NULL,   -- ULID, lower case; its tree is <data>/snapshots/<id>
  name        TEXT UNIQUE,                 -- optional; unique among snapshots and templates
  sandbox_id  TEXT NOT NULL DEFAULT '',    -- the sandbox it was taken of; '' for a template
  origin      TEXT NOT NULL DEFAULT '',    -- a template's build stamp; '' for a snapshot
  bytes       INTEGER NOT NULL DEFAULT 0,
  files       INTEGER NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX snapshots_sandbox_idx ON snapshots(sandbox_id, created_at);

-- A started container waiting to be claimed by a create. Its id is the sandbox id it
-- will have; the fingerprint is its RunSpec's (SandboxService::pool_fingerprint).
CREATE TABLE pool (
  id           TEXT PRIMARY KEY NOT NULL,
  uid          INTEGER NOT NULL,
  container_id TEXT NOT NULL DEFAULT '',
  fingerprint  TEXT NOT NULL,
  ready        INTEGER NOT NULL DEFAULT 0,  -- 0 while being made; 1 once it runs
  created_at   INTEGER NOT NULL
) WITHOUT ROWID;

ALTER TABLE tasks ADD COLUMN checkpoint_id TEXT NOT NULL DEFAULT '';
