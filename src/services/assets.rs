//! `assets`: upload sessions (contract §5.12–§5.14). SQL only; the key and the upload URL come
//! from [`crate::services::uploads`]. Other features (loan stage documents) create their
//! asset rows through [`insert`] in their own transaction.

use serde_json::{Value, json};
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

pub const STATUS_PENDING: &str = "pending";
pub const STATUS_UPLOADED: &str = "uploaded";

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Asset {
    pub id: Uuid,
    pub org_id: String,
    pub owner_type: String,
    pub owner_id: String,
    pub kind: String,
    pub filename: String,
    pub content_type: Option<String>,
    pub size_bytes: Option<i64>,
    pub checksum: Option<String>,
    pub status: String,
    pub provider: Option<String>,
    pub bucket: Option<String>,
    pub object_key: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Asset {
    pub fn snapshot(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "org_id": self.org_id,
            "owner_type": self.owner_type,
            "owner_id": self.owner_id,
            "kind": self.kind,
            "filename": self.filename,
            "content_type": self.content_type,
            "size_bytes": self.size_bytes,
            "checksum": self.checksum,
            "status": self.status,
            "provider": self.provider,
            "bucket": self.bucket,
            "object_key": self.object_key,
        })
    }
}

/// A new `pending` asset. `id` is chosen by the caller, because the object key contains it.
#[derive(Clone, Debug)]
pub struct NewAsset<'a> {
    pub id: Uuid,
    pub org_id: &'a str,
    pub owner_type: &'a str,
    pub owner_id: &'a str,
    pub kind: &'a str,
    pub filename: &'a str,
    pub content_type: Option<&'a str>,
    pub size_bytes: Option<i64>,
    pub checksum: Option<&'a str>,
    pub provider: &'a str,
    pub bucket: Option<&'a str>,
    pub object_key: &'a str,
}

const COLUMNS: &str = "id, org_id, owner_type, owner_id, kind, filename, content_type, size_bytes, \
    checksum, status, provider, bucket, object_key, created_at, updated_at";

pub async fn insert(conn: &mut PgConnection, new: &NewAsset<'_>) -> sqlx::Result<Asset> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO assets (id, org_id, owner_type, owner_id, kind, filename, content_type, size_bytes, \
           checksum, status, provider, bucket, object_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10, $11, $12) RETURNING {COLUMNS}"
    )))
    .bind(new.id)
    .bind(new.org_id)
    .bind(new.owner_type)
    .bind(new.owner_id)
    .bind(new.kind)
    .bind(new.filename)
    .bind(new.content_type)
    .bind(new.size_bytes)
    .bind(new.checksum)
    .bind(new.provider)
    .bind(new.bucket)
    .bind(new.object_key)
    .fetch_one(conn)
    .await
}

/// The asset of the org, locked for the rest of the transaction.
pub async fn find(conn: &mut PgConnection, org_id: &str, id: Uuid) -> sqlx::Result<Option<Asset>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM assets WHERE org_id = $1 AND id = $2 FOR UPDATE"
    )))
    .bind(org_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Marks the asset uploaded with the object's real size.
pub async fn mark_uploaded(
    conn: &mut PgConnection,
    org_id: &str,
    id: Uuid,
    size_bytes: i64,
) -> sqlx::Result<Asset> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE assets SET status = 'uploaded', size_bytes = $3, updated_at = now() \
         WHERE org_id = $1 AND id = $2 RETURNING {COLUMNS}"
    )))
    .bind(org_id)
    .bind(id)
    .bind(size_bytes)
    .fetch_one(conn)
    .await
}

/// Whether an asset of the org has this object key (the legacy-signed local-content URLs are
/// honoured only for such keys; several rows may share an `org_template` key).
pub async fn key_exists(conn: &mut PgConnection, org_id: &str, key: &str) -> sqlx::Result<bool> {
    let found: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM assets WHERE org_id = $1 AND object_key = $2 LIMIT 1")
            .bind(org_id)
            .bind(key)
            .fetch_optional(conn)
            .await?;
    Ok(found.is_some())
}
