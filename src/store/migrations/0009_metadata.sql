-- Clients' own labels on a sandbox (issue 15): a JSON object of strings, filtered on by
-- GET /v1/sandboxes?metadata.<key>=<value>; and the limits a PATCH changed that wait for
-- a new container (a JSON array of field names, cleared by the start that makes it).
ALTER TABLE sandboxes ADD COLUMN metadata_json TEXT NOT NULL DEFAULT '{}';
ALTER TABLE sandboxes ADD COLUMN pending_restart_json TEXT NOT NULL DEFAULT '[]';
