-- The legacy domain tables: stock grants and vesting events, loan applications with their
-- workflow stages, documents, repayments and share reservations, PBGC mid-term rates, org
-- document folders and templates, and assets — exactly as the legacy Alembic baseline
-- 382127535a2f created them (no later legacy revision up to head c4d5e6f7a8b9 touches them).
-- The pg_dump DDL is in the data-model sections of contract/domain-stock.md (§10),
-- domain-loans.md (§11), domain-loan-admin.md (§9) and domain-documents.md (§9).
--
-- A legacy database adopted by `sole migrate` already has every one of these tables, so every
-- table is CREATE TABLE IF NOT EXISTS with its constraints declared inside, and every index is
-- created only when its name is free (the block at the end): on such a database this migration
-- changes nothing and locks no table. Constraints the legacy schema left unnamed stay unnamed,
-- so PostgreSQL generates the legacy names (<table>_pkey, <table>_<column>_fkey).
--
-- CHECK constraints are written as the legacy migration wrote them (`col IN ('A', 'B')`):
-- PostgreSQL stores that as `(col)::text = ANY ((ARRAY['A'::character varying, ...])::text[])`,
-- which is what the legacy pg_dump prints. Writing the printed form back would be stored as a
-- different (equivalent) expression and no longer dump identically.
--
-- Conventions kept from the legacy schema: UUID keys have no DB default (the application
-- generates them); updated_at is bumped by the application, not a trigger; defaults that the
-- legacy ORM applies (loan status 'DRAFT', version 1, ...) are not column defaults; there is no
-- enum type anywhere (value sets are varchar columns with CHECK constraints, or none).

-- Stock (domain-stock.md §10). A grant belongs to a membership of its own org: the composite
-- foreign key targets uq_membership_org_id_id.
CREATE TABLE IF NOT EXISTS employee_stock_grants (
    id uuid NOT NULL,
    org_id varchar NOT NULL,
    org_membership_id uuid NOT NULL,
    grant_date date NOT NULL,
    total_shares bigint NOT NULL,
    exercise_price numeric(18, 6) NOT NULL,
    status varchar(50) NOT NULL,
    vesting_strategy varchar(50) NOT NULL,
    notes text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE,
    CONSTRAINT fk_stock_grants_org_membership FOREIGN KEY (org_id, org_membership_id)
        REFERENCES org_memberships (org_id, id) ON DELETE CASCADE,
    CONSTRAINT ck_stock_grants_exercise_price_nonnegative CHECK (exercise_price >= 0),
    CONSTRAINT ck_stock_grants_total_shares_nonnegative CHECK (total_shares >= 0)
);

-- No updated_at: events are replaced, never edited.
CREATE TABLE IF NOT EXISTS vesting_events (
    id uuid NOT NULL,
    org_id varchar NOT NULL,
    grant_id uuid NOT NULL,
    vest_date date NOT NULL,
    shares bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    FOREIGN KEY (grant_id) REFERENCES employee_stock_grants (id) ON DELETE CASCADE,
    FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE,
    CONSTRAINT uq_vesting_events_grant_date UNIQUE (grant_id, vest_date),
    CONSTRAINT ck_vesting_events_shares_nonnegative CHECK (shares >= 0)
);

-- Loans (domain-loans.md §11, repeated in domain-loan-admin.md §9). `version` is the
-- optimistic-lock counter.
CREATE TABLE IF NOT EXISTS loan_applications (
    id uuid NOT NULL,
    org_id varchar NOT NULL,
    org_membership_id uuid NOT NULL,
    status varchar(30) NOT NULL,
    decision_reason varchar(500),
    version integer NOT NULL,
    create_idempotency_key varchar(100),
    submit_idempotency_key varchar(100),
    as_of_date date NOT NULL,
    selection_mode varchar(20) NOT NULL,
    selection_value_snapshot numeric(18, 6) NOT NULL,
    shares_to_exercise bigint NOT NULL,
    total_exercisable_shares_snapshot bigint NOT NULL,
    purchase_price numeric(18, 6) NOT NULL,
    down_payment_amount numeric(18, 6) NOT NULL,
    loan_principal numeric(18, 6) NOT NULL,
    policy_version_snapshot integer,
    interest_type varchar(20) NOT NULL,
    repayment_method varchar(40) NOT NULL,
    term_months integer NOT NULL,
    nominal_annual_rate_percent numeric(10, 4) NOT NULL,
    estimated_monthly_payment numeric(18, 6) NOT NULL,
    total_payable_amount numeric(18, 6) NOT NULL,
    total_interest_amount numeric(18, 6) NOT NULL,
    quote_inputs_snapshot jsonb NOT NULL,
    quote_option_snapshot jsonb NOT NULL,
    allocation_strategy varchar(50) NOT NULL,
    allocation_snapshot jsonb NOT NULL,
    org_settings_snapshot jsonb NOT NULL,
    eligibility_result_snapshot jsonb NOT NULL,
    activation_date timestamptz,
    election_83b_due_date date,
    marital_status_snapshot varchar(50),
    spouse_first_name varchar(100),
    spouse_middle_name varchar(100),
    spouse_last_name varchar(100),
    spouse_email varchar(255),
    spouse_phone varchar(50),
    spouse_address varchar(255),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE,
    CONSTRAINT fk_loan_app_org_membership FOREIGN KEY (org_id, org_membership_id)
        REFERENCES org_memberships (org_id, id) ON DELETE CASCADE,
    CONSTRAINT ck_loan_app_allocation_strategy CHECK (allocation_strategy IN ('OLDEST_VESTED_FIRST')),
    CONSTRAINT ck_loan_app_interest_type CHECK (interest_type IN ('FIXED', 'VARIABLE')),
    CONSTRAINT ck_loan_app_repayment_method
        CHECK (repayment_method IN ('BALLOON', 'PRINCIPAL_AND_INTEREST')),
    CONSTRAINT ck_loan_app_selection_mode CHECK (selection_mode IN ('PERCENT', 'SHARES')),
    CONSTRAINT ck_loan_app_status CHECK (status IN ('DRAFT', 'SUBMITTED', 'CANCELLED', 'IN_REVIEW',
                                                    'ACTIVE', 'COMPLETED', 'REJECTED')),
    CONSTRAINT ck_loan_app_down_payment_nonneg CHECK (down_payment_amount >= 0),
    CONSTRAINT ck_loan_app_payment_nonneg CHECK (estimated_monthly_payment >= 0),
    CONSTRAINT ck_loan_app_principal_nonneg CHECK (loan_principal >= 0),
    CONSTRAINT ck_loan_app_rate_nonneg CHECK (nominal_annual_rate_percent >= 0),
    CONSTRAINT ck_loan_app_purchase_nonneg CHECK (purchase_price >= 0),
    CONSTRAINT ck_loan_app_selection_value_nonneg CHECK (selection_value_snapshot >= 0),
    CONSTRAINT ck_loan_app_shares_nonneg CHECK (shares_to_exercise >= 0),
    CONSTRAINT ck_loan_app_total_exercisable_nonneg CHECK (total_exercisable_shares_snapshot >= 0),
    CONSTRAINT ck_loan_app_total_interest_nonneg CHECK (total_interest_amount >= 0),
    CONSTRAINT ck_loan_app_total_payable_nonneg CHECK (total_payable_amount >= 0),
    CONSTRAINT ck_loan_app_version_positive CHECK (version >= 1)
);

-- Stages, documents and repayments have only a plain FK to the loan: their org_id is kept equal
-- to the loan's by the application. Deleting a user nulls the *_by_user_id / assigned_* columns.
CREATE TABLE IF NOT EXISTS loan_workflow_stages (
    id uuid NOT NULL,
    org_id varchar NOT NULL,
    loan_application_id uuid NOT NULL,
    stage_type varchar(50) NOT NULL,
    status varchar(20) NOT NULL,
    assigned_role_hint varchar(50),
    completed_by_user_id uuid,
    completed_at timestamptz,
    assigned_to_user_id uuid,
    assigned_by_user_id uuid,
    assigned_at timestamptz,
    notes text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    FOREIGN KEY (assigned_by_user_id) REFERENCES users (id) ON DELETE SET NULL,
    FOREIGN KEY (assigned_to_user_id) REFERENCES users (id) ON DELETE SET NULL,
    FOREIGN KEY (completed_by_user_id) REFERENCES users (id) ON DELETE SET NULL,
    FOREIGN KEY (loan_application_id) REFERENCES loan_applications (id) ON DELETE CASCADE,
    FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE,
    CONSTRAINT ck_loan_workflow_stage_type CHECK (stage_type IN ('HR_REVIEW', 'FINANCE_PROCESSING',
        'LEGAL_EXECUTION', 'LEGAL_POST_ISSUANCE', 'BORROWER_83B_ELECTION')),
    CONSTRAINT ck_loan_workflow_stage_status CHECK (status IN ('PENDING', 'IN_PROGRESS', 'COMPLETED'))
);

CREATE TABLE IF NOT EXISTS loan_documents (
    id uuid NOT NULL,
    org_id varchar NOT NULL,
    loan_application_id uuid NOT NULL,
    stage_type varchar(50) NOT NULL,
    document_type varchar(100) NOT NULL,
    file_name varchar(255) NOT NULL,
    storage_path_or_url varchar(1024) NOT NULL,
    storage_provider varchar(32),
    storage_bucket varchar(255),
    storage_object_key varchar(1024),
    content_type varchar(100),
    size_bytes bigint,
    checksum varchar(128),
    uploaded_by_user_id uuid,
    uploaded_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    FOREIGN KEY (loan_application_id) REFERENCES loan_applications (id) ON DELETE CASCADE,
    FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE,
    FOREIGN KEY (uploaded_by_user_id) REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT ck_loan_document_type CHECK (document_type IN ('NOTICE_OF_STOCK_OPTION_GRANT',
        'PAYMENT_INSTRUCTIONS', 'PAYMENT_CONFIRMATION', 'STOCK_OPTION_EXERCISE_AND_LOAN_AGREEMENT',
        'SECURED_PROMISSORY_NOTE', 'SPOUSE_PARTNER_CONSENT', 'STOCK_POWER_AND_ASSIGNMENT',
        'INVESTMENT_REPRESENTATION_STATEMENT', 'SHARE_CERTIFICATE', 'SECTION_83B_ELECTION')),
    CONSTRAINT ck_loan_document_stage_type CHECK (stage_type IN ('HR_REVIEW', 'FINANCE_PROCESSING',
        'LEGAL_EXECUTION', 'LEGAL_POST_ISSUANCE', 'BORROWER_83B_ELECTION'))
);

CREATE TABLE IF NOT EXISTS loan_repayments (
    id uuid NOT NULL,
    org_id varchar NOT NULL,
    loan_application_id uuid NOT NULL,
    amount numeric(18, 6) NOT NULL,
    principal_amount numeric(18, 6) NOT NULL,
    interest_amount numeric(18, 6) NOT NULL,
    payment_date date NOT NULL,
    recorded_by_user_id uuid,
    evidence_file_name varchar(255),
    evidence_storage_path_or_url varchar(1024),
    evidence_storage_provider varchar(32),
    evidence_storage_bucket varchar(255),
    evidence_storage_object_key varchar(1024),
    evidence_content_type varchar(100),
    evidence_size_bytes bigint,
    evidence_checksum varchar(128),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    FOREIGN KEY (loan_application_id) REFERENCES loan_applications (id) ON DELETE CASCADE,
    FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE,
    FOREIGN KEY (recorded_by_user_id) REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT ck_loan_repayment_amount_nonneg CHECK (amount >= 0),
    CONSTRAINT ck_loan_repayment_interest_nonneg CHECK (interest_amount >= 0),
    CONSTRAINT ck_loan_repayment_principal_nonneg CHECK (principal_amount >= 0)
);

-- Shares a loan holds on a grant (domain-stock.md §6, domain-loans.md §7.5). As in the legacy
-- schema: no unique (loan, grant), no CHECK on shares_reserved, and grant_id is not tied to the
-- reservation's org by a composite key.
CREATE TABLE IF NOT EXISTS stock_grant_reservations (
    id uuid NOT NULL,
    org_id varchar NOT NULL,
    org_membership_id uuid NOT NULL,
    grant_id uuid NOT NULL,
    loan_application_id uuid NOT NULL,
    shares_reserved bigint NOT NULL,
    status varchar(20) NOT NULL DEFAULT 'SUBMITTED',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    FOREIGN KEY (grant_id) REFERENCES employee_stock_grants (id) ON DELETE CASCADE,
    FOREIGN KEY (loan_application_id) REFERENCES loan_applications (id) ON DELETE CASCADE,
    CONSTRAINT fk_stock_reservations_org_membership FOREIGN KEY (org_id, org_membership_id)
        REFERENCES org_memberships (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE
);

-- Global (no org column). The only integer key of the legacy schema: serial creates the
-- integer sequence pbgc_mid_term_rates_id_seq owned by the column, as the legacy dump shows.
-- When the table exists, IF NOT EXISTS skips the whole statement, sequence included.
CREATE TABLE IF NOT EXISTS pbgc_mid_term_rates (
    id serial NOT NULL,
    year integer NOT NULL,
    month integer NOT NULL,
    annual_rate_percent numeric(10, 4),
    monthly_rate_percent numeric(10, 4),
    source_url varchar(500) NOT NULL,
    fetched_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    CONSTRAINT uq_pbgc_mid_term_rates_year_month UNIQUE (year, month)
);

-- Documents (domain-documents.md §9). Scoped by org only, no membership FK. Several NULL
-- system keys per org are allowed by uq_org_document_folders_org_key.
CREATE TABLE IF NOT EXISTS org_document_folders (
    id uuid NOT NULL,
    org_id varchar NOT NULL,
    name varchar(255) NOT NULL,
    system_key varchar(50),
    is_system boolean NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE,
    CONSTRAINT uq_org_document_folders_org_name UNIQUE (org_id, name),
    CONSTRAINT uq_org_document_folders_org_key UNIQUE (org_id, system_key)
);

-- folder_id is a plain FK: the API, not the schema, keeps a template in its folder's org.
CREATE TABLE IF NOT EXISTS org_document_templates (
    id uuid NOT NULL,
    org_id varchar NOT NULL,
    folder_id uuid,
    name varchar(255) NOT NULL,
    description text,
    file_name varchar(255) NOT NULL,
    storage_path_or_url varchar(1024) NOT NULL,
    storage_provider varchar(32),
    storage_bucket varchar(255),
    storage_object_key varchar(1024),
    content_type varchar(100),
    size_bytes bigint,
    checksum varchar(128),
    uploaded_by_user_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    FOREIGN KEY (folder_id) REFERENCES org_document_folders (id) ON DELETE SET NULL,
    FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE,
    FOREIGN KEY (uploaded_by_user_id) REFERENCES users (id) ON DELETE SET NULL
);

-- Deliberately no FK from org_id to orgs, as in the legacy schema; storage_backend_id has no
-- ON DELETE action.
CREATE TABLE IF NOT EXISTS assets (
    id uuid NOT NULL,
    org_id varchar NOT NULL,
    owner_type varchar NOT NULL,
    owner_id varchar NOT NULL,
    kind varchar NOT NULL,
    content_type varchar,
    filename varchar NOT NULL,
    size_bytes bigint,
    checksum varchar,
    status varchar NOT NULL,
    storage_backend_id uuid,
    provider varchar(32),
    bucket varchar,
    object_key varchar NOT NULL,
    external_url varchar,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    FOREIGN KEY (storage_backend_id) REFERENCES storage_backend_configs (id)
);

-- The indexes, each created only when it is missing. CREATE INDEX IF NOT EXISTS would take a
-- SHARE lock on an existing table even when it then skips, and hold it until this migration
-- commits: on an adopted database that the legacy service is still writing to, that would wait
-- for its open transactions and hold up its writes. Looking the name up takes no lock.
DO $$
DECLARE
    wanted record;
BEGIN
    FOR wanted IN
        SELECT * FROM (VALUES
            ('ix_employee_stock_grants_org_id',                 'employee_stock_grants (org_id)'),
            ('ix_employee_stock_grants_org_membership_id',      'employee_stock_grants (org_membership_id)'),
            ('ix_vesting_events_grant_id',                      'vesting_events (grant_id)'),
            ('ix_vesting_events_org_id',                        'vesting_events (org_id)'),
            ('ix_vesting_events_vest_date',                     'vesting_events (vest_date)'),
            ('ix_loan_applications_org_id',                     'loan_applications (org_id)'),
            ('ix_loan_applications_org_membership_id',          'loan_applications (org_membership_id)'),
            ('ix_loan_applications_status',                     'loan_applications (status)'),
            ('ix_loan_workflow_stages_loan_application_id',     'loan_workflow_stages (loan_application_id)'),
            ('ix_loan_workflow_stages_org_id',                  'loan_workflow_stages (org_id)'),
            ('ix_loan_workflow_stages_org_stage_status',        'loan_workflow_stages (org_id, stage_type, status)'),
            ('ix_loan_documents_loan_application_id',           'loan_documents (loan_application_id)'),
            ('ix_loan_documents_org_id',                        'loan_documents (org_id)'),
            ('ix_loan_documents_org_stage_type',                'loan_documents (org_id, stage_type)'),
            ('ix_loan_repayments_loan_application_id',          'loan_repayments (loan_application_id)'),
            ('ix_loan_repayments_org_id',                       'loan_repayments (org_id)'),
            ('ix_loan_repayments_org_loan',                     'loan_repayments (org_id, loan_application_id)'),
            ('ix_stock_grant_reservations_grant_id',            'stock_grant_reservations (grant_id)'),
            ('ix_stock_grant_reservations_loan_application_id', 'stock_grant_reservations (loan_application_id)'),
            ('ix_stock_grant_reservations_org_id',              'stock_grant_reservations (org_id)'),
            ('ix_stock_grant_reservations_org_membership_id',   'stock_grant_reservations (org_membership_id)'),
            ('ix_pbgc_mid_term_rates_month',                    'pbgc_mid_term_rates (month)'),
            ('ix_pbgc_mid_term_rates_year',                     'pbgc_mid_term_rates (year)'),
            ('ix_org_document_folders_org_id',                  'org_document_folders (org_id)'),
            ('ix_org_document_templates_folder_id',             'org_document_templates (folder_id)'),
            ('ix_org_document_templates_org_id',                'org_document_templates (org_id)'),
            ('ix_assets_org_id',                                'assets (org_id)'),
            ('ix_assets_owner_id',                              'assets (owner_id)')
        ) AS index_list (name, target)
    LOOP
        IF to_regclass(quote_ident(wanted.name)) IS NULL THEN
            EXECUTE format('CREATE INDEX %I ON %s', wanted.name, wanted.target);
        END IF;
    END LOOP;
END
$$;
