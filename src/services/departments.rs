//! Departments and department membership (contract §3 "Departments"). Every lookup is scoped
//! to the org, so an id of another org is simply not found.

use serde_json::{Value, json};
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::org::OrgId;
use crate::timefmt;

/// A row of `departments`, with the member count when listed.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Department {
    pub id: Uuid,
    pub org_id: String,
    pub name: String,
    pub code: String,
    pub is_archived: bool,
    pub member_count: Option<i64>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Department {
    /// The column snapshot written to audit rows.
    pub fn snapshot(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "org_id": self.org_id,
            "name": self.name,
            "code": self.code,
            "is_archived": self.is_archived,
            "created_at": timefmt::iso_offset(self.created_at),
            "updated_at": timefmt::iso_offset(self.updated_at),
        })
    }
}

const COLUMNS: &str =
    "id, org_id, name, code, is_archived, NULL::int8 AS member_count, created_at, updated_at";

/// Department codes: trimmed, upper-cased, whitespace runs become `_`, `_` runs collapse.
/// The caller checks the result against `[A-Z0-9_-]+`.
pub fn normalize_code(raw: &str) -> String {
    let upper = raw.trim().to_uppercase();
    let mut out = String::with_capacity(upper.len());
    for c in upper.chars() {
        let c = if c.is_whitespace() { '_' } else { c };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    out
}

pub fn code_is_valid(code: &str) -> bool {
    !code.is_empty()
        && code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// A page of departments in creation order with their member counts; archived ones only when
/// `include_archived`.
pub async fn list(
    conn: &mut PgConnection,
    org_id: &OrgId,
    include_archived: bool,
    offset: i64,
    limit: i64,
) -> sqlx::Result<(Vec<Department>, i64)> {
    let total: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM departments WHERE org_id = $1 AND ($2 OR NOT is_archived)",
    )
    .bind(org_id.as_str())
    .bind(include_archived)
    .fetch_one(&mut *conn)
    .await?;
    let rows = sqlx::query_as(
        "SELECT d.id, d.org_id, d.name, d.code, d.is_archived, \
           (SELECT count(*) FROM org_memberships m WHERE m.org_id = d.org_id AND m.department_id = d.id) \
             AS member_count, \
           d.created_at, d.updated_at \
         FROM departments d WHERE d.org_id = $1 AND ($2 OR NOT d.is_archived) \
         ORDER BY d.created_at, d.name, d.id OFFSET $3 LIMIT $4",
    )
    .bind(org_id.as_str())
    .bind(include_archived)
    .bind(offset)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    Ok((rows, total))
}

pub async fn find(
    conn: &mut PgConnection,
    org_id: &OrgId,
    id: Uuid,
) -> sqlx::Result<Option<Department>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM departments WHERE org_id = $1 AND id = $2 FOR UPDATE"
    )))
    .bind(org_id.as_str())
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Whether the org's department is archived; `None` when the org has no such department (no
/// row lock, for reads).
pub async fn is_archived(
    conn: &mut PgConnection,
    org_id: &OrgId,
    id: Uuid,
) -> sqlx::Result<Option<bool>> {
    sqlx::query_scalar("SELECT is_archived FROM departments WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(org_id.as_str())
        .fetch_optional(conn)
        .await
}

/// Whether another department of the org has this name or code.
pub async fn clash(
    conn: &mut PgConnection,
    org_id: &OrgId,
    name: &str,
    code: &str,
    except: Option<Uuid>,
) -> sqlx::Result<bool> {
    let found: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM departments WHERE org_id = $1 AND (name = $2 OR code = $3) \
         AND ($4::uuid IS NULL OR id <> $4) LIMIT 1",
    )
    .bind(org_id.as_str())
    .bind(name)
    .bind(code)
    .bind(except)
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

pub async fn create(
    conn: &mut PgConnection,
    org_id: &OrgId,
    name: &str,
    code: &str,
    is_archived: bool,
) -> sqlx::Result<Department> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO departments (id, org_id, name, code, is_archived) VALUES ($1, $2, $3, $4, $5) \
         RETURNING {COLUMNS}"
    )))
    .bind(Uuid::new_v4())
    .bind(org_id.as_str())
    .bind(name)
    .bind(code)
    .bind(is_archived)
    .fetch_one(conn)
    .await
}

pub async fn update(
    conn: &mut PgConnection,
    id: Uuid,
    name: &str,
    code: &str,
    is_archived: bool,
) -> sqlx::Result<Department> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE departments SET name = $2, code = $3, is_archived = $4, updated_at = now() \
         WHERE id = $1 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(name)
    .bind(code)
    .bind(is_archived)
    .fetch_one(conn)
    .await
}

/// Detaches the department's members, then deletes it.
pub async fn delete(conn: &mut PgConnection, org_id: &OrgId, id: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE org_memberships SET department_id = NULL, updated_at = now() \
         WHERE org_id = $1 AND department_id = $2",
    )
    .bind(org_id.as_str())
    .bind(id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM departments WHERE org_id = $1 AND id = $2")
        .bind(org_id.as_str())
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// What department assignment needs to know about a membership.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct MemberState {
    pub id: Uuid,
    pub department_id: Option<Uuid>,
    pub employment_status: String,
    pub platform_status: String,
}

impl MemberState {
    /// Only memberships with ACTIVE platform and employment status can be assigned.
    pub fn is_active(&self) -> bool {
        self.employment_status.eq_ignore_ascii_case("ACTIVE")
            && self.platform_status.eq_ignore_ascii_case("ACTIVE")
    }
}

/// The org's memberships among `ids`, locked for update.
pub async fn memberships(
    conn: &mut PgConnection,
    org_id: &OrgId,
    ids: &[Uuid],
) -> sqlx::Result<Vec<MemberState>> {
    sqlx::query_as(
        "SELECT id, department_id, employment_status, platform_status FROM org_memberships \
         WHERE org_id = $1 AND id = ANY($2) FOR UPDATE",
    )
    .bind(org_id.as_str())
    .bind(ids)
    .fetch_all(conn)
    .await
}

/// Sets (or clears) a membership's department.
pub async fn set_department(
    conn: &mut PgConnection,
    org_id: &OrgId,
    membership_id: Uuid,
    department_id: Option<Uuid>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE org_memberships SET department_id = $3, updated_at = now() \
         WHERE org_id = $1 AND id = $2",
    )
    .bind(org_id.as_str())
    .bind(membership_id)
    .bind(department_id)
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_normalised_then_checked() {
        assert_eq!(normalize_code("golden  ops"), "GOLDEN_OPS");
        assert_eq!(normalize_code(" a _ b-c "), "A_B-C");
        assert!(code_is_valid("GOLDEN_OPS"));
        assert!(!code_is_valid(&normalize_code("bad/code!")));
        assert!(!code_is_valid(""));
    }
}
