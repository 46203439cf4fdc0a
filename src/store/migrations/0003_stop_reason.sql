-- Why a sandbox was last stopped (api, idle, reconciler, ...), shown by GET /sandbox/{id}.
ALTER TABLE sandboxes ADD COLUMN stop_reason TEXT NOT NULL DEFAULT '';
