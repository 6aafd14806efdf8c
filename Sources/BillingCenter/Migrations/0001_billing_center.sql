-- Billing center accounts: an account system of their own, separate from the console's.
CREATE TABLE billing_accounts (
  id uuid PRIMARY KEY,
  username text NOT NULL CONSTRAINT billing_accounts_username_key UNIQUE,
  email text NOT NULL CONSTRAINT billing_accounts_email_key UNIQUE,
  phone text CONSTRAINT billing_accounts_phone_key UNIQUE,
  password_hash text NOT NULL,
  company_name text NOT NULL,
  industry text NOT NULL,
  region text NOT NULL,
  contact_name text NOT NULL,
  description text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (username = lower(username)),
  CHECK (email = lower(email))
);

-- Marketplace identities, each linked to exactly one billing account.
CREATE TABLE cloud_accounts (
  id uuid PRIMARY KEY,
  provider text NOT NULL CHECK (provider IN ('azure')),
  tenant_id text NOT NULL,
  object_id text NOT NULL,
  billing_account_id uuid NOT NULL REFERENCES billing_accounts (id),
  linked_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT cloud_accounts_identity_key UNIQUE (provider, tenant_id, object_id)
);

-- Marketplace subscriptions seen with a cloud account.
CREATE TABLE cloud_account_subscriptions (
  marketplace_subscription_id text PRIMARY KEY,
  cloud_account_id uuid NOT NULL REFERENCES cloud_accounts (id),
  first_seen_at timestamptz NOT NULL DEFAULT now()
);

-- Which billing account pays for a workspace, and how: effective-dated rows, never
-- overwritten, so the bill of any past moment knows who paid. The open row (valid_to NULL)
-- is the current one; at most one per workspace.
CREATE TABLE workspace_bindings (
  id bigserial PRIMARY KEY,
  workspace_id uuid NOT NULL,
  billing_account_id uuid NOT NULL REFERENCES billing_accounts (id),
  workspace_name text NOT NULL,
  site text NOT NULL,
  settlement text NOT NULL CHECK (settlement IN ('billing_account', 'cloud_account')),
  marketplace_subscription_id text REFERENCES cloud_account_subscriptions (marketplace_subscription_id),
  valid_from timestamptz NOT NULL DEFAULT clock_timestamp(),
  valid_to timestamptz,
  CHECK ((settlement = 'cloud_account') = (marketplace_subscription_id IS NOT NULL)),
  CHECK (valid_to IS NULL OR valid_to >= valid_from)
);

CREATE UNIQUE INDEX workspace_bindings_current ON workspace_bindings (workspace_id) WHERE valid_to IS NULL;
CREATE INDEX workspace_bindings_account ON workspace_bindings (billing_account_id) WHERE valid_to IS NULL;
CREATE INDEX workspace_bindings_history ON workspace_bindings (workspace_id, valid_from);

-- The usage ledger. The idempotency key is claimed by the same insert that writes the event.
CREATE TABLE usage_events (
  idempotency_key text PRIMARY KEY,
  workspace_id uuid NOT NULL,
  billing_item text NOT NULL,
  quantity numeric(24, 6) NOT NULL CHECK (quantity >= 0),
  usage_time timestamptz NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX usage_events_by_time ON usage_events (usage_time);

-- Days that have been rated; a closed day never changes.
CREATE TABLE closed_days (
  day date PRIMARY KEY,
  catalog_version text NOT NULL,
  closed_at timestamptz NOT NULL DEFAULT now()
);

-- Rated usage: one line per day, payer, workspace, settlement and billing item. Usage of a
-- workspace bound to nobody at the time is kept with a NULL billing account, not dropped.
CREATE TABLE daily_bill_lines (
  id bigserial PRIMARY KEY,
  day date NOT NULL REFERENCES closed_days (day),
  billing_account_id uuid REFERENCES billing_accounts (id),
  workspace_id uuid NOT NULL,
  site text NOT NULL,
  settlement text,
  marketplace_subscription_id text,
  billing_item text NOT NULL,
  quantity numeric(24, 6) NOT NULL,
  unit_size bigint NOT NULL,
  unit_price_micros bigint NOT NULL,
  amount_micros bigint NOT NULL,
  currency text NOT NULL CHECK (currency = 'USD')
);

CREATE INDEX daily_bill_lines_account_day ON daily_bill_lines (billing_account_id, day);

-- What the gateway must report to the marketplace: an outbox of metering records with
-- deterministic keys (subscription, dimension, hour).
CREATE TABLE metering_records (
  key text PRIMARY KEY,
  day date NOT NULL REFERENCES closed_days (day),
  marketplace_subscription_id text NOT NULL,
  dimension text NOT NULL,
  effective_start_time timestamptz NOT NULL,
  quantity numeric(24, 6) NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'duplicate', 'rejected')),
  attempts integer NOT NULL DEFAULT 0,
  marketplace_status text,
  last_message text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX metering_records_pending ON metering_records (created_at) WHERE status = 'pending';
