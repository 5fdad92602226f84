//! Reads behind `GET /self/context`.

use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

/// A role of the user in the org, with its raw stored name and permission list.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ContextRole {
    pub id: Uuid,
    pub name: String,
    pub is_system_role: bool,
    pub permissions: sqlx::types::Json<Value>,
}

/// The user's roles in the org, in assignment order.
pub async fn roles(
    conn: &mut PgConnection,
    org_id: &str,
    user_id: Uuid,
) -> sqlx::Result<Vec<ContextRole>> {
    sqlx::query_as(
        "SELECT r.id, r.name, r.is_system_role, r.permissions FROM user_roles ur \
         JOIN roles r ON r.id = ur.role_id AND r.org_id = ur.org_id \
         WHERE ur.org_id = $1 AND ur.user_id = $2 ORDER BY ur.created_at, r.name",
    )
    .bind(org_id)
    .bind(user_id)
    .fetch_all(conn)
    .await
}

/// Everything `/self/context` shows, in one round trip: the org, the setting behind the idle
/// timer, the user's roles (assignment order) and the sources of the effective permissions.
#[derive(Debug, sqlx::FromRow)]
pub struct Snapshot {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub status: String,
    pub created_at: time::OffsetDateTime,
    pub updated_at: time::OffsetDateTime,
    pub session_timeout_minutes: i32,
    pub roles: sqlx::types::Json<Vec<SnapshotRole>>,
    pub direct_permissions: Option<Value>,
    pub direct_effect: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
pub struct SnapshotRole {
    pub id: Uuid,
    pub name: String,
    pub is_system_role: bool,
    pub permissions: Value,
}

impl Snapshot {
    /// Roles ∪ direct allow − direct deny, as `services::permissions::effective` computes it.
    pub fn effective_permissions(&self) -> Vec<String> {
        let role_lists = Value::Array(self.roles.0.iter().map(|r| r.permissions.clone()).collect());
        crate::services::permissions::combine(
            &role_lists,
            self.direct_permissions.as_ref(),
            self.direct_effect.as_deref(),
        )
    }
}

pub async fn snapshot(
    conn: &mut PgConnection,
    org_id: &str,
    user_id: Uuid,
) -> sqlx::Result<Option<Snapshot>> {
    sqlx::query_as(
        "SELECT o.id, o.name, o.slug, o.status, o.created_at, o.updated_at, \
                COALESCE((SELECT s.session_timeout_minutes FROM org_settings s WHERE s.org_id = o.id), 5) \
                  AS session_timeout_minutes, \
                COALESCE((SELECT json_agg(json_build_object('id', r.id, 'name', r.name, \
                                   'is_system_role', r.is_system_role, 'permissions', r.permissions) \
                                   ORDER BY ur.created_at, r.name) \
                          FROM user_roles ur JOIN roles r ON r.id = ur.role_id AND r.org_id = ur.org_id \
                          WHERE ur.org_id = o.id AND ur.user_id = $2), '[]'::json) AS roles, \
                up.permissions AS direct_permissions, up.effect AS direct_effect \
         FROM orgs o \
         LEFT JOIN user_permissions up ON up.org_id = o.id AND up.user_id = $2 \
              AND (up.expires_at IS NULL OR up.expires_at > now()) \
         WHERE o.id = $1",
    )
    .bind(org_id)
    .bind(user_id)
    .fetch_optional(conn)
    .await
}
