//! Recovery codes and remembered devices.

use sqlx::PgConnection;
use uuid::Uuid;

/// Replaces every recovery code of the identity with the given SHA-256 hashes.
pub async fn replace_recovery_codes(
    conn: &mut PgConnection,
    identity_id: Uuid,
    hashes: &[String],
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM user_mfa_recovery_codes WHERE identity_id = $1")
        .bind(identity_id)
        .execute(&mut *conn)
        .await?;
    for hash in hashes {
        sqlx::query(
            "INSERT INTO user_mfa_recovery_codes (id, identity_id, code_hash) VALUES ($1, $2, $3)",
        )
        .bind(Uuid::new_v4())
        .bind(identity_id)
        .bind(hash)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Marks an unused code as used; false when no unused code has that hash (single use).
pub async fn consume_recovery_code(
    conn: &mut PgConnection,
    identity_id: Uuid,
    hash: &str,
) -> sqlx::Result<bool> {
    let used: Option<Uuid> = sqlx::query_scalar(
        "UPDATE user_mfa_recovery_codes SET used_at = now() WHERE id = ( \
           SELECT id FROM user_mfa_recovery_codes WHERE identity_id = $1 AND code_hash = $2 AND used_at IS NULL \
           LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id",
    )
    .bind(identity_id)
    .bind(hash)
    .fetch_optional(conn)
    .await?;
    Ok(used.is_some())
}

pub async fn remaining_recovery_codes(
    conn: &mut PgConnection,
    identity_id: Uuid,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM user_mfa_recovery_codes WHERE identity_id = $1 AND used_at IS NULL",
    )
    .bind(identity_id)
    .fetch_one(conn)
    .await
}

/// Remembers a device for `days` days.
pub async fn remember_device(
    conn: &mut PgConnection,
    org_id: &str,
    user_id: Uuid,
    token_hash: &str,
    user_agent: Option<&str>,
    ip: Option<&str>,
    days: i32,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO user_mfa_devices (id, org_id, user_id, token_hash, user_agent, ip_address, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(days => $7))",
    )
    .bind(Uuid::new_v4())
    .bind(org_id)
    .bind(user_id)
    .bind(token_hash)
    .bind(user_agent.map(|ua| ua.chars().take(500).collect::<String>()))
    .bind(ip.map(|ip| ip.chars().take(64).collect::<String>()))
    .bind(days)
    .execute(conn)
    .await?;
    Ok(())
}

/// A remembered device is valid for (org, user) when its hash matches and it has not expired;
/// using it updates `last_used_at`.
pub async fn use_remembered_device(
    conn: &mut PgConnection,
    org_id: &str,
    user_id: Uuid,
    token_hash: &str,
) -> sqlx::Result<bool> {
    let found: Option<Uuid> = sqlx::query_scalar(
        "UPDATE user_mfa_devices SET last_used_at = now() WHERE token_hash = $1 AND org_id = $2 AND user_id = $3 \
         AND expires_at > now() RETURNING id",
    )
    .bind(token_hash)
    .bind(org_id)
    .bind(user_id)
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

pub async fn forget_org_devices(conn: &mut PgConnection, org_id: &str) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("DELETE FROM user_mfa_devices WHERE org_id = $1")
            .bind(org_id)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}
