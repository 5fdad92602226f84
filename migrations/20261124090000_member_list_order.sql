-- Serves the stable member-list order (org, membership creation, id) of GET /org/users and the
-- role and department member lists: a page is an index range scan, not a sort of the org.
-- Additive only, so it is safe on an adopted legacy database.
CREATE INDEX IF NOT EXISTS ix_org_memberships_org_created_id
    ON org_memberships (org_id, created_at, id);
