//! Identities (global login accounts) and their org-scoped `users` rows.

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

/// The columns of `identities` the auth flows read.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Identity {
    pub id: Uuid,
    pub email: String,
    pub hashed_password: String,
    pub mfa_enabled: bool,
    pub mfa_secret_encrypted: Option<String>,
    pub token_version: i32,
    pub last_active_at: Option<OffsetDateTime>,
    pub must_change_password: bool,
    pub is_active: bool,
}

const IDENTITY_COLUMNS: &str = "id, email, hashed_password, mfa_enabled, mfa_secret_encrypted, token_version, \
     last_active_at, must_change_password, is_active";

/// Login looks identities up by the exact (EmailStr-normalised) string, as the legacy did.
pub async fn find_by_email(conn: &mut PgConnection, email: &str) -> sqlx::Result<Option<Identity>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {IDENTITY_COLUMNS} FROM identities WHERE email = $1"
    )))
    .bind(email)
    .fetch_optional(conn)
    .await
}

pub async fn find_by_id(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Identity>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {IDENTITY_COLUMNS} FROM identities WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The identity's current token version (tokens carrying another one are revoked).
pub async fn token_version(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<i32> {
    sqlx::query_scalar("SELECT token_version FROM identities WHERE id = $1")
        .bind(id)
        .fetch_one(conn)
        .await
}

/// Whether the identity has MFA on; `None` when it does not exist.
pub async fn mfa_enabled(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<bool>> {
    sqlx::query_scalar("SELECT mfa_enabled FROM identities WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Revokes every token of the identity in every org (logout, password change, refresh reuse,
/// forced reset, deactivation).
pub async fn bump_token_version(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<i32> {
    sqlx::query_scalar(
        "UPDATE identities SET token_version = token_version + 1, updated_at = now() WHERE id = $1 \
         RETURNING token_version",
    )
    .bind(id)
    .fetch_one(conn)
    .await
}

pub async fn touch_last_active(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE identities SET last_active_at = now() WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes `last_active_at` only when the stored value is older than `min_interval_secs`: the
/// inactivity rule counts minutes, so one write a minute keeps it exact enough without a
/// committed write on every request (the legacy service wrote on every call).
pub async fn touch_last_active_throttled(
    conn: &mut PgConnection,
    id: Uuid,
    min_interval_secs: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE identities SET last_active_at = now() WHERE id = $1 \
         AND (last_active_at IS NULL OR last_active_at < now() - make_interval(secs => $2))",
    )
    .bind(id)
    .bind(min_interval_secs as f64)
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets a new password hash; clears `must_change_password`, revokes sessions, counts as
/// activity. Returns the new token version.
pub async fn set_password(conn: &mut PgConnection, id: Uuid, hash: &str) -> sqlx::Result<i32> {
    sqlx::query_scalar(
        "UPDATE identities SET hashed_password = $2, must_change_password = false, \
         token_version = token_version + 1, last_active_at = now(), updated_at = now() \
         WHERE id = $1 RETURNING token_version",
    )
    .bind(id)
    .bind(hash)
    .fetch_one(conn)
    .await
}

/// Requires a password change at next login and revokes every session. Returns the previous
/// `must_change_password`, or `None` when the identity does not exist.
pub async fn force_password_change(
    conn: &mut PgConnection,
    id: Uuid,
) -> sqlx::Result<Option<bool>> {
    sqlx::query_scalar(
        "UPDATE identities i SET must_change_password = true, token_version = i.token_version + 1, \
         updated_at = now() FROM identities old WHERE i.id = $1 AND old.id = i.id \
         RETURNING old.must_change_password",
    )
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Starts (or restarts) TOTP enrolment: stores the encrypted secret with MFA still off.
pub async fn start_mfa(
    conn: &mut PgConnection,
    id: Uuid,
    encrypted_secret: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE identities SET mfa_secret_encrypted = $2, mfa_enabled = false, mfa_method = 'TOTP', \
         mfa_confirmed_at = NULL, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(encrypted_secret)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn enable_mfa(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE identities SET mfa_enabled = true, mfa_method = 'TOTP', mfa_confirmed_at = now(), \
         updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Clears MFA on the identity and every recovery code; the remembered devices of `device_scope`
/// (org, user) go too.
pub async fn reset_mfa(
    conn: &mut PgConnection,
    id: Uuid,
    device_scope: Option<(&str, Uuid)>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE identities SET mfa_enabled = false, mfa_method = NULL, mfa_secret_encrypted = NULL, \
         mfa_confirmed_at = NULL, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM user_mfa_recovery_codes WHERE identity_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    if let Some((org_id, user_id)) = device_scope {
        sqlx::query("DELETE FROM user_mfa_devices WHERE org_id = $1 AND user_id = $2")
            .bind(org_id)
            .bind(user_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Where the identity has a foothold, seen from `org_id` (see
/// [`crate::domain::membership::may_change_identity`]).
pub async fn reach(
    conn: &mut PgConnection,
    identity_id: Uuid,
    org_id: &str,
) -> sqlx::Result<crate::domain::membership::IdentityReach> {
    let (other_orgs, accepted_here, superuser): (bool, bool, bool) = sqlx::query_as(
        "SELECT \
           EXISTS (SELECT 1 FROM users u WHERE u.identity_id = $1 AND u.org_id <> $2) \
             OR EXISTS (SELECT 1 FROM users u JOIN org_memberships m ON m.user_id = u.id \
                        WHERE u.identity_id = $1 AND m.org_id <> $2), \
           COALESCE((SELECT bool_and(upper(m.invitation_status) = 'ACCEPTED') \
                     FROM users u JOIN org_memberships m ON m.user_id = u.id \
                     WHERE u.identity_id = $1 AND m.org_id = $2), false), \
           EXISTS (SELECT 1 FROM users u WHERE u.identity_id = $1 AND u.is_superuser)",
    )
    .bind(identity_id)
    .bind(org_id)
    .fetch_one(conn)
    .await?;
    Ok(crate::domain::membership::IdentityReach {
        other_orgs,
        accepted_here,
        superuser,
    })
}

/// One org the identity can sign in to (`GET /auth/orgs`).
#[derive(Clone, Debug, sqlx::FromRow, serde::Serialize)]
pub struct OrgChoice {
    pub org_id: String,
    pub name: String,
    pub slug: String,
}

/// Orgs where the identity has an active `users` row with a membership (any status) and the
/// org is ACTIVE, by name.
pub async fn orgs_for_identity(
    conn: &mut PgConnection,
    identity_id: Uuid,
) -> sqlx::Result<Vec<OrgChoice>> {
    sqlx::query_as(
        "SELECT o.id AS org_id, o.name, o.slug FROM users u \
         JOIN org_memberships m ON m.user_id = u.id AND m.org_id = u.org_id \
         JOIN orgs o ON o.id = u.org_id \
         WHERE u.identity_id = $1 AND u.is_active AND o.status = 'ACTIVE' \
         ORDER BY o.name, o.id",
    )
    .bind(identity_id)
    .fetch_all(conn)
    .await
}
