-- Lets one statement refuse: a statement that finds a rule broken calls billing_refuse with
-- the rule's name, and the error undoes everything the statement wrote (its CTEs included), so
-- a change that needs a lock, a check and several writes is one round trip and still writes
-- nothing when refused. NULL means "nothing to refuse" and returns true.
CREATE FUNCTION billing_refuse(refusal text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF refusal IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'GB001', MESSAGE = refusal;
  END IF;
  RETURN true;
END
$$;
