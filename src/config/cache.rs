//! Redis (`REDIS_URL`, `REDIS_KEY_PREFIX`) and the guard's in-process cache
//! (`GUARD_CACHE_TTL_SECONDS`).

use std::time::Duration;

use super::reader::Reader;
use super::{Problem, Settings};

/// `REDIS_KEY_PREFIX`: the first segment of every Redis key and channel `sole` uses.
pub(super) fn redis_key_prefix(r: &mut Reader<'_>) -> String {
    let redis_key_prefix = r.string("REDIS_KEY_PREFIX", "sole");
    if redis_key_prefix.is_empty()
        || !redis_key_prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-'))
    {
        r.problem("REDIS_KEY_PREFIX", "must match ^[a-zA-Z0-9:_-]+$");
    }
    redis_key_prefix
}

/// `GUARD_CACHE_TTL_SECONDS`; a value out of range is reported and clamped into it.
pub(super) fn guard_cache_ttl(r: &mut Reader<'_>) -> Duration {
    let guard_cache_ttl = r.float("GUARD_CACHE_TTL_SECONDS", 5.0);
    if !(0.0..=300.0).contains(&guard_cache_ttl) {
        r.problem(
            "GUARD_CACHE_TTL_SECONDS",
            "must be between 0 and 300 seconds",
        );
    }
    Duration::from_secs_f64(guard_cache_ttl.clamp(0.0, 300.0))
}

/// In production Redis is required: without it rate limits, lockout and refresh replay
/// detection would be per instance.
pub(super) fn production_problems(s: &Settings, out: &mut Vec<Problem>) {
    if s.redis_url.is_none() {
        out.push(Problem::new(
            "REDIS_URL",
            "is required in production (rate limits, lockout and refresh replay detection)",
        ));
    }
}
