//! The People summary (`GET /org/dashboard/user-summary`, announcements-and-summary.md Part 2).
//! Every membership of the org counts, whatever its status; sorting is done by PostgreSQL so
//! names follow the database collation.

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Default, sqlx::FromRow)]
pub struct Activity {
    pub total: i64,
    pub mfa_enabled: i64,
    pub never_logged_in: i64,
    pub active_7: i64,
    pub active_30: i64,
    pub stale_30: i64,
    pub temp_password: i64,
    pub without_department: i64,
    pub missing_profile: i64,
}

#[derive(Debug)]
pub struct Summary {
    pub platform: Vec<(String, i64)>,
    pub invitation: Vec<(String, i64)>,
    pub employment: Vec<(String, i64)>,
    pub activity: Activity,
    pub departments: Vec<(Uuid, String, i64)>,
    pub roles: Vec<(Uuid, String, i64)>,
}

async fn group(
    conn: &mut PgConnection,
    org_id: &str,
    column: &str,
) -> sqlx::Result<Vec<(String, i64)>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {column}, count(*) FROM org_memberships WHERE org_id = $1 AND {column} IS NOT NULL GROUP BY {column}"
    )))
    .bind(org_id)
    .fetch_all(conn)
    .await
}

/// Turns the caller's fresh transaction into one read-only snapshot, so every figure of
/// [`compute`] agrees (must be its first statement).
pub async fn snapshot(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(conn)
        .await?;
    Ok(())
}

/// Computes every figure; `now` is the application clock.
pub async fn compute(
    conn: &mut PgConnection,
    org_id: &str,
    now: OffsetDateTime,
) -> sqlx::Result<Summary> {
    let platform = group(conn, org_id, "platform_status").await?;
    let invitation = group(conn, org_id, "invitation_status").await?;
    let employment = group(conn, org_id, "employment_status").await?;
    let activity: Activity = sqlx::query_as(
        "SELECT count(*) AS total, \
           count(*) FILTER (WHERE i.mfa_enabled) AS mfa_enabled, \
           count(*) FILTER (WHERE i.id IS NOT NULL AND i.last_active_at IS NULL) AS never_logged_in, \
           count(*) FILTER (WHERE i.last_active_at >= $2 - interval '7 days') AS active_7, \
           count(*) FILTER (WHERE i.last_active_at >= $2 - interval '30 days') AS active_30, \
           count(*) FILTER (WHERE i.last_active_at < $2 - interval '30 days') AS stale_30, \
           count(*) FILTER (WHERE i.must_change_password) AS temp_password, \
           count(*) FILTER (WHERE m.department_id IS NULL) AS without_department, \
           count(*) FILTER (WHERE p.id IS NULL OR p.timezone IS NULL OR p.phone_number IS NULL \
                            OR p.address_line1 IS NULL OR p.country IS NULL) AS missing_profile \
         FROM org_memberships m \
         LEFT JOIN users u ON u.id = m.user_id \
         LEFT JOIN identities i ON i.id = u.identity_id \
         LEFT JOIN org_user_profiles p ON p.org_id = m.org_id AND p.membership_id = m.id \
         WHERE m.org_id = $1",
    )
    .bind(org_id)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    let departments = sqlx::query_as(
        "SELECT d.id, d.name, count(m.id) FROM departments d \
         LEFT JOIN org_memberships m ON m.department_id = d.id AND m.org_id = d.org_id \
         WHERE d.org_id = $1 AND NOT d.is_archived GROUP BY d.id, d.name ORDER BY d.name, d.id",
    )
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?;
    let roles = sqlx::query_as(
        "SELECT r.id, r.name, count(ur.id) FROM roles r \
         LEFT JOIN user_roles ur ON ur.role_id = r.id AND ur.org_id = $1 \
         WHERE r.org_id = $1 GROUP BY r.id, r.name ORDER BY r.name, r.id",
    )
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Summary {
        platform,
        invitation,
        employment,
        activity,
        departments,
        roles,
    })
}
