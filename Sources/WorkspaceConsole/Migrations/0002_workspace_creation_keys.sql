-- The caller's key for a workspace creation, so that a retry (a reply lost, a caller that
-- crashed before recording it) finds the workspace the first call made instead of making
-- another. NULL for creations without a key; unique otherwise.
ALTER TABLE workspaces ADD COLUMN creation_key text UNIQUE;
