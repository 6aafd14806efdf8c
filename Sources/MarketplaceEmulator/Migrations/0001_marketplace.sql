-- The emulator's signing key: kept so tokens and webhooks verify across restarts.
CREATE TABLE signing_keys (
  kid text PRIMARY KEY,
  private_key_pem text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Purchases, as the marketplace keeps them.
CREATE TABLE subscriptions (
  id uuid PRIMARY KEY,
  name text NOT NULL,
  offer_id text NOT NULL,
  plan_id text NOT NULL,
  quantity integer,
  status text NOT NULL CHECK (status IN ('PendingFulfillmentStart', 'Subscribed', 'Suspended', 'Unsubscribed')),
  purchaser_email text NOT NULL,
  purchaser_object_id text NOT NULL,
  purchaser_tenant_id text NOT NULL,
  beneficiary_email text NOT NULL,
  beneficiary_object_id text NOT NULL,
  beneficiary_tenant_id text NOT NULL,
  term_unit text NOT NULL,
  term_start timestamptz NOT NULL,
  term_end timestamptz NOT NULL,
  auto_renew boolean NOT NULL DEFAULT true,
  is_test boolean NOT NULL DEFAULT true,
  created timestamptz NOT NULL DEFAULT now(),
  last_modified timestamptz NOT NULL DEFAULT now()
);

-- Landing-page tokens: opaque, short-lived, each naming one subscription.
CREATE TABLE marketplace_tokens (
  token text PRIMARY KEY,
  subscription_id uuid NOT NULL REFERENCES subscriptions (id),
  expires_at timestamptz NOT NULL
);

-- Every Activate the marketplace accepted, so tests can count them.
CREATE TABLE activations (
  id bigserial PRIMARY KEY,
  subscription_id uuid NOT NULL REFERENCES subscriptions (id),
  plan_id text NOT NULL,
  quantity integer,
  activated_at timestamptz NOT NULL DEFAULT now()
);

-- Operations on subscriptions (publisher PATCH/DELETE and marketplace-side events).
CREATE TABLE operations (
  id uuid PRIMARY KEY,
  activity_id uuid NOT NULL,
  subscription_id uuid NOT NULL REFERENCES subscriptions (id),
  action text NOT NULL,
  plan_id text NOT NULL,
  quantity integer,
  status text NOT NULL CHECK (status IN ('NotStarted', 'InProgress', 'Succeeded', 'Failed', 'Conflict')),
  request_source text NOT NULL CHECK (request_source IN ('Azure', 'Partner')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX operations_subscription ON operations (subscription_id, created_at);
