-- Creating a workspace happens in the console before the saga can name it: this claim keeps a
-- second tab from creating a second workspace for the same subscription meanwhile. A claim
-- whose holder died expires.
CREATE TABLE workspace_creation_claims (
  subscription_id text PRIMARY KEY REFERENCES marketplace_subscriptions (id),
  claimed_until timestamptz NOT NULL
);
