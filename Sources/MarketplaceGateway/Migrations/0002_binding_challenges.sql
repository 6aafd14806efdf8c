-- The bind branch's pending code: which billing center username it was sent for.
ALTER TABLE activation_sessions
  ADD COLUMN binding_username text,
  ADD COLUMN binding_challenge_id text;
