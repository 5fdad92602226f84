//! Roles: the system roles every org has, custom roles, and role assignments.

use serde_json::json;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::permissions::SystemRole;
use crate::timefmt;

/// What `ensure_system_roles` did to one role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
}

/// Creates the five system roles of an org, or brings the permissions and description of
/// existing ones (matched by stored name) back to the catalogue. Returns each role's id and
/// outcome, in `SystemRole::ALL` order.
pub async fn ensure_system_roles(
    conn: &mut PgConnection,
    org_id: &str,
) -> sqlx::Result<Vec<(SystemRole, Uuid, Outcome)>> {
    let mut out = Vec::with_capacity(SystemRole::ALL.len());
    for role in SystemRole::ALL {
        let permissions = json!(role.permissions());
        let existing: Option<(Uuid, serde_json::Value, Option<String>, bool)> = sqlx::query_as(
            "SELECT id, permissions, description, is_system_role FROM roles WHERE org_id = $1 AND name = $2 FOR UPDATE",
        )
        .bind(org_id)
        .bind(role.stored_name())
        .fetch_optional(&mut *conn)
        .await?;
        let entry = match existing {
            None => {
                let id = Uuid::new_v4();
                sqlx::query(
                    "INSERT INTO roles (id, org_id, name, description, is_system_role, permissions) \
                     VALUES ($1, $2, $3, $4, true, $5)",
                )
                .bind(id)
                .bind(org_id)
                .bind(role.stored_name())
                .bind(role.description())
                .bind(sqlx::types::Json(&permissions))
                .execute(&mut *conn)
                .await?;
                (role, id, Outcome::Created)
            }
            Some((id, current, description, is_system)) => {
                if current == permissions
                    && description.as_deref() == Some(role.description())
                    && is_system
                {
                    (role, id, Outcome::Unchanged)
                } else {
                    sqlx::query(
                        "UPDATE roles SET permissions = $2, description = $3, is_system_role = true, updated_at = now() \
                         WHERE id = $1",
                    )
                    .bind(id)
                    .bind(sqlx::types::Json(&permissions))
                    .bind(role.description())
                    .execute(&mut *conn)
                    .await?;
                    (role, id, Outcome::Updated)
                }
            }
        };
        out.push(entry);
    }
    Ok(out)
}

/// Assigns a role (idempotent); true when a new assignment was made.
pub async fn assign(
    conn: &mut PgConnection,
    org_id: &str,
    user_id: Uuid,
    role_id: Uuid,
) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "INSERT INTO user_roles (id, org_id, user_id, role_id) VALUES ($1, $2, $3, $4) \
         ON CONFLICT ON CONSTRAINT uq_user_roles_org_user_role DO NOTHING",
    )
    .bind(Uuid::new_v4())
    .bind(org_id)
    .bind(user_id)
    .bind(role_id)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// A row of `roles`.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Role {
    pub id: Uuid,
    pub org_id: String,
    pub name: String,
    pub description: Option<String>,
    pub is_system_role: bool,
    pub permissions: sqlx::types::Json<serde_json::Value>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Role {
    /// The column snapshot written to audit rows (stored name, `+00:00` datetimes).
    pub fn snapshot(&self) -> serde_json::Value {
        json!({
            "id": self.id.to_string(),
            "org_id": self.org_id,
            "name": self.name,
            "description": self.description,
            "is_system_role": self.is_system_role,
            "permissions": self.permissions.0,
            "created_at": timefmt::iso_offset(self.created_at),
            "updated_at": timefmt::iso_offset(self.updated_at),
        })
    }
}

const ROLE_COLUMNS: &str =
    "id, org_id, name, description, is_system_role, permissions, created_at, updated_at";

/// Python's `str.title()`: a letter after a letter is lower-cased, any other letter upper-cased.
pub fn title_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_cased = false;
    for c in s.chars() {
        if c.is_alphabetic() {
            if prev_cased {
                out.extend(c.to_lowercase());
            } else {
                out.extend(c.to_uppercase());
            }
            prev_cased = true;
        } else {
            out.push(c);
            prev_cased = false;
        }
    }
    out
}

/// Role names: whitespace runs collapsed to one space, then title-cased.
pub fn normalize_name(raw: &str) -> String {
    title_case(&raw.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Role descriptions: trimmed, first letter upper-cased; blank becomes `None`.
pub fn normalize_description(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    let mut chars = trimmed.chars();
    let first = chars.next()?;
    Some(first.to_uppercase().chain(chars).collect())
}

/// Page of roles in a stable order: creation time, then the system roles in catalogue order,
/// then name and id.
pub async fn list(
    conn: &mut PgConnection,
    org_id: &str,
    offset: i64,
    limit: i64,
) -> sqlx::Result<(Vec<Role>, i64)> {
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM roles WHERE org_id = $1")
        .bind(org_id)
        .fetch_one(&mut *conn)
        .await?;
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ROLE_COLUMNS} FROM roles WHERE org_id = $1 \
         ORDER BY created_at, \
           CASE WHEN is_system_role THEN array_position($2::text[], name::text) END NULLS LAST, \
           name, id \
         OFFSET $3 LIMIT $4"
    )))
    .bind(org_id)
    .bind(
        SystemRole::ALL
            .iter()
            .map(|r| r.stored_name())
            .collect::<Vec<_>>(),
    )
    .bind(offset)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    Ok((rows, total))
}

/// One role of the org (a role of another org is not found).
pub async fn find(conn: &mut PgConnection, org_id: &str, id: Uuid) -> sqlx::Result<Option<Role>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ROLE_COLUMNS} FROM roles WHERE org_id = $1 AND id = $2 FOR UPDATE"
    )))
    .bind(org_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Whether the org has this role (no row lock, for reads).
pub async fn exists(conn: &mut PgConnection, org_id: &str, id: Uuid) -> sqlx::Result<bool> {
    let found: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM roles WHERE id = $1 AND org_id = $2")
            .bind(id)
            .bind(org_id)
            .fetch_optional(conn)
            .await?;
    Ok(found.is_some())
}

/// Roles of the org among `ids`, in database order.
pub async fn find_many(
    conn: &mut PgConnection,
    org_id: &str,
    ids: &[Uuid],
) -> sqlx::Result<Vec<Role>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ROLE_COLUMNS} FROM roles WHERE org_id = $1 AND id = ANY($2)"
    )))
    .bind(org_id)
    .bind(ids)
    .fetch_all(conn)
    .await
}

/// Whether another role of the org already has this stored name (case-sensitive, as legacy).
pub async fn name_taken(
    conn: &mut PgConnection,
    org_id: &str,
    name: &str,
    except: Option<Uuid>,
) -> sqlx::Result<bool> {
    let found: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM roles WHERE org_id = $1 AND name = $2 AND ($3::uuid IS NULL OR id <> $3)",
    )
    .bind(org_id)
    .bind(name)
    .bind(except)
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// Inserts a custom role. A name clash surfaces as a `uq_roles_org_name` violation.
pub async fn create(
    conn: &mut PgConnection,
    org_id: &str,
    name: &str,
    description: Option<&str>,
    permissions: &[String],
) -> sqlx::Result<Role> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO roles (id, org_id, name, description, is_system_role, permissions) \
         VALUES ($1, $2, $3, $4, false, $5) RETURNING {ROLE_COLUMNS}"
    )))
    .bind(Uuid::new_v4())
    .bind(org_id)
    .bind(name)
    .bind(description)
    .bind(sqlx::types::Json(permissions))
    .fetch_one(conn)
    .await
}

/// Writes the given fields of a role (None leaves a field alone).
pub async fn update(
    conn: &mut PgConnection,
    id: Uuid,
    name: Option<&str>,
    description: Option<Option<&str>>,
    permissions: Option<&[String]>,
) -> sqlx::Result<Role> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE roles SET name = COALESCE($2, name), \
           description = CASE WHEN $3 THEN $4 ELSE description END, \
           permissions = COALESCE($5, permissions), updated_at = now() \
         WHERE id = $1 RETURNING {ROLE_COLUMNS}"
    )))
    .bind(id)
    .bind(name)
    .bind(description.is_some())
    .bind(description.flatten())
    .bind(permissions.map(sqlx::types::Json))
    .fetch_one(conn)
    .await
}

/// Deletes a role and, first, every assignment of it.
pub async fn delete(conn: &mut PgConnection, org_id: &str, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM user_roles WHERE role_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM roles WHERE org_id = $1 AND id = $2")
        .bind(org_id)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Removes one assignment; true when it existed.
pub async fn unassign(
    conn: &mut PgConnection,
    org_id: &str,
    user_id: Uuid,
    role_id: Uuid,
) -> sqlx::Result<bool> {
    let result =
        sqlx::query("DELETE FROM user_roles WHERE org_id = $1 AND user_id = $2 AND role_id = $3")
            .bind(org_id)
            .bind(user_id)
            .bind(role_id)
            .execute(conn)
            .await?;
    Ok(result.rows_affected() > 0)
}

/// The membership facts role assignment depends on.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct MembershipFacts {
    pub id: Uuid,
    pub user_id: Uuid,
    pub employment_status: String,
    pub platform_status: String,
    pub user_is_active: bool,
}

/// A membership of the org (a membership of another org is not found).
pub async fn membership(
    conn: &mut PgConnection,
    org_id: &str,
    membership_id: Uuid,
) -> sqlx::Result<Option<MembershipFacts>> {
    sqlx::query_as(
        "SELECT m.id, m.user_id, m.employment_status, m.platform_status, u.is_active AS user_is_active \
         FROM org_memberships m JOIN users u ON u.id = m.user_id AND u.org_id = m.org_id \
         WHERE m.org_id = $1 AND m.id = $2",
    )
    .bind(org_id)
    .bind(membership_id)
    .fetch_optional(conn)
    .await
}
