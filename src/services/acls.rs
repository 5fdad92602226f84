//! Resource ACLs (`access_control_list`) and direct permission assignments
//! (`user_permissions`), contract §3 "ACLs and direct permissions" and §6.
//!
//! Every lookup is scoped to the org, so an id of another org is simply not found.

use serde_json::{Value, json};
use sqlx::PgConnection;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::org::OrgId;
use crate::timefmt;

/// Whether `user_id` (a `users.id`) has a membership in the org.
pub async fn is_member(
    conn: &mut PgConnection,
    org_id: &OrgId,
    user_id: Uuid,
) -> sqlx::Result<bool> {
    let found: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM org_memberships m JOIN users u ON u.id = m.user_id AND u.org_id = m.org_id \
         WHERE m.org_id = $1 AND m.user_id = $2",
    )
    .bind(org_id.as_str())
    .bind(user_id)
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

fn opt_time(dt: Option<OffsetDateTime>) -> Value {
    dt.map_or(Value::Null, |d| json!(timefmt::iso_offset(d)))
}

/// A row of `access_control_list`.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Acl {
    pub id: Uuid,
    pub org_id: String,
    pub user_id: Uuid,
    pub resource_type: String,
    pub resource_id: String,
    pub permissions: Json<Value>,
    pub effect: String,
    pub expires_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Acl {
    pub fn snapshot(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "org_id": self.org_id,
            "user_id": self.user_id.to_string(),
            "resource_type": self.resource_type,
            "resource_id": self.resource_id,
            "permissions": self.permissions.0,
            "effect": self.effect,
            "expires_at": opt_time(self.expires_at),
            "created_at": timefmt::iso_offset(self.created_at),
            "updated_at": timefmt::iso_offset(self.updated_at),
        })
    }
}

const ACL_COLUMNS: &str = "id, org_id, user_id, resource_type, resource_id, permissions, effect, \
                           expires_at, created_at, updated_at";

pub async fn list_acls(conn: &mut PgConnection, org_id: &OrgId) -> sqlx::Result<Vec<Acl>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ACL_COLUMNS} FROM access_control_list WHERE org_id = $1 ORDER BY created_at, id"
    )))
    .bind(org_id.as_str())
    .fetch_all(conn)
    .await
}

pub async fn find_acl(
    conn: &mut PgConnection,
    org_id: &OrgId,
    id: Uuid,
) -> sqlx::Result<Option<Acl>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ACL_COLUMNS} FROM access_control_list WHERE org_id = $1 AND id = $2 FOR UPDATE"
    )))
    .bind(org_id.as_str())
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Whether the user already has an ACL on this resource.
pub async fn acl_exists(
    conn: &mut PgConnection,
    org_id: &OrgId,
    user_id: Uuid,
    resource_type: &str,
    resource_id: &str,
) -> sqlx::Result<bool> {
    let found: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM access_control_list WHERE org_id = $1 AND user_id = $2 \
         AND resource_type = $3 AND resource_id = $4",
    )
    .bind(org_id.as_str())
    .bind(user_id)
    .bind(resource_type)
    .bind(resource_id)
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// The fields of a new ACL or direct assignment.
#[derive(Debug)]
pub struct Grant<'a> {
    pub user_id: Uuid,
    pub permissions: &'a [String],
    pub effect: &'a str,
    pub expires_at: Option<OffsetDateTime>,
}

/// A partial update of an ACL or direct assignment (None leaves a field alone).
#[derive(Debug, Default)]
pub struct GrantChange<'a> {
    pub permissions: Option<&'a [String]>,
    pub effect: Option<&'a str>,
    pub expires_at: Option<Option<OffsetDateTime>>,
}

/// Inserts an ACL; a duplicate surfaces as a `uq_acl_org_user_resource` violation.
pub async fn create_acl(
    conn: &mut PgConnection,
    org_id: &OrgId,
    grant: &Grant<'_>,
    resource_type: &str,
    resource_id: &str,
) -> sqlx::Result<Acl> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO access_control_list (id, org_id, user_id, resource_type, resource_id, permissions, \
         effect, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {ACL_COLUMNS}"
    )))
    .bind(Uuid::new_v4())
    .bind(org_id.as_str())
    .bind(grant.user_id)
    .bind(resource_type)
    .bind(resource_id)
    .bind(Json(grant.permissions))
    .bind(grant.effect)
    .bind(grant.expires_at)
    .fetch_one(conn)
    .await
}

pub async fn update_acl(
    conn: &mut PgConnection,
    id: Uuid,
    change: &GrantChange<'_>,
) -> sqlx::Result<Acl> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE access_control_list SET permissions = COALESCE($2, permissions), \
           effect = COALESCE($3, effect), \
           expires_at = CASE WHEN $4 THEN $5 ELSE expires_at END, updated_at = now() \
         WHERE id = $1 RETURNING {ACL_COLUMNS}"
    )))
    .bind(id)
    .bind(change.permissions.map(Json))
    .bind(change.effect)
    .bind(change.expires_at.is_some())
    .bind(change.expires_at.flatten())
    .fetch_one(conn)
    .await
}

pub async fn delete_acl(conn: &mut PgConnection, org_id: &OrgId, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM access_control_list WHERE org_id = $1 AND id = $2")
        .bind(org_id.as_str())
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// A row of `user_permissions` with the member's name and e-mail.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Assignment {
    pub id: Uuid,
    pub org_id: String,
    pub user_id: Uuid,
    pub full_name: Option<String>,
    pub email: String,
    pub permissions: Json<Value>,
    pub effect: String,
    pub expires_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Assignment {
    /// The `user_permissions` columns (no name or e-mail: those belong to other tables).
    pub fn snapshot(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "org_id": self.org_id,
            "user_id": self.user_id.to_string(),
            "permissions": self.permissions.0,
            "effect": self.effect,
            "expires_at": opt_time(self.expires_at),
            "created_at": timefmt::iso_offset(self.created_at),
            "updated_at": timefmt::iso_offset(self.updated_at),
        })
    }
}

const ASSIGNMENT_SELECT: &str = "SELECT up.id, up.org_id, up.user_id, p.full_name, u.email, up.permissions, \
       up.effect, up.expires_at, up.created_at, up.updated_at \
     FROM user_permissions up \
     JOIN users u ON u.id = up.user_id \
     LEFT JOIN org_memberships m ON m.org_id = up.org_id AND m.user_id = up.user_id \
     LEFT JOIN org_user_profiles p ON p.org_id = m.org_id AND p.membership_id = m.id";

/// Direct assignments of the org, ordered by the member's full name.
pub async fn list_assignments(
    conn: &mut PgConnection,
    org_id: &OrgId,
) -> sqlx::Result<Vec<Assignment>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{ASSIGNMENT_SELECT} WHERE up.org_id = $1 ORDER BY p.full_name NULLS LAST, u.email, up.id"
    )))
    .bind(org_id.as_str())
    .fetch_all(conn)
    .await
}

pub async fn find_assignment(
    conn: &mut PgConnection,
    org_id: &OrgId,
    id: Uuid,
) -> sqlx::Result<Option<Assignment>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{ASSIGNMENT_SELECT} WHERE up.org_id = $1 AND up.id = $2 FOR UPDATE OF up"
    )))
    .bind(org_id.as_str())
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn assignment_exists(
    conn: &mut PgConnection,
    org_id: &OrgId,
    user_id: Uuid,
) -> sqlx::Result<bool> {
    let found: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM user_permissions WHERE org_id = $1 AND user_id = $2")
            .bind(org_id.as_str())
            .bind(user_id)
            .fetch_optional(conn)
            .await?;
    Ok(found.is_some())
}

/// Inserts the user's direct assignment; a second one surfaces as a
/// `uq_user_permissions_org_user` violation.
pub async fn create_assignment(
    conn: &mut PgConnection,
    org_id: &OrgId,
    grant: &Grant<'_>,
) -> sqlx::Result<Assignment> {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO user_permissions (id, org_id, user_id, permissions, effect, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(org_id.as_str())
    .bind(grant.user_id)
    .bind(Json(grant.permissions))
    .bind(grant.effect)
    .bind(grant.expires_at)
    .execute(&mut *conn)
    .await?;
    reload_assignment(conn, org_id, id).await
}

async fn reload_assignment(
    conn: &mut PgConnection,
    org_id: &OrgId,
    id: Uuid,
) -> sqlx::Result<Assignment> {
    find_assignment(conn, org_id, id)
        .await?
        .ok_or(sqlx::Error::RowNotFound)
}

pub async fn update_assignment(
    conn: &mut PgConnection,
    org_id: &OrgId,
    id: Uuid,
    change: &GrantChange<'_>,
) -> sqlx::Result<Assignment> {
    sqlx::query(
        "UPDATE user_permissions SET permissions = COALESCE($3, permissions), \
           effect = COALESCE($4, effect), \
           expires_at = CASE WHEN $5 THEN $6 ELSE expires_at END, updated_at = now() \
         WHERE org_id = $1 AND id = $2",
    )
    .bind(org_id.as_str())
    .bind(id)
    .bind(change.permissions.map(Json))
    .bind(change.effect)
    .bind(change.expires_at.is_some())
    .bind(change.expires_at.flatten())
    .execute(&mut *conn)
    .await?;
    reload_assignment(conn, org_id, id).await
}

pub async fn delete_assignment(
    conn: &mut PgConnection,
    org_id: &OrgId,
    id: Uuid,
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM user_permissions WHERE org_id = $1 AND id = $2")
        .bind(org_id.as_str())
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}
