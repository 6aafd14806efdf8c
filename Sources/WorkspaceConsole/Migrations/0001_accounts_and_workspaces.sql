-- Guance accounts. Usernames and emails are stored normalised (lower case), so plain unique
-- constraints make them unique case-insensitively.
CREATE TABLE accounts (
  id uuid PRIMARY KEY,
  username text NOT NULL CONSTRAINT accounts_username_key UNIQUE,
  email text NOT NULL CONSTRAINT accounts_email_key UNIQUE,
  phone text,
  password_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (username = lower(username)),
  CHECK (email = lower(email))
);

CREATE TABLE workspaces (
  id uuid PRIMARY KEY,
  name text NOT NULL,
  language text NOT NULL,
  -- Fixed at creation: no statement of this service ever updates it.
  site text NOT NULL,
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'closed')),
  owner_account_id uuid NOT NULL REFERENCES accounts (id),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE workspace_members (
  workspace_id uuid NOT NULL REFERENCES workspaces (id),
  account_id uuid NOT NULL REFERENCES accounts (id),
  role text NOT NULL CHECK (role IN ('owner', 'member')),
  joined_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, workspace_id)
);

-- Append-only history of status changes, with who asked and why.
CREATE TABLE workspace_status_changes (
  id bigserial PRIMARY KEY,
  workspace_id uuid NOT NULL REFERENCES workspaces (id),
  from_status text NOT NULL,
  to_status text NOT NULL,
  reason text NOT NULL,
  request_id text NOT NULL,
  changed_at timestamptz NOT NULL DEFAULT now()
);
