//! Embedded migrations, the Alembic adopt path, status and revisions.
//!
//! The SQL files under `migrations/` are embedded at build time (`sqlx::migrate!`), so the
//! binary needs no files at runtime, and sqlx records applied migrations in `_sqlx_migrations`.
//!
//! Adopting a legacy database: a database the legacy service migrated to Alembic head
//! [`ALEMBIC_HEAD`] already has the schema of the baseline migration. `migrate` records the
//! baseline as applied without running it (the same row sqlx writes when it skips a migration)
//! and records the adoption itself in `_sole_alembic_adoption`, a one-row table that exists only
//! in adopted databases. `status` reads that table rather than inferring adoption from
//! `alembic_version` (which a restore or a stray `alembic stamp` can add or change) or from
//! sqlx's `execution_time` (which is also -1 when a process dies right after a migration).
//! Legacy tables, `alembic_version` included, are never altered.
//!
//! Everything `migrate` does – adopt, migrations, partition repair – happens under one session
//! advisory lock: the lock sqlx's own migrator uses for this database, so concurrent
//! `sole migrate` (or `sqlx migrate run`) processes wait for each other and the later ones find
//! nothing to do.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use sqlx::migrate::{Migrate, MigrateError, Migrator};
use sqlx::{Connection, PgConnection};
use time::OffsetDateTime;

use super::partitions::{self, PartitionConflict};

/// The only legacy Alembic revision `sole migrate` adopts.
pub const ALEMBIC_HEAD: &str = "c4d5e6f7a8b9";
/// The migration that recreates the legacy core schema.
pub const BASELINE_VERSION: i64 = 20260205000000;
const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

/// The core tables the baseline creates; an adopted database must have all of them.
pub const CORE_TABLES: [&str; 16] = [
    "orgs",
    "identities",
    "users",
    "departments",
    "org_memberships",
    "org_user_profiles",
    "roles",
    "user_roles",
    "user_permissions",
    "access_control_list",
    "org_settings",
    "audit_logs",
    "journal_entries",
    "user_mfa_devices",
    "user_mfa_recovery_codes",
    "storage_backend_configs",
];

/// The embedded migrations. Locking is ours (see [`migrate`]), not sqlx's.
/// The versions embedded in this binary.
pub fn embedded_versions() -> Vec<i64> {
    migrator().iter().map(|m| m.version).collect()
}

/// `.sql` files in `dir` whose version this binary does not embed (written after it was
/// built: `sole migrate revision`, or a pull), by file name.
pub fn unembedded_files(dir: &std::path::Path) -> Vec<String> {
    let embedded = embedded_versions();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".sql"))
        .filter(|name| {
            name.split('_')
                .next()
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|v| !embedded.contains(&v))
        })
        .collect();
    out.sort();
    out
}

fn migrator() -> Migrator {
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.set_locking(false);
    migrator
}

/// A migration, by version and description (`20260205000000 legacy core baseline`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationName {
    pub version: i64,
    pub description: String,
}

impl std::fmt::Display for MigrationName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.version, self.description)
    }
}

/// The baseline migration's name, as `migrate` and `status` print it.
pub fn baseline_name() -> MigrationName {
    let description = migrator()
        .iter()
        .find(|m| m.version == BASELINE_VERSION)
        .map(|m| m.description.to_string())
        .unwrap_or_default();
    MigrationName {
        version: BASELINE_VERSION,
        description,
    }
}

/// What a migration run did.
#[derive(Debug, Default)]
pub struct MigrateReport {
    /// Set when this run adopted a legacy database: the Alembic revision it was at.
    pub adopted_from: Option<String>,
    /// Migrations run, oldest first (an adopted baseline is not among them).
    pub applied: Vec<MigrationName>,
    /// Partitions created by the repair step.
    pub partitions_created: Vec<String>,
    /// Orgs whose partition could not be created because its name is taken. The migrations
    /// themselves succeeded; callers should still fail loudly (`sole migrate` exits 1).
    pub partition_conflicts: Vec<PartitionConflict>,
}

impl MigrateReport {
    pub fn did_nothing(&self) -> bool {
        self.adopted_from.is_none()
            && self.applied.is_empty()
            && self.partitions_created.is_empty()
            && self.partition_conflicts.is_empty()
    }
}

/// Adopts a legacy database when needed, applies every pending embedded migration and creates
/// missing per-org partitions, all under the migration advisory lock.
pub async fn migrate(conn: &mut PgConnection) -> anyhow::Result<MigrateReport> {
    conn.lock()
        .await
        .context("cannot take the migration lock")?;
    let result = migrate_locked(conn).await;
    // Session advisory locks outlive errors; release it explicitly. When the connection itself
    // broke, the server has already released it and the first error is the useful one.
    let unlocked = conn.unlock().await;
    let report = result?;
    unlocked.context("cannot release the migration lock")?;
    Ok(report)
}

async fn migrate_locked(conn: &mut PgConnection) -> anyhow::Result<MigrateReport> {
    let migrator = migrator();
    let mut report = MigrateReport::default();

    if !baseline_recorded(conn).await? {
        match alembic_versions(conn).await? {
            Some(versions) => {
                adopt(conn, &migrator, &versions).await?;
                report.adopted_from = Some(ALEMBIC_HEAD.to_owned());
            }
            None => refuse_unmanaged_core_tables(conn).await?,
        }
    }

    let before = applied_migrations(conn).await?;
    migrator.run(&mut *conn).await.map_err(explain)?;
    let after = applied_migrations(conn).await?;
    report.applied = migrator
        .iter()
        .filter(|m| !before.contains_key(&m.version) && after.contains_key(&m.version))
        .map(|m| MigrationName {
            version: m.version,
            description: m.description.to_string(),
        })
        .collect();

    let repair = partitions::repair_all(conn)
        .await
        .context("partition repair failed")?;
    report.partitions_created = repair.created;
    report.partition_conflicts = repair.conflicts;
    Ok(report)
}

async fn table_exists(conn: &mut PgConnection, name: &str) -> anyhow::Result<bool> {
    Ok(sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(partitions::quote_ident(name))
        .fetch_one(&mut *conn)
        .await?)
}

async fn baseline_recorded(conn: &mut PgConnection) -> anyhow::Result<bool> {
    if !table_exists(conn, MIGRATIONS_TABLE).await? {
        return Ok(false);
    }
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM _sqlx_migrations WHERE version = $1)")
            .bind(BASELINE_VERSION)
            .fetch_one(&mut *conn)
            .await?,
    )
}

/// The rows of `alembic_version`, or `None` when the database never saw Alembic.
async fn alembic_versions(conn: &mut PgConnection) -> anyhow::Result<Option<Vec<String>>> {
    if !table_exists(conn, "alembic_version").await? {
        return Ok(None);
    }
    let versions = sqlx::query_scalar("SELECT version_num::text FROM alembic_version ORDER BY 1")
        .fetch_all(&mut *conn)
        .await?;
    Ok(Some(versions))
}

async fn missing_core_tables(conn: &mut PgConnection) -> anyhow::Result<Vec<String>> {
    let mut missing = Vec::new();
    for table in CORE_TABLES {
        if !table_exists(conn, table).await? {
            missing.push(table.to_owned());
        }
    }
    Ok(missing)
}

/// Records the baseline as applied on a legacy database at [`ALEMBIC_HEAD`], without running it.
async fn adopt(
    conn: &mut PgConnection,
    migrator: &Migrator,
    versions: &[String],
) -> anyhow::Result<()> {
    match versions {
        [version] if version == ALEMBIC_HEAD => {}
        [] => anyhow::bail!(
            "the database has an empty alembic_version table; sole migrate adopts only a legacy schema at Alembic {ALEMBIC_HEAD}: upgrade it first (alembic upgrade head), then run sole migrate again"
        ),
        found => anyhow::bail!(
            "the database is at legacy Alembic version {}; sole migrate adopts only Alembic {ALEMBIC_HEAD}: upgrade the legacy schema first (alembic upgrade head), then run sole migrate again",
            found.join(", ")
        ),
    }
    let missing = missing_core_tables(conn).await?;
    if !missing.is_empty() {
        anyhow::bail!(
            "cannot adopt: alembic_version says {ALEMBIC_HEAD} but these core tables are missing: {}",
            missing.join(", ")
        );
    }
    let baseline = migrator
        .iter()
        .find(|m| m.version == BASELINE_VERSION)
        .context("the baseline migration is not embedded in this binary")?;

    conn.ensure_migrations_table(MIGRATIONS_TABLE).await?;
    let mut tx = conn.begin().await?;
    // sqlx's own "skip": the exact row `apply` would have written, with execution_time -1.
    tx.skip(MIGRATIONS_TABLE, baseline).await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS _sole_alembic_adoption (
             migration_version bigint PRIMARY KEY,
             alembic_version varchar(32) NOT NULL,
             adopted_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO _sole_alembic_adoption (migration_version, alembic_version) VALUES ($1, $2)",
    )
    .bind(BASELINE_VERSION)
    .bind(ALEMBIC_HEAD)
    .execute(&mut *tx)
    .await?;
    // The bookkeeping rows and the adoption marker land together or not at all.
    tx.commit().await?;
    Ok(())
}

/// Running the baseline over existing core tables would fail halfway through a confusing
/// "relation already exists"; say what is wrong instead.
async fn refuse_unmanaged_core_tables(conn: &mut PgConnection) -> anyhow::Result<()> {
    let missing = missing_core_tables(conn).await?;
    if missing.len() < CORE_TABLES.len() {
        let present: Vec<&str> = CORE_TABLES
            .into_iter()
            .filter(|t| !missing.iter().any(|m| m == t))
            .collect();
        anyhow::bail!(
            "the database already has core tables ({}) but no migration history (neither _sqlx_migrations nor alembic_version); refusing to guess its schema",
            present.join(", ")
        );
    }
    Ok(())
}

/// A row of `_sqlx_migrations`.
struct RecordedMigration {
    description: String,
    installed_on: OffsetDateTime,
    success: bool,
}

/// The rows sqlx recorded, by version; empty before the first run. A failed (dirty) row counts:
/// sqlx refuses to go on until it is repaired, so it is not pending either.
async fn applied_migrations(
    conn: &mut PgConnection,
) -> anyhow::Result<HashMap<i64, RecordedMigration>> {
    if !table_exists(conn, MIGRATIONS_TABLE).await? {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, String, OffsetDateTime, bool)> = sqlx::query_as(
        "SELECT version, description, installed_on, success FROM _sqlx_migrations ORDER BY version",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(version, description, installed_on, success)| {
            (
                version,
                RecordedMigration {
                    description,
                    installed_on,
                    success,
                },
            )
        })
        .collect())
}

/// sqlx's errors name versions but not what to do about them.
fn explain(err: MigrateError) -> anyhow::Error {
    match err {
        MigrateError::VersionMissing(v) => anyhow::anyhow!(
            "migration {v} is recorded as applied but is not embedded in this binary; the database was migrated by a newer sole"
        ),
        MigrateError::VersionMismatch(v) => anyhow::anyhow!(
            "migration {v} was edited after it was applied (checksum differs); restore it and put the change in a new migration"
        ),
        MigrateError::Dirty(v) => anyhow::anyhow!(
            "migration {v} is recorded as failed partway; repair the database by hand and delete its _sqlx_migrations row"
        ),
        MigrateError::ExecuteMigration(e, v) => {
            anyhow::anyhow!("migration {v} failed: {}", one_line(&e.to_string()))
        }
        other => anyhow::anyhow!("{}", one_line(&other.to_string())),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One applied migration, as `status` lists it.
#[derive(Debug, Clone)]
pub struct AppliedStatus {
    pub migration: MigrationName,
    pub installed_on: OffsetDateTime,
    /// False when sqlx recorded the migration as failed partway (a "dirty" database).
    pub success: bool,
    /// The Alembic revision, when this row was recorded by adopting a legacy database.
    pub adopted_from: Option<String>,
    /// False when this binary does not embed the migration (a newer sole applied it).
    pub known: bool,
}

/// Applied and pending migrations.
#[derive(Debug, Clone)]
pub struct StatusReport {
    pub applied: Vec<AppliedStatus>,
    pub pending: Vec<MigrationName>,
    /// The `alembic_version` rows of a legacy database `migrate` has not adopted yet.
    pub unadopted_alembic: Option<Vec<String>>,
}

/// Reads the migration state without changing anything.
pub async fn status(conn: &mut PgConnection) -> anyhow::Result<StatusReport> {
    let migrator = migrator();
    let applied_rows = applied_migrations(conn).await?;
    let adoptions: HashMap<i64, String> = if table_exists(conn, "_sole_alembic_adoption").await? {
        sqlx::query_as::<_, (i64, String)>(
            "SELECT migration_version, alembic_version::text FROM _sole_alembic_adoption",
        )
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .collect()
    } else {
        HashMap::new()
    };

    let mut applied: Vec<AppliedStatus> = applied_rows
        .iter()
        .map(|(version, row)| AppliedStatus {
            migration: MigrationName {
                version: *version,
                description: row.description.clone(),
            },
            installed_on: row.installed_on,
            success: row.success,
            adopted_from: adoptions.get(version).cloned(),
            known: migrator.version_exists(*version),
        })
        .collect();
    applied.sort_by_key(|a| a.migration.version);

    let pending = migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .filter(|m| !applied_rows.contains_key(&m.version))
        .map(|m| MigrationName {
            version: m.version,
            description: m.description.to_string(),
        })
        .collect();

    let unadopted_alembic = if applied_rows.contains_key(&BASELINE_VERSION) {
        None
    } else {
        alembic_versions(conn).await?
    };

    Ok(StatusReport {
        applied,
        pending,
        unadopted_alembic,
    })
}

/// `add widgets` -> `add_widgets`: lower-case ASCII letters and digits, everything else `_`.
pub fn revision_slug(message: &str) -> String {
    message
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum RevisionError {
    #[error(
        "the migration message is empty; say what it does, e.g. sole migrate revision \"add widgets\""
    )]
    EmptyMessage,
    #[error("{0} is not a directory (run from the repository root or pass --dir)")]
    NoDirectory(PathBuf),
    #[error("a migration with version {0} already exists; wait a second and try again")]
    VersionTaken(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Writes `<dir>/<UTC YYYYMMDDHHMMSS>_<slug>.sql` with a header comment; returns its path.
pub fn create_revision(
    dir: &Path,
    message: &str,
    now: OffsetDateTime,
) -> Result<PathBuf, RevisionError> {
    let message = message.trim();
    if message.is_empty() {
        return Err(RevisionError::EmptyMessage);
    }
    if !dir.is_dir() {
        return Err(RevisionError::NoDirectory(dir.to_owned()));
    }
    let now = now.to_offset(time::UtcOffset::UTC);
    let version = format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    // sqlx refuses two migrations with one version, whatever their descriptions.
    let prefix = format!("{version}_");
    let taken = std::fs::read_dir(dir)
        .map_err(|source| RevisionError::Write {
            path: dir.to_owned(),
            source,
        })?
        .filter_map(Result::ok)
        .any(|entry| entry.file_name().to_string_lossy().starts_with(&prefix));
    if taken {
        return Err(RevisionError::VersionTaken(version));
    }

    let path = dir.join(format!("{version}_{}.sql", revision_slug(message)));
    let header = format!(
        "-- {message}\n\
         --\n\
         -- Created {date} UTC by `sole migrate revision`.\n\
         --\n\
         -- This file is embedded into the binary at build time (sqlx::migrate!): rebuild after\n\
         -- editing. Once it has been applied anywhere, never edit it (its checksum is recorded);\n\
         -- write a new revision instead.\n\
         -- sqlx runs it in one transaction with its bookkeeping row: no BEGIN/COMMIT here, just\n\
         -- as services never commit. A statement that cannot run in a transaction (CREATE INDEX\n\
         -- CONCURRENTLY) needs `-- no-transaction` as the file's first line instead.\n\
         \n",
        date = format_args!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second()
        ),
    );
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        file.write_all(header.as_bytes())
    };
    write().map_err(|source| RevisionError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lower_case_with_underscores() {
        assert_eq!(revision_slug("add widgets"), "add_widgets");
        assert_eq!(revision_slug("  Add Widgets-v2 "), "add_widgets_v2");
        assert_eq!(revision_slug("drop orgs.foo!"), "drop_orgs_foo_");
    }

    #[test]
    fn the_baseline_is_embedded() {
        assert!(migrator().version_exists(BASELINE_VERSION));
    }
}
