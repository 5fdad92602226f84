//! The small key-value interface the core needs (rate limits, lockout, refresh replay, MFA
//! attempts, the permission cache), over Redis or, outside production when `REDIS_URL` is unset,
//! an in-process map. Key names and semantics are the legacy ones (DESIGN.md §3.3), so `sole`
//! and the legacy service can share one Redis.
//!
//! Callers pass key *parts*; `key()` adds the `<prefix>:` the legacy service used.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::{ExposeSecret, SecretString};

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("redis error: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("invalid REDIS_URL")]
    InvalidUrl,
}

pub type CacheResult<T> = Result<T, CacheError>;

#[derive(Clone)]
pub struct Cache {
    prefix: Arc<str>,
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Redis(ConnectionManager),
    Memory(Arc<Mutex<HashMap<String, Entry>>>),
}

struct Entry {
    value: String,
    expires: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|t| t > now)
    }
}

/// Redis calls are on the request path of logins and guards: keep them short, so a slow Redis
/// becomes a quick 503 instead of a pile-up.
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

impl Cache {
    /// A Redis-backed cache; the connection is made lazily and re-made after failures.
    pub fn redis(url: &SecretString, prefix: &str) -> CacheResult<Self> {
        let client =
            redis::Client::open(url.expose_secret()).map_err(|_| CacheError::InvalidUrl)?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let manager = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(Self {
            prefix: normalize_prefix(prefix),
            backend: Backend::Redis(manager),
        })
    }

    /// The in-process fallback: one process only, nothing shared between instances.
    pub fn memory(prefix: &str) -> Self {
        Self {
            prefix: normalize_prefix(prefix),
            backend: Backend::Memory(Arc::default()),
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Redis(_) => "redis",
            Backend::Memory(_) => "memory",
        }
    }

    /// `<prefix>:<part>:<part>…` as the legacy `redis_key()` built it.
    pub fn key(&self, parts: &[&str]) -> String {
        let mut key = String::from(&*self.prefix);
        for part in parts {
            if !key.is_empty() {
                key.push(':');
            }
            key.push_str(part);
        }
        key
    }

    pub async fn ping(&self) -> CacheResult<()> {
        match &self.backend {
            Backend::Redis(m) => {
                let mut conn = m.clone();
                let _: String = redis::cmd("PING").query_async(&mut conn).await?;
                Ok(())
            }
            Backend::Memory(_) => Ok(()),
        }
    }

    /// `INCR key` then `EXPIRE key ttl` (every time, as the legacy limiter did); returns the count.
    pub async fn incr_with_expiry(&self, key: &str, ttl: Duration) -> CacheResult<i64> {
        match &self.backend {
            Backend::Redis(m) => {
                let mut conn = m.clone();
                let (count, _): (i64, i64) = redis::pipe()
                    .atomic()
                    .incr(key, 1)
                    .expire(key, ttl.as_secs().max(1) as i64)
                    .query_async(&mut conn)
                    .await?;
                Ok(count)
            }
            Backend::Memory(map) => {
                let now = Instant::now();
                let mut map = lock(map);
                let current = map
                    .get(key)
                    .filter(|e| e.live(now))
                    .and_then(|e| e.value.parse::<i64>().ok())
                    .unwrap_or(0);
                let next = current + 1;
                map.insert(
                    key.to_owned(),
                    Entry {
                        value: next.to_string(),
                        expires: Some(now + ttl),
                    },
                );
                Ok(next)
            }
        }
    }

    /// Raises the number stored at `key` to `value` (with expiry `ttl`) when `value` is greater
    /// than what is stored, atomically; true when it was raised. A missing key counts as lower
    /// than any value. One Lua script on Redis, so every instance sees one order.
    pub async fn raise_to(&self, key: &str, value: u64, ttl: Duration) -> CacheResult<bool> {
        match &self.backend {
            Backend::Redis(m) => {
                let mut conn = m.clone();
                let script = redis::Script::new(
                    "local cur = tonumber(redis.call('GET', KEYS[1])) \
                     if cur ~= nil and cur >= tonumber(ARGV[1]) then return 0 end \
                     redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) return 1",
                );
                let raised: i64 = script
                    .key(key)
                    .arg(value)
                    .arg(ttl.as_secs().max(1))
                    .invoke_async(&mut conn)
                    .await?;
                Ok(raised == 1)
            }
            Backend::Memory(map) => {
                let now = Instant::now();
                let mut map = lock(map);
                let current = map
                    .get(key)
                    .filter(|e| e.live(now))
                    .and_then(|e| e.value.parse::<u64>().ok());
                if current.is_some_and(|c| c >= value) {
                    return Ok(false);
                }
                map.insert(
                    key.to_owned(),
                    Entry {
                        value: value.to_string(),
                        expires: Some(now + ttl),
                    },
                );
                Ok(true)
            }
        }
    }

    /// `SET key value NX EX ttl`: true when the key was set (did not exist).
    pub async fn set_nx_ex(&self, key: &str, value: &str, ttl: Duration) -> CacheResult<bool> {
        match &self.backend {
            Backend::Redis(m) => {
                let mut conn = m.clone();
                let set: Option<String> = redis::cmd("SET")
                    .arg(key)
                    .arg(value)
                    .arg("NX")
                    .arg("EX")
                    .arg(ttl.as_secs().max(1))
                    .query_async(&mut conn)
                    .await?;
                Ok(set.is_some())
            }
            Backend::Memory(map) => {
                let now = Instant::now();
                let mut map = lock(map);
                if map.get(key).is_some_and(|e| e.live(now)) {
                    return Ok(false);
                }
                map.insert(
                    key.to_owned(),
                    Entry {
                        value: value.to_owned(),
                        expires: Some(now + ttl),
                    },
                );
                Ok(true)
            }
        }
    }

    pub async fn get(&self, key: &str) -> CacheResult<Option<String>> {
        match &self.backend {
            Backend::Redis(m) => {
                let mut conn = m.clone();
                Ok(conn.get(key).await?)
            }
            Backend::Memory(map) => {
                let now = Instant::now();
                Ok(lock(map)
                    .get(key)
                    .filter(|e| e.live(now))
                    .map(|e| e.value.clone()))
            }
        }
    }

    pub async fn exists(&self, key: &str) -> CacheResult<bool> {
        Ok(self.get(key).await?.is_some())
    }

    pub async fn setex(&self, key: &str, value: &str, ttl: Duration) -> CacheResult<()> {
        match &self.backend {
            Backend::Redis(m) => {
                let mut conn = m.clone();
                let _: () = conn.set_ex(key, value, ttl.as_secs().max(1)).await?;
                Ok(())
            }
            Backend::Memory(map) => {
                lock(map).insert(
                    key.to_owned(),
                    Entry {
                        value: value.to_owned(),
                        expires: Some(Instant::now() + ttl),
                    },
                );
                Ok(())
            }
        }
    }

    pub async fn del(&self, keys: &[String]) -> CacheResult<u64> {
        if keys.is_empty() {
            return Ok(0);
        }
        match &self.backend {
            Backend::Redis(m) => {
                let mut conn = m.clone();
                Ok(conn.del(keys).await?)
            }
            Backend::Memory(map) => {
                let mut map = lock(map);
                Ok(keys
                    .iter()
                    .filter(|k| map.remove(k.as_str()).is_some())
                    .count() as u64)
            }
        }
    }

    /// Deletes every key starting with `prefix` (SCAN + DEL, never KEYS); returns the count.
    pub async fn delete_by_prefix(&self, prefix: &str) -> CacheResult<u64> {
        match &self.backend {
            Backend::Redis(m) => {
                let mut conn = m.clone();
                let pattern = format!("{}*", escape_glob(prefix));
                let mut cursor: u64 = 0;
                let mut deleted = 0;
                loop {
                    let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(&pattern)
                        .arg("COUNT")
                        .arg(500)
                        .query_async(&mut conn)
                        .await?;
                    if !keys.is_empty() {
                        let n: u64 = conn.del(&keys).await?;
                        deleted += n;
                    }
                    if next == 0 {
                        break;
                    }
                    cursor = next;
                }
                Ok(deleted)
            }
            Backend::Memory(map) => {
                let mut map = lock(map);
                let before = map.len();
                map.retain(|k, _| !k.starts_with(prefix));
                Ok((before - map.len()) as u64)
            }
        }
    }

    /// `PUBLISH channel payload` on Redis; returns the number of subscribers that received it.
    /// The in-process backend has no subscribers of its own (the announcement hub fans out
    /// locally instead), so it returns 0.
    pub async fn publish(&self, channel: &str, payload: &str) -> CacheResult<i64> {
        match &self.backend {
            Backend::Redis(m) => {
                let mut conn = m.clone();
                Ok(conn.publish(channel, payload).await?)
            }
            Backend::Memory(_) => Ok(0),
        }
    }

    /// The remaining TTL of a key in seconds, if it exists and has one.
    pub async fn ttl(&self, key: &str) -> CacheResult<Option<i64>> {
        match &self.backend {
            Backend::Redis(m) => {
                let mut conn = m.clone();
                let ttl: i64 = conn.ttl(key).await?;
                Ok((ttl >= 0).then_some(ttl))
            }
            Backend::Memory(map) => {
                let now = Instant::now();
                Ok(lock(map)
                    .get(key)
                    .filter(|e| e.live(now))
                    .and_then(|e| e.expires)
                    .map(|t| t.saturating_duration_since(now).as_secs() as i64))
            }
        }
    }
}

fn lock(map: &Mutex<HashMap<String, Entry>>) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
    // A panic while holding this lock cannot leave an entry half-written; keep serving.
    map.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Colons around the prefix are trimmed, as the legacy `redis_key()` did.
fn normalize_prefix(prefix: &str) -> Arc<str> {
    Arc::from(prefix.trim_matches(':'))
}

/// `s` with Redis glob metacharacters escaped, so a key prefix chosen by an operator matches
/// itself only in `SCAN MATCH` / `PSUBSCRIBE` patterns (one definition for both users).
pub(crate) fn escape_glob(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_metacharacters_in_a_prefix_match_only_themselves() {
        assert_eq!(escape_glob("sole:"), "sole:");
        assert_eq!(escape_glob(r"a*b?c[d]e\f"), r"a\*b\?c\[d\]e\\f");
    }

    #[test]
    fn keys_use_the_legacy_layout() {
        let cache = Cache::memory("sole");
        assert_eq!(cache.key(&["refresh_used", "abc"]), "sole:refresh_used:abc");
        let cache = Cache::memory(":t1:");
        assert_eq!(cache.key(&["fail", "a@b.c"]), "t1:fail:a@b.c");
    }

    #[tokio::test]
    async fn memory_backend_implements_the_interface() {
        let cache = Cache::memory("t");
        assert_eq!(
            cache
                .incr_with_expiry("t:n", Duration::from_secs(60))
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            cache
                .incr_with_expiry("t:n", Duration::from_secs(60))
                .await
                .unwrap(),
            2
        );
        assert!(
            cache
                .set_nx_ex("t:x", "1", Duration::from_secs(60))
                .await
                .unwrap()
        );
        assert!(
            !cache
                .set_nx_ex("t:x", "1", Duration::from_secs(60))
                .await
                .unwrap()
        );
        cache
            .setex("t:p:1", "a", Duration::from_secs(60))
            .await
            .unwrap();
        cache
            .setex("t:p:2", "b", Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(cache.get("t:p:1").await.unwrap().as_deref(), Some("a"));
        assert_eq!(cache.delete_by_prefix("t:p:").await.unwrap(), 2);
        assert_eq!(cache.get("t:p:1").await.unwrap(), None);
    }
}
