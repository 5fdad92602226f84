//! The settings `sole setup-env` asks for, their defaults per profile and their validation.

use crate::auth::policy::PasswordPolicy;
use crate::cli::Profile;
use crate::config::{WEAK_SEED_PASSWORDS, normalize_origin, parse_bool};

/// How an answer is checked and normalised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    PostgresUrl,
    RedisUrl,
    Origins,
    Bool,
    LogLevel,
    Number {
        min: u64,
        max: u64,
    },
    Email,
    /// The seed password; checked against the password policy (and the weak list in prod).
    Password,
    OrgId,
    Choice(&'static [&'static str]),
}

#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub key: &'static str,
    pub section: &'static str,
    pub prompt: &'static str,
    pub kind: Kind,
    pub dev_default: Option<&'static str>,
    pub prod_default: Option<&'static str>,
    /// Asked in this profile at all.
    pub dev: bool,
    pub prod: bool,
}

impl Field {
    pub fn default_for(&self, profile: Profile) -> Option<&'static str> {
        match profile {
            Profile::Dev => self.dev_default,
            Profile::Prod => self.prod_default,
        }
    }

    pub fn applies(&self, profile: Profile) -> bool {
        match profile {
            Profile::Dev => self.dev,
            Profile::Prod => self.prod,
        }
    }
}

pub const S_ENV: &str = "Environment";
pub const S_DATA: &str = "Database and cache";
pub const S_HTTP: &str = "CORS, security and logs";
pub const S_TENANCY: &str = "Tenancy";
pub const S_KEYS: &str = "Secrets and keys (files under secrets/ are mode 0600)";
pub const S_AUTH: &str = "Sessions and limits";
pub const S_PROXY: &str = "Proxies";
pub const S_SEED: &str = "Seed administrator";
pub const S_OTHER: &str = "Other settings";

const fn f(
    key: &'static str,
    section: &'static str,
    prompt: &'static str,
    kind: Kind,
    dev_default: Option<&'static str>,
    prod_default: Option<&'static str>,
) -> Field {
    Field {
        key,
        section,
        prompt,
        kind,
        dev_default,
        prod_default,
        dev: true,
        prod: true,
    }
}

const MINUTES: Kind = Kind::Number {
    min: 1,
    max: 525_600,
};

/// Asked in this order (ENVIRONMENT, tenancy, secrets, keys and proxies are handled apart).
pub const FIELDS: &[Field] = &[
    f(
        "DATABASE_URL",
        S_DATA,
        "PostgreSQL URL (pooled, used by the server)",
        Kind::PostgresUrl,
        Some("postgres://localhost:5432/sole"),
        None,
    ),
    Field {
        dev: false,
        ..f(
            "DATABASE_URL_DIRECT",
            S_DATA,
            "PostgreSQL URL without pooler (used by sole migrate)",
            Kind::PostgresUrl,
            None,
            None,
        )
    },
    f(
        "REDIS_URL",
        S_DATA,
        "Redis URL",
        Kind::RedisUrl,
        Some("redis://localhost:6379/0"),
        None,
    ),
    f(
        "ALLOWED_ORIGINS",
        S_HTTP,
        "Frontend origins (comma-separated)",
        Kind::Origins,
        Some("http://localhost:5173"),
        None,
    ),
    f(
        "ENABLE_HSTS",
        S_HTTP,
        "Send Strict-Transport-Security (true/false)",
        Kind::Bool,
        Some("true"),
        Some("true"),
    ),
    f(
        "LOG_LEVEL",
        S_HTTP,
        "Log level (DEBUG, INFO, WARNING, ERROR, CRITICAL)",
        Kind::LogLevel,
        Some("INFO"),
        Some("INFO"),
    ),
    f(
        "SESSION_TIMEOUT_MINUTES",
        S_AUTH,
        "Session inactivity timeout (minutes)",
        MINUTES,
        Some("30"),
        Some("30"),
    ),
    f(
        "ACCESS_TOKEN_EXPIRE_MINUTES",
        S_AUTH,
        "Access token lifetime (minutes)",
        MINUTES,
        Some("15"),
        Some("15"),
    ),
    f(
        "REFRESH_TOKEN_EXPIRE_MINUTES",
        S_AUTH,
        "Refresh token lifetime (minutes)",
        MINUTES,
        Some("10080"),
        Some("10080"),
    ),
    f(
        "DEFAULT_PASSWORD_MIN_LENGTH",
        S_AUTH,
        "Minimum password length",
        Kind::Number { min: 8, max: 128 },
        Some("12"),
        Some("12"),
    ),
    f(
        "RATE_LIMIT_PER_MINUTE",
        S_AUTH,
        "Requests per minute per IP and route",
        Kind::Number {
            min: 1,
            max: 1_000_000,
        },
        Some("60"),
        Some("60"),
    ),
    f(
        "LOGIN_ATTEMPT_LIMIT",
        S_AUTH,
        "Failed logins before lockout",
        Kind::Number { min: 1, max: 1000 },
        Some("5"),
        Some("5"),
    ),
    f(
        "LOGIN_LOCKOUT_MINUTES",
        S_AUTH,
        "Lockout duration (minutes)",
        MINUTES,
        Some("15"),
        Some("15"),
    ),
    f(
        "SEED_ADMIN_EMAIL",
        S_SEED,
        "First administrator's email",
        Kind::Email,
        Some("admin@example.com"),
        None,
    ),
    f(
        "SEED_ADMIN_PASSWORD",
        S_SEED,
        "First administrator's password",
        Kind::Password,
        Some("ChangeMe123!"),
        None,
    ),
    f(
        "SEED_ADMIN_FULL_NAME",
        S_SEED,
        "First administrator's name",
        Kind::Text,
        Some("Admin User"),
        Some("Sole Admin"),
    ),
];

pub const ORG_FIELDS: &[Field] = &[
    f(
        "DEFAULT_ORG_ID",
        S_TENANCY,
        "Organisation id",
        Kind::OrgId,
        Some("sole-llc"),
        Some("sole-llc"),
    ),
    f(
        "DEFAULT_ORG_NAME",
        S_TENANCY,
        "Organisation name",
        Kind::Text,
        Some("Sole LLC"),
        Some("Sole LLC"),
    ),
    f(
        "DEFAULT_ORG_SLUG",
        S_TENANCY,
        "Organisation slug",
        Kind::OrgId,
        Some("sole-llc"),
        Some("sole-llc"),
    ),
];

/// Keys whose values are never shown (diffs, summaries).
pub const SECRET_KEYS: &[&str] = &[
    "DATABASE_URL",
    "DATABASE_URL_DIRECT",
    "REDIS_URL",
    "SECRET_KEY",
    "FERNET_KDF_SALT",
    "JWT_PRIVATE_KEY",
    "SEED_ADMIN_PASSWORD",
];

pub fn is_secret(key: &str) -> bool {
    SECRET_KEYS.contains(&key)
}

/// Checks and normalises one answer. `min_password` is the minimum length chosen earlier.
pub fn validate(
    kind: Kind,
    profile: Profile,
    min_password: usize,
    raw: &str,
) -> Result<String, String> {
    let value = if kind == Kind::Password {
        raw
    } else {
        raw.trim()
    };
    if value.is_empty() {
        return Err("a value is required".into());
    }
    match kind {
        Kind::Text => Ok(value.to_owned()),
        Kind::PostgresUrl => url_with(
            value,
            &[
                "postgres",
                "postgresql",
                "postgresql+psycopg",
                "postgresql+asyncpg",
            ],
        ),
        Kind::RedisUrl => url_with(value, &["redis", "rediss"]),
        Kind::Origins => {
            let items: Vec<String> = if value.starts_with('[') {
                serde_json::from_str::<Vec<String>>(value)
                    .map_err(|e| format!("invalid JSON array: {e}"))?
            } else {
                value
                    .split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            };
            let mut out: Vec<String> = Vec::new();
            for item in items {
                let origin = normalize_origin(&item)?;
                if !out.contains(&origin) {
                    out.push(origin);
                }
            }
            if out.is_empty() {
                return Err("list at least one origin".into());
            }
            serde_json::to_string(&out).map_err(|e| e.to_string())
        }
        Kind::Bool => parse_bool(value)
            .map(|b| b.to_string())
            .ok_or_else(|| "answer true or false".to_owned()),
        Kind::LogLevel => {
            let upper = value.to_ascii_uppercase();
            if ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"].contains(&upper.as_str()) {
                Ok(upper)
            } else {
                Err("one of DEBUG, INFO, WARNING, ERROR, CRITICAL".into())
            }
        }
        Kind::Number { min, max } => match value.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n.to_string()),
            _ => Err(format!("a whole number from {min} to {max}")),
        },
        Kind::Email => crate::domain::email::normalize(value)
            .map(|e| e.to_lowercase())
            .map_err(str::to_owned),
        Kind::Password => {
            PasswordPolicy::new(min_password.max(8))
                .check(value)
                .map_err(|e| e.to_string())?;
            if profile == Profile::Prod
                && WEAK_SEED_PASSWORDS.contains(&value.to_lowercase().as_str())
            {
                return Err("this password is on the list production refuses".into());
            }
            Ok(value.to_owned())
        }
        Kind::OrgId => crate::domain::org::OrgId::parse(value)
            .map(|id| id.as_str().to_owned())
            .map_err(|e| e.to_string()),
        Kind::Choice(options) => {
            let lower = value.to_ascii_lowercase();
            options
                .iter()
                .find(|o| **o == lower)
                .map(|o| (*o).to_owned())
                .ok_or_else(|| format!("one of {}", options.join(", ")))
        }
    }
}

fn url_with(value: &str, schemes: &[&str]) -> Result<String, String> {
    let parsed = url::Url::parse(value).map_err(|_| "not a valid URL".to_owned())?;
    if !schemes.contains(&parsed.scheme()) {
        return Err(format!("the scheme must be one of {}", schemes.join(", ")));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_validated_and_normalised() {
        let v = |k, s| validate(k, Profile::Dev, 12, s);
        assert_eq!(
            v(Kind::Origins, "http://a.test:5173/, https://b.test").unwrap(),
            r#"["http://a.test:5173","https://b.test"]"#
        );
        assert!(v(Kind::Origins, "ftp://x").is_err());
        assert_eq!(v(Kind::Bool, "Yes").unwrap(), "true");
        assert_eq!(v(Kind::LogLevel, "debug").unwrap(), "DEBUG");
        assert!(v(Kind::Number { min: 1, max: 10 }, "11").is_err());
        assert!(v(Kind::PostgresUrl, "mysql://x/y").is_err());
        assert!(v(Kind::PostgresUrl, "postgresql+psycopg://u:p@db:5432/sole").is_ok());
        assert_eq!(
            v(Kind::Email, " Admin@Example.COM ").unwrap(),
            "admin@example.com"
        );
        assert_eq!(
            v(Kind::Password, "short").unwrap_err(),
            "Password too short; minimum 12 characters"
        );
        assert!(v(Kind::Password, "ChangeMe123!").is_ok());
        assert!(validate(Kind::Password, Profile::Prod, 12, "ChangeMe123!").is_err());
        assert!(v(Kind::Text, "   ").is_err());
    }
}
