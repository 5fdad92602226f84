-- Announcements and their per-user read marks, exactly as the legacy baseline (Alembic
-- 382127535a2f) defines them (contract/announcements-and-summary.md §1.1).
--
-- A legacy database adopted by `sole migrate` already has both tables: every statement here is
-- IF NOT EXISTS, and the constraints are declared inside CREATE TABLE, so on such a database this
-- migration changes nothing. Constraints the legacy schema left unnamed stay unnamed, so
-- PostgreSQL generates the same names (announcements_pkey, announcements_org_id_fkey, ...).

CREATE TABLE IF NOT EXISTS announcements (
    id uuid NOT NULL,
    org_id varchar NOT NULL,
    title varchar(255) NOT NULL,
    body text NOT NULL,
    status varchar(50) NOT NULL,
    type varchar(50) NOT NULL,
    scheduled_at timestamptz,
    published_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE,
    CONSTRAINT uq_announcements_org_title UNIQUE (org_id, title)
);
CREATE INDEX IF NOT EXISTS ix_announcements_org_id ON announcements (org_id);

CREATE TABLE IF NOT EXISTS announcement_reads (
    id uuid NOT NULL,
    announcement_id uuid NOT NULL,
    org_id varchar NOT NULL,
    user_id uuid NOT NULL,
    read_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    FOREIGN KEY (announcement_id) REFERENCES announcements (id) ON DELETE CASCADE,
    FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE,
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT uq_announcement_read UNIQUE (announcement_id, user_id)
);
CREATE INDEX IF NOT EXISTS ix_announcement_reads_org_id ON announcement_reads (org_id);
