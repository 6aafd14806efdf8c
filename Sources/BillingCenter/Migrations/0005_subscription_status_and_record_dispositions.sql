-- A marketplace subscription's standing: suspended subscriptions accrue no cloud-billed usage
-- (each suspension kept as a period, so a day rated later still knows), and an unsubscribed
-- one ends the cloud settlement of its workspaces.
ALTER TABLE cloud_account_subscriptions
  ADD COLUMN status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'unsubscribed')),
  ADD COLUMN status_changed_at timestamptz;

CREATE TABLE subscription_suspensions (
  marketplace_subscription_id text NOT NULL
    REFERENCES cloud_account_subscriptions (marketplace_subscription_id),
  suspended_from timestamptz NOT NULL,
  suspended_until timestamptz,
  PRIMARY KEY (marketplace_subscription_id, suspended_from),
  CHECK (suspended_until IS NULL OR suspended_until >= suspended_from)
);

CREATE UNIQUE INDEX subscription_suspensions_open
  ON subscription_suspensions (marketplace_subscription_id) WHERE suspended_until IS NULL;

-- Why a cloud-settled line is not billed to the marketplace (e.g. the subscription was
-- suspended then); NULL for lines billed as usual.
ALTER TABLE daily_bill_lines ADD COLUMN unbilled_reason text;

-- Operators may park a record: kept, never sent unless resubmitted.
ALTER TABLE metering_records DROP CONSTRAINT metering_records_status_check;
ALTER TABLE metering_records ADD CONSTRAINT metering_records_status_check
  CHECK (status IN ('pending', 'accepted', 'duplicate', 'rejected', 'parked'));
CREATE INDEX metering_records_day ON metering_records (day, marketplace_subscription_id);
