//! Embedded migrations, the Alembic adopt path, status and revisions.

use sqlx::PgConnection;

/// What a migration run did.
#[derive(Debug, Default)]
pub struct MigrateReport {
    pub applied: Vec<String>,
}

/// Applies every pending embedded migration on `conn`.
pub async fn migrate(conn: &mut PgConnection) -> anyhow::Result<MigrateReport> {
    let migrator = sqlx::migrate!("./migrations");
    migrator.run(conn).await?;
    Ok(MigrateReport::default())
}
