-- Legacy core baseline: the platform-core tables exactly as the legacy FastAPI backend left
-- them at Alembic head c4d5e6f7a8b9 (contract/legacy-backend.md §7).
--
-- A database already at that Alembic head is adopted by `sole migrate`: this file is recorded
-- as applied without being run, so every name, type, default and constraint here must match
-- what the legacy migrations produced. Never edit it (its checksum is recorded); add a new
-- migration instead.
--
-- Conventions kept from the legacy schema:
--   * UUID primary keys have no DB default (the application generates them).
--   * created_at/updated_at are timestamptz NOT NULL DEFAULT now(); updated_at is bumped by
--     the application, not by a trigger.
--   * org_id columns are unbounded varchar. Constraints the legacy schema left unnamed are
--     unnamed here too, so PostgreSQL generates the same names.
--   * Domain tables (loans, stock grants, announcements, ...) are not part of this baseline.

CREATE TABLE orgs (
    id varchar NOT NULL,
    name varchar(255) NOT NULL,
    slug varchar(255) NOT NULL,
    status varchar(50) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (slug)
);

CREATE TABLE identities (
    id uuid NOT NULL,
    email varchar(255) NOT NULL,
    hashed_password varchar(255) NOT NULL,
    mfa_enabled boolean NOT NULL DEFAULT false,
    mfa_method varchar(50),
    mfa_secret_encrypted varchar(255),
    mfa_confirmed_at timestamptz,
    token_version integer NOT NULL DEFAULT 0,
    last_active_at timestamptz,
    -- The legacy ORM defaults this to true on insert; the column default is false.
    must_change_password boolean NOT NULL DEFAULT false,
    is_active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id)
);
CREATE UNIQUE INDEX ix_identities_email ON identities (email);

-- identity_id comes last because the legacy schema added it when identities were split out.
CREATE TABLE users (
    id uuid NOT NULL,
    org_id varchar NOT NULL,
    email varchar(255) NOT NULL,
    is_active boolean NOT NULL DEFAULT true,
    is_superuser boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    identity_id uuid NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE,
    CONSTRAINT fk_users_identity_id FOREIGN KEY (identity_id) REFERENCES identities (id),
    CONSTRAINT uq_users_org_email UNIQUE (org_id, email),
    CONSTRAINT uq_users_org_identity UNIQUE (org_id, identity_id)
);
CREATE INDEX ix_users_org_id ON users (org_id);
CREATE INDEX ix_users_identity_id ON users (identity_id);

CREATE TABLE departments (
    id uuid NOT NULL,
    org_id varchar NOT NULL,
    name varchar(255) NOT NULL,
    code varchar(50) NOT NULL,
    is_archived boolean NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE,
    CONSTRAINT uq_departments_org_code UNIQUE (org_id, code),
    CONSTRAINT uq_departments_org_name UNIQUE (org_id, name)
);
CREATE INDEX ix_departments_org_id ON departments (org_id);

CREATE TABLE org_memberships (
    id uuid NOT NULL,
    org_id varchar NOT NULL,
    user_id uuid NOT NULL,
    employee_id varchar(255) NOT NULL,
    department_id uuid,
    employment_start_date date,
    employment_status varchar(50) NOT NULL,
    platform_status varchar(50) NOT NULL,
    invitation_status varchar(50) NOT NULL,
    invited_at timestamptz,
    accepted_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE,
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    FOREIGN KEY (department_id) REFERENCES departments (id) ON DELETE SET NULL,
    CONSTRAINT uq_membership_org_employee UNIQUE (org_id, employee_id),
    -- Target of the composite org-isolation foreign keys.
    CONSTRAINT uq_membership_org_id_id UNIQUE (org_id, id),
    CONSTRAINT uq_membership_org_user UNIQUE (org_id, user_id)
);
CREATE INDEX ix_org_memberships_org_id ON org_memberships (org_id);
CREATE INDEX ix_org_memberships_user_id ON org_memberships (user_id);

-- No direct FK to orgs: the composite FK ties a profile to a membership of the same org.
CREATE TABLE org_user_profiles (
    id uuid NOT NULL,
    org_id varchar NOT NULL,
    membership_id uuid NOT NULL,
    full_name varchar(255) NOT NULL,
    first_name varchar(100),
    middle_name varchar(100),
    last_name varchar(100),
    preferred_name varchar(255),
    timezone varchar(50),
    phone_number varchar(50),
    marital_status varchar(50),
    country varchar(2),
    state varchar(10),
    address_line1 varchar(255),
    address_line2 varchar(255),
    postal_code varchar(32),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    FOREIGN KEY (org_id, membership_id) REFERENCES org_memberships (org_id, id) ON DELETE CASCADE,
    CONSTRAINT uq_org_user_profiles_org_membership UNIQUE (org_id, membership_id)
);
CREATE INDEX ix_org_user_profiles_org_id ON org_user_profiles (org_id);
CREATE INDEX ix_org_user_profiles_membership_id ON org_user_profiles (membership_id);

CREATE TABLE roles (
    id uuid NOT NULL,
    org_id varchar NOT NULL,
    name varchar(100) NOT NULL,
    description varchar(255),
    is_system_role boolean NOT NULL,
    permissions jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE,
    CONSTRAINT uq_roles_org_name UNIQUE (org_id, name)
);
CREATE INDEX ix_roles_org_id ON roles (org_id);

-- role_id is a plain FK: the legacy schema does not tie a role to the assignment's org.
CREATE TABLE user_roles (
    id uuid NOT NULL,
    org_id varchar NOT NULL,
    user_id uuid NOT NULL,
    role_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE,
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    FOREIGN KEY (role_id) REFERENCES roles (id) ON DELETE CASCADE,
    CONSTRAINT uq_user_roles_org_user_role UNIQUE (org_id, user_id, role_id)
);
CREATE INDEX ix_user_roles_org_id ON user_roles (org_id);
CREATE INDEX ix_user_roles_role_id ON user_roles (role_id);
CREATE INDEX ix_user_roles_user_id ON user_roles (user_id);

CREATE TABLE user_permissions (
    id uuid NOT NULL,
    org_id varchar NOT NULL,
    user_id uuid NOT NULL,
    permissions jsonb NOT NULL,
    effect varchar(10) NOT NULL DEFAULT 'allow',
    expires_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE,
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT uq_user_permissions_org_user UNIQUE (org_id, user_id)
);
CREATE INDEX ix_user_permissions_org_id ON user_permissions (org_id);
CREATE INDEX ix_user_permissions_user_id ON user_permissions (user_id);

CREATE TABLE access_control_list (
    id uuid NOT NULL,
    org_id varchar NOT NULL,
    user_id uuid NOT NULL,
    resource_type varchar(100) NOT NULL,
    resource_id varchar(255) NOT NULL,
    permissions jsonb NOT NULL,
    effect varchar(10) NOT NULL DEFAULT 'allow',
    expires_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE,
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT uq_acl_org_user_resource UNIQUE (org_id, user_id, resource_type, resource_id)
);
CREATE INDEX ix_access_control_list_org_id ON access_control_list (org_id);
CREATE INDEX ix_access_control_list_user_id ON access_control_list (user_id);

-- Loan, vesting and PBGC fields belong to out-of-scope domains but are stored and returned
-- as-is. allow_impersonation comes last because the legacy schema added it later.
CREATE TABLE org_settings (
    org_id varchar NOT NULL,
    allow_user_data_export boolean NOT NULL DEFAULT true,
    allow_profile_edit boolean NOT NULL DEFAULT true,
    require_two_factor boolean NOT NULL DEFAULT false,
    mfa_required_actions jsonb NOT NULL DEFAULT '[]'::jsonb,
    remember_device_days integer NOT NULL DEFAULT 30,
    session_timeout_minutes integer NOT NULL DEFAULT 5,
    audit_log_retention_days integer NOT NULL DEFAULT 180,
    inactive_user_retention_days integer NOT NULL DEFAULT 180,
    enforce_service_duration_rule boolean NOT NULL DEFAULT false,
    min_service_duration_years numeric(6, 2),
    enforce_min_vested_to_exercise boolean NOT NULL DEFAULT false,
    min_vested_shares_to_exercise bigint,
    allowed_repayment_methods jsonb NOT NULL DEFAULT '["BALLOON","PRINCIPAL_AND_INTEREST"]'::jsonb,
    min_loan_term_months integer NOT NULL DEFAULT 6,
    max_loan_term_months integer NOT NULL DEFAULT 60,
    allowed_interest_types jsonb NOT NULL DEFAULT '["FIXED","VARIABLE"]'::jsonb,
    fixed_interest_rate_annual_percent numeric(10, 4) NOT NULL DEFAULT 0,
    variable_base_rate_annual_percent numeric(10, 4),
    variable_margin_annual_percent numeric(10, 4),
    require_down_payment boolean NOT NULL DEFAULT false,
    down_payment_percent numeric(5, 2),
    policy_version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    allow_impersonation boolean NOT NULL DEFAULT false,
    PRIMARY KEY (org_id),
    FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE
);

-- One partition per org (audit_logs_<suffix>), created by `sole migrate`, `sole seed` and
-- POST /orgs. Deliberately no default partition and no FK, as in the legacy schema.
-- impersonator_id comes last because the legacy schema added it later.
CREATE TABLE audit_logs (
    id uuid NOT NULL,
    org_id varchar NOT NULL,
    actor_id uuid,
    action varchar(255) NOT NULL,
    resource_type varchar(255) NOT NULL,
    resource_id varchar(255) NOT NULL,
    old_value json,
    new_value json,
    changes json,
    summary varchar(500),
    created_at timestamptz NOT NULL DEFAULT now(),
    impersonator_id uuid,
    PRIMARY KEY (id, org_id)
) PARTITION BY LIST (org_id);
CREATE INDEX ix_audit_logs_org_id ON audit_logs (org_id);

-- Unused by the API; tax_id and bank_account_number hold Fernet tokens.
CREATE TABLE journal_entries (
    id uuid NOT NULL,
    org_id varchar NOT NULL,
    entry_date date NOT NULL DEFAULT CURRENT_DATE,
    amount numeric(18, 2) NOT NULL,
    currency varchar(3) NOT NULL,
    debit_account varchar(255) NOT NULL,
    credit_account varchar(255) NOT NULL,
    description text,
    tax_id bytea,
    bank_account_number bytea,
    PRIMARY KEY (id, org_id)
) PARTITION BY LIST (org_id);
CREATE INDEX ix_journal_entries_org_id ON journal_entries (org_id);

CREATE TABLE user_mfa_devices (
    id uuid NOT NULL,
    org_id varchar NOT NULL,
    user_id uuid NOT NULL,
    token_hash varchar(64) NOT NULL,
    user_agent varchar(500),
    ip_address varchar(64),
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE,
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX ix_user_mfa_devices_token_hash ON user_mfa_devices (token_hash);
CREATE INDEX ix_user_mfa_devices_org_id ON user_mfa_devices (org_id);
CREATE INDEX ix_user_mfa_devices_user_id ON user_mfa_devices (user_id);

-- Keyed by identity, not user: one set of recovery codes serves every org of an identity.
CREATE TABLE user_mfa_recovery_codes (
    id uuid NOT NULL,
    code_hash varchar(64) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    used_at timestamptz,
    identity_id uuid NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT fk_recovery_identity FOREIGN KEY (identity_id) REFERENCES identities (id) ON DELETE CASCADE
);
CREATE INDEX ix_user_mfa_recovery_codes_identity_id ON user_mfa_recovery_codes (identity_id);

-- Storage infrastructure; a NULL org_id is the system default backend. No FK to orgs.
CREATE TABLE storage_backend_configs (
    id uuid NOT NULL,
    org_id varchar,
    provider varchar NOT NULL,
    bucket varchar NOT NULL,
    endpoint_url varchar,
    base_prefix varchar,
    credentials_ref varchar,
    configuration jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id)
);
CREATE INDEX ix_storage_backend_configs_org_id ON storage_backend_configs (org_id);
