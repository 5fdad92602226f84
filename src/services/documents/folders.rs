//! `org_document_folders`: the four system folders, custom folders, template counts. Every
//! lookup is scoped to the org, so another org's folder id is simply not found.

use serde_json::{Value, json};
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::timefmt;

/// The system folders every org gets: `(system_key, name)`.
pub const SYSTEM_FOLDERS: [(&str, &str); 4] = [
    ("HR", "HR"),
    ("LEGAL", "Legal"),
    ("FINANCE", "Finance"),
    ("GENERAL", "General"),
];

/// A folder row; `template_count` is only counted by [`list`] (0 elsewhere, as the legacy).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Folder {
    pub id: Uuid,
    pub org_id: String,
    pub name: String,
    pub system_key: Option<String>,
    pub is_system: bool,
    pub template_count: i64,
    pub created_at: OffsetDateTime,
}

impl Folder {
    /// The snapshot written to audit rows.
    pub fn snapshot(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "org_id": self.org_id,
            "name": self.name,
            "system_key": self.system_key,
            "is_system": self.is_system,
            "created_at": timefmt::iso_offset(self.created_at),
        })
    }
}

const COLUMNS: &str =
    "id, org_id, name, system_key, is_system, 0::int8 AS template_count, created_at";

/// Creates the system folders the org lacks, idempotently and race-free: a folder is skipped
/// when its system key exists, or when a custom folder already carries its name (the legacy
/// answered 500 on every listing then, §12 quirk 5); `ON CONFLICT DO NOTHING` covers both
/// unique keys when two first listings race. Returns the folders it created.
pub async fn ensure_system_folders(
    conn: &mut PgConnection,
    org_id: &str,
) -> sqlx::Result<Vec<Folder>> {
    let mut created = Vec::new();
    for (key, name) in SYSTEM_FOLDERS {
        let row: Option<Folder> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "INSERT INTO org_document_folders (id, org_id, name, system_key, is_system) \
             SELECT $1, $2, $3, $4, true WHERE NOT EXISTS ( \
               SELECT 1 FROM org_document_folders WHERE org_id = $2 AND (system_key = $4 OR name = $3)) \
             ON CONFLICT DO NOTHING RETURNING {COLUMNS}"
        )))
        .bind(Uuid::new_v4())
        .bind(org_id)
        .bind(name)
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?;
        created.extend(row);
    }
    Ok(created)
}

/// The org's folders with their template counts: system folders first, then by name in
/// byte order (the recorded database's `C.UTF-8` collation).
pub async fn list(conn: &mut PgConnection, org_id: &str) -> sqlx::Result<Vec<Folder>> {
    sqlx::query_as(
        "SELECT f.id, f.org_id, f.name, f.system_key, f.is_system, \
           (SELECT count(*) FROM org_document_templates t WHERE t.org_id = f.org_id AND t.folder_id = f.id) \
             AS template_count, \
           f.created_at \
         FROM org_document_folders f WHERE f.org_id = $1 \
         ORDER BY f.is_system DESC, f.name COLLATE \"C\", f.id",
    )
    .bind(org_id)
    .fetch_all(conn)
    .await
}

/// The folder, locked for the rest of the transaction.
pub async fn find(conn: &mut PgConnection, org_id: &str, id: Uuid) -> sqlx::Result<Option<Folder>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM org_document_folders WHERE org_id = $1 AND id = $2 FOR UPDATE"
    )))
    .bind(org_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Whether the folder exists in the org (a shared lock, so it cannot vanish before the
/// caller's insert commits).
pub async fn exists(conn: &mut PgConnection, org_id: &str, id: Uuid) -> sqlx::Result<bool> {
    let found: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM org_document_folders WHERE org_id = $1 AND id = $2 FOR SHARE",
    )
    .bind(org_id)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// Whether another folder of the org has exactly this name (names are case-sensitive and
/// stored as sent, like the unique key).
pub async fn name_taken(
    conn: &mut PgConnection,
    org_id: &str,
    name: &str,
    except: Option<Uuid>,
) -> sqlx::Result<bool> {
    let found: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM org_document_folders WHERE org_id = $1 AND name = $2 \
         AND ($3::uuid IS NULL OR id <> $3) LIMIT 1",
    )
    .bind(org_id)
    .bind(name)
    .bind(except)
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

pub async fn create(conn: &mut PgConnection, org_id: &str, name: &str) -> sqlx::Result<Folder> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO org_document_folders (id, org_id, name, system_key, is_system) \
         VALUES ($1, $2, $3, NULL, false) RETURNING {COLUMNS}"
    )))
    .bind(Uuid::new_v4())
    .bind(org_id)
    .bind(name)
    .fetch_one(conn)
    .await
}

pub async fn rename(
    conn: &mut PgConnection,
    org_id: &str,
    id: Uuid,
    name: &str,
) -> sqlx::Result<Folder> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE org_document_folders SET name = $3, updated_at = now() \
         WHERE org_id = $1 AND id = $2 RETURNING {COLUMNS}"
    )))
    .bind(org_id)
    .bind(id)
    .bind(name)
    .fetch_one(conn)
    .await
}

/// How many templates of the org are filed in the folder.
pub async fn template_count(conn: &mut PgConnection, org_id: &str, id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM org_document_templates WHERE org_id = $1 AND folder_id = $2",
    )
    .bind(org_id)
    .bind(id)
    .fetch_one(conn)
    .await
}

/// Whether any template of the org is filed in the folder.
pub async fn has_templates(conn: &mut PgConnection, org_id: &str, id: Uuid) -> sqlx::Result<bool> {
    let found: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM org_document_templates WHERE org_id = $1 AND folder_id = $2 LIMIT 1",
    )
    .bind(org_id)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

pub async fn delete(conn: &mut PgConnection, org_id: &str, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM org_document_folders WHERE org_id = $1 AND id = $2")
        .bind(org_id)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}
