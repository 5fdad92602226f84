//! Authentication and secrets: `SECRET_KEY`, Fernet, the JWT keys, the refresh and CSRF
//! cookies, Argon2, and the values production refuses as placeholders or weak.

use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};

use super::reader::Reader;
use super::{Environment, Problem, Settings};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameSite {
    Lax,
    Strict,
    None,
}

impl SameSite {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lax => "lax",
            Self::Strict => "strict",
            Self::None => "none",
        }
    }
}

/// Where a PEM key comes from: inline (wins) or a file.
#[derive(Clone, Debug)]
pub enum KeySource {
    Inline(SecretString),
    File(PathBuf),
}

#[derive(Clone, Debug)]
pub struct CookieSettings {
    pub enabled: bool,
    pub refresh_name: String,
    pub csrf_name: String,
    pub csrf_header: String,
    pub domain: Option<String>,
    /// `None` when `AUTH_COOKIE_PATH` is empty (the attribute is omitted).
    pub path: Option<String>,
    pub secure: bool,
    pub same_site: SameSite,
}

#[derive(Clone, Debug)]
pub struct Argon2Settings {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

/// Values the legacy production validation refuses for `SECRET_KEY` (trimmed, case-insensitive).
const WEAK_SECRET_KEYS: &[&str] = &[
    "replace-with-secure-random-64-char-secret",
    "dev-only-change-before-deploy",
    "changeme",
];

/// Values production refuses for `SEED_ADMIN_PASSWORD` (lower-cased).
pub const WEAK_SEED_PASSWORDS: &[&str] = &[
    "changeme123!",
    "admin123",
    "password",
    "password123",
    "changeme",
    "replace-with-strong-seed-admin-password1!",
    "devonlychangebeforedeploy123!",
];

/// `SECRET_KEY`, checked for length outside production.
pub(super) fn secret_key(r: &mut Reader<'_>, environment: &Environment) -> Option<SecretString> {
    let secret_key = r.secret("SECRET_KEY");
    // Production asks for 32 characters (production_problems): one message, not two.
    if let Some(key) = &secret_key
        && !environment.is_production()
        && key.expose_secret().chars().count() < 16
    {
        r.problem("SECRET_KEY", "must be at least 16 characters");
    }
    secret_key
}

/// `FERNET_KDF_ITERATIONS`.
pub(super) fn fernet_kdf_iterations(r: &mut Reader<'_>) -> u32 {
    let fernet_kdf_iterations: u32 = r.number("FERNET_KDF_ITERATIONS", 210_000);
    if fernet_kdf_iterations < 100_000 {
        r.problem("FERNET_KDF_ITERATIONS", "must be at least 100000");
    }
    fernet_kdf_iterations
}

/// `JWT_ALGORITHM`: read only to refuse anything but RS256, the one algorithm `sole` signs with.
pub(super) fn check_jwt_algorithm(r: &mut Reader<'_>) {
    let algorithm = r.string("JWT_ALGORITHM", "RS256");
    if algorithm != "RS256" {
        r.problem(
            "JWT_ALGORITHM",
            format!("only RS256 is supported, got {algorithm:?}"),
        );
    }
}

/// Where a JWT key comes from: the inline PEM in `inline` wins over the file named by `path`.
pub(super) fn key_source(r: &Reader<'_>, inline: &str, path: &str) -> Option<KeySource> {
    if let Some(secret) = r.secret(inline) {
        return Some(KeySource::Inline(secret));
    }
    r.opt(path).map(|p| KeySource::File(PathBuf::from(p)))
}

/// The refresh and CSRF cookies (`AUTH_*COOKIE*`, `AUTH_CSRF_HEADER_NAME`).
pub(super) fn cookies(r: &mut Reader<'_>) -> CookieSettings {
    let same_site = match r
        .string("AUTH_COOKIE_SAMESITE", "lax")
        .to_ascii_lowercase()
        .as_str()
    {
        "lax" => SameSite::Lax,
        "strict" => SameSite::Strict,
        "none" => SameSite::None,
        other => {
            r.problem(
                "AUTH_COOKIE_SAMESITE",
                format!("must be lax, strict or none, got {other:?}"),
            );
            SameSite::Lax
        }
    };
    let cookie_path = r.raw("AUTH_COOKIE_PATH").map(str::trim).map(str::to_owned);
    CookieSettings {
        enabled: r.boolean("AUTH_REFRESH_COOKIE_ENABLED", true),
        refresh_name: r.string("AUTH_REFRESH_COOKIE_NAME", "sole_refresh"),
        csrf_name: r.string("AUTH_CSRF_COOKIE_NAME", "sole_csrf"),
        csrf_header: r.string("AUTH_CSRF_HEADER_NAME", "X-CSRF-Token"),
        domain: r.opt("AUTH_COOKIE_DOMAIN"),
        path: match cookie_path {
            None => Some("/api/v1/auth/refresh".to_owned()),
            Some(p) if p.is_empty() => None,
            Some(p) => Some(p),
        },
        secure: r.boolean("AUTH_COOKIE_SECURE", true),
        same_site,
    }
}

/// `ARGON2_*`: the password hashing cost.
pub(super) fn argon2(r: &mut Reader<'_>) -> Argon2Settings {
    Argon2Settings {
        memory_kib: r.number("ARGON2_MEMORY_KIB", 65_536),
        iterations: r.number("ARGON2_ITERATIONS", 3),
        parallelism: r.number("ARGON2_PARALLELISM", 4),
    }
}

/// The production rules of this concern: secrets present, long enough and not placeholders;
/// a seed password not a known weak one; cookies a browser keeps.
pub(super) fn production_problems(s: &Settings, out: &mut Vec<Problem>) {
    let mut push = |var: &'static str, message: &str| out.push(Problem::new(var, message));
    match &s.secret_key {
        None => push("SECRET_KEY", "is required"),
        Some(key) => {
            let value = key.expose_secret().trim();
            if value.chars().count() < 32 {
                push("SECRET_KEY", "must be at least 32 characters in production");
            }
            if WEAK_SECRET_KEYS.contains(&value.to_ascii_lowercase().as_str()) {
                push(
                    "SECRET_KEY",
                    "is a known placeholder value; generate a random one",
                );
            }
        }
    }
    match &s.fernet_kdf_salt {
        None => push("FERNET_KDF_SALT", "is required in production"),
        Some(salt) if salt.expose_secret().trim().chars().count() < 16 => {
            push("FERNET_KDF_SALT", "must be at least 16 characters")
        }
        Some(_) => {}
    }
    if s.jwt_private_key.is_none() {
        push(
            "JWT_PRIVATE_KEY",
            "is required (inline PEM, or JWT_PRIVATE_KEY_PATH)",
        );
    }
    if s.jwt_public_key.is_none() {
        push(
            "JWT_PUBLIC_KEY",
            "is required (inline PEM, or JWT_PUBLIC_KEY_PATH)",
        );
    }
    if let Some(password) = &s.seed_admin_password
        && WEAK_SEED_PASSWORDS.contains(&password.expose_secret().to_lowercase().as_str())
    {
        push("SEED_ADMIN_PASSWORD", "is a known weak value");
    }
    if s.cookies.same_site == SameSite::None && !s.cookies.secure {
        push(
            "AUTH_COOKIE_SECURE",
            "must be true when AUTH_COOKIE_SAMESITE=none (browsers drop the cookies)",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::EnvMap;
    use super::*;

    #[test]
    fn production_problems_never_contain_secret_values() {
        let s = Settings::from_env(&EnvMap::from_pairs([
            ("ENVIRONMENT", "prod"),
            ("SECRET_KEY", "changeme-but-long-enough"),
            ("SEED_ADMIN_PASSWORD", "Password123"),
        ]))
        .unwrap();
        let text = s
            .production_problems()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(!text.contains("changeme-but-long-enough"));
        assert!(!text.contains("Password123"));
        assert!(text.contains("SECRET_KEY: must be at least 32 characters"));
    }
}
