-- Reading a cloud account gathers its subscriptions, and listing an account's cloud accounts
-- filters by account: without these indexes both scanned every customer's rows, so each
-- activation got slower as the tables grew.
CREATE INDEX cloud_account_subscriptions_account ON cloud_account_subscriptions (cloud_account_id, first_seen_at);
CREATE INDEX cloud_accounts_billing_account ON cloud_accounts (billing_account_id);
-- Bindings settled through a subscription (the subscription's workspaces, for lifecycle events).
CREATE INDEX workspace_bindings_subscription ON workspace_bindings (marketplace_subscription_id)
  WHERE marketplace_subscription_id IS NOT NULL;
