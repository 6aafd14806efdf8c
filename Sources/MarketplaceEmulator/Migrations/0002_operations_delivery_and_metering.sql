-- Webhook delivery of operations: the marketplace posts each operation to the publisher.
ALTER TABLE operations
  ADD COLUMN webhook_state text NOT NULL DEFAULT 'pending'
    CHECK (webhook_state IN ('pending', 'delivered', 'failed', 'none')),
  ADD COLUMN webhook_attempts integer NOT NULL DEFAULT 0,
  ADD COLUMN webhook_next_attempt_at timestamptz NOT NULL DEFAULT now(),
  ADD COLUMN webhook_last_error text,
  ADD COLUMN delivered_at timestamptz;

CREATE INDEX operations_webhook_due ON operations (webhook_next_attempt_at) WHERE webhook_state = 'pending';

-- Metered usage the marketplace accepted: one per resource, dimension and hour.
CREATE TABLE usage_events (
  usage_event_id uuid PRIMARY KEY,
  resource_id uuid NOT NULL REFERENCES subscriptions (id),
  dimension text NOT NULL,
  plan_id text NOT NULL,
  hour timestamptz NOT NULL,
  effective_start_time timestamptz NOT NULL,
  quantity double precision NOT NULL,
  message_time timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT usage_events_one_per_hour UNIQUE (resource_id, dimension, hour)
);
