//! Roles: the system roles every org has, and role assignments.

use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::permissions::SystemRole;

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
