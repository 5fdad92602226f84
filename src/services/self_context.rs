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
