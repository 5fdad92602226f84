//! Reading the audit trail (`GET /org/audit-logs`).

use crate::domain::org::OrgId;
use serde_json::Value;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use time::OffsetDateTime;
use uuid::Uuid;

/// The filters of the listing; all optional, combined with AND.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Prefixes of `action` (any of them).
    pub features: Vec<String>,
    /// Exact `action` values (any of them).
    pub actions: Vec<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub actor_id: Option<Uuid>,
    /// Inclusive bounds on `created_at`.
    pub created_from: Option<OffsetDateTime>,
    pub created_to: Option<OffsetDateTime>,
}

/// One row with its actor resolved. `actor_user_id` is set only when the actor's `users` row
/// belongs to the same org; the name is null when that user has no profile.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AuditRow {
    pub id: Uuid,
    pub org_id: String,
    pub actor_id: Option<Uuid>,
    pub actor_user_id: Option<Uuid>,
    pub actor_full_name: Option<String>,
    pub actor_email: Option<String>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: String,
    pub old_value: Option<sqlx::types::Json<Value>>,
    pub new_value: Option<sqlx::types::Json<Value>>,
    pub changes: Option<sqlx::types::Json<Value>>,
    pub summary: Option<String>,
    pub created_at: OffsetDateTime,
}

fn push_filters(q: &mut QueryBuilder<Postgres>, org_id: &OrgId, f: &AuditFilter) {
    q.push(" WHERE a.org_id = ")
        .push_bind(org_id.as_str().to_owned());
    if !f.features.is_empty() {
        q.push(" AND EXISTS (SELECT 1 FROM unnest(")
            .push_bind(f.features.clone())
            .push("::text[]) AS f(prefix) WHERE starts_with(a.action, f.prefix))");
    }
    if !f.actions.is_empty() {
        q.push(" AND a.action = ANY(")
            .push_bind(f.actions.clone())
            .push("::text[])");
    }
    if let Some(t) = &f.resource_type {
        q.push(" AND a.resource_type = ").push_bind(t.clone());
    }
    if let Some(r) = &f.resource_id {
        q.push(" AND a.resource_id = ").push_bind(r.clone());
    }
    if let Some(actor) = f.actor_id {
        q.push(" AND a.actor_id = ").push_bind(actor);
    }
    if let Some(from) = f.created_from {
        q.push(" AND a.created_at >= ").push_bind(from);
    }
    if let Some(to) = f.created_to {
        q.push(" AND a.created_at <= ").push_bind(to);
    }
}

/// One page, newest first (ties broken by id so pages never overlap), and the total.
pub async fn list(
    conn: &mut PgConnection,
    org_id: &OrgId,
    filter: &AuditFilter,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<AuditRow>, i64)> {
    let mut count: QueryBuilder<Postgres> = QueryBuilder::new("SELECT count(*) FROM audit_logs a");
    push_filters(&mut count, org_id, filter);
    let total: i64 = count.build_query_scalar().fetch_one(&mut *conn).await?;

    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT a.id, a.org_id, a.actor_id, u.id AS actor_user_id, p.full_name AS actor_full_name, \
         u.email AS actor_email, a.action, a.resource_type, a.resource_id, a.old_value, a.new_value, \
         a.changes, a.summary, a.created_at FROM audit_logs a \
         LEFT JOIN users u ON u.id = a.actor_id AND u.org_id = a.org_id \
         LEFT JOIN org_memberships m ON m.user_id = u.id AND m.org_id = u.org_id \
         LEFT JOIN org_user_profiles p ON p.membership_id = m.id AND p.org_id = m.org_id",
    );
    push_filters(&mut q, org_id, filter);
    q.push(" ORDER BY a.created_at DESC, a.id DESC LIMIT ")
        .push_bind(limit)
        .push(" OFFSET ")
        .push_bind(offset);
    let rows = q.build_query_as().fetch_all(conn).await?;
    Ok((rows, total))
}
