-- Marketplace subscriptions as the gateway knows them, with where their activation stands.
CREATE TABLE marketplace_subscriptions (
  id text PRIMARY KEY,
  name text NOT NULL,
  offer_id text NOT NULL,
  plan_id text NOT NULL,
  quantity integer,
  marketplace_status text NOT NULL,
  purchaser_email text NOT NULL,
  purchaser_tenant_id text NOT NULL,
  purchaser_object_id text NOT NULL,
  term_unit text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Activation sessions, looked up by the SHA-256 of their id; each names one subscription.
CREATE TABLE activation_sessions (
  id_digest bytea PRIMARY KEY,
  subscription_id text NOT NULL REFERENCES marketplace_subscriptions (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);

CREATE INDEX activation_sessions_subscription ON activation_sessions (subscription_id);

-- Append-only audit of every change to a subscription or its sessions.
CREATE TABLE subscription_audit (
  id bigserial PRIMARY KEY,
  subscription_id text NOT NULL REFERENCES marketplace_subscriptions (id),
  event text NOT NULL,
  detail text NOT NULL DEFAULT '',
  correlation_id text NOT NULL,
  at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX subscription_audit_subscription ON subscription_audit (subscription_id, id);
