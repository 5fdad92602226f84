-- One application per (org, membership, create Idempotency-Key): two concurrent creates with
-- the same key insert one row, the other returns it (the legacy service had no such index and
-- every later replay of a duplicated key failed with a 500). Applications created without a
-- key are not constrained.
--
-- A plain (transactional) build: it waits for writes in flight on loan_applications and holds
-- new ones for as long as the build takes (milliseconds on a table of applications).
-- CONCURRENTLY would not block them, but it waits for every open transaction in the database,
-- including a second `sole migrate` queued on the migration lock, and deadlocks with it.
CREATE UNIQUE INDEX IF NOT EXISTS uq_loan_applications_create_idempotency_key
    ON loan_applications (org_id, org_membership_id, create_idempotency_key)
    WHERE create_idempotency_key IS NOT NULL;
