-- One activation saga per subscription. Each step is written before the remote call it makes
-- and after it returns, so a gateway that dies anywhere is resumed by the reconciler from the
-- last written step; the lease keeps two workers (or two browser tabs) off one saga.
CREATE TABLE activation_sagas (
  subscription_id text PRIMARY KEY REFERENCES marketplace_subscriptions (id),
  billing_account_id uuid NOT NULL,
  workspace_id uuid NOT NULL,
  workspace_origin text NOT NULL CHECK (workspace_origin IN ('created', 'existing')),
  -- Known once the billing center has settled the workspace.
  workspace_name text,
  workspace_site text,
  step text NOT NULL CHECK (step IN ('settling', 'activating', 'activated', 'failed')),
  -- Activate calls started (written before each call): above zero, a resumed saga first asks
  -- the marketplace whether an earlier call went through.
  activate_attempts integer NOT NULL DEFAULT 0,
  retries integer NOT NULL DEFAULT 0,
  problem text,
  lease_until timestamptz,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX activation_sagas_due ON activation_sagas (next_attempt_at) WHERE step IN ('settling', 'activating');
