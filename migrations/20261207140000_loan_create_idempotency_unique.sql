-- no-transaction
-- One application per (org, membership, create Idempotency-Key): two concurrent creates with
-- the same key insert one row, the other returns it (the legacy service had no such index and
-- every later replay of a duplicated key failed with a 500). Applications created without a
-- key are not constrained.
--
-- CONCURRENTLY (hence no transaction): on a database the legacy service is still writing to,
-- building the index waits for the writes in flight but never blocks new ones. Should the
-- build fail halfway, PostgreSQL leaves an INVALID index of this name: drop it and migrate
-- again.
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS uq_loan_applications_create_idempotency_key
    ON loan_applications (org_id, org_membership_id, create_idempotency_key)
    WHERE create_idempotency_key IS NOT NULL;
