//! Sessions: refresh-token rotation with replay detection (contract §4.2).
//!
//! Every refresh token may be used once. The first use is recorded under `refresh_used:<jti>`
//! (the key the legacy service shares) until the token expires; a second use means the token
//! leaked, so every session of the identity is revoked.

use std::time::Duration;

use sqlx::PgConnection;
use uuid::Uuid;

use crate::cache::Cache;
use crate::services::identities;

/// Why a refresh token may not be rotated.
#[derive(Debug)]
pub enum RotateError {
    /// The replay store (Redis) did not answer: refusing is the only safe answer.
    StoreUnavailable,
    /// The token was used before; every session of the identity is now revoked (the caller
    /// commits, when it holds a transaction).
    Replayed,
    Db(sqlx::Error),
}

impl From<sqlx::Error> for RotateError {
    fn from(e: sqlx::Error) -> Self {
        Self::Db(e)
    }
}

/// Spends the refresh token `jti` (expiring at `exp`, Unix seconds; `now` likewise) of
/// `identity_id`. On its first use the identity's activity is recorded and the caller mints
/// the new pair; on a replay every session of the identity is revoked.
pub async fn rotate(
    conn: &mut PgConnection,
    cache: &Cache,
    identity_id: Uuid,
    jti: &str,
    exp: i64,
    now: i64,
) -> Result<(), RotateError> {
    let key = cache.key(&["refresh_used", jti]);
    let remaining = Duration::from_secs((exp - now).max(1) as u64);
    let first_use = cache.set_nx_ex(&key, "1", remaining).await.map_err(|e| {
        tracing::error!(error = %e, "refresh replay store unavailable");
        RotateError::StoreUnavailable
    })?;
    if !first_use {
        identities::bump_token_version(conn, identity_id).await?;
        tracing::warn!(%identity_id, "refresh token reuse detected; all sessions revoked");
        return Err(RotateError::Replayed);
    }
    identities::touch_last_active(conn, identity_id).await?;
    Ok(())
}
