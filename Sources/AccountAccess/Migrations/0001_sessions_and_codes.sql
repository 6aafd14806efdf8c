-- Login sessions, looked up by the SHA-256 of their bearer token. account_id names an
-- account of the owning service (console or billing center); that service enforces it.
CREATE TABLE sessions (
  token_digest bytea PRIMARY KEY,
  account_id uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  absolute_expires_at timestamptz NOT NULL
);

CREATE INDEX sessions_account ON sessions (account_id);

-- Failed logins per subject ("login:<name>", "peer:<address>") per hour, for throttling.
CREATE TABLE login_failures (
  subject text NOT NULL,
  window_start timestamptz NOT NULL,
  failures integer NOT NULL,
  PRIMARY KEY (subject, window_start)
);

-- Emailed verification codes: only a digest of the code is kept. subject is what the code
-- proves control of (an email address, a username), purpose what it is for.
CREATE TABLE email_challenges (
  id uuid PRIMARY KEY,
  subject text NOT NULL,
  purpose text NOT NULL,
  -- NULL when no account matched: the reply looked the same, but no mail went out.
  account_id uuid,
  code_digest bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  consumed_at timestamptz
);

CREATE INDEX email_challenges_recent ON email_challenges (subject, purpose, created_at);
