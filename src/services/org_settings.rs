//! The org policy the auth flows read from `org_settings` (defaults when the row does not
//! exist yet: the legacy service created it lazily).

use sqlx::PgConnection;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AuthPolicy {
    pub require_two_factor: bool,
    pub mfa_required_actions: sqlx::types::Json<Vec<String>>,
    pub remember_device_days: i32,
    pub allow_impersonation: bool,
    pub session_timeout_minutes: i32,
}

impl Default for AuthPolicy {
    fn default() -> Self {
        Self {
            require_two_factor: false,
            mfa_required_actions: sqlx::types::Json(Vec::new()),
            remember_device_days: 30,
            allow_impersonation: false,
            session_timeout_minutes: 5,
        }
    }
}

impl AuthPolicy {
    pub fn requires_action(&self, action: &str) -> bool {
        self.mfa_required_actions.0.iter().any(|a| a == action)
    }

    /// Login MFA is forced (remember-device does not skip it) when two-factor is required and
    /// LOGIN is a required action.
    pub fn forces_login_mfa(&self) -> bool {
        self.require_two_factor && self.requires_action("LOGIN")
    }
}

pub async fn auth_policy(conn: &mut PgConnection, org_id: &str) -> sqlx::Result<AuthPolicy> {
    let row: Option<AuthPolicy> = sqlx::query_as(
        "SELECT require_two_factor, mfa_required_actions, remember_device_days, allow_impersonation, \
         session_timeout_minutes FROM org_settings WHERE org_id = $1",
    )
    .bind(org_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.unwrap_or_default())
}
