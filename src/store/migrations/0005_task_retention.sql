-- Task retention (Store::prune_finished_tasks): finished tasks by finish time, overall
-- (the age limit) and per sandbox (the count limit). Running tasks are not indexed.
CREATE INDEX tasks_finished_idx ON tasks(finished_at) WHERE status != 'running';
CREATE INDEX tasks_sandbox_finished_idx ON tasks(sandbox_id, finished_at) WHERE status != 'running';
