-- The caller's key for a registration, so that a retry (a reply lost, a caller that failed
-- before linking the account) finds the account the first call made instead of being told
-- its username is taken. NULL for registrations without a key; unique otherwise.
ALTER TABLE billing_accounts ADD COLUMN creation_key text UNIQUE;
