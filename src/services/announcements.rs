//! Announcements and read marks (contract/announcements-and-summary.md Part 1).
//!
//! Every function takes the caller's connection and never commits; the handler owns the
//! transaction, writes the audit row and publishes the stream event after its commit.

use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::org::OrgId;
use crate::timefmt::{self, iso_offset};

pub const STATUSES: [&str; 4] = ["ARCHIVED", "DRAFT", "PUBLISHED", "UNPUBLISHED"];
pub const TYPES: [&str; 5] = ["FEATURE", "GENERAL", "MAINTENANCE", "OUTAGE", "POLICY"];
pub const PUBLISHED: &str = "PUBLISHED";
pub const EVENT_TYPE: &str = "announcement.published";
/// The unique (org_id, title) constraint.
pub const UNIQUE_TITLE: &str = "uq_announcements_org_title";
const READ_UNIQUE: &str = "uq_announcement_read";
/// `title` is varchar(255): characters, not bytes.
pub const TITLE_MAX_CHARS: usize = 255;

/// One `announcements` row.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Announcement {
    pub id: Uuid,
    pub org_id: String,
    pub title: String,
    pub body: String,
    pub status: String,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub scheduled_at: Option<OffsetDateTime>,
    pub published_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Announcement {
    /// The audit snapshot: the table's columns, datetimes with `+00:00`.
    pub fn snapshot(&self) -> Value {
        let opt = |d: Option<OffsetDateTime>| d.map(iso_offset);
        json!({
            "id": self.id.to_string(),
            "org_id": self.org_id,
            "title": self.title,
            "body": self.body,
            "status": self.status,
            "type": self.kind,
            "scheduled_at": opt(self.scheduled_at),
            "published_at": opt(self.published_at),
            "created_at": iso_offset(self.created_at),
            "updated_at": iso_offset(self.updated_at),
        })
    }

    /// The stream event's JSON (legacy keys in the legacy order; the body is not included).
    pub fn event_payload(&self) -> String {
        json!({
            "type": EVENT_TYPE,
            "id": self.id.to_string(),
            "org_id": self.org_id,
            "title": self.title,
            "announcement_type": self.kind,
            "status": PUBLISHED,
            "published_at": self.published_at.map(iso_offset),
        })
        .to_string()
    }

    pub fn into_out(self, read_count: i64, target_count: i64) -> AnnouncementOut {
        AnnouncementOut {
            id: self.id,
            org_id: self.org_id,
            title: self.title,
            body: self.body,
            status: self.status,
            kind: self.kind,
            scheduled_at: self.scheduled_at,
            published_at: self.published_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            read_count,
            target_count,
        }
    }
}

/// `AnnouncementOut`, keys in the legacy order.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AnnouncementOut {
    pub id: Uuid,
    pub org_id: String,
    pub title: String,
    pub body: String,
    pub status: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(with = "timefmt::z::option")]
    #[schema(value_type = Option<String>)]
    pub scheduled_at: Option<OffsetDateTime>,
    #[serde(with = "timefmt::z::option")]
    #[schema(value_type = Option<String>)]
    pub published_at: Option<OffsetDateTime>,
    #[serde(with = "timefmt::z")]
    #[schema(value_type = String)]
    pub created_at: OffsetDateTime,
    #[serde(with = "timefmt::z")]
    #[schema(value_type = String)]
    pub updated_at: OffsetDateTime,
    pub read_count: i64,
    pub target_count: i64,
}

#[derive(sqlx::FromRow)]
struct Row {
    #[sqlx(flatten)]
    announcement: Announcement,
    read_count: i64,
}

/// Which announcements a list shows.
#[derive(Clone, Copy, Debug)]
pub enum Filter {
    /// PUBLISHED only.
    Published,
    /// Every status (managers).
    All,
    /// PUBLISHED without a read mark of this org-scoped user.
    UnreadBy(Uuid),
}

impl Filter {
    fn parts(self) -> (bool, Option<Uuid>) {
        match self {
            Self::Published => (true, None),
            Self::All => (false, None),
            Self::UnreadBy(user) => (true, Some(user)),
        }
    }
}

const SELECT_WITH_READS: &str = "SELECT a.id, a.org_id, a.title, a.body, a.status, a.type, a.scheduled_at, \
     a.published_at, a.created_at, a.updated_at, \
     (SELECT count(*) FROM announcement_reads r WHERE r.announcement_id = a.id AND r.org_id = a.org_id) \
     AS read_count \
     FROM announcements a";

/// Filter on `$1` org, `$2` published-only, `$3` unread-by user (or null).
const WHERE_FILTER: &str = " WHERE a.org_id = $1 AND (NOT $2 OR a.status = 'PUBLISHED') \
     AND ($3::uuid IS NULL OR NOT EXISTS (SELECT 1 FROM announcement_reads r \
          WHERE r.announcement_id = a.id AND r.user_id = $3 AND r.org_id = $1))";

/// `target_count`: the org's memberships whose platform status is ACTIVE (any case).
pub async fn target_count(conn: &mut PgConnection, org_id: &OrgId) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM org_memberships WHERE org_id = $1 AND upper(platform_status) = 'ACTIVE'",
    )
    .bind(org_id.as_str())
    .fetch_one(conn)
    .await
}

/// One page of a list and the total of the filtered set. Newest first: `published_at` (never
/// published last), then `created_at`, then `id` so pages are stable.
pub async fn list(
    conn: &mut PgConnection,
    org_id: &OrgId,
    filter: Filter,
    page: i64,
    page_size: i64,
) -> sqlx::Result<(Vec<AnnouncementOut>, i64)> {
    let (published_only, unread_by) = filter.parts();
    let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM announcements a{WHERE_FILTER}"
    )))
    .bind(org_id.as_str())
    .bind(published_only)
    .bind(unread_by)
    .fetch_one(&mut *conn)
    .await?;
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT_WITH_READS}{WHERE_FILTER} \
         ORDER BY a.published_at DESC NULLS LAST, a.created_at DESC, a.id DESC \
         LIMIT $4 OFFSET $5"
    )))
    .bind(org_id.as_str())
    .bind(published_only)
    .bind(unread_by)
    .bind(page_size)
    .bind((page - 1).saturating_mul(page_size))
    .fetch_all(&mut *conn)
    .await?;
    let target = target_count(conn, org_id).await?;
    let items = rows
        .into_iter()
        .map(|r| r.announcement.into_out(r.read_count, target))
        .collect();
    Ok((items, total))
}

/// `{"unread": n}` of the unread endpoints.
pub async fn unread_count(
    conn: &mut PgConnection,
    org_id: &OrgId,
    user_id: Uuid,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM announcements a{WHERE_FILTER}"
    )))
    .bind(org_id.as_str())
    .bind(true)
    .bind(Some(user_id))
    .fetch_one(conn)
    .await
}

/// One announcement of the org, any status.
pub async fn find(
    conn: &mut PgConnection,
    org_id: &OrgId,
    id: Uuid,
) -> sqlx::Result<Option<Announcement>> {
    sqlx::query_as(
        "SELECT id, org_id, title, body, status, type, scheduled_at, published_at, created_at, \
         updated_at FROM announcements WHERE org_id = $1 AND id = $2",
    )
    .bind(org_id.as_str())
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The same row locked for an update.
pub async fn find_for_update(
    conn: &mut PgConnection,
    org_id: &OrgId,
    id: Uuid,
) -> sqlx::Result<Option<Announcement>> {
    sqlx::query_as(
        "SELECT id, org_id, title, body, status, type, scheduled_at, published_at, created_at, \
         updated_at FROM announcements WHERE org_id = $1 AND id = $2 FOR UPDATE",
    )
    .bind(org_id.as_str())
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The read marks of one announcement in its org, from any user.
pub async fn read_count(conn: &mut PgConnection, org_id: &OrgId, id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM announcement_reads WHERE org_id = $1 AND announcement_id = $2",
    )
    .bind(org_id.as_str())
    .bind(id)
    .fetch_one(conn)
    .await
}

/// Validated input of a create.
#[derive(Debug)]
pub struct NewAnnouncement {
    pub title: String,
    pub body: String,
    pub status: String,
    pub kind: String,
    pub scheduled_at: Option<OffsetDateTime>,
}

/// Inserts the row (published_at = now when PUBLISHED) and returns it as stored. A duplicate
/// title surfaces as a violation of [`UNIQUE_TITLE`].
pub async fn create(
    conn: &mut PgConnection,
    org_id: &OrgId,
    new: NewAnnouncement,
) -> sqlx::Result<Announcement> {
    let published_at = (new.status == PUBLISHED).then(now_micros);
    sqlx::query_as(
        "INSERT INTO announcements (id, org_id, title, body, status, type, scheduled_at, published_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         RETURNING id, org_id, title, body, status, type, scheduled_at, published_at, created_at, updated_at",
    )
    .bind(Uuid::new_v4())
    .bind(org_id.as_str())
    .bind(&new.title)
    .bind(&new.body)
    .bind(&new.status)
    .bind(&new.kind)
    .bind(new.scheduled_at)
    .bind(published_at)
    .fetch_one(conn)
    .await
}

/// Validated input of an update; `None` leaves a field alone. `scheduled_at: Some(None)`
/// clears it.
#[derive(Debug, Default)]
pub struct Changes {
    pub title: Option<String>,
    pub body: Option<String>,
    pub status: Option<String>,
    pub kind: Option<String>,
    pub scheduled_at: Option<Option<OffsetDateTime>>,
}

/// Applies the legacy update rules to `current` and stores the result (updated_at = now).
pub async fn update(
    conn: &mut PgConnection,
    current: &Announcement,
    changes: Changes,
) -> sqlx::Result<Announcement> {
    let status = changes.status.unwrap_or_else(|| current.status.clone());
    let published_at = if status == PUBLISHED {
        current.published_at.or_else(|| Some(now_micros()))
    } else {
        None
    };
    let title = changes.title.as_deref().unwrap_or(&current.title);
    let body = changes.body.as_deref().unwrap_or(&current.body);
    let kind = changes.kind.as_deref().unwrap_or(&current.kind);
    let scheduled_at = changes.scheduled_at.unwrap_or(current.scheduled_at);
    if title == current.title
        && body == current.body
        && status == current.status
        && kind == current.kind
        && scheduled_at == current.scheduled_at
        && published_at == current.published_at
    {
        // Nothing changed: like the legacy ORM, no UPDATE, so updated_at stays.
        return Ok(current.clone());
    }
    sqlx::query_as(
        "UPDATE announcements SET title = $3, body = $4, status = $5, type = $6, scheduled_at = $7, \
         published_at = $8, updated_at = now() WHERE org_id = $1 AND id = $2 \
         RETURNING id, org_id, title, body, status, type, scheduled_at, published_at, created_at, updated_at",
    )
    .bind(&current.org_id)
    .bind(current.id)
    .bind(title)
    .bind(body)
    .bind(&status)
    .bind(kind)
    .bind(scheduled_at)
    .bind(published_at)
    .fetch_one(conn)
    .await
}

/// Records that `user_id` read a PUBLISHED announcement; false when it is not one of the org's
/// published announcements. Idempotent: an existing mark (or a concurrent one) is kept as is.
pub async fn mark_read(
    conn: &mut PgConnection,
    org_id: &OrgId,
    id: Uuid,
    user_id: Uuid,
) -> sqlx::Result<bool> {
    let published: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM announcements WHERE org_id = $1 AND id = $2 AND status = 'PUBLISHED'",
    )
    .bind(org_id.as_str())
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    if published.is_none() {
        return Ok(false);
    }
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO announcement_reads (id, announcement_id, org_id, user_id) \
         VALUES ($1, $2, $3, $4) ON CONFLICT ON CONSTRAINT {READ_UNIQUE} DO NOTHING"
    )))
    .bind(Uuid::new_v4())
    .bind(id)
    .bind(org_id.as_str())
    .bind(user_id)
    .execute(conn)
    .await?;
    Ok(true)
}

/// Now, at PostgreSQL's precision, so the value returned equals the value stored.
fn now_micros() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000 * 1_000)
        .unwrap_or(now)
}

/// Trimmed and upper-cased `status`, or the pydantic-style error text.
pub fn normalize_status(raw: &str) -> Result<String, String> {
    normalize(raw, &STATUSES, "status")
}

/// Trimmed and upper-cased `type`, or the pydantic-style error text.
pub fn normalize_type(raw: &str) -> Result<String, String> {
    normalize(raw, &TYPES, "type")
}

fn normalize(raw: &str, allowed: &[&str], what: &str) -> Result<String, String> {
    let value = raw.trim().to_uppercase();
    if allowed.contains(&value.as_str()) {
        Ok(value)
    } else {
        let list: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
        Err(format!(
            "Value error, Invalid {what}. Allowed: [{}]",
            list.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_sets_are_normalised_and_errors_list_them_alphabetically() {
        assert_eq!(normalize_status(" published ").unwrap(), "PUBLISHED");
        assert_eq!(normalize_type("maintenance").unwrap(), "MAINTENANCE");
        assert_eq!(
            normalize_status("SCHEDULED").unwrap_err(),
            "Value error, Invalid status. Allowed: ['ARCHIVED', 'DRAFT', 'PUBLISHED', 'UNPUBLISHED']"
        );
        assert_eq!(
            normalize_type("NEWS").unwrap_err(),
            "Value error, Invalid type. Allowed: ['FEATURE', 'GENERAL', 'MAINTENANCE', 'OUTAGE', 'POLICY']"
        );
    }
}
