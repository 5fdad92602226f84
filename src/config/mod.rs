//! Typed settings, parsed once from the environment (contract §2: same names and defaults).
//!
//! Sources, highest first: the real process environment, the file named by `--config` /
//! `CONFIG_FILE` (a flat `KEY: value` YAML map, the Cloud Run `--env-vars-file` format), then
//! `.env` in the working directory. `config.prod.yaml` is never read implicitly (DESIGN.md §4).
//!
//! Parsing collects every problem instead of stopping at the first, and production validation
//! (`ENVIRONMENT=production|prod`) does the same, so one run of `sole config check` lists
//! everything a deploy would trip over. Messages name variables and never print secret values.
//!
//! One file per concern: `env` loads the sources, `reader` holds the typed reads every
//! concern shares, `keys` finds keys nothing reads, and `database`, `cache`, `auth`, `http`,
//! `tenancy` and `logging` hold their types, their checks and their production rules. This
//! file keeps the flat [`Settings`] and reads the concerns in one fixed order, because that
//! order is the order of the problems `sole config check` lists.

mod auth;
mod cache;
mod database;
mod env;
mod http;
mod keys;
mod logging;
mod reader;
mod tenancy;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use crate::domain::org::OrgId;

pub use auth::{Argon2Settings, CookieSettings, KeySource, SameSite, WEAK_SEED_PASSWORDS};
pub use database::{DatabaseSettings, DbPooler};
pub use env::{EnvMap, ORIGIN_ENVIRONMENT, describe_io, read_env_vars_file};
pub use http::normalize_origin;
pub use keys::{UnknownKey, closest, known_keys, unknown_keys};
pub use logging::{AccessLog, LogFormat};
pub use reader::parse_bool;
pub use tenancy::TenancyMode;

use reader::Reader;

/// One problem with the configuration, always naming the variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub var: &'static str,
    pub message: String,
}

impl Problem {
    fn new(var: &'static str, message: impl Into<String>) -> Self {
        Self {
            var,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.var, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("invalid configuration:\n{}", list(.0))]
    Invalid(Vec<Problem>),
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
    /// Anything else (`staging`, `test`, …): no docs by default, no production validation.
    Other(String),
}

impl Environment {
    fn parse(raw: &str) -> Self {
        match raw.trim().to_ascii_lowercase().as_str() {
            "production" | "prod" => Self::Production,
            "development" | "dev" => Self::Development,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn is_production(&self) -> bool {
        matches!(self, Self::Production)
    }

    pub fn is_development(&self) -> bool {
        matches!(self, Self::Development)
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Development => "development",
            Self::Production => "production",
            Self::Other(s) => s,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub environment: Environment,
    pub database: DatabaseSettings,
    pub redis_url: Option<SecretString>,
    pub redis_key_prefix: String,
    pub request_concurrency_limit: usize,
    pub request_concurrency_timeout: Duration,
    pub request_timeout: Duration,
    pub max_body_bytes: usize,
    pub tenancy_mode: TenancyMode,
    pub session_timeout_minutes: i64,
    pub access_token_expire_minutes: i64,
    pub refresh_token_expire_minutes: i64,
    pub allowed_origins: Vec<String>,
    pub log_level: String,
    pub log_format: LogFormat,
    /// `ACCESS_LOG`: which requests get an access log line.
    pub access_log: AccessLog,
    pub enable_hsts: bool,
    pub default_org_id: OrgId,
    pub default_org_name: String,
    pub default_org_slug: String,
    pub secret_key: Option<SecretString>,
    pub fernet_kdf_salt: Option<SecretString>,
    pub fernet_kdf_iterations: u32,
    pub jwt_private_key: Option<KeySource>,
    pub jwt_public_key: Option<KeySource>,
    pub jwt_key_cache_ttl_seconds: i64,
    pub allowed_tenant_hosts: Vec<String>,
    pub rate_limit_per_minute: u64,
    pub login_attempt_limit: u64,
    pub login_lockout_minutes: u64,
    pub default_password_min_length: usize,
    pub proxies_count: usize,
    pub extra_seed_org_ids: Vec<String>,
    pub seed_admin_email: Option<String>,
    pub seed_admin_password: Option<SecretString>,
    pub seed_admin_full_name: String,
    pub impersonation_max_minutes: i64,
    /// Absolute session lifetime: a refresh chain ends this long after its sign-in, however
    /// often it is refreshed.
    pub session_max_minutes: i64,
    /// How long a connection may take to send a request's headers, idle keep-alive
    /// connections included, before it is closed (slowloris).
    pub header_read_timeout: Duration,
    /// Largest request head (request line and headers) accepted; a larger one gets 431.
    pub max_header_bytes: usize,
    pub cookies: CookieSettings,
    pub content_security_policy: String,
    pub content_security_policy_report_only: bool,
    pub health_include_details: bool,
    pub docs_enabled: bool,
    pub argon2: Argon2Settings,
    pub google_cloud_project: Option<String>,
    /// Seconds between `: keep-alive` comments on an idle announcement stream.
    pub announcement_stream_keepalive: Duration,
    /// A stream is ended cleanly after this long (below Cloud Run's request timeout), so the
    /// client reconnects on its own schedule.
    pub announcement_stream_max: Duration,
    /// Events buffered per open stream; a client further behind is disconnected.
    pub announcement_stream_buffer: usize,
    /// How long the guard trusts what it cached in process about a user in an org (zero: the
    /// guard reads the database on every request). Invalidations make it exact for `sole`'s own
    /// writes; this bounds how long a write by the legacy service goes unnoticed.
    pub guard_cache_ttl: Duration,
    /// Object storage (`STORAGE_PROVIDER`, `GCS_*`, `LOCAL_UPLOAD_DIR`, …), parsed in
    /// `storage::config`.
    pub storage: crate::storage::StorageSettings,
    /// The PBGC mid-term rates page (`PBGC_MID_TERM_RATES_URL`), fetched by the rate refresh.
    pub pbgc_mid_term_rates_url: String,
}

/// The legacy default of `PBGC_MID_TERM_RATES_URL`.
const PBGC_DEFAULT_URL: &str =
    "https://www.pbgc.gov/employers-practitioners/interest-rates/historical-applicable-mid-term";

impl Settings {
    /// Parses every variable; fails with the full list of problems.
    pub fn from_env(env: &EnvMap) -> Result<Self, ConfigError> {
        let (settings, problems) = Self::parse(env);
        if problems.is_empty() {
            Ok(settings)
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    /// Everything `sole config check` reports: parse problems plus, in production, the
    /// production rules, in one list.
    pub fn check(env: &EnvMap) -> (Self, Vec<Problem>) {
        let (settings, mut problems) = Self::parse(env);
        for p in settings.production_problems() {
            if !problems.contains(&p) {
                problems.push(p);
            }
        }
        (settings, problems)
    }

    /// Parses with defaults for anything malformed, returning the problems met.
    fn parse(env: &EnvMap) -> (Self, Vec<Problem>) {
        let mut r = Reader::new(env);

        // The concerns with checks first, then the plain values in field order: the problems
        // are listed in the order of these reads.
        let environment = Environment::parse(&r.string("ENVIRONMENT", "development"));
        let database = database::parse(&mut r);
        let redis_key_prefix = cache::redis_key_prefix(&mut r);
        let tenancy_mode = tenancy::mode(&mut r);
        let allowed_origins = http::allowed_origins(&mut r);
        let allowed_tenant_hosts = tenancy::allowed_hosts(&mut r);
        let default_org_id = tenancy::default_org_id(&mut r);
        let secret_key = auth::secret_key(&mut r, &environment);
        let fernet_kdf_iterations = auth::fernet_kdf_iterations(&mut r);
        auth::check_jwt_algorithm(&mut r);
        let cookies = auth::cookies(&mut r);
        let log_format = logging::format(&mut r);
        let access_log = logging::access_log(&mut r);
        let docs_default = environment.is_development();
        let extra_seed_org_ids = tenancy::extra_seed_org_ids(&r);
        let stream = http::announcement_stream(&mut r);
        let guard_cache_ttl = cache::guard_cache_ttl(&mut r);

        let (storage, storage_problems) = crate::storage::StorageSettings::parse(env);
        r.problems.extend(storage_problems);

        let settings = Settings {
            database,
            redis_url: r.secret("REDIS_URL"),
            redis_key_prefix,
            request_concurrency_limit: r.number("REQUEST_CONCURRENCY_LIMIT", 0),
            request_concurrency_timeout: Duration::from_secs_f64(
                r.float("REQUEST_CONCURRENCY_TIMEOUT_SECONDS", 0.0),
            ),
            request_timeout: Duration::from_secs_f64(r.float("REQUEST_TIMEOUT_SECONDS", 30.0)),
            max_body_bytes: r.number("MAX_REQUEST_BODY_BYTES", 6 * 1024 * 1024),
            tenancy_mode,
            session_timeout_minutes: r.number("SESSION_TIMEOUT_MINUTES", 30),
            access_token_expire_minutes: r.number("ACCESS_TOKEN_EXPIRE_MINUTES", 15),
            refresh_token_expire_minutes: r.number("REFRESH_TOKEN_EXPIRE_MINUTES", 10_080),
            allowed_origins,
            log_level: r.string("LOG_LEVEL", "INFO"),
            log_format,
            access_log,
            enable_hsts: r.boolean("ENABLE_HSTS", true),
            default_org_id,
            default_org_name: r.string("DEFAULT_ORG_NAME", "Default Organization"),
            default_org_slug: r.string("DEFAULT_ORG_SLUG", "default"),
            secret_key,
            fernet_kdf_salt: r.secret("FERNET_KDF_SALT"),
            fernet_kdf_iterations,
            jwt_private_key: auth::key_source(&r, "JWT_PRIVATE_KEY", "JWT_PRIVATE_KEY_PATH"),
            jwt_public_key: auth::key_source(&r, "JWT_PUBLIC_KEY", "JWT_PUBLIC_KEY_PATH"),
            jwt_key_cache_ttl_seconds: r.number("JWT_KEY_CACHE_TTL_SECONDS", 60),
            allowed_tenant_hosts,
            rate_limit_per_minute: r.number("RATE_LIMIT_PER_MINUTE", 60),
            login_attempt_limit: r.number("LOGIN_ATTEMPT_LIMIT", 5),
            login_lockout_minutes: r.number("LOGIN_LOCKOUT_MINUTES", 15),
            default_password_min_length: r.number("DEFAULT_PASSWORD_MIN_LENGTH", 12),
            proxies_count: r.number("PROXIES_COUNT", 1),
            extra_seed_org_ids,
            seed_admin_email: r.opt("SEED_ADMIN_EMAIL"),
            seed_admin_password: r.secret("SEED_ADMIN_PASSWORD"),
            seed_admin_full_name: r.string("SEED_ADMIN_FULL_NAME", "Admin User"),
            impersonation_max_minutes: r.number("IMPERSONATION_MAX_MINUTES", 60),
            session_max_minutes: r.number("SESSION_MAX_MINUTES", 720),
            header_read_timeout: Duration::try_from_secs_f64(
                r.float("HEADER_READ_TIMEOUT_SECONDS", 10.0),
            )
            .unwrap_or(Duration::MAX),
            max_header_bytes: r.number("MAX_REQUEST_HEADER_BYTES", 16 * 1024),
            cookies,
            content_security_policy: r.string("CONTENT_SECURITY_POLICY", "default-src 'self'"),
            content_security_policy_report_only: r
                .boolean("CONTENT_SECURITY_POLICY_REPORT_ONLY", false),
            health_include_details: r.boolean("HEALTH_INCLUDE_DETAILS", false),
            docs_enabled: r.boolean("DOCS_ENABLED", docs_default),
            argon2: auth::argon2(&mut r),
            google_cloud_project: r.opt("GOOGLE_CLOUD_PROJECT"),
            announcement_stream_keepalive: stream.keepalive,
            announcement_stream_max: stream.max,
            announcement_stream_buffer: stream.buffer,
            guard_cache_ttl,
            storage,
            environment,
            pbgc_mid_term_rates_url: r.string("PBGC_MID_TERM_RATES_URL", PBGC_DEFAULT_URL),
        };
        (settings, r.problems)
    }

    /// The production rules of contract §2 plus the DESIGN.md §4 fixes, all at once. Empty
    /// outside production. `SEED_ADMIN_*` are checked only when set: they are required by
    /// `sole seed` alone.
    pub fn production_problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        if !self.environment.is_production() {
            return out;
        }
        database::production_problems(self, &mut out);
        cache::production_problems(self, &mut out);
        auth::production_problems(self, &mut out);
        http::production_problems(self, &mut out);
        out.extend(self.storage.production_problems());
        out
    }

    /// The pool size the legacy settings describe: base size plus overflow.
    pub fn max_db_connections(&self) -> u32 {
        self.database.pool_size + self.database.max_overflow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EnvMap {
        EnvMap::from_pairs(pairs.iter().map(|(k, v)| (*k, *v)))
    }

    #[test]
    fn defaults_match_the_legacy_service() {
        let s = Settings::from_env(&EnvMap::new()).unwrap();
        assert_eq!(s.environment, Environment::Development);
        assert_eq!(s.tenancy_mode, TenancyMode::Single);
        assert_eq!(s.default_org_id.as_str(), "default");
        assert_eq!(s.access_token_expire_minutes, 15);
        assert_eq!(s.refresh_token_expire_minutes, 10_080);
        assert_eq!(s.allowed_origins, vec!["http://localhost:3000"]);
        assert_eq!(s.cookies.path.as_deref(), Some("/api/v1/auth/refresh"));
        assert_eq!(s.database.pool_retry_after_seconds, 3);
        assert!(s.docs_enabled);
    }

    #[test]
    fn every_parse_problem_is_reported_at_once() {
        let err = Settings::from_env(&env(&[
            ("ALLOWED_ORIGINS", "*"),
            ("TENANCY_MODE", "both"),
            ("DB_POOL_SIZE", "many"),
            ("JWT_ALGORITHM", "HS256"),
        ]))
        .unwrap_err();
        let ConfigError::Invalid(problems) = err else {
            panic!("expected Invalid")
        };
        let vars: Vec<_> = problems.iter().map(|p| p.var).collect();
        assert_eq!(
            vars,
            vec![
                "DB_POOL_SIZE",
                "TENANCY_MODE",
                "ALLOWED_ORIGINS",
                "JWT_ALGORITHM"
            ]
        );
    }

    #[test]
    fn problems_keep_the_order_of_the_reads_across_concerns() {
        let (_, problems) = Settings::check(&env(&[
            ("ARGON2_ITERATIONS", "x"),
            ("REQUEST_TIMEOUT_SECONDS", "x"),
            ("STORAGE_PROVIDER", "x"),
            ("GUARD_CACHE_TTL_SECONDS", "301"),
            ("ANNOUNCEMENT_STREAM_BUFFER", "0"),
            ("LOG_FORMAT", "x"),
            ("AUTH_COOKIE_SAMESITE", "x"),
            ("FERNET_KDF_ITERATIONS", "1"),
            ("SECRET_KEY", "short"),
            ("DEFAULT_ORG_ID", "Not Valid"),
            ("REDIS_KEY_PREFIX", "a b"),
            ("DB_POOLER", "statement"),
        ]));
        let vars: Vec<_> = problems.iter().map(|p| p.var).collect();
        assert_eq!(
            vars,
            vec![
                "DB_POOLER",
                "REDIS_KEY_PREFIX",
                "DEFAULT_ORG_ID",
                "SECRET_KEY",
                "FERNET_KDF_ITERATIONS",
                "AUTH_COOKIE_SAMESITE",
                "LOG_FORMAT",
                "ANNOUNCEMENT_STREAM_BUFFER",
                "GUARD_CACHE_TTL_SECONDS",
                "STORAGE_PROVIDER",
                "REQUEST_TIMEOUT_SECONDS",
                "ARGON2_ITERATIONS",
            ]
        );
    }

    #[test]
    fn huge_numbers_of_seconds_are_problems_not_crashes() {
        for key in [
            "DB_POOL_TIMEOUT",
            "REQUEST_TIMEOUT_SECONDS",
            "REQUEST_CONCURRENCY_TIMEOUT_SECONDS",
            "HEADER_READ_TIMEOUT_SECONDS",
            "ANNOUNCEMENT_STREAM_KEEPALIVE_SECONDS",
            "ANNOUNCEMENT_STREAM_MAX_SECONDS",
            "GUARD_CACHE_TTL_SECONDS",
        ] {
            let (_, problems) = Settings::check(&env(&[(key, "1e300")]));
            let problem = problems
                .iter()
                .find(|p| p.var == key)
                .unwrap_or_else(|| panic!("{key}=1e300 passed: {problems:?}"));
            assert!(
                problem.to_string().contains("at most 1000000000"),
                "{key}: {problem}"
            );
        }
    }

    #[test]
    fn production_problems_keep_their_order_across_concerns() {
        let s = Settings::from_env(&env(&[
            ("ENVIRONMENT", "production"),
            ("ALLOWED_ORIGINS", ""),
            ("AUTH_COOKIE_SAMESITE", "none"),
            ("AUTH_COOKIE_SECURE", "false"),
            ("SEED_ADMIN_PASSWORD", "changeme"),
        ]))
        .unwrap();
        let vars: Vec<_> = s.production_problems().iter().map(|p| p.var).collect();
        assert_eq!(
            vars,
            vec![
                "DATABASE_URL",
                "REDIS_URL",
                "SECRET_KEY",
                "FERNET_KDF_SALT",
                "JWT_PRIVATE_KEY",
                "JWT_PUBLIC_KEY",
                "SEED_ADMIN_PASSWORD",
                "AUTH_COOKIE_SECURE",
                "ALLOWED_ORIGINS",
            ]
        );
    }
}
