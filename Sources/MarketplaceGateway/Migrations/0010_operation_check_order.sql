-- The lifecycle reconciler asks the marketplace for outstanding operations of the followed
-- subscriptions asked longest ago (never first), a hundred a pass. In that order this index
-- gives them at once; without it every pass sorted every followed subscription (a million:
-- bench/results/scale-changes.md).
CREATE INDEX marketplace_subscriptions_operation_check
  ON marketplace_subscriptions (operations_checked_at NULLS FIRST, id)
  WHERE marketplace_status IN ('Subscribed', 'Suspended');
