//! Login rate limits and lockout, and MFA attempt limits, in the shared cache under the
//! legacy key names, so `sole` and the legacy service count together (contract §4.6, §4.9).
//! Any cache failure fails closed with 503: a limiter that silently lets everything through
//! is exactly what an attacker who can disturb Redis wants.

use std::time::Duration;

use crate::cache::{Cache, CacheError};
use crate::http::error::ApiError;

fn unavailable(err: CacheError) -> ApiError {
    tracing::error!(error = %err, "rate-limit store unavailable; refusing the request");
    ApiError::unavailable("Service temporarily unavailable")
}

/// Counts one login request per client IP and per e-mail (a sliding 60 s window, as the
/// legacy INCR + EXPIRE did); 429 "Rate limit exceeded" past `RATE_LIMIT_PER_MINUTE`. Both
/// counters are incremented on every request, as the legacy service did, so a request refused
/// for its address still counts against its e-mail.
pub async fn check_login_rate(
    cache: &Cache,
    ip: Option<&str>,
    email: &str,
    per_minute: u64,
) -> Result<(), ApiError> {
    let window = Duration::from_secs(60);
    let ip_count = match ip {
        Some(ip) => cache
            .incr_with_expiry(&cache.key(&["rate_limit", "ip", ip]), window)
            .await
            .map_err(unavailable)?,
        None => 0,
    };
    let email_count = cache
        .incr_with_expiry(&cache.key(&["rate_limit", "email", email]), window)
        .await
        .map_err(unavailable)?;
    if ip_count.max(email_count).max(0) as u64 > per_minute {
        return Err(ApiError::too_many("Rate limit exceeded"));
    }
    Ok(())
}

/// 429 "Too many login attempts; try later" while the e-mail is locked.
pub async fn check_not_locked(cache: &Cache, email: &str) -> Result<(), ApiError> {
    if cache
        .exists(&cache.key(&["lock", email]))
        .await
        .map_err(unavailable)?
    {
        return Err(ApiError::too_many("Too many login attempts; try later"));
    }
    Ok(())
}

/// Records a failed login; returns the error to answer (401, or 429 when this failure locks).
pub async fn record_failure(
    cache: &Cache,
    email: &str,
    limit: u64,
    lockout_minutes: u64,
) -> ApiError {
    let lockout = Duration::from_secs(lockout_minutes.max(1) * 60);
    let fail_key = cache.key(&["fail", email]);
    let count = match cache.incr_with_expiry(&fail_key, lockout).await {
        Ok(c) => c,
        Err(e) => return unavailable(e),
    };
    if count as u64 >= limit {
        if let Err(e) = cache
            .setex(&cache.key(&["lock", email]), "1", lockout)
            .await
        {
            return unavailable(e);
        }
        if let Err(e) = cache.del(&[fail_key]).await {
            return unavailable(e);
        }
        tracing::warn!("login locked after repeated failures");
        return ApiError::too_many("Account temporarily locked due to failed attempts");
    }
    ApiError::unauthorized("Invalid credentials")
}

pub async fn clear_failures(cache: &Cache, email: &str) -> Result<(), ApiError> {
    cache
        .del(&[cache.key(&["fail", email]), cache.key(&["lock", email])])
        .await
        .map_err(unavailable)?;
    Ok(())
}

/// Counts an MFA attempt against the token it answers; the 6th attempt within 5 minutes gets
/// 429. Keyed on the full token string, as the legacy service did.
pub async fn check_mfa_attempt(cache: &Cache, token: &str) -> Result<(), ApiError> {
    let count = cache
        .incr_with_expiry(
            &cache.key(&["mfa_attempt", token]),
            Duration::from_secs(300),
        )
        .await
        .map_err(unavailable)?;
    if count > 5 {
        return Err(ApiError::too_many(
            "Too many MFA verification attempts; please request a new code",
        ));
    }
    Ok(())
}
