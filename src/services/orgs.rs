//! Orgs (tenants).

use sqlx::PgConnection;
use time::OffsetDateTime;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Org {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub status: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

pub async fn find(conn: &mut PgConnection, id: &str) -> sqlx::Result<Option<Org>> {
    sqlx::query_as("SELECT id, name, slug, status, created_at, updated_at FROM orgs WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
}

pub async fn exists(conn: &mut PgConnection, id: &str) -> sqlx::Result<bool> {
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM orgs WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(found.is_some())
}
