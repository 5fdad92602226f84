//! `org_document_templates`: rows that point at a stored object. Every lookup is scoped to the
//! org, so another org's template id is simply not found.

use serde_json::{Value, json};
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::timefmt;

/// A template row with its uploader's name (the `users` e-mail, as the legacy lists show it;
/// null when the uploader's row is gone).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Template {
    pub id: Uuid,
    pub org_id: String,
    pub folder_id: Option<Uuid>,
    pub name: String,
    pub description: Option<String>,
    pub file_name: String,
    pub storage_path_or_url: String,
    pub storage_provider: Option<String>,
    pub storage_bucket: Option<String>,
    pub storage_object_key: Option<String>,
    pub content_type: Option<String>,
    pub size_bytes: Option<i64>,
    pub checksum: Option<String>,
    pub uploaded_by_name: Option<String>,
    pub created_at: OffsetDateTime,
}

impl Template {
    /// The key of the stored object: `storage_object_key`, else `storage_path_or_url` (rows
    /// written before the object-key column was filled).
    pub fn object_key(&self) -> &str {
        self.storage_object_key
            .as_deref()
            .filter(|k| !k.is_empty())
            .unwrap_or(&self.storage_path_or_url)
    }

    /// The snapshot written to audit rows (no URLs, no secrets: the key and its backend).
    pub fn snapshot(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "org_id": self.org_id,
            "folder_id": self.folder_id.map(|f| f.to_string()),
            "name": self.name,
            "description": self.description,
            "file_name": self.file_name,
            "storage_provider": self.storage_provider,
            "storage_bucket": self.storage_bucket,
            "storage_object_key": self.object_key(),
            "content_type": self.content_type,
            "size_bytes": self.size_bytes,
            "checksum": self.checksum,
            "created_at": timefmt::iso_offset(self.created_at),
        })
    }
}

/// What [`insert`] stores. `storage_path_or_url` and `storage_object_key` both get `object_key`.
#[derive(Clone, Debug)]
pub struct NewTemplate<'a> {
    pub org_id: &'a str,
    pub folder_id: Option<Uuid>,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub file_name: &'a str,
    pub object_key: &'a str,
    pub storage_provider: Option<&'a str>,
    pub storage_bucket: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub size_bytes: Option<i64>,
    pub checksum: Option<&'a str>,
    pub uploaded_by_user_id: Uuid,
}

const SELECT: &str = "SELECT t.id, t.org_id, t.folder_id, t.name, t.description, t.file_name, \
    t.storage_path_or_url, t.storage_provider, t.storage_bucket, t.storage_object_key, \
    t.content_type, t.size_bytes, t.checksum, u.email AS uploaded_by_name, t.created_at \
    FROM org_document_templates t LEFT JOIN users u ON u.id = t.uploaded_by_user_id";

/// The org's templates, newest first, optionally of one folder (another org's folder id gives
/// an empty list).
pub async fn list(
    conn: &mut PgConnection,
    org_id: &str,
    folder_id: Option<Uuid>,
) -> sqlx::Result<Vec<Template>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE t.org_id = $1 AND ($2::uuid IS NULL OR t.folder_id = $2) \
         ORDER BY t.created_at DESC, t.id"
    )))
    .bind(org_id)
    .bind(folder_id)
    .fetch_all(conn)
    .await
}

pub async fn find(
    conn: &mut PgConnection,
    org_id: &str,
    id: Uuid,
) -> sqlx::Result<Option<Template>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE t.org_id = $1 AND t.id = $2"
    )))
    .bind(org_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Whether a template of the org already points at this object (registering it twice would
/// let one delete remove the other's file).
pub async fn key_in_use(conn: &mut PgConnection, org_id: &str, key: &str) -> sqlx::Result<bool> {
    let found: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM org_document_templates WHERE org_id = $1 \
         AND (storage_object_key = $2 OR storage_path_or_url = $2) LIMIT 1",
    )
    .bind(org_id)
    .bind(key)
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// Inserts the row. The returned template has `uploaded_by_name` null, as the legacy 201s.
pub async fn insert(conn: &mut PgConnection, new: &NewTemplate<'_>) -> sqlx::Result<Template> {
    sqlx::query_as(
        "INSERT INTO org_document_templates (id, org_id, folder_id, name, description, file_name, \
           storage_path_or_url, storage_provider, storage_bucket, storage_object_key, content_type, \
           size_bytes, checksum, uploaded_by_user_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $7, $10, $11, $12, $13) \
         RETURNING id, org_id, folder_id, name, description, file_name, storage_path_or_url, \
           storage_provider, storage_bucket, storage_object_key, content_type, size_bytes, checksum, \
           NULL::varchar AS uploaded_by_name, created_at",
    )
    .bind(Uuid::new_v4())
    .bind(new.org_id)
    .bind(new.folder_id)
    .bind(new.name)
    .bind(new.description)
    .bind(new.file_name)
    .bind(new.object_key)
    .bind(new.storage_provider)
    .bind(new.storage_bucket)
    .bind(new.content_type)
    .bind(new.size_bytes)
    .bind(new.checksum)
    .bind(new.uploaded_by_user_id)
    .fetch_one(conn)
    .await
}

/// Deletes the row; `false` when it was already gone.
pub async fn delete(conn: &mut PgConnection, org_id: &str, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM org_document_templates WHERE org_id = $1 AND id = $2")
        .bind(org_id)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}
