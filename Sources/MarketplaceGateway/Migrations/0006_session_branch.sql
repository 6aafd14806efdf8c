-- The branch of the flow a session started on (the purchaser linked to a billing center
-- account or not, when the landing token was resolved): it stays what it was, so a buyer who
-- registers or binds during the session is still shown the branch they took.
ALTER TABLE activation_sessions
  ADD COLUMN branch text NOT NULL DEFAULT 'not_linked' CHECK (branch IN ('not_linked', 'already_linked'));
