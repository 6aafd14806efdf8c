-- What the gateway follows of a subscription after activation: its term, and how long a
-- subscription's data is kept once it is unsubscribed.
ALTER TABLE marketplace_subscriptions
  ADD COLUMN term_start timestamptz,
  ADD COLUMN term_end timestamptz,
  ADD COLUMN auto_renew boolean,
  ADD COLUMN data_kept_until timestamptz,
  -- When the reconciler last asked the marketplace for the subscription's outstanding
  -- operations (a few subscriptions a pass, longest unasked first).
  ADD COLUMN operations_checked_at timestamptz;

-- Operations on subscriptions, written before anything is done about them: delivered by the
-- marketplace's webhook, found by the reconciler, or started by us. Keyed by the marketplace's
-- operation id, so a redelivery is counted and never applied twice.
CREATE TABLE lifecycle_operations (
  id text PRIMARY KEY,
  subscription_id text NOT NULL,
  action text NOT NULL,
  plan_id text,
  quantity integer,
  -- Azure (started in the marketplace) or Partner (by us), as the marketplace says.
  request_source text,
  -- How the gateway learnt of it.
  source text NOT NULL CHECK (source IN ('webhook', 'reconciler', 'publisher')),
  -- The marketplace's time of the operation, when it said.
  marketplace_time timestamptz,
  payload text NOT NULL DEFAULT '',
  state text NOT NULL DEFAULT 'received'
    CHECK (state IN ('received', 'applied', 'declined', 'failed', 'unverified')),
  outcome text,
  problem text,
  deliveries integer NOT NULL DEFAULT 1,
  attempts integer NOT NULL DEFAULT 0,
  lease_until timestamptz,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  received_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);

CREATE INDEX lifecycle_operations_due ON lifecycle_operations (next_attempt_at) WHERE state = 'received';
CREATE INDEX lifecycle_operations_subscription ON lifecycle_operations (subscription_id, received_at);
