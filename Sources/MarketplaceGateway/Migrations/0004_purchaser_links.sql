-- The billing center account each purchaser (tenant and object id) is linked to, as learnt
-- from the billing center. The billing center never moves a linked cloud account, so once
-- known the link is kept here and the gateway stops asking for it on every step.
CREATE TABLE purchaser_links (
  tenant_id text NOT NULL,
  object_id text NOT NULL,
  billing_account_id uuid NOT NULL,
  billing_username text NOT NULL,
  learnt_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, object_id)
);
