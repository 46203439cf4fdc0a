-- Facts about this installation, e.g. its install id (labelled on every container so
-- sandboxd only ever replaces containers it made itself).
CREATE TABLE meta (
  key   TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL
) WITHOUT ROWID;
