-- A running task's env values (those long enough to be redacted), sealed with AES-256-GCM
-- under <state_dir>/redaction.key (SecretBox), so a restarted sandboxd keeps redacting
-- them from the agent's output. Never clear text; emptied when the task finishes.
ALTER TABLE tasks ADD COLUMN sealed_env TEXT NOT NULL DEFAULT '';
