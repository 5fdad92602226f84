//! `sole migrate` as operators run it: the built binary against real databases.

use std::process::Output;

use sqlx::{Connection, Executor, PgConnection};

use sole::db::migrator::ALEMBIC_HEAD;

use crate::helpers::{connect, empty_database, fresh_database, url_for};

const BASELINE_SQL: &str = include_str!("../../migrations/20260205000000_legacy_core_baseline.sql");
const BASELINE: &str = "20260205000000 legacy core baseline";

/// One row of information_schema.columns.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Column {
    name: String,
    data_type: String,
    is_nullable: String,
    default_expr: Option<String>,
    precision: Option<i32>,
    scale: Option<i32>,
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn success(&self) -> bool {
        self.code == Some(0)
    }

    fn assert_ok(&self) -> &Self {
        assert!(
            self.success(),
            "sole exited {:?}\nstdout:\n{}\nstderr:\n{}",
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }
}

impl From<Output> for Run {
    fn from(out: Output) -> Self {
        Self {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// The binary with a clean environment, so the developer's DATABASE_URL_DIRECT, CONFIG_FILE or
/// `.env` cannot leak into the test.
fn sole(args: &[&str], env: &[(&str, &str)]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_sole"));
    cmd.arg("--no-dotenv")
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .kill_on_drop(true);
    cmd
}

async fn run(args: &[&str], env: &[(&str, &str)]) -> Run {
    sole(args, env)
        .output()
        .await
        .expect("run the sole binary")
        .into()
}

async fn migrate(db: &str, args: &[&str]) -> Run {
    let url = url_for(db);
    let mut all = vec!["migrate"];
    all.extend_from_slice(args);
    run(&all, &[("DATABASE_URL", url.as_str())]).await
}

async fn scalar_i64(conn: &mut PgConnection, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&mut *conn)
        .await
        .expect("query")
}

async fn table_exists(conn: &mut PgConnection, name: &str) -> bool {
    sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(name)
        .fetch_one(&mut *conn)
        .await
        .expect("to_regclass")
}

/// How many migrations are embedded (every one is recorded once after a migrate).
fn migration_files() -> i64 {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    std::fs::read_dir(dir)
        .expect("migrations dir")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "sql"))
        .count() as i64
}

/// Where a legacy database's core differs from the baseline (a default stored in another form).
const LEGACY_CORE_AT_HEAD_SQL: &str = include_str!("../fixtures/legacy-schema/05-core-at-head.sql");
/// The DDL of the legacy tables beyond the core, as the legacy service left them at Alembic head
/// (tests/fixtures/legacy-schema, from the contracts' pg_dump output), in load order.
const LEGACY_DOMAIN_SQL: [&str; 3] = [
    include_str!("../fixtures/legacy-schema/20-stock.sql"),
    include_str!("../fixtures/legacy-schema/30-loans.sql"),
    include_str!("../fixtures/legacy-schema/40-documents.sql"),
];
const LEGACY_ANNOUNCEMENTS_SQL: &str =
    include_str!("../fixtures/legacy-schema/10-announcements.sql");
const DOMAIN_MIGRATION_SQL: &str =
    include_str!("../../migrations/20261207015949_legacy_domain_schema.sql");
const DOMAIN_MIGRATION: &str = "20261207015949 legacy domain schema";

/// Every table of the legacy domain, as the domain migration creates them.
const DOMAIN_TABLES: [&str; 11] = [
    "employee_stock_grants",
    "vesting_events",
    "loan_applications",
    "loan_workflow_stages",
    "loan_documents",
    "loan_repayments",
    "stock_grant_reservations",
    "pbgc_mid_term_rates",
    "org_document_folders",
    "org_document_templates",
    "assets",
];

/// A database as the legacy service left it at `alembic`: the core schema (the baseline and
/// 05-core-at-head.sql), the legacy domain tables, Alembic's bookkeeping, and data. The announcement
/// tables are left out; tests that want them add [`LEGACY_ANNOUNCEMENTS_SQL`] or their own.
async fn legacy_database(alembic: &str) -> String {
    let db = empty_database().await;
    let mut conn = connect(&db).await;
    conn.execute(BASELINE_SQL)
        .await
        .expect("legacy core schema");
    conn.execute(LEGACY_CORE_AT_HEAD_SQL)
        .await
        .expect("legacy core defaults");
    for sql in LEGACY_DOMAIN_SQL {
        conn.execute(sql).await.expect("legacy domain schema");
    }
    conn.execute(
        "CREATE TABLE alembic_version (
             version_num varchar(32) NOT NULL,
             CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
         );
         INSERT INTO orgs (id, name, slug, status) VALUES
             ('legacy-co', 'Legacy Co', 'legacy-co', 'ACTIVE'),
             ('late-org', 'Late Org', 'late-org', 'ACTIVE');
         CREATE TABLE audit_logs_legacy_co PARTITION OF audit_logs FOR VALUES IN ('legacy-co');
         CREATE TABLE journal_entries_legacy_co PARTITION OF journal_entries FOR VALUES IN ('legacy-co');
         INSERT INTO identities (id, email, hashed_password)
             VALUES ('00000000-0000-4000-8000-000000000001', 'admin@legacy.example', '$argon2id$x');
         INSERT INTO users (id, org_id, email, identity_id)
             VALUES ('00000000-0000-4000-8000-000000000002', 'legacy-co', 'admin@legacy.example',
                     '00000000-0000-4000-8000-000000000001');
         INSERT INTO org_memberships (id, org_id, user_id, employee_id, employment_status,
                                      platform_status, invitation_status)
             VALUES ('00000000-0000-4000-8000-000000000003', 'legacy-co',
                     '00000000-0000-4000-8000-000000000002', 'legacy-co-admin', 'ACTIVE', 'ACTIVE',
                     'ACCEPTED');
         INSERT INTO employee_stock_grants (id, org_id, org_membership_id, grant_date, total_shares,
                                            exercise_price, status, vesting_strategy)
             VALUES ('00000000-0000-4000-8000-000000000007', 'legacy-co',
                     '00000000-0000-4000-8000-000000000003', '2023-08-01', 5000, 17, 'ACTIVE',
                     'SCHEDULED');
         INSERT INTO vesting_events (id, org_id, grant_id, vest_date, shares)
             VALUES ('00000000-0000-4000-8000-000000000008', 'legacy-co',
                     '00000000-0000-4000-8000-000000000007', '2024-08-01', 1666);
         INSERT INTO loan_applications (
                 id, org_id, org_membership_id, status, version, as_of_date, selection_mode,
                 selection_value_snapshot, shares_to_exercise, total_exercisable_shares_snapshot,
                 purchase_price, down_payment_amount, loan_principal, interest_type,
                 repayment_method, term_months, nominal_annual_rate_percent,
                 estimated_monthly_payment, total_payable_amount, total_interest_amount,
                 quote_inputs_snapshot, quote_option_snapshot, allocation_strategy,
                 allocation_snapshot, org_settings_snapshot, eligibility_result_snapshot)
             VALUES ('00000000-0000-4000-8000-000000000004', 'legacy-co',
                     '00000000-0000-4000-8000-000000000003', 'SUBMITTED', 1, '2026-12-07',
                     'SHARES', 726, 726, 1666, 12342, 0, 12342, 'FIXED', 'BALLOON', 12, 5.5, 0,
                     13020.81, 678.81, '{}', '{}', 'OLDEST_VESTED_FIRST', '[]', '{}', '{}');
         INSERT INTO stock_grant_reservations (id, org_id, org_membership_id, grant_id,
                                               loan_application_id, shares_reserved)
             VALUES ('00000000-0000-4000-8000-000000000009', 'legacy-co',
                     '00000000-0000-4000-8000-000000000003', '00000000-0000-4000-8000-000000000007',
                     '00000000-0000-4000-8000-000000000004', 726);
         INSERT INTO pbgc_mid_term_rates (year, month, annual_rate_percent, monthly_rate_percent,
                                          source_url, fetched_at)
             VALUES (2026, 11, 4.12, 0.3372, 'https://www.pbgc.gov/', now());
         INSERT INTO audit_logs (id, org_id, action, resource_type, resource_id)
             VALUES ('00000000-0000-4000-8000-000000000005', 'legacy-co', 'user.onboarded', 'user',
                     'x');",
    )
    .await
    .expect("legacy fixture");
    sqlx::query("INSERT INTO alembic_version (version_num) VALUES ($1)")
        .bind(alembic)
        .execute(&mut conn)
        .await
        .expect("alembic version");
    db
}

/// [`legacy_database`] at Alembic head with the legacy announcement tables too: every table
/// the legacy service had.
async fn legacy_head_database() -> String {
    let db = legacy_database(ALEMBIC_HEAD).await;
    let mut conn = connect(&db).await;
    conn.execute(LEGACY_ANNOUNCEMENTS_SQL)
        .await
        .expect("legacy announcement tables");
    db
}

/// pg_dump: on PATH, else the newest of Debian's versioned installs.
fn pg_dump_program() -> std::path::PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("pg_dump"))
            .find(|p| p.is_file())
    });
    if let Some(path) = on_path {
        return path;
    }
    let mut installed: Vec<(u32, std::path::PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse().ok()?;
            let path = entry.path().join("bin/pg_dump");
            path.is_file().then_some((major, path))
        })
        .collect();
    installed.sort();
    installed
        .pop()
        .map(|(_, path)| path)
        .expect("pg_dump is neither on PATH nor under /usr/lib/postgresql/*/bin: install the PostgreSQL client")
}

/// Tables only the migration tools use; they are not part of the compared schema.
const BOOKKEEPING_TABLES: [&str; 3] = [
    "_sqlx_migrations",
    "_sole_alembic_adoption",
    "alembic_version",
];

/// True when `statement` names `public.<table>` (and not a longer name that starts with it).
fn names_table(statement: &str, table: &str) -> bool {
    let qualified = format!("public.{table}");
    statement.match_indices(&qualified).any(|(at, _)| {
        statement[at + qualified.len()..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'))
    })
}

/// `pg_dump --schema-only` of `db` as a sorted list of statements: comments, blank lines, SET
/// and psql meta-commands (\restrict carries a random key) dropped, ownership and privileges
/// never dumped, and the bookkeeping tables left out.
async fn schema_dump(db: &str) -> Vec<String> {
    let out = tokio::process::Command::new(pg_dump_program())
        .args(["--schema-only", "--no-owner", "--no-privileges", "--dbname"])
        .arg(url_for(db))
        .output()
        .await
        .expect("run pg_dump");
    assert!(
        out.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dump = String::from_utf8(out.stdout).expect("pg_dump writes UTF-8");
    let mut statements = Vec::new();
    let mut current = String::new();
    for line in dump.lines() {
        let trimmed = line.trim();
        let skipped = trimmed.is_empty()
            || trimmed.starts_with("--")
            || trimmed.starts_with('\\')
            || (current.is_empty()
                && (trimmed.starts_with("SET ")
                    || trimmed.starts_with("SELECT pg_catalog.set_config(")));
        if skipped {
            continue;
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(line);
        if trimmed.ends_with(';') {
            statements.push(std::mem::take(&mut current));
        }
    }
    assert!(
        current.is_empty(),
        "unterminated statement in the dump: {current}"
    );
    statements.retain(|s| !BOOKKEEPING_TABLES.iter().any(|t| names_table(s, t)));
    statements.sort();
    statements
}

/// Statements of `left` missing from `right`.
fn missing_from<'a>(left: &'a [String], right: &[String]) -> Vec<&'a str> {
    left.iter()
        .filter(|s| !right.contains(s))
        .map(String::as_str)
        .collect()
}

/// Asserts two normalised dumps are equal; on failure prints the statements only one side has.
fn assert_same_schema(left_name: &str, left: &[String], right_name: &str, right: &[String]) {
    if left == right {
        return;
    }
    let listed = |statements: Vec<&str>| {
        if statements.is_empty() {
            "(none)".to_owned()
        } else {
            statements.join("\n\n")
        }
    };
    let only_left = listed(missing_from(left, right));
    let only_right = listed(missing_from(right, left));
    panic!(
        "the schemas differ ({} vs {} statements)\n\n--- only in {left_name}:\n{only_left}\n\n+++ only in {right_name}:\n{only_right}\n",
        left.len(),
        right.len(),
    );
}

#[tokio::test]
async fn migrate_creates_the_core_schema_on_an_empty_database() {
    let db = empty_database().await;
    let out = migrate(&db, &[]).await;
    out.assert_ok();
    assert!(
        out.stdout.contains(&format!("applied {BASELINE}")),
        "{}",
        out.stdout
    );

    // The domain tables come from their own migration, after the baseline.
    assert!(
        out.stdout.contains(&format!("applied {DOMAIN_MIGRATION}")),
        "{}",
        out.stdout
    );

    let mut conn = connect(&db).await;
    for table in sole::db::migrator::CORE_TABLES
        .into_iter()
        .chain(DOMAIN_TABLES)
    {
        assert!(table_exists(&mut conn, table).await, "{table} missing");
    }
    assert!(!table_exists(&mut conn, "alembic_version").await);

    // Columns: types, scale, NOT NULL, defaults, and order where the legacy schema added late.
    let columns: Vec<Column> = sqlx::query_as(
        "SELECT table_name::text || '.' || column_name::text AS name, data_type::text,
                is_nullable::text, column_default::text AS default_expr,
                numeric_precision::int AS precision, numeric_scale::int AS scale
               FROM information_schema.columns
              WHERE table_schema = 'public'
                AND (table_name, column_name) IN (
                    ('identities', 'must_change_password'),
                    ('users', 'identity_id'),
                    ('org_settings', 'fixed_interest_rate_annual_percent'),
                    ('org_settings', 'min_service_duration_years'),
                    ('org_settings', 'mfa_required_actions'),
                    ('org_settings', 'allow_impersonation'),
                    ('departments', 'is_archived'),
                    ('journal_entries', 'entry_date'),
                    ('orgs', 'id'))
              ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .expect("columns");
    let by_name = |name: &str| {
        columns
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no column {name}"))
            .clone()
    };
    let must_change = by_name("identities.must_change_password");
    assert_eq!(
        (
            must_change.data_type.as_str(),
            must_change.is_nullable.as_str()
        ),
        ("boolean", "NO")
    );
    assert_eq!(must_change.default_expr.as_deref(), Some("false"));
    let identity_id = by_name("users.identity_id");
    assert_eq!(
        (
            identity_id.data_type.as_str(),
            identity_id.is_nullable.as_str()
        ),
        ("uuid", "NO")
    );
    let fixed = by_name("org_settings.fixed_interest_rate_annual_percent");
    assert_eq!(
        (fixed.data_type.as_str(), fixed.is_nullable.as_str()),
        ("numeric", "NO")
    );
    assert_eq!((fixed.precision, fixed.scale), (Some(10), Some(4)));
    // As the legacy schema stores it (DEFAULT '0'), not as the baseline wrote it (DEFAULT 0).
    assert_eq!(fixed.default_expr.as_deref(), Some("'0'::numeric"));
    let years = by_name("org_settings.min_service_duration_years");
    assert_eq!(years.is_nullable, "YES");
    assert_eq!((years.precision, years.scale), (Some(6), Some(2)));
    assert_eq!(
        by_name("org_settings.mfa_required_actions")
            .default_expr
            .as_deref(),
        Some("'[]'::jsonb")
    );
    assert_eq!(by_name("departments.is_archived").default_expr, None);
    assert_eq!(
        by_name("journal_entries.entry_date")
            .default_expr
            .as_deref(),
        Some("CURRENT_DATE")
    );
    assert_eq!(by_name("orgs.id").data_type, "character varying");

    let last_setting: String = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns
          WHERE table_name = 'org_settings' ORDER BY ordinal_position DESC LIMIT 1",
    )
    .fetch_one(&mut conn)
    .await
    .expect("last column");
    assert_eq!(last_setting, "allow_impersonation");

    assert_eq!(
        scalar_i64(
            &mut conn,
            "SELECT count(*) FROM information_schema.columns
              WHERE table_schema = 'public' AND column_name = 'id' AND data_type = 'uuid'
                AND column_default IS NOT NULL",
        )
        .await,
        0,
        "UUID primary keys are generated by the application"
    );

    // Named constraints and indexes.
    let constraints: Vec<String> = sqlx::query_scalar(
        "SELECT conname::text FROM pg_constraint WHERE connamespace = 'public'::regnamespace",
    )
    .fetch_all(&mut conn)
    .await
    .expect("constraints");
    for name in [
        "fk_users_identity_id",
        "fk_recovery_identity",
        "uq_users_org_email",
        "uq_users_org_identity",
        "uq_membership_org_id_id",
        "uq_membership_org_employee",
        "uq_org_user_profiles_org_membership",
        "uq_acl_org_user_resource",
        "uq_user_roles_org_user_role",
        "orgs_slug_key",
        "audit_logs_pkey",
    ] {
        assert!(constraints.iter().any(|c| c == name), "{name} missing");
    }
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT indexname::text, indexdef FROM pg_indexes WHERE schemaname = 'public'",
    )
    .fetch_all(&mut conn)
    .await
    .expect("indexes");
    let index = |name: &str| {
        indexes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, def)| def.clone())
            .unwrap_or_else(|| panic!("index {name} missing"))
    };
    assert!(index("ix_identities_email").starts_with("CREATE UNIQUE INDEX"));
    assert!(index("ix_user_mfa_devices_token_hash").starts_with("CREATE UNIQUE INDEX"));
    assert!(index("ix_audit_logs_org_id").contains("(org_id)"));
    assert!(index("ix_journal_entries_org_id").contains("(org_id)"));
    index("ix_user_roles_role_id");

    // The composite org-isolation FK, unnamed in the legacy schema.
    let composite: (String, String, String, String) = sqlx::query_as(
        "SELECT conname::text, confrelid::regclass::text,
                pg_get_constraintdef(oid), confdeltype::text
           FROM pg_constraint
          WHERE conrelid = 'org_user_profiles'::regclass AND contype = 'f'",
    )
    .fetch_one(&mut conn)
    .await
    .expect("exactly one FK on org_user_profiles");
    assert_eq!(composite.0, "org_user_profiles_org_id_membership_id_fkey");
    assert_eq!(composite.1, "org_memberships");
    assert!(
        composite.2.starts_with(
            "FOREIGN KEY (org_id, membership_id) REFERENCES org_memberships(org_id, id)"
        ),
        "{}",
        composite.2
    );
    assert_eq!(composite.3, "c");

    // audit_logs and journal_entries are LIST-partitioned by org_id, with PK (id, org_id).
    for table in ["audit_logs", "journal_entries"] {
        let (relkind, key): (String, String) = sqlx::query_as(
            "SELECT relkind::text, pg_get_partkeydef(oid) FROM pg_class WHERE oid = to_regclass($1)",
        )
        .bind(table)
        .fetch_one(&mut conn)
        .await
        .expect("partitioned table");
        assert_eq!((relkind.as_str(), key.as_str()), ("p", "LIST (org_id)"));
        let pk: String = sqlx::query_scalar(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint
              WHERE conrelid = to_regclass($1) AND contype = 'p'",
        )
        .bind(table)
        .fetch_one(&mut conn)
        .await
        .expect("primary key");
        assert_eq!(pk, "PRIMARY KEY (id, org_id)");
    }
}

#[tokio::test]
async fn a_second_migrate_finds_nothing_to_do() {
    let db = empty_database().await;
    migrate(&db, &[]).await.assert_ok();
    let again = migrate(&db, &[]).await;
    again.assert_ok();
    assert_eq!(again.stdout.trim(), "database is up to date");
}

#[tokio::test]
async fn concurrent_migrate_runs_both_succeed_and_apply_once() {
    let db = empty_database().await;
    let url = url_for(&db);
    let env = [("DATABASE_URL", url.as_str())];
    let (first, second, third) = tokio::join!(
        run(&["migrate"], &env),
        run(&["migrate"], &env),
        run(&["migrate"], &env)
    );
    let runs = [first, second, third];
    for out in &runs {
        out.assert_ok();
    }
    let applied = runs
        .iter()
        .filter(|r| r.stdout.contains(&format!("applied {BASELINE}")))
        .count();
    let idle = runs
        .iter()
        .filter(|r| r.stdout.trim() == "database is up to date")
        .count();
    assert_eq!((applied, idle), (1, 2));

    let mut conn = connect(&db).await;
    assert_eq!(
        scalar_i64(&mut conn, "SELECT count(*) FROM _sqlx_migrations").await,
        migration_files()
    );
}

#[tokio::test]
async fn migrate_adopts_a_legacy_database_at_alembic_head() {
    let db = legacy_database("c4d5e6f7a8b9").await;

    let out = migrate(&db, &[]).await;
    out.assert_ok();
    assert!(
        out.stdout
            .contains("adopted legacy schema at Alembic c4d5e6f7a8b9"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("applied 20260205000000"),
        "{}",
        out.stdout
    );
    // The org the legacy seed never gave partitions gets them; the other keeps its own.
    assert!(out.stdout.contains("created partition audit_logs_late_org"));
    assert!(
        out.stdout
            .contains("created partition journal_entries_late_org")
    );
    assert!(!out.stdout.contains("legacy_co"), "{}", out.stdout);

    // The baseline row is the one sqlx itself writes when it runs the baseline.
    let mut conn = connect(&db).await;
    let adopted: (String, bool, Vec<u8>) = sqlx::query_as(
        "SELECT description, success, checksum FROM _sqlx_migrations WHERE version = 20260205000000",
    )
    .fetch_one(&mut conn)
    .await
    .expect("baseline recorded");
    let mut template = connect(&fresh_database().await).await;
    let migrated: (String, bool, Vec<u8>) = sqlx::query_as(
        "SELECT description, success, checksum FROM _sqlx_migrations WHERE version = 20260205000000",
    )
    .fetch_one(&mut template)
    .await
    .expect("baseline applied");
    assert_eq!(adopted, migrated);

    // Legacy tables and rows are untouched.
    let version: String = sqlx::query_scalar("SELECT version_num::text FROM alembic_version")
        .fetch_one(&mut conn)
        .await
        .expect("alembic version kept");
    assert_eq!(version, "c4d5e6f7a8b9");
    let principal: String =
        sqlx::query_scalar("SELECT loan_principal::text FROM loan_applications")
            .fetch_one(&mut conn)
            .await
            .expect("domain row kept");
    assert_eq!(principal, "12342.000000");
    assert_eq!(
        scalar_i64(&mut conn, "SELECT count(*) FROM audit_logs_legacy_co").await,
        1
    );
    sqlx::query(
        "INSERT INTO audit_logs (id, org_id, action, resource_type, resource_id)
         VALUES ('00000000-0000-4000-8000-000000000006', 'late-org', 'role.created', 'role', 'r')",
    )
    .execute(&mut conn)
    .await
    .expect("the repaired org can write audit rows");

    let status = migrate(&db, &["status"]).await;
    status.assert_ok();
    let baseline_line = status
        .stdout
        .lines()
        .find(|l| l.contains(BASELINE))
        .unwrap_or_else(|| panic!("{}", status.stdout));
    assert!(baseline_line.starts_with("applied"), "{baseline_line}");
    assert!(
        baseline_line.contains("adopted from Alembic c4d5e6f7a8b9"),
        "{baseline_line}"
    );

    let again = migrate(&db, &[]).await;
    again.assert_ok();
    assert_eq!(again.stdout.trim(), "database is up to date");
}

#[tokio::test]
async fn concurrent_runs_adopt_a_legacy_database_once() {
    let db = legacy_database("c4d5e6f7a8b9").await;
    let url = url_for(&db);
    let env = [("DATABASE_URL", url.as_str())];
    let (first, second) = tokio::join!(run(&["migrate"], &env), run(&["migrate"], &env));
    first.assert_ok();
    second.assert_ok();
    let adopters = [&first, &second]
        .iter()
        .filter(|r| r.stdout.contains("adopted legacy schema"))
        .count();
    assert_eq!(adopters, 1, "{}\n---\n{}", first.stdout, second.stdout);

    let mut conn = connect(&db).await;
    assert_eq!(
        scalar_i64(&mut conn, "SELECT count(*) FROM _sqlx_migrations").await,
        migration_files()
    );
    assert_eq!(
        scalar_i64(&mut conn, "SELECT count(*) FROM _sole_alembic_adoption").await,
        1
    );
    assert_eq!(
        scalar_i64(
            &mut conn,
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'audit_logs'::regclass"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn migrate_refuses_a_legacy_database_at_another_alembic_version() {
    let db = legacy_database("382127535a2f").await;
    let out = migrate(&db, &[]).await;
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    let message = out.stderr.trim();
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(message.contains("382127535a2f"), "{message}");
    assert!(message.contains("c4d5e6f7a8b9"), "{message}");
    assert!(message.contains("alembic upgrade head"), "{message}");

    let mut conn = connect(&db).await;
    assert!(!table_exists(&mut conn, "_sqlx_migrations").await);
    assert!(!table_exists(&mut conn, "audit_logs_late_org").await);
}

#[tokio::test]
async fn migrate_refuses_core_tables_without_any_history() {
    let db = empty_database().await;
    let mut conn = connect(&db).await;
    conn.execute("CREATE TABLE orgs (id varchar PRIMARY KEY)")
        .await
        .expect("stray table");
    let out = migrate(&db, &[]).await;
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("orgs"), "{}", out.stderr);
    assert!(
        out.stderr.contains("no migration history"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn migrate_creates_missing_partitions_for_existing_orgs() {
    let db = fresh_database().await;
    let mut conn = connect(&db).await;
    conn.execute(
        "INSERT INTO orgs (id, name, slug, status) VALUES ('acme-corp', 'Acme', 'acme', 'ACTIVE'),
                                                          ('o''brien', 'OB', 'ob', 'ACTIVE')",
    )
    .await
    .expect("orgs without partitions");

    let out = migrate(&db, &[]).await;
    out.assert_ok();
    for name in [
        "audit_logs_acme_corp",
        "journal_entries_acme_corp",
        "audit_logs_o_brien",
        "journal_entries_o_brien",
    ] {
        assert!(
            out.stdout.contains(&format!("created partition {name}")),
            "{name}: {}",
            out.stdout
        );
    }

    for org in ["acme-corp", "o'brien"] {
        let partition: String = sqlx::query_scalar(
            "INSERT INTO audit_logs (id, org_id, action, resource_type, resource_id)
             VALUES (gen_random_uuid(), $1, 'role.created', 'role', 'r')
             RETURNING tableoid::regclass::text",
        )
        .bind(org)
        .fetch_one(&mut conn)
        .await
        .expect("audit row");
        assert_eq!(
            partition,
            sole::db::partitions::partition_name("audit_logs", org)
        );
    }

    let again = migrate(&db, &[]).await;
    again.assert_ok();
    assert_eq!(again.stdout.trim(), "database is up to date");
}

#[tokio::test]
async fn colliding_partition_names_are_reported_not_skipped() {
    let db = fresh_database().await;
    let mut conn = connect(&db).await;
    conn.execute(
        "INSERT INTO orgs (id, name, slug, status) VALUES ('a-b', 'A', 'a1', 'ACTIVE'),
                                                          ('a_b', 'B', 'b1', 'ACTIVE')",
    )
    .await
    .expect("orgs");

    let out = migrate(&db, &[]).await;
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("created partition audit_logs_a_b"));
    assert!(
        out.stdout
            .contains(r#"org "a_b" has no audit_logs partition and audit_logs_a_b is taken"#),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("could not be created"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn ensure_org_partitions_creates_one_orgs_partitions_once() {
    let db = fresh_database().await;
    let mut conn = connect(&db).await;
    conn.execute("INSERT INTO orgs (id, name, slug, status) VALUES ('9lives', 'N', 'n', 'ACTIVE')")
        .await
        .expect("org");
    let created = sole::db::partitions::ensure_org_partitions(&mut conn, "9lives")
        .await
        .expect("partitions");
    assert_eq!(
        created,
        ["audit_logs_org_9lives", "journal_entries_org_9lives"]
    );
    let again = sole::db::partitions::ensure_org_partitions(&mut conn, "9lives")
        .await
        .expect("idempotent");
    assert!(again.is_empty());

    conn.execute("INSERT INTO orgs (id, name, slug, status) VALUES ('9Lives', 'M', 'm', 'ACTIVE')")
        .await
        .expect("org");
    let err = sole::db::partitions::ensure_org_partitions(&mut conn, "9Lives")
        .await
        .expect_err("name collision");
    assert!(
        err.to_string().contains("audit_logs_org_9lives is taken"),
        "{err}"
    );
}

#[tokio::test]
async fn status_lists_pending_then_applied_migrations() {
    let db = empty_database().await;
    let before = migrate(&db, &["status"]).await;
    before.assert_ok();
    assert!(
        before.stdout.contains(&format!("pending  {BASELINE}")),
        "{}",
        before.stdout
    );
    assert!(before.stdout.contains("pending migration(s)"));
    let mut conn = connect(&db).await;
    assert!(
        !table_exists(&mut conn, "_sqlx_migrations").await,
        "status changes nothing"
    );

    migrate(&db, &[]).await.assert_ok();
    let after = migrate(&db, &["status"]).await;
    after.assert_ok();
    let line = after
        .stdout
        .lines()
        .find(|l| l.contains(BASELINE))
        .unwrap_or_else(|| panic!("{}", after.stdout));
    assert!(line.starts_with("applied"), "{line}");
    assert!(!line.contains("adopted"), "{line}");
    // The installation timestamp, RFC 3339 in UTC.
    assert!(line.trim_end().ends_with('Z'), "{line}");
    assert!(after.stdout.contains("database is up to date"));
}

#[tokio::test]
async fn revision_creates_a_timestamped_file_with_a_header() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("migrations")).expect("migrations dir");
    let out: Run = sole(&["migrate", "revision", "Add widgets"], &[])
        .current_dir(dir.path())
        .output()
        .await
        .expect("run sole")
        .into();
    out.assert_ok();

    let files: Vec<_> = std::fs::read_dir(dir.path().join("migrations"))
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = &files[0];
    let (version, rest) = name.split_at(14);
    assert!(version.bytes().all(|b| b.is_ascii_digit()), "{name}");
    assert!(version.starts_with("20"), "{name}");
    assert_eq!(rest, "_add_widgets.sql");
    assert!(out.stdout.contains(name.as_str()), "{}", out.stdout);

    let text = std::fs::read_to_string(dir.path().join("migrations").join(name)).expect("file");
    assert!(text.starts_with("-- Add widgets\n"), "{text}");
    assert!(text.contains("UTC"), "{text}");
    assert!(
        text.contains("embedded into the binary at build time"),
        "{text}"
    );
    assert!(text.contains("services never commit"), "{text}");
    assert!(
        !text.starts_with("-- no-transaction"),
        "the header must not switch off the transaction"
    );
}

#[tokio::test]
async fn revision_refuses_a_blank_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    for message in ["", "   "] {
        let out: Run = sole(
            &[
                "migrate",
                "revision",
                message,
                "--dir",
                dir.path().to_str().expect("utf-8 path"),
            ],
            &[],
        )
        .output()
        .await
        .expect("run sole")
        .into();
        assert_eq!(out.code, Some(2), "{message:?}: {}", out.stderr);
        assert!(out.stderr.contains("message is empty"), "{}", out.stderr);
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("dir").count(),
        0,
        "no file written"
    );
}

#[tokio::test]
async fn unreachable_database_gives_one_line_without_the_password() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let url = format!("postgres://u:s3cret@127.0.0.1:{port}/db");
    let out = run(
        &["migrate"],
        &[("DATABASE_URL", url.as_str()), ("DB_POOL_TIMEOUT", "3")],
    )
    .await;
    assert!(!out.success());
    let message = out.stderr.trim();
    assert_eq!(message.lines().count(), 1, "{message}");
    // Everything an operator needs to find the wrong value, and where it came from.
    for part in [
        "host 127.0.0.1".to_string(),
        format!("port {port}"),
        "user u".to_string(),
        "database db".to_string(),
        "DATABASE_URL from the environment".to_string(),
    ] {
        assert!(message.contains(&part), "{part:?} missing: {message}");
    }
    assert!(!out.stderr.contains("s3cret") && !out.stdout.contains("s3cret"));
}

#[tokio::test]
async fn a_missing_database_is_created_outside_production() {
    let name = format!("sole_test_missing_{}", uuid::Uuid::new_v4().simple());
    let out = migrate(&name, &[]).await;
    out.assert_ok();
    assert!(
        out.stdout.contains(&format!("created database {name}")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!("applied {BASELINE}")),
        "{}",
        out.stdout
    );
    let mut admin = connect("postgres").await;
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
        )))
        .await
        .expect("drop the created database");
}

#[tokio::test]
async fn a_missing_production_database_is_named_never_created() {
    let name = format!("sole_test_missing_{}", uuid::Uuid::new_v4().simple());
    let url = url_for(&name);
    let out = run(
        &["migrate"],
        &[
            ("DATABASE_URL", url.as_str()),
            ("ENVIRONMENT", "production"),
        ],
    )
    .await;
    assert!(!out.success());
    let message = out.stderr.trim();
    assert!(message.contains(&name), "{message}");
    assert!(message.contains("does not exist"), "{message}");
    assert!(message.contains("create it first"), "{message}");
    let mut admin = connect("postgres").await;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await
            .expect("query");
    assert!(!exists, "production migrate created {name}");
}

#[tokio::test]
async fn the_direct_url_and_the_flag_win_over_database_url() {
    let db = empty_database().await;
    let good = url_for(&db);
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let bad = format!("postgres://u@127.0.0.1:{port}/nowhere");

    let direct = run(
        &["migrate", "status"],
        &[
            ("DATABASE_URL", bad.as_str()),
            ("DATABASE_URL_DIRECT", good.as_str()),
        ],
    )
    .await;
    direct.assert_ok();

    let flag = run(
        &["migrate", "--database-url", good.as_str()],
        &[
            ("DATABASE_URL", bad.as_str()),
            ("DATABASE_URL_DIRECT", bad.as_str()),
        ],
    )
    .await;
    flag.assert_ok();
    assert!(flag.stdout.contains(&format!("applied {BASELINE}")));
}

/// Constraint and index names of the announcement tables, sorted (`table.name`).
async fn announcement_schema(conn: &mut PgConnection) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT conrelid::regclass::text || '.' || conname || ' ' || pg_get_constraintdef(oid)
           FROM pg_constraint
          WHERE conrelid IN ('announcements'::regclass, 'announcement_reads'::regclass)
         UNION ALL
         SELECT tablename || '.' || indexname || ' ' || indexdef
           FROM pg_indexes WHERE tablename IN ('announcements', 'announcement_reads')
         ORDER BY 1",
    )
    .fetch_all(conn)
    .await
    .expect("announcement schema")
}

#[tokio::test]
async fn adopting_a_legacy_database_keeps_its_announcement_tables() {
    let db = legacy_database("c4d5e6f7a8b9").await;
    let mut conn = connect(&db).await;
    // What the legacy Alembic baseline created (SQLAlchemy DDL, constraints added afterwards
    // here to show the migration does not care how they came to be), with a row in each.
    conn.execute(
        "CREATE TABLE announcements (
             id UUID NOT NULL, org_id VARCHAR NOT NULL, title VARCHAR(255) NOT NULL,
             body TEXT NOT NULL, status VARCHAR(50) NOT NULL, type VARCHAR(50) NOT NULL,
             scheduled_at TIMESTAMP WITH TIME ZONE, published_at TIMESTAMP WITH TIME ZONE,
             created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
             updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
             PRIMARY KEY (id),
             FOREIGN KEY(org_id) REFERENCES orgs (id) ON DELETE CASCADE
         );
         ALTER TABLE announcements ADD CONSTRAINT uq_announcements_org_title UNIQUE (org_id, title);
         CREATE INDEX ix_announcements_org_id ON announcements (org_id);
         CREATE TABLE announcement_reads (
             id UUID NOT NULL, announcement_id UUID NOT NULL, org_id VARCHAR NOT NULL,
             user_id UUID NOT NULL,
             read_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
             created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
             PRIMARY KEY (id),
             FOREIGN KEY(announcement_id) REFERENCES announcements (id) ON DELETE CASCADE,
             FOREIGN KEY(org_id) REFERENCES orgs (id) ON DELETE CASCADE,
             FOREIGN KEY(user_id) REFERENCES users (id) ON DELETE CASCADE,
             CONSTRAINT uq_announcement_read UNIQUE (announcement_id, user_id)
         );
         CREATE INDEX ix_announcement_reads_org_id ON announcement_reads (org_id);
         INSERT INTO announcements (id, org_id, title, body, status, type)
             VALUES ('00000000-0000-4000-8000-0000000000a1', 'legacy-co', 'Legacy notice', 'b',
                     'PUBLISHED', 'GENERAL');
         INSERT INTO announcement_reads (id, announcement_id, org_id, user_id)
             VALUES ('00000000-0000-4000-8000-0000000000a2', '00000000-0000-4000-8000-0000000000a1',
                     'legacy-co', '00000000-0000-4000-8000-000000000002');",
    )
    .await
    .expect("legacy announcement tables");
    let legacy_schema = announcement_schema(&mut conn).await;

    let out = migrate(&db, &[]).await;
    out.assert_ok();
    assert!(
        out.stdout.contains("adopted legacy schema"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("announcements"), "{}", out.stdout);

    // Nothing changed: same constraints and indexes, rows kept, migration recorded.
    assert_eq!(announcement_schema(&mut conn).await, legacy_schema);
    assert_eq!(
        scalar_i64(&mut conn, "SELECT count(*) FROM announcement_reads").await,
        1
    );
    assert_eq!(
        scalar_i64(
            &mut conn,
            "SELECT count(*) FROM _sqlx_migrations WHERE description = 'announcements' AND success"
        )
        .await,
        1
    );

    // And a database `sole` created has exactly the legacy names.
    let mut fresh = connect(&fresh_database().await).await;
    assert_eq!(announcement_schema(&mut fresh).await, legacy_schema);
}

/// Writes one audit row and one journal entry for `org` and returns the partitions they landed in.
async fn write_partitioned_rows(conn: &mut PgConnection, org: &str) -> (String, String) {
    let audit: String = sqlx::query_scalar(
        "INSERT INTO audit_logs (id, org_id, action, resource_type, resource_id)
         VALUES (gen_random_uuid(), $1, 'stock_grant.created', 'stock_grant', 'g')
         RETURNING tableoid::regclass::text",
    )
    .bind(org)
    .fetch_one(&mut *conn)
    .await
    .expect("audit row");
    let journal: String = sqlx::query_scalar(
        "INSERT INTO journal_entries (id, org_id, amount, currency, debit_account, credit_account)
         VALUES (gen_random_uuid(), $1, 12342.00, 'USD', 'loans receivable', 'cash')
         RETURNING tableoid::regclass::text",
    )
    .bind(org)
    .fetch_one(&mut *conn)
    .await
    .expect("journal entry");
    (audit, journal)
}

/// The dump lines the fixtures quote as `-- pg_dump: <line>` (see 30-loans.sql).
fn quoted_dump_lines() -> Vec<&'static str> {
    LEGACY_DOMAIN_SQL
        .iter()
        .flat_map(|sql| sql.lines())
        .filter_map(|line| line.trim().strip_prefix("-- pg_dump: "))
        .collect()
}

#[tokio::test]
async fn migrate_gives_a_legacy_database_and_an_empty_one_the_same_schema() {
    // A database the legacy service migrated to Alembic head, adopted.
    let legacy = legacy_head_database().await;
    let out = migrate(&legacy, &[]).await;
    out.assert_ok();
    assert!(
        out.stdout.contains("adopted legacy schema"),
        "{}",
        out.stdout
    );

    // An empty database, migrated, with the same two orgs (their partitions are schema too).
    let fresh = empty_database().await;
    migrate(&fresh, &[]).await.assert_ok();
    connect(&fresh)
        .await
        .execute(
            "INSERT INTO orgs (id, name, slug, status) VALUES
                 ('legacy-co', 'Legacy Co', 'legacy-co', 'ACTIVE'),
                 ('late-org', 'Late Org', 'late-org', 'ACTIVE')",
        )
        .await
        .expect("orgs");
    migrate(&fresh, &[]).await.assert_ok();

    let legacy_schema = schema_dump(&legacy).await;
    let fresh_schema = schema_dump(&fresh).await;
    // Not a comparison of two empty lists: every domain table is in both.
    for table in DOMAIN_TABLES {
        let create = format!("CREATE TABLE public.{table} (");
        assert!(
            fresh_schema.iter().any(|s| s.starts_with(&create)),
            "{table} is not in the dump"
        );
    }
    assert_same_schema(
        "the adopted legacy database",
        &legacy_schema,
        "the database sole created",
        &fresh_schema,
    );

    // What the contracts' dumps print, the database sole created prints too.
    let fresh_lines: Vec<&str> = fresh_schema
        .iter()
        .flat_map(|s| s.lines())
        .map(|l| l.trim().trim_end_matches(','))
        .collect();
    let quoted = quoted_dump_lines();
    assert_eq!(quoted.len(), 8, "the value-set CHECKs of 30-loans.sql");
    for line in quoted {
        assert!(
            fresh_lines.contains(&line.trim_end_matches(',')),
            "not in the dump: {line}"
        );
    }

    // Per-org partitions of audit_logs and journal_entries take rows on both databases.
    for db in [&legacy, &fresh] {
        let mut conn = connect(db).await;
        for (org, suffix) in [("legacy-co", "legacy_co"), ("late-org", "late_org")] {
            assert_eq!(
                write_partitioned_rows(&mut conn, org).await,
                (
                    format!("audit_logs_{suffix}"),
                    format!("journal_entries_{suffix}")
                ),
                "{db}"
            );
        }
    }
}

/// Each domain table's oid and data file: a table that was rewritten or recreated gets a new one.
async fn domain_table_files(conn: &mut PgConnection) -> Vec<(String, i64, i64)> {
    sqlx::query_as(
        "SELECT relname::text, oid::bigint, relfilenode::bigint FROM pg_class
          WHERE relnamespace = 'public'::regnamespace AND relname = ANY($1) ORDER BY 1",
    )
    .bind(DOMAIN_TABLES.as_slice())
    .fetch_all(&mut *conn)
    .await
    .expect("domain tables")
}

#[tokio::test]
async fn the_domain_migration_changes_nothing_on_an_adopted_database() {
    let db = legacy_head_database().await;
    let mut conn = connect(&db).await;

    // Run on its own over the legacy tables, the migration leaves the schema as it was.
    let legacy_schema = schema_dump(&db).await;
    conn.execute(DOMAIN_MIGRATION_SQL)
        .await
        .expect("the domain migration runs over the legacy tables");
    assert_same_schema(
        "the legacy database",
        &legacy_schema,
        "the legacy database after the domain migration",
        &schema_dump(&db).await,
    );

    // Through `sole migrate` while the legacy service is writing to every domain table (an open
    // transaction holding the lock its writes take): it neither waits for those writes nor
    // blocks them, is recorded as applied, leaves the tables neither recreated nor rewritten,
    // keeps their rows, and the PBGC sequence goes on from the legacy rows.
    let files = domain_table_files(&mut conn).await;
    assert_eq!(files.len(), DOMAIN_TABLES.len());
    let mut writer = connect(&db).await;
    let mut writes = writer.begin().await.expect("begin");
    // `loan_applications` aside: a later migration builds an index on it, which waits for the
    // writes in flight on that table (and holds new ones for the build, milliseconds).
    let held: Vec<&str> = DOMAIN_TABLES
        .iter()
        .copied()
        .filter(|t| *t != "loan_applications")
        .collect();
    (&mut *writes)
        .execute(sqlx::AssertSqlSafe(format!(
            "LOCK TABLE {} IN ROW EXCLUSIVE MODE",
            held.join(", ")
        )))
        .await
        .expect("the legacy service's write locks");
    let out = tokio::time::timeout(std::time::Duration::from_secs(30), migrate(&db, &[]))
        .await
        .expect("sole migrate waited for the legacy service's open writes");
    writes.rollback().await.expect("rollback");
    out.assert_ok();
    assert!(
        out.stdout.contains(&format!("applied {DOMAIN_MIGRATION}")),
        "{}",
        out.stdout
    );
    assert_eq!(domain_table_files(&mut conn).await, files);
    assert_eq!(
        scalar_i64(
            &mut conn,
            "SELECT count(*) FROM _sqlx_migrations
              WHERE description = 'legacy domain schema' AND success"
        )
        .await,
        1
    );
    for (table, rows) in [
        ("employee_stock_grants", 1),
        ("vesting_events", 1),
        ("loan_applications", 1),
        ("stock_grant_reservations", 1),
        ("pbgc_mid_term_rates", 1),
    ] {
        let count: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&mut conn)
                .await
                .expect("count");
        assert_eq!(count, rows, "{table}");
    }
    let next_id: i32 = sqlx::query_scalar(
        "INSERT INTO pbgc_mid_term_rates (year, month, annual_rate_percent, source_url, fetched_at)
         VALUES (2026, 12, 4.20, 'https://www.pbgc.gov/', now()) RETURNING id",
    )
    .fetch_one(&mut conn)
    .await
    .expect("a new PBGC rate");
    assert_eq!(next_id, 2);

    // The legacy foreign keys act as before: a membership takes its grants, events, loans and
    // reservations with it.
    sqlx::query("DELETE FROM org_memberships WHERE id = '00000000-0000-4000-8000-000000000003'")
        .execute(&mut conn)
        .await
        .expect("delete the membership");
    for table in [
        "employee_stock_grants",
        "vesting_events",
        "loan_applications",
        "stock_grant_reservations",
    ] {
        let count: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&mut conn)
                .await
                .expect("count");
        assert_eq!(count, 0, "{table} kept a row of the deleted membership");
    }
}

#[tokio::test]
async fn status_notices_a_revision_on_disk_that_the_binary_does_not_embed() {
    let db = fresh_database().await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("migrations")).expect("migrations dir");
    let created: Run = sole(&["migrate", "revision", "Add widgets"], &[])
        .current_dir(dir.path())
        .output()
        .await
        .expect("run sole")
        .into();
    created.assert_ok();
    let url = url_for(&db);
    let status: Run = sole(&["migrate", "status"], &[("DATABASE_URL", url.as_str())])
        .current_dir(dir.path())
        .output()
        .await
        .expect("run sole")
        .into();
    status.assert_ok();
    assert!(
        status
            .stdout
            .contains("_add_widgets.sql  (not embedded in this binary: rebuild sole"),
        "{}",
        status.stdout
    );
}
