-- Counting a subscription's activations (tests check "exactly once") without scanning them all.
CREATE INDEX activations_subscription ON activations (subscription_id);
