-- Tenant containment (issue 12): each sandbox's disk quota and CPU share, its own uid,
-- its egress policy and its OCI runtime. Rows from before keep 0 (no quota, the old
-- shared uid) until their next start migrates them; see SandboxService::upgrade_locked.
ALTER TABLE sandboxes ADD COLUMN disk_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sandboxes ADD COLUMN cpu_millis INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sandboxes ADD COLUMN uid INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sandboxes ADD COLUMN egress TEXT NOT NULL DEFAULT 'public';
ALTER TABLE sandboxes ADD COLUMN isolation TEXT NOT NULL DEFAULT 'runc';
