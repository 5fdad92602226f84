//! Login rate limits and lockout, and MFA attempt limits, in the shared cache under the
//! legacy key names, so `sole` and the legacy service count together (contract §4.6, §4.9).
//! Any cache failure fails closed with 503: a limiter that silently lets everything through
//! is exactly what an attacker who can disturb Redis wants.

use std::time::Duration;

use axum::http::{HeaderValue, header};
use uuid::Uuid;

use crate::auth::totp;
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

/// Wrong MFA codes (any challenge, step-up included) an identity may send before MFA
/// verification locks for the lockout period.
pub const MFA_FAILURE_LIMIT: i64 = 5;

/// How long the last accepted TOTP step is remembered: longer than the ±1 step window.
const TOTP_STEP_MEMORY: Duration = Duration::from_secs(totp::STEP_SECONDS * 4);

/// A 429 with `Retry-After` in seconds (at least 1).
pub fn too_many_for(message: &str, retry_after_secs: u64) -> ApiError {
    let value = HeaderValue::from(retry_after_secs.max(1));
    ApiError::too_many(message).with_header(header::RETRY_AFTER, value)
}

const MFA_LOCKED: &str = "Too many MFA verification attempts; try later";

/// 429 with `Retry-After` while the identity's MFA verification is locked.
pub async fn check_mfa_unlocked(cache: &Cache, identity_id: Uuid) -> Result<(), ApiError> {
    let id = identity_id.to_string();
    let lock = cache.key(&["mfa_lock", &id]);
    if cache.exists(&lock).await.map_err(unavailable)? {
        let ttl = cache.ttl(&lock).await.map_err(unavailable)?.unwrap_or(60);
        return Err(too_many_for(MFA_LOCKED, ttl.max(1) as u64));
    }
    Ok(())
}

/// Counts a wrong MFA code against the identity, across challenges, and returns `refusal`; the
/// failure that reaches [`MFA_FAILURE_LIMIT`] locks verification for the lockout period, so
/// from the next attempt on (any challenge) the answer is 429 with `Retry-After`. (The fifth
/// wrong code still reads "invalid", as the legacy per-challenge limit answered it.)
pub async fn record_mfa_failure(
    cache: &Cache,
    identity_id: Uuid,
    lockout_minutes: u64,
    refusal: ApiError,
) -> ApiError {
    let id = identity_id.to_string();
    let lockout = Duration::from_secs(lockout_minutes.max(1) * 60);
    let fail_key = cache.key(&["mfa_fail", &id]);
    let count = match cache.incr_with_expiry(&fail_key, lockout).await {
        Ok(c) => c,
        Err(e) => return unavailable(e),
    };
    if count >= MFA_FAILURE_LIMIT {
        if let Err(e) = cache
            .setex(&cache.key(&["mfa_lock", &id]), "1", lockout)
            .await
        {
            return unavailable(e);
        }
        if let Err(e) = cache.del(&[fail_key]).await {
            return unavailable(e);
        }
        tracing::warn!(identity_id = %identity_id, "MFA verification locked after repeated failures");
    }
    refusal
}

/// Forgets the identity's MFA failures after a successful verification.
pub async fn clear_mfa_failures(cache: &Cache, identity_id: Uuid) -> Result<(), ApiError> {
    let id = identity_id.to_string();
    cache
        .del(&[cache.key(&["mfa_fail", &id])])
        .await
        .map_err(unavailable)?;
    Ok(())
}

/// Checks a TOTP code for the identity: valid now (±1 step) and from a time step later than
/// the last one accepted for this identity, which it then becomes. So a code is accepted once
/// per identity, on every instance (RFC 6238 §5.2).
pub async fn accept_totp(
    cache: &Cache,
    identity_id: Uuid,
    secret: &str,
    code: &str,
) -> Result<bool, ApiError> {
    let Some(step) = totp::verify_now(secret, code.trim()) else {
        return Ok(false);
    };
    let key = cache.key(&["mfa_totp_step", &identity_id.to_string()]);
    let fresh = cache
        .raise_to(&key, step, TOTP_STEP_MEMORY)
        .await
        .map_err(unavailable)?;
    if !fresh {
        tracing::warn!(identity_id = %identity_id, "replayed TOTP code refused");
    }
    Ok(fresh)
}

/// Forgets the identity's last accepted TOTP step (a new secret is being enrolled).
pub async fn forget_totp_step(cache: &Cache, identity_id: Uuid) -> Result<(), ApiError> {
    let key = cache.key(&["mfa_totp_step", &identity_id.to_string()]);
    cache.del(&[key]).await.map_err(unavailable)?;
    Ok(())
}
