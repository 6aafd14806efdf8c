-- Work in flight names the process running it by its presence (a session-level advisory lock
-- the process holds on a connection of its own; see SuitePersistence's Presence). The work is
-- free again the moment that lock is gone, when the process or its connection dies, instead of
-- when a lease runs out; the leases stay, as the limit for a runner alive but stuck.
ALTER TABLE activation_sagas ADD COLUMN runner integer;
ALTER TABLE workspace_creation_claims ADD COLUMN runner integer;
-- When a creation was claimed (or last taken over): the resumer leaves a dead process's
-- creation alone for a few seconds, so that the console call it made has ended.
ALTER TABLE workspace_creation_claims ADD COLUMN claimed_at timestamptz NOT NULL DEFAULT now();
-- A lifecycle operation is held the same way.
ALTER TABLE lifecycle_operations ADD COLUMN runner integer;
