//! Fernet encryption of secrets at rest, byte-compatible with the legacy
//! `app/core/fernet_crypto.py` (contract §4.9).
//!
//! - Key = urlsafe base64 (with padding) of PBKDF2-HMAC-SHA256(SECRET_KEY as UTF-8,
//!   salt = FERNET_KDF_SALT trimmed, iterations = max(100000, FERNET_KDF_ITERATIONS), 32 bytes).
//!   An empty salt (dev only) becomes `sole-fernet-dev-salt-v1:` + the first 16 characters of
//!   SECRET_KEY.
//! - Encryption uses that key. Decryption tries it, then the legacy key
//!   urlsafe_b64(SHA-256(SECRET_KEY)).
//! - Stored tokens are cleaned of whitespace before decrypting (Python's base64 decoder ignores
//!   it; the Rust crate does not).
//! - The Rust crate refuses tokens dated more than 60 s in the future even without a TTL, while
//!   Python accepts them. Tokens are decrypted "at" `max(now, token timestamp)`, so the HMAC is
//!   still verified (constant time, before decryption) and future-dated tokens are accepted.
//!
//! The PBKDF2 derivation is slow (210k iterations); [`Crypto`] derives once at construction.

use std::fmt;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use ::fernet::Fernet;
use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};

use crate::config::Settings;

/// Lower bound applied to `FERNET_KDF_ITERATIONS`, as in the legacy code.
pub const MIN_KDF_ITERATIONS: u32 = 100_000;
/// Prefix of the dev fallback salt used when `FERNET_KDF_SALT` is empty.
pub const DEV_FALLBACK_SALT_PREFIX: &str = "sole-fernet-dev-salt-v1:";
/// The fernet crate's (and Python's TTL-mode) future clock-skew allowance.
const MAX_CLOCK_SKEW: u64 = 60;

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("SECRET_KEY is required for encryption")]
    MissingSecretKey,
    #[error("invalid Fernet key")]
    InvalidKey,
    /// Wrong key, tampered or malformed token: the caller treats the secret as unreadable.
    #[error("invalid Fernet token")]
    InvalidToken,
    #[error("decrypted value is not UTF-8")]
    NotUtf8,
}

/// The salt actually used: FERNET_KDF_SALT trimmed, or the dev fallback when empty.
pub fn effective_salt(secret_key: &str, kdf_salt: Option<&str>) -> String {
    let salt = kdf_salt.map(str::trim).unwrap_or("");
    if salt.is_empty() {
        let head: String = secret_key.chars().take(16).collect();
        format!("{DEV_FALLBACK_SALT_PREFIX}{head}")
    } else {
        salt.to_owned()
    }
}

/// PBKDF2-HMAC-SHA256 key derivation, urlsafe base64 with padding (a Fernet key string).
/// `iterations` is raised to [`MIN_KDF_ITERATIONS`].
pub fn derive_key(secret_key: &str, salt: &str, iterations: u32) -> SecretString {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(
        secret_key.as_bytes(),
        salt.as_bytes(),
        iterations.max(MIN_KDF_ITERATIONS),
        &mut out,
    );
    SecretString::from(URL_SAFE.encode(out))
}

/// The legacy key: urlsafe base64 (with padding) of SHA-256(SECRET_KEY).
pub fn legacy_key(secret_key: &str) -> SecretString {
    SecretString::from(URL_SAFE.encode(Sha256::digest(secret_key.as_bytes())))
}

/// Encrypts with the derived key and decrypts with the derived key, then the legacy key.
///
/// Built from settings, the PBKDF2 derivation runs on first use (or [`Crypto::warm`]), so
/// startup does not wait for it.
pub struct Crypto {
    keys: OnceLock<Result<Keys, CryptoError>>,
    material: Option<Material>,
}

struct Keys {
    primary: Fernet,
    fallback: Vec<Fernet>,
}

/// What the keys are derived from; dropped from memory never, but never printed either.
struct Material {
    secret_key: SecretString,
    kdf_salt: Option<SecretString>,
    iterations: u32,
}

impl fmt::Debug for Crypto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Crypto")
            .field("keys", &"[REDACTED]")
            .finish()
    }
}

impl Crypto {
    /// Derives the key from `SECRET_KEY`, `FERNET_KDF_SALT` and `FERNET_KDF_ITERATIONS`
    /// (once; this is the slow part).
    pub fn from_settings(settings: &Settings) -> Result<Self, CryptoError> {
        let secret_key = settings
            .secret_key
            .as_ref()
            .filter(|k| !k.expose_secret().is_empty())
            .ok_or(CryptoError::MissingSecretKey)?;
        Ok(Self {
            keys: OnceLock::new(),
            material: Some(Material {
                secret_key: secret_key.clone(),
                kdf_salt: settings.fernet_kdf_salt.clone(),
                iterations: settings.fernet_kdf_iterations,
            }),
        })
    }

    fn keys(&self) -> Result<&Keys, CryptoError> {
        let keys = self.keys.get_or_init(|| match &self.material {
            Some(m) => derive_keys(
                m.secret_key.expose_secret(),
                m.kdf_salt.as_ref().map(|s| s.expose_secret()),
                m.iterations,
            ),
            None => Err(CryptoError::InvalidKey),
        });
        keys.as_ref().map_err(|e| e.clone())
    }

    /// Derives the keys now (call from a blocking task after startup).
    pub fn warm(&self) {
        let _ = self.keys();
    }

    /// Same as [`Crypto::from_settings`] from raw values.
    pub fn new(
        secret_key: &str,
        kdf_salt: Option<&str>,
        iterations: u32,
    ) -> Result<Self, CryptoError> {
        let keys = derive_keys(secret_key, kdf_salt, iterations)?;
        Ok(Self {
            keys: OnceLock::from(Ok(keys)),
            material: None,
        })
    }

    /// From ready Fernet key strings: `primary` encrypts and decrypts, `fallback` keys only
    /// decrypt (in order).
    pub fn from_keys(primary: &str, fallback: &[&str]) -> Result<Self, CryptoError> {
        let keys = keys_from(primary, fallback)?;
        Ok(Self {
            keys: OnceLock::from(Ok(keys)),
            material: None,
        })
    }

    /// Encrypts with the derived key; the token is ASCII (urlsafe base64 with padding).
    /// Construction checked the key material, so derivation cannot fail here; if it ever
    /// did, the empty string is not a valid token and decrypts to nothing.
    pub fn encrypt(&self, plaintext: &[u8]) -> String {
        match self.keys() {
            Ok(keys) => keys.primary.encrypt(plaintext),
            Err(_) => String::new(),
        }
    }

    /// [`Crypto::encrypt`] for text.
    pub fn encrypt_str(&self, plaintext: &str) -> String {
        self.encrypt(plaintext.as_bytes())
    }

    /// Decrypts with the derived key, then the legacy key; accepts future-dated tokens.
    pub fn decrypt(&self, token: &str) -> Result<Vec<u8>, CryptoError> {
        self.decrypt_at(token, unix_now())
    }

    /// [`Crypto::decrypt`] for text values (MFA secrets).
    pub fn decrypt_str(&self, token: &str) -> Result<String, CryptoError> {
        String::from_utf8(self.decrypt(token)?).map_err(|_| CryptoError::NotUtf8)
    }

    /// [`Crypto::decrypt`] for tokens stored as bytes (`bytea` columns).
    pub fn decrypt_bytes(&self, token: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let token = std::str::from_utf8(token).map_err(|_| CryptoError::InvalidToken)?;
        self.decrypt(token)
    }

    /// Decrypts as if the current time were `now` (tests). No TTL applies, like Python's
    /// `Fernet.decrypt(token)` without `ttl`.
    pub fn decrypt_at(&self, token: &str, now: u64) -> Result<Vec<u8>, CryptoError> {
        let cleaned: String = token.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let timestamp = token_timestamp(&cleaned).ok_or(CryptoError::InvalidToken)?;
        // The crate checks `at + 60 < timestamp` before the HMAC; evaluating at the token's own
        // time (when later than now) neutralises that check without skipping the HMAC.
        let at = now.max(timestamp).min(u64::MAX - MAX_CLOCK_SKEW);
        let keys = self.keys()?;
        std::iter::once(&keys.primary)
            .chain(keys.fallback.iter())
            .find_map(|key| key.decrypt_at_time(&cleaned, None, at).ok())
            .ok_or(CryptoError::InvalidToken)
    }
}

fn keys_from(primary: &str, fallback: &[&str]) -> Result<Keys, CryptoError> {
    let primary = Fernet::new(primary).ok_or(CryptoError::InvalidKey)?;
    let fallback = fallback
        .iter()
        .map(|k| Fernet::new(k).ok_or(CryptoError::InvalidKey))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Keys { primary, fallback })
}

fn derive_keys(
    secret_key: &str,
    kdf_salt: Option<&str>,
    iterations: u32,
) -> Result<Keys, CryptoError> {
    if secret_key.is_empty() {
        return Err(CryptoError::MissingSecretKey);
    }
    let salt = effective_salt(secret_key, kdf_salt);
    let primary = derive_key(secret_key, &salt, iterations);
    let legacy = legacy_key(secret_key);
    keys_from(primary.expose_secret(), &[legacy.expose_secret()])
}

/// The (unauthenticated) timestamp of a well-formed Fernet token.
pub fn token_timestamp(token: &str) -> Option<u64> {
    let data = URL_SAFE_NO_PAD.decode(token.trim_end_matches('=')).ok()?;
    // version (1) + timestamp (8) + IV (16) + at least one block (16) + HMAC (32)
    if data.len() < 73 || data.first() != Some(&0x80) {
        return None;
    }
    let ts: [u8; 8] = data.get(1..9)?.try_into().ok()?;
    Some(u64::from_be_bytes(ts))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "unit-test-secret-key-0123456789abcdef";

    /// Fast crypto for tests: the minimum iteration count.
    fn crypto() -> Crypto {
        Crypto::new(SECRET, Some("unit-salt"), MIN_KDF_ITERATIONS).unwrap()
    }

    #[test]
    fn roundtrip_and_whitespace_tolerance() {
        let c = crypto();
        let token = c.encrypt_str("JBSWY3DPEHPK3PXP");
        assert!(token.starts_with("gAAAAA"));
        assert_eq!(c.decrypt_str(&token).unwrap(), "JBSWY3DPEHPK3PXP");
        assert_eq!(
            c.decrypt_str(&format!("  {token}\n")).unwrap(),
            "JBSWY3DPEHPK3PXP"
        );
        let (a, b) = token.split_at(20);
        assert_eq!(
            c.decrypt_str(&format!("{a}\r\n{b}")).unwrap(),
            "JBSWY3DPEHPK3PXP"
        );
        assert_eq!(
            c.decrypt_bytes(token.as_bytes()).unwrap(),
            b"JBSWY3DPEHPK3PXP"
        );
    }

    #[test]
    fn legacy_key_is_a_decrypt_only_fallback() {
        let legacy = Crypto::from_keys(legacy_key(SECRET).expose_secret(), &[]).unwrap();
        let token = legacy.encrypt(b"old");
        let c = crypto();
        assert_eq!(c.decrypt(&token).unwrap(), b"old");
        // New tokens are not written with the legacy key.
        assert_eq!(
            legacy.decrypt(&c.encrypt(b"new")),
            Err(CryptoError::InvalidToken)
        );
    }

    #[test]
    fn wrong_key_tampering_and_garbage_are_invalid() {
        let c = crypto();
        let other = Crypto::new("another-secret-key-0123456789", Some("unit-salt"), 1).unwrap();
        let token = c.encrypt(b"x");
        assert_eq!(other.decrypt(&token), Err(CryptoError::InvalidToken));
        let mut bytes = URL_SAFE.decode(&token).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(
            c.decrypt(&URL_SAFE.encode(&bytes)),
            Err(CryptoError::InvalidToken)
        );
        for garbage in ["", "gAAAAA", "not a token", "====", "\u{1F600}"] {
            assert_eq!(c.decrypt(garbage), Err(CryptoError::InvalidToken));
        }
    }

    #[test]
    fn future_dated_tokens_decrypt_like_python() {
        let c = crypto();
        let now = unix_now();
        // Written by a host whose clock ran an hour (and a year) ahead.
        for ahead in [3_600, 365 * 86_400] {
            let token = c
                .keys()
                .unwrap()
                .primary
                .encrypt_at_time(b"future", now + ahead);
            assert_eq!(token_timestamp(&token), Some(now + ahead));
            // The crate alone refuses it …
            assert!(c.keys().unwrap().primary.decrypt(&token).is_err());
            // … we accept it, with the HMAC still verified.
            assert_eq!(c.decrypt(&token).unwrap(), b"future");
            let mut bytes = URL_SAFE.decode(&token).unwrap();
            let last = bytes.len() - 1;
            bytes[last] ^= 0x80;
            assert_eq!(
                c.decrypt(&URL_SAFE.encode(&bytes)),
                Err(CryptoError::InvalidToken)
            );
        }
        // Very old tokens also decrypt (no TTL).
        let old = c.keys().unwrap().primary.encrypt_at_time(b"old", 1);
        assert_eq!(c.decrypt(&old).unwrap(), b"old");
    }

    #[test]
    fn extreme_timestamps_never_panic() {
        let c = crypto();
        let token = c.keys().unwrap().primary.encrypt_at_time(b"max", u64::MAX);
        assert_eq!(token_timestamp(&token), Some(u64::MAX));
        assert_eq!(c.decrypt(&token).unwrap(), b"max");
        assert_eq!(c.decrypt_at(&token, u64::MAX).unwrap(), b"max");
    }

    #[test]
    fn salt_rules() {
        assert_eq!(effective_salt(SECRET, Some("  salt \n")), "salt");
        assert_eq!(
            effective_salt(SECRET, Some("   ")),
            "sole-fernet-dev-salt-v1:unit-test-secret"
        );
        assert_eq!(
            effective_salt(SECRET, None),
            "sole-fernet-dev-salt-v1:unit-test-secret"
        );
        // Characters, not bytes.
        assert_eq!(
            effective_salt("ééééééééééééééééé", None),
            "sole-fernet-dev-salt-v1:éééééééééééééééé"
        );
    }

    #[test]
    fn iterations_have_a_floor() {
        assert_eq!(
            derive_key(SECRET, "s", 1).expose_secret(),
            derive_key(SECRET, "s", MIN_KDF_ITERATIONS).expose_secret()
        );
    }

    #[test]
    fn missing_or_empty_secret_key_is_an_error() {
        assert_eq!(
            Crypto::new("", Some("salt"), 1).unwrap_err(),
            CryptoError::MissingSecretKey
        );
        assert_eq!(
            Crypto::from_keys("short", &[]).unwrap_err(),
            CryptoError::InvalidKey
        );
    }

    #[test]
    fn debug_never_shows_keys() {
        let primary = derive_key(SECRET, "unit-salt", MIN_KDF_ITERATIONS);
        let c = crypto();
        let dbg = format!("{c:?}");
        assert!(dbg.contains("REDACTED"));
        assert!(!dbg.contains(primary.expose_secret()));
        assert!(!dbg.contains(legacy_key(SECRET).expose_secret()));
        assert!(!dbg.contains(SECRET));
        assert!(!format!("{primary:?}").contains(primary.expose_secret()));
    }
}
