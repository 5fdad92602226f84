//! `sole migrate`, `sole migrate status`, `sole migrate revision "msg"`.

use sqlx::{Connection, Executor, PgConnection};

use crate::cli::{MigrateAction, MigrateArgs};
use crate::commands::Reported;
use crate::config::Settings;
use crate::db::migrator::{self, MigrateReport, RevisionError, StatusReport};
use crate::db::{DbError, connect_once, create_database_if_missing, direct_url};

pub fn run(settings: Settings, args: &MigrateArgs) -> anyhow::Result<()> {
    match &args.action {
        Some(MigrateAction::Revision { message, dir }) => revision(message, dir),
        Some(MigrateAction::Status) => {
            let report = crate::commands::runtime()?.block_on(async {
                let mut conn = connect(&settings, args).await?;
                let report = migrator::status(&mut conn).await.map_err(failed)?;
                conn.close().await.ok();
                anyhow::Ok(report)
            })?;
            print_status(&report);
            let unembedded = migrator::unembedded_files(std::path::Path::new("migrations"));
            for name in &unembedded {
                println!(
                    "on disk  migrations/{name}  (not embedded in this binary: rebuild sole, e.g. `cargo build`, to apply it)"
                );
            }
            Ok(())
        }
        None => {
            let report = crate::commands::runtime()?.block_on(async {
                let mut conn = connect(&settings, args).await?;
                let report = migrator::migrate(&mut conn).await.map_err(failed)?;
                conn.close().await.ok();
                anyhow::Ok(report)
            })?;
            print_migrate(&report);
            if report.partition_conflicts.is_empty() {
                Ok(())
            } else {
                Err(Reported::new(
                    1,
                    format!(
                        "{} partition(s) could not be created; those orgs cannot write audit rows",
                        report.partition_conflicts.len()
                    ),
                )
                .into())
            }
        }
    }
}

async fn connect(settings: &Settings, args: &MigrateArgs) -> anyhow::Result<PgConnection> {
    let url = direct_url(settings, args.database_url.as_ref())
        .map_err(|e| Reported::new(2, e.to_string()))?;
    let mut conn = match connect_once(&url, &settings.database).await {
        Ok(conn) => conn,
        Err(DbError::Connect {
            missing_database: true,
            ..
        }) if !settings.environment.is_production() => {
            // Outside production the database is created, as `sole serve --dev` does, so that
            // `sole setup-env` then `sole migrate && sole seed && sole serve` works on a fresh
            // machine. A production database is never created by sole.
            if create_database_if_missing(&url)
                .await
                .map_err(|e| Reported::new(1, e.to_string()))?
            {
                println!(
                    "created database {} (ENVIRONMENT={}; production databases are never created by sole)",
                    url.database_name(),
                    settings.environment.as_str()
                );
            }
            connect_once(&url, &settings.database)
                .await
                .map_err(|e| Reported::new(1, e.to_string()))?
        }
        Err(
            e @ DbError::Connect {
                missing_database: true,
                ..
            },
        ) => {
            return Err(Reported::new(
                1,
                format!(
                    "{e}\n  create it first, e.g. `{}` (or CREATE DATABASE in your provider's console)",
                    url.createdb_hint()
                ),
            )
            .into());
        }
        Err(e) => return Err(Reported::new(1, e.to_string()).into()),
    };
    // DB_STATEMENT_TIMEOUT_MS budgets API queries; a migration or the wait for another
    // `sole migrate` to finish must not be cut off by it.
    conn.execute("SET statement_timeout = 0")
        .await
        .map_err(|e| Reported::new(1, format!("cannot configure the session: {e}")))?;
    Ok(conn)
}

fn failed(err: anyhow::Error) -> anyhow::Error {
    Reported::new(1, format!("migrate failed: {err:#}")).into()
}

fn print_migrate(report: &MigrateReport) {
    if let Some(alembic) = &report.adopted_from {
        println!(
            "adopted legacy schema at Alembic {alembic} (recorded {} as applied without running it)",
            migrator::baseline_name()
        );
    }
    for migration in &report.applied {
        println!("applied {migration}");
    }
    for name in &report.partitions_created {
        println!("created partition {name}");
    }
    for conflict in &report.partition_conflicts {
        println!("partition conflict: {conflict}");
    }
    if report.did_nothing() {
        println!("database is up to date");
    }
}

fn print_status(report: &StatusReport) {
    if let Some(versions) = &report.unadopted_alembic {
        let versions = if versions.is_empty() {
            "(empty)".to_owned()
        } else {
            versions.join(", ")
        };
        println!(
            "legacy Alembic schema at {versions}, not adopted yet (sole migrate adopts Alembic {})",
            migrator::ALEMBIC_HEAD
        );
    }
    for applied in &report.applied {
        let installed = applied
            .installed_on
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| applied.installed_on.to_string());
        let mut line = format!("applied  {}  {installed}", applied.migration);
        if let Some(alembic) = &applied.adopted_from {
            line.push_str(&format!("  (adopted from Alembic {alembic})"));
        }
        if !applied.success {
            line.push_str(
                "  (FAILED partway: repair by hand, then delete its _sqlx_migrations row)",
            );
        }
        if !applied.known {
            line.push_str("  (not embedded in this binary)");
        }
        println!("{line}");
    }
    for pending in &report.pending {
        println!("pending  {pending}");
    }
    if report.pending.is_empty() {
        println!("database is up to date");
    } else {
        println!(
            "{} pending migration(s); run sole migrate",
            report.pending.len()
        );
    }
}

fn revision(message: &str, dir: &std::path::Path) -> anyhow::Result<()> {
    let now = time::OffsetDateTime::now_utc();
    match migrator::create_revision(dir, message, now) {
        Ok(path) => {
            println!("created {}", path.display());
            Ok(())
        }
        Err(err @ RevisionError::EmptyMessage) => Err(Reported::new(2, err.to_string()).into()),
        Err(err) => Err(Reported::new(1, err.to_string()).into()),
    }
}
