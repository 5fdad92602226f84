//! Argon2id password hashing compatible with the legacy pwdlib hashes (contract §4.9).
//!
//! Hashes are PHC strings (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`). Verification reads the
//! parameters from the stored string, so legacy `m=65536,t=3,p=4` hashes verify whatever the
//! configured parameters are; [`PasswordHasher::needs_rehash`] tells callers when to upgrade.
//!
//! Inputs longer than [`MAX_PASSWORD_CHARS`] characters or [`MAX_PASSWORD_BYTES`] bytes are
//! refused before any hashing work. The async wrappers run on tokio's blocking pool behind a
//! semaphore sized to the CPU count, so a burst of logins cannot allocate unbounded argon2
//! memory (64 MiB per legacy verification).

use std::fmt;
use std::sync::{Arc, OnceLock};

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use rand::RngExt as _;
use secrecy::{ExposeSecret as _, SecretString};
use tokio::sync::Semaphore;

use crate::config::Argon2Settings;

/// Longest accepted password, in characters.
pub const MAX_PASSWORD_CHARS: usize = 128;
/// Longest accepted password, in UTF-8 bytes.
pub const MAX_PASSWORD_BYTES: usize = 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    /// The input is over [`MAX_PASSWORD_CHARS`] characters or [`MAX_PASSWORD_BYTES`] bytes;
    /// callers answer 4xx.
    #[error("password must be at most {MAX_PASSWORD_CHARS} characters")]
    TooLong,
    /// The configured argon2 parameters are unusable (a configuration error).
    #[error("invalid argon2 parameters: {0}")]
    Params(String),
    /// Hashing failed inside argon2 (should not happen with valid params).
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The blocking task was cancelled or panicked.
    #[error("password hashing task failed")]
    Task,
}

/// Refuses over-long passwords before any hashing work.
pub fn check_input_limits(password: &str) -> Result<(), PasswordError> {
    if password.len() > MAX_PASSWORD_BYTES || password.chars().count() > MAX_PASSWORD_CHARS {
        return Err(PasswordError::TooLong);
    }
    Ok(())
}

/// Argon2id hasher with the configured parameters, a precomputed dummy hash and a concurrency
/// limit for the async wrappers. Cheap to clone (shared state).
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

struct Inner {
    params: Params,
    /// Computed on first use (or by [`PasswordHasher::warm`]): one hash at the legacy
    /// parameters takes ~70 ms, too long to spend before a Cloud Run instance answers.
    dummy_hash: OnceLock<String>,
    permits: Arc<Semaphore>,
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("m_cost", &self.inner.params.m_cost())
            .field("t_cost", &self.inner.params.t_cost())
            .field("p_cost", &self.inner.params.p_cost())
            .field("permits", &self.inner.permits.available_permits())
            .finish_non_exhaustive()
    }
}

/// Number of concurrent hash/verify operations: the CPU count (at least 1).
pub fn default_concurrency() -> usize {
    std::thread::available_parallelism()
        .map(std::num::NonZeroUsize::get)
        .unwrap_or(1)
}

impl PasswordHasher {
    /// Builds the hasher; the parameters are validated now, the dummy hash is made on first
    /// use.
    pub fn new(settings: &Argon2Settings) -> Result<Self, PasswordError> {
        Self::with_concurrency(settings, default_concurrency())
    }

    /// Like [`PasswordHasher::new`] with an explicit concurrency limit (min 1).
    pub fn with_concurrency(
        settings: &Argon2Settings,
        concurrency: usize,
    ) -> Result<Self, PasswordError> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )
        .map_err(|e| PasswordError::Params(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                params,
                dummy_hash: OnceLock::new(),
                permits: Arc::new(Semaphore::new(concurrency.max(1))),
            }),
        })
    }

    fn dummy_hash(&self) -> &str {
        self.inner.dummy_hash.get_or_init(|| {
            // A random throwaway password: nothing can ever verify against the dummy hash.
            let mut seed = [0u8; 32];
            rand::rng().fill(&mut seed[..]);
            hash_with(&self.inner.params, &seed).unwrap_or_default()
        })
    }

    /// Computes the dummy hash now (call from a blocking task after startup).
    pub fn warm(&self) {
        let _ = self.dummy_hash();
    }

    /// Hashes a password into a PHC string with the configured params and a random salt.
    pub fn hash(&self, password: &str) -> Result<String, PasswordError> {
        check_input_limits(password)?;
        hash_with(&self.inner.params, password.as_bytes())
    }

    /// Verifies a password against any argon2 PHC string (params come from the string).
    /// Over-long input, a malformed or non-argon2 hash and a mismatch all give `false`.
    pub fn verify(&self, password: &str, phc: &str) -> bool {
        if check_input_limits(password).is_err() {
            return false;
        }
        verify_phc(password, phc)
    }

    /// Spends the same work as a real verification against the dummy hash (for unknown
    /// emails, timing equalisation). Always `false`.
    pub fn verify_dummy(&self, password: &str) -> bool {
        if check_input_limits(password).is_err() {
            return false;
        }
        let _ = verify_phc(password, self.dummy_hash());
        false
    }

    /// `true` when the stored hash is not argon2id v19 with exactly the configured params
    /// (including legacy or malformed hashes), so callers re-hash after a successful login.
    pub fn needs_rehash(&self, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return true;
        };
        if parsed.algorithm.as_str() != argon2::ARGON2ID_IDENT.as_str()
            || parsed.version != Some(u32::from(Version::V0x13))
        {
            return true;
        }
        let Ok(stored) = Params::try_from(&parsed) else {
            return true;
        };
        let wanted = &self.inner.params;
        stored.m_cost() != wanted.m_cost()
            || stored.t_cost() != wanted.t_cost()
            || stored.p_cost() != wanted.p_cost()
    }

    /// [`PasswordHasher::hash`] on the blocking pool, behind the concurrency limit.
    pub async fn hash_async(&self, password: &str) -> Result<String, PasswordError> {
        check_input_limits(password)?;
        let password = SecretString::from(password.to_owned());
        let this = self.clone();
        self.run_blocking(move || this.hash(password.expose_secret()))
            .await?
    }

    /// [`PasswordHasher::verify`] on the blocking pool, behind the concurrency limit.
    /// A failed task counts as a mismatch.
    pub async fn verify_async(&self, password: &str, phc: &str) -> bool {
        if check_input_limits(password).is_err() {
            return false;
        }
        let password = SecretString::from(password.to_owned());
        let phc = phc.to_owned();
        self.run_blocking(move || verify_phc(password.expose_secret(), &phc))
            .await
            .unwrap_or(false)
    }

    /// [`PasswordHasher::verify_dummy`] on the blocking pool. Always `false`.
    pub async fn verify_dummy_async(&self, password: &str) -> bool {
        if check_input_limits(password).is_err() {
            return false;
        }
        let password = SecretString::from(password.to_owned());
        let this = self.clone();
        let _ = self
            .run_blocking(move || this.verify_dummy(password.expose_secret()))
            .await;
        false
    }

    async fn run_blocking<T, F>(&self, work: F) -> Result<T, PasswordError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let permit = Arc::clone(&self.inner.permits)
            .acquire_owned()
            .await
            .map_err(|_| PasswordError::Task)?;
        tokio::task::spawn_blocking(move || {
            lower_thread_priority_once();
            let out = work();
            drop(permit);
            out
        })
        .await
        .map_err(|_| PasswordError::Task)
    }
}

thread_local! {
    static LOWERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Hashing saturates every core it is given. Running it at the lowest scheduling priority keeps
/// the async workers (health checks, every other request) responsive under a login flood while
/// the hashes still get all the spare CPU. The nice value is per thread on Linux; a blocking-pool
/// thread keeps it for its later tasks, which are all hashing.
pub fn lower_thread_priority_once() {
    LOWERED.with(|done| {
        if !done.get() {
            if let Err(e) =
                thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min)
            {
                tracing::debug!(error = ?e, "could not lower the hashing thread's priority");
            }
            done.set(true);
        }
    });
}

fn hash_with(params: &Params, password: &[u8]) -> Result<String, PasswordError> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password(password)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

fn verify_phc(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    // The verifier takes algorithm, version and params from the parsed hash.
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> Argon2Settings {
        Argon2Settings {
            memory_kib: 8,
            iterations: 1,
            parallelism: 1,
        }
    }

    const LEGACY_PHC: &str = "$argon2id$v=19$m=65536,t=3,p=4$DUqbLt8sNGIl8Svdl+Ycdw$5ycUyYmmw1cOVlZt45p0bNyO9g/WusS6rGM4EtPNjxE";

    #[test]
    fn hash_then_verify_roundtrip() {
        let h = PasswordHasher::new(&fast()).unwrap();
        let phc = h.hash("S3cret!pass").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{phc}");
        assert!(h.verify("S3cret!pass", &phc));
        assert!(!h.verify("S3cret!pasS", &phc));
        assert!(!h.needs_rehash(&phc));
    }

    #[test]
    fn verifies_legacy_hash_with_its_own_params() {
        let h = PasswordHasher::new(&fast()).unwrap();
        assert!(h.verify("Correct-Horse-9!battery", LEGACY_PHC));
        assert!(!h.verify("correct-horse-9!battery", LEGACY_PHC));
        assert!(h.needs_rehash(LEGACY_PHC));
    }

    #[test]
    fn malformed_hashes_never_verify() {
        let h = PasswordHasher::new(&fast()).unwrap();
        for bad in [
            "",
            "not-a-hash",
            "$argon2id$v=19$m=8,t=1,p=1$",
            "$2b$12$abcdefghijklmnopqrstuuKq1Zr7y8b5e6d0Q7mQ0mX9f8f1b2c3a",
        ] {
            assert!(!h.verify("anything", bad), "{bad}");
            assert!(h.needs_rehash(bad), "{bad}");
        }
    }

    #[test]
    fn over_long_passwords_are_refused_before_hashing() {
        let h = PasswordHasher::new(&fast()).unwrap();
        let chars_129 = "a".repeat(129);
        assert_eq!(h.hash(&chars_129), Err(PasswordError::TooLong));
        assert!(h.hash(&"a".repeat(128)).is_ok());
        // 128 characters but over 1024 bytes is impossible in UTF-8 (max 4 bytes per char),
        // so the byte limit is checked directly.
        assert_eq!(
            check_input_limits(&"é".repeat(129)),
            Err(PasswordError::TooLong)
        );
        assert!(check_input_limits(&"é".repeat(128)).is_ok());
        let phc = h.hash("x").unwrap();
        assert!(!h.verify(&chars_129, &phc));
        assert!(!h.verify_dummy(&chars_129));
    }

    #[test]
    fn dummy_verification_is_false() {
        let h = PasswordHasher::new(&fast()).unwrap();
        assert!(!h.verify_dummy("whatever"));
        assert!(!h.needs_rehash(h.dummy_hash()));
    }

    #[test]
    fn rehash_needed_when_params_differ() {
        let a = PasswordHasher::new(&fast()).unwrap();
        let b = PasswordHasher::new(&Argon2Settings {
            memory_kib: 16,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap();
        let phc = a.hash("pw").unwrap();
        assert!(b.needs_rehash(&phc));
        assert!(b.verify("pw", &phc));
    }

    #[test]
    fn invalid_params_are_a_config_error() {
        let err = PasswordHasher::new(&Argon2Settings {
            memory_kib: 1,
            iterations: 0,
            parallelism: 0,
        })
        .unwrap_err();
        assert!(matches!(err, PasswordError::Params(_)));
    }

    #[test]
    fn debug_shows_params_not_hashes() {
        let h = PasswordHasher::new(&fast()).unwrap();
        let dbg = format!("{h:?}");
        assert!(dbg.contains("m_cost"));
        assert!(!dbg.contains("$argon2"));
    }

    #[tokio::test]
    async fn async_wrappers_work_under_the_semaphore() {
        let h = PasswordHasher::with_concurrency(&fast(), 1).unwrap();
        let phc = h.hash_async("pw-async").await.unwrap();
        let (a, b, c) = tokio::join!(
            h.verify_async("pw-async", &phc),
            h.verify_async("nope", &phc),
            h.verify_dummy_async("pw-async"),
        );
        assert!(a);
        assert!(!b);
        assert!(!c);
        assert_eq!(
            h.hash_async(&"a".repeat(200)).await,
            Err(PasswordError::TooLong)
        );
        assert_eq!(h.inner.permits.available_permits(), 1);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn hashing_threads_run_at_the_lowest_priority() {
        let nice = std::thread::spawn(|| {
            super::lower_thread_priority_once();
            let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
            // Field 19 (1-based) is the nice value; fields after the ")" of the command name.
            let after = &stat[stat.rfind(')').unwrap() + 2..];
            after
                .split_whitespace()
                .nth(16)
                .unwrap()
                .parse::<i32>()
                .unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(nice, 19);
    }
}
