-- The workspace step's emailed code (existing Guance account): which challenge this session
-- asked for, so that a code is used only by the session it was sent for.
ALTER TABLE activation_sessions
  ADD COLUMN workspace_challenge_id text;
