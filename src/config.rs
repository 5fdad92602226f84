//! Typed settings, parsed once from the environment (contract §2: same names and defaults).
//!
//! Sources, highest first: the real process environment, the file named by `--config` /
//! `CONFIG_FILE` (a flat `KEY: value` YAML map, the Cloud Run `--env-vars-file` format), then
//! `.env` in the working directory. `config.prod.yaml` is never read implicitly (DESIGN.md §4).
//!
//! Parsing collects every problem instead of stopping at the first, and production validation
//! (`ENVIRONMENT=production|prod`) does the same, so one run of `sole config check` lists
//! everything a deploy would trip over. Messages name variables and never print secret values.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::domain::org::OrgId;

/// Raw `KEY -> value` pairs after merging the sources; keys are upper-cased because the legacy
/// settings were case-insensitive. Each value remembers where it came from (for messages such as
/// "DATABASE_URL from .env"), and the map remembers which keys were asked for, so that a key no
/// parser reads can be reported as a probable typo.
#[derive(Debug, Default)]
pub struct EnvMap {
    values: BTreeMap<String, String>,
    origins: BTreeMap<String, String>,
    read: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

impl Clone for EnvMap {
    fn clone(&self) -> Self {
        Self {
            values: self.values.clone(),
            origins: self.origins.clone(),
            read: std::sync::Mutex::new(self.keys_read()),
        }
    }
}

/// Where the process environment's values come from, in messages.
pub const ORIGIN_ENVIRONMENT: &str = "the environment";

impl EnvMap {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Into<String>,
    {
        let mut map = Self::new();
        for (k, v) in pairs {
            map.set(k.as_ref(), v);
        }
        map
    }

    /// Sets a value without a named origin (defaults chosen by a command, tests).
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        let key = key.to_ascii_uppercase();
        self.origins.remove(&key);
        self.values.insert(key, value.into());
    }

    /// Sets a value and says where it came from (`.env`, a config file, the environment, …).
    pub fn set_from(&mut self, key: &str, value: impl Into<String>, origin: impl Into<String>) {
        let key = key.to_ascii_uppercase();
        self.origins.insert(key.clone(), origin.into());
        self.values.insert(key, value.into());
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        if let Ok(mut read) = self.read.lock() {
            read.insert(key.to_ascii_uppercase());
        }
        self.values.get(key).map(String::as_str)
    }

    /// Where `key`'s value came from, when known.
    pub fn origin(&self, key: &str) -> Option<&str> {
        self.origins.get(key).map(String::as_str)
    }

    /// Every key, with its origin when known.
    pub fn keys(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.values
            .keys()
            .map(|k| (k.as_str(), self.origins.get(k).map(String::as_str)))
    }

    /// The keys some parser asked for so far.
    pub fn keys_read(&self) -> std::collections::BTreeSet<String> {
        self.read.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Layers `other` over `self` (other wins).
    pub fn overlay(&mut self, other: EnvMap) {
        for (k, v) in other.values {
            match other.origins.get(&k) {
                Some(origin) => self.origins.insert(k.clone(), origin.clone()),
                None => self.origins.remove(&k),
            };
            self.values.insert(k, v);
        }
    }

    /// Loads the sources in priority order. `config_file` comes from `--config`; when it is
    /// `None`, `CONFIG_FILE` from the environment (or `.env`) is used.
    pub fn load(config_file: Option<&Path>, dotenv: Option<&Path>) -> Result<Self, ConfigError> {
        let mut map = EnvMap::new();
        if let Some(path) = dotenv.filter(|p| p.exists()) {
            let origin = path.display().to_string();
            let iter = dotenvy::from_path_iter(path).map_err(|e| ConfigError::File {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
            for item in iter {
                let (k, v) = item.map_err(|e| ConfigError::File {
                    path: path.to_owned(),
                    reason: e.to_string(),
                })?;
                map.set_from(&k, v, origin.clone());
            }
        }
        let mut process = EnvMap::new();
        for (k, v) in std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        {
            process.set_from(&k, v, ORIGIN_ENVIRONMENT);
        }
        let named = config_file
            .map(|p| {
                // clap fills `--config` from CONFIG_FILE too: name the one the user wrote.
                let by = if std::env::var_os("CONFIG_FILE").is_some_and(|v| Path::new(&v) == p) {
                    "CONFIG_FILE"
                } else {
                    "--config"
                };
                (p.to_path_buf(), by)
            })
            .or_else(|| {
                process
                    .values
                    .get("CONFIG_FILE")
                    .map(|p| (PathBuf::from(p), "CONFIG_FILE"))
                    .or_else(|| {
                        map.values
                            .get("CONFIG_FILE")
                            .map(|p| (PathBuf::from(p), "CONFIG_FILE in .env"))
                    })
            });
        if let Some((path, by)) = named {
            if !path.is_file() {
                return Err(ConfigError::File {
                    path: path.clone(),
                    reason: format!(
                        "no such file (named by {by}; sole refuses a missing configuration file, \
                         where the legacy service silently ignored it)"
                    ),
                });
            }
            map.overlay(read_env_vars_file(&path)?);
        }
        map.overlay(process);
        Ok(map)
    }
}

/// Reads a flat YAML map (`KEY: value`), the format of `gcloud run deploy --env-vars-file`.
/// Scalars of any YAML type are accepted and turned into their string form.
pub fn read_env_vars_file(path: &Path) -> Result<EnvMap, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        path: path.to_owned(),
        reason: describe_io(&e),
    })?;
    let value: yaml_serde::Value = yaml_serde::from_str(&text).map_err(|e| ConfigError::File {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let mut map = EnvMap::new();
    match value {
        yaml_serde::Value::Null => {}
        yaml_serde::Value::Mapping(entries) => {
            for (k, v) in entries {
                let key = match k {
                    yaml_serde::Value::String(s) => s,
                    other => {
                        return Err(ConfigError::File {
                            path: path.to_owned(),
                            reason: format!("keys must be strings, found {other:?}"),
                        });
                    }
                };
                let value = match v {
                    yaml_serde::Value::String(s) => s,
                    yaml_serde::Value::Bool(b) => b.to_string(),
                    yaml_serde::Value::Number(n) => n.to_string(),
                    yaml_serde::Value::Null => String::new(),
                    _ => {
                        return Err(ConfigError::File {
                            path: path.to_owned(),
                            reason: format!("{key}: only scalar values are allowed"),
                        });
                    }
                };
                map.set_from(&key, value, path.display().to_string());
            }
        }
        _ => {
            return Err(ConfigError::File {
                path: path.to_owned(),
                reason: "expected a flat KEY: value map".into(),
            });
        }
    }
    Ok(map)
}

/// An I/O error in words a user can act on, without the OS's "(os error N)".
pub fn describe_io(err: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match err.kind() {
        K::NotFound => "no such file".to_owned(),
        K::PermissionDenied => "permission denied (check the file's owner and mode)".to_owned(),
        K::IsADirectory => "is a directory, not a file".to_owned(),
        K::InvalidData => "not valid UTF-8 text".to_owned(),
        K::ConnectionRefused => "connection refused (nothing listens there)".to_owned(),
        K::TimedOut => "timed out".to_owned(),
        K::WouldBlock => "timed out (no answer)".to_owned(),
        K::ConnectionReset => "connection reset by the server".to_owned(),
        K::AddrNotAvailable => "address not available".to_owned(),
        K::NotADirectory => "a path component is not a directory".to_owned(),
        kind => {
            let text = err.to_string();
            match text.find(" (os error") {
                Some(i) => text[..i].to_owned(),
                None if text.is_empty() => kind.to_string(),
                None => text,
            }
        }
    }
}

/// Keys read by something other than the settings parser (commands, flags' `env = …`).
const OTHER_KNOWN_KEYS: &[&str] = &[
    "PORT",
    "HOST",
    "CONFIG_FILE",
    "SOLE_SEEDS_DIR",
    "SOLE_DEV_POSTGRES",
    "ENV_FILE",
    "PROJECT_ID",
    "REGION",
    "SERVICE_NAME",
    "MIGRATE_JOB",
    "SEED_JOB",
    "JOB_ENV_FILE",
    "JOB_SECRETS",
    "RUNTIME_SERVICE_ACCOUNT",
    "RUST_LOG",
    "NO_COLOR",
];

/// Every key `sole` reads: whatever the settings parser asks for (with both storage providers),
/// plus the keys read by commands and flags.
pub fn known_keys() -> std::collections::BTreeSet<String> {
    let mut known: std::collections::BTreeSet<String> =
        OTHER_KNOWN_KEYS.iter().map(|k| (*k).to_owned()).collect();
    for provider in ["local", "gcs"] {
        let env = EnvMap::from_pairs([
            ("STORAGE_PROVIDER", provider),
            ("ENVIRONMENT", "production"),
        ]);
        let _ = Settings::check(&env);
        known.extend(env.keys_read());
    }
    known
}

/// A key no part of `sole` reads: probably a typo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownKey {
    pub key: String,
    pub origin: Option<String>,
    /// The closest known key, when one is close.
    pub suggestion: Option<String>,
}

impl fmt::Display for UnknownKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.key)?;
        if let Some(origin) = &self.origin {
            write!(f, " (in {origin})")?;
        }
        write!(f, ": not a setting sole reads")?;
        match &self.suggestion {
            Some(s) => write!(f, "; a typo of {s}?"),
            None => write!(f, "; a typo, or a leftover?"),
        }
    }
}

/// The keys of `env` that came from a file (`.env`, a config file) and that nothing reads.
/// The process environment is not checked: it holds PATH, HOME and the like.
pub fn unknown_keys(env: &EnvMap) -> Vec<UnknownKey> {
    let known = known_keys();
    env.keys()
        .filter(|(_, origin)| *origin != Some(ORIGIN_ENVIRONMENT))
        .filter(|(key, _)| !known.contains(*key))
        .map(|(key, origin)| UnknownKey {
            key: key.to_owned(),
            origin: origin.map(str::to_owned),
            suggestion: closest(key, &known),
        })
        .collect()
}

/// The known key closest to `key` when it is within a few edits.
pub fn closest(key: &str, known: &std::collections::BTreeSet<String>) -> Option<String> {
    let key = key.to_ascii_uppercase();
    known
        .iter()
        .map(|k| (edit_distance(&key, k), k))
        .filter(|(d, k)| *d <= 3.max(k.len() / 6) && *d < k.len() / 2)
        .min()
        .map(|(_, k)| k.clone())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut row = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            row[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(row[j] + 1);
        }
        prev = row;
    }
    prev[b.len()]
}

/// One problem with the configuration, always naming the variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub var: &'static str,
    pub message: String,
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TenancyMode {
    Single,
    Multi,
}

impl TenancyMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Single => "single",
            Self::Multi => "multi",
        }
    }
}

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// Where a PEM key comes from: inline (wins) or a file.
#[derive(Clone, Debug)]
pub enum KeySource {
    Inline(SecretString),
    File(PathBuf),
}

/// `DB_POOLER`: what sits between `sole` and PostgreSQL on `DATABASE_URL` (README "Connection
/// poolers").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DbPooler {
    /// PostgreSQL itself: startup parameters, a per-connection statement cache.
    #[default]
    None,
    /// A session-mode pooler (PgBouncer `pool_mode=session`): one server connection per client
    /// connection, so the statement cache works; no startup parameters a pooler may reject.
    Session,
    /// A transaction-mode pooler (PgBouncer `pool_mode=transaction`, Neon's pooled endpoint):
    /// every checkout runs in one transaction and no statement outlives it.
    Transaction,
}

impl DbPooler {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Session => "session",
            Self::Transaction => "transaction",
        }
    }
}

#[derive(Clone, Debug)]
pub struct DatabaseSettings {
    pub url: Option<SecretString>,
    pub url_direct: Option<SecretString>,
    /// Where `url` / `url_direct` came from (`.env`, a config file, the environment), for
    /// connection errors.
    pub url_origin: Option<String>,
    pub url_direct_origin: Option<String>,
    pub pool_size: u32,
    pub max_overflow: u32,
    pub pool_timeout: Duration,
    pub pool_recycle: Duration,
    pub pool_retry_after_seconds: u64,
    pub statement_timeout_ms: i64,
    pub slow_query: Duration,
    pub log_query_timings: bool,
    /// Raw `DB_SSL`: `Some(true|false)` when set.
    pub ssl: Option<bool>,
    /// `DB_POOLER`: the pooler mode of `DATABASE_URL`.
    pub pooler: DbPooler,
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

/// Collects typed values and every problem met on the way.
struct Reader<'a> {
    env: &'a EnvMap,
    problems: Vec<Problem>,
}

impl<'a> Reader<'a> {
    fn raw(&self, key: &str) -> Option<&'a str> {
        self.env.get(key)
    }

    fn problem(&mut self, var: &'static str, message: impl Into<String>) {
        self.problems.push(Problem {
            var,
            message: message.into(),
        });
    }

    fn string(&self, key: &str, default: &str) -> String {
        self.raw(key)
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|| default.to_owned())
    }

    /// An optional value; empty counts as unset.
    fn opt(&self, key: &str) -> Option<String> {
        self.raw(key)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    }

    fn secret(&self, key: &str) -> Option<SecretString> {
        // Secrets are not trimmed (a PEM or password is used as given), but empty is unset.
        self.raw(key)
            .filter(|s| !s.trim().is_empty())
            .map(|s| SecretString::from(s.to_owned()))
    }

    fn number<T: std::str::FromStr + Copy>(&mut self, key: &'static str, default: T) -> T {
        match self.raw(key).map(str::trim).filter(|s| !s.is_empty()) {
            None => default,
            Some(raw) => match raw.parse::<T>() {
                Ok(v) => v,
                Err(_) => {
                    self.problem(key, format!("expected a whole number, got {raw:?}"));
                    default
                }
            },
        }
    }

    fn float(&mut self, key: &'static str, default: f64) -> f64 {
        match self.raw(key).map(str::trim).filter(|s| !s.is_empty()) {
            None => default,
            Some(raw) => match raw.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => v,
                _ => {
                    self.problem(key, format!("expected a non-negative number, got {raw:?}"));
                    default
                }
            },
        }
    }

    fn boolean(&mut self, key: &'static str, default: bool) -> bool {
        match self.raw(key).map(str::trim).filter(|s| !s.is_empty()) {
            None => default,
            Some(raw) => match parse_bool(raw) {
                Some(v) => v,
                None => {
                    self.problem(key, format!("expected true/false, got {raw:?}"));
                    default
                }
            },
        }
    }
}

/// pydantic's boolean spellings.
pub fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "t" | "yes" | "y" | "on" => Some(true),
        "0" | "false" | "f" | "no" | "n" | "off" => Some(false),
        _ => None,
    }
}

/// A list given either as a JSON array or as a comma-separated string.
fn parse_list(raw: &str) -> Result<Vec<String>, String> {
    let trimmed = raw.trim();
    if trimmed.starts_with('[') {
        let items: Vec<String> =
            serde_json::from_str(trimmed).map_err(|e| format!("invalid JSON array: {e}"))?;
        Ok(items
            .into_iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect())
    } else {
        Ok(trimmed
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect())
    }
}

/// Checks one CORS origin and returns its normal form `scheme://host[:port]`.
pub fn normalize_origin(raw: &str) -> Result<String, String> {
    let value = raw.trim();
    if value == "*" {
        return Err("'*' is not allowed: list the exact origins".into());
    }
    let parsed =
        url::Url::parse(value).map_err(|_| format!("{value:?} is not a valid origin URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("{value:?} must use http or https"));
    }
    let Some(host) = parsed.host_str() else {
        return Err(format!("{value:?} has no host"));
    };
    if parsed.path() != "/" || parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!("{value:?} must not have a path, query or fragment"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!("{value:?} must not carry credentials"));
    }
    Ok(match parsed.port() {
        Some(port) => format!("{}://{}:{}", parsed.scheme(), host, port),
        None => format!("{}://{}", parsed.scheme(), host),
    })
}

fn key_source(r: &Reader<'_>, inline: &str, path: &str) -> Option<KeySource> {
    if let Some(secret) = r.secret(inline) {
        return Some(KeySource::Inline(secret));
    }
    r.opt(path).map(|p| KeySource::File(PathBuf::from(p)))
}

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
        let mut r = Reader {
            env,
            problems: Vec::new(),
        };

        let environment = Environment::parse(&r.string("ENVIRONMENT", "development"));

        let db_ssl = r.opt("DB_SSL").map(|raw| {
            matches!(
                raw.to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        });
        let retry_after: u64 = r.number("DB_POOL_RETRY_AFTER_SECONDS", 3);
        let pool_timeout = r.float("DB_POOL_TIMEOUT", 10.0);
        let pooler = match r.string("DB_POOLER", "none").to_ascii_lowercase().as_str() {
            "none" | "" => DbPooler::None,
            "session" => DbPooler::Session,
            "transaction" => DbPooler::Transaction,
            other => {
                r.problem(
                    "DB_POOLER",
                    format!(
                        "must be 'none', 'session' or 'transaction' (statement pooling is not supported), got {other:?}"
                    ),
                );
                DbPooler::None
            }
        };
        let database = DatabaseSettings {
            url: r.secret("DATABASE_URL"),
            url_direct: r.secret("DATABASE_URL_DIRECT"),
            url_origin: env.origin("DATABASE_URL").map(str::to_owned),
            url_direct_origin: env.origin("DATABASE_URL_DIRECT").map(str::to_owned),
            pool_size: r.number("DB_POOL_SIZE", 5),
            max_overflow: r.number("DB_MAX_OVERFLOW", 0),
            pool_timeout: Duration::from_secs_f64(pool_timeout),
            pool_recycle: Duration::from_secs(r.number("DB_POOL_RECYCLE", 1800)),
            pool_retry_after_seconds: retry_after.max(1),
            statement_timeout_ms: r.number("DB_STATEMENT_TIMEOUT_MS", 10_000),
            slow_query: Duration::from_millis(r.number("DB_SLOW_QUERY_MS", 2000)),
            log_query_timings: r.boolean("DB_LOG_QUERY_TIMINGS", false),
            ssl: db_ssl,
            pooler,
        };
        if database.pool_size == 0 {
            r.problem("DB_POOL_SIZE", "must be at least 1");
        }

        let redis_key_prefix = r.string("REDIS_KEY_PREFIX", "sole");
        if redis_key_prefix.is_empty()
            || !redis_key_prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-'))
        {
            r.problem("REDIS_KEY_PREFIX", "must match ^[a-zA-Z0-9:_-]+$");
        }

        let tenancy_mode = match r
            .string("TENANCY_MODE", "single")
            .to_ascii_lowercase()
            .as_str()
        {
            "single" => TenancyMode::Single,
            "multi" => TenancyMode::Multi,
            other => {
                r.problem(
                    "TENANCY_MODE",
                    format!("must be 'single' or 'multi', got {other:?}"),
                );
                TenancyMode::Single
            }
        };

        let allowed_origins =
            match parse_list(&r.string("ALLOWED_ORIGINS", "http://localhost:3000")) {
                Err(e) => {
                    r.problem("ALLOWED_ORIGINS", e);
                    Vec::new()
                }
                Ok(items) => {
                    let mut out: Vec<String> = Vec::new();
                    for item in items {
                        match normalize_origin(&item) {
                            Ok(origin) if !out.contains(&origin) => out.push(origin),
                            Ok(_) => {}
                            Err(e) => r.problem("ALLOWED_ORIGINS", e),
                        }
                    }
                    out
                }
            };

        let allowed_tenant_hosts = match parse_list(&r.string("ALLOWED_TENANT_HOSTS", "")) {
            Ok(hosts) => hosts.into_iter().map(|h| h.to_ascii_lowercase()).collect(),
            Err(e) => {
                r.problem("ALLOWED_TENANT_HOSTS", e);
                Vec::new()
            }
        };

        let default_org_raw = r.string("DEFAULT_ORG_ID", "default");
        let default_org_id = match OrgId::parse(&default_org_raw) {
            Ok(id) => id,
            Err(e) => {
                r.problem("DEFAULT_ORG_ID", e.to_string());
                OrgId::from_trusted("default".into())
            }
        };

        let secret_key = r.secret("SECRET_KEY");
        // Production asks for 32 characters (production_problems): one message, not two.
        if let Some(key) = &secret_key
            && !environment.is_production()
            && key.expose_secret().chars().count() < 16
        {
            r.problem("SECRET_KEY", "must be at least 16 characters");
        }

        let fernet_kdf_iterations: u32 = r.number("FERNET_KDF_ITERATIONS", 210_000);
        if fernet_kdf_iterations < 100_000 {
            r.problem("FERNET_KDF_ITERATIONS", "must be at least 100000");
        }

        let algorithm = r.string("JWT_ALGORITHM", "RS256");
        if algorithm != "RS256" {
            r.problem(
                "JWT_ALGORITHM",
                format!("only RS256 is supported, got {algorithm:?}"),
            );
        }

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
        let cookies = CookieSettings {
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
        };

        let log_format = match r.string("LOG_FORMAT", "json").to_ascii_lowercase().as_str() {
            "json" => LogFormat::Json,
            "pretty" | "text" => LogFormat::Pretty,
            other => {
                r.problem(
                    "LOG_FORMAT",
                    format!("must be json or pretty, got {other:?}"),
                );
                LogFormat::Json
            }
        };

        let docs_default = environment.is_development();
        let extra_seed_org_ids = r
            .string("EXTRA_SEED_ORG_IDS", "")
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();

        let announcement_stream_keepalive = r.float("ANNOUNCEMENT_STREAM_KEEPALIVE_SECONDS", 15.0);
        if announcement_stream_keepalive < 0.05 {
            r.problem(
                "ANNOUNCEMENT_STREAM_KEEPALIVE_SECONDS",
                "must be at least 0.05 seconds",
            );
        }
        let announcement_stream_max = r.float("ANNOUNCEMENT_STREAM_MAX_SECONDS", 240.0);
        if announcement_stream_max < 1.0 {
            r.problem(
                "ANNOUNCEMENT_STREAM_MAX_SECONDS",
                "must be at least 1 second",
            );
        }
        let announcement_stream_buffer: usize = r.number("ANNOUNCEMENT_STREAM_BUFFER", 64);
        if announcement_stream_buffer == 0 {
            r.problem("ANNOUNCEMENT_STREAM_BUFFER", "must be at least 1");
        }

        let guard_cache_ttl = r.float("GUARD_CACHE_TTL_SECONDS", 5.0);
        if !(0.0..=300.0).contains(&guard_cache_ttl) {
            r.problem(
                "GUARD_CACHE_TTL_SECONDS",
                "must be between 0 and 300 seconds",
            );
        }

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
            enable_hsts: r.boolean("ENABLE_HSTS", true),
            default_org_id,
            default_org_name: r.string("DEFAULT_ORG_NAME", "Default Organization"),
            default_org_slug: r.string("DEFAULT_ORG_SLUG", "default"),
            secret_key,
            fernet_kdf_salt: r.secret("FERNET_KDF_SALT"),
            fernet_kdf_iterations,
            jwt_private_key: key_source(&r, "JWT_PRIVATE_KEY", "JWT_PRIVATE_KEY_PATH"),
            jwt_public_key: key_source(&r, "JWT_PUBLIC_KEY", "JWT_PUBLIC_KEY_PATH"),
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
            argon2: Argon2Settings {
                memory_kib: r.number("ARGON2_MEMORY_KIB", 65_536),
                iterations: r.number("ARGON2_ITERATIONS", 3),
                parallelism: r.number("ARGON2_PARALLELISM", 4),
            },
            google_cloud_project: r.opt("GOOGLE_CLOUD_PROJECT"),
            announcement_stream_keepalive: Duration::from_secs_f64(
                announcement_stream_keepalive.max(0.05),
            ),
            announcement_stream_max: Duration::from_secs_f64(announcement_stream_max.max(1.0)),
            announcement_stream_buffer: announcement_stream_buffer.max(1),
            guard_cache_ttl: Duration::from_secs_f64(guard_cache_ttl.clamp(0.0, 300.0)),
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
        let mut push = |var: &'static str, message: &str| {
            out.push(Problem {
                var,
                message: message.to_owned(),
            })
        };
        if self.database.url.is_none() {
            push("DATABASE_URL", "is required");
        }
        if self.redis_url.is_none() {
            push(
                "REDIS_URL",
                "is required in production (rate limits, lockout and refresh replay detection)",
            );
        }
        match &self.secret_key {
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
        match &self.fernet_kdf_salt {
            None => push("FERNET_KDF_SALT", "is required in production"),
            Some(salt) if salt.expose_secret().trim().chars().count() < 16 => {
                push("FERNET_KDF_SALT", "must be at least 16 characters")
            }
            Some(_) => {}
        }
        if self.jwt_private_key.is_none() {
            push(
                "JWT_PRIVATE_KEY",
                "is required (inline PEM, or JWT_PRIVATE_KEY_PATH)",
            );
        }
        if self.jwt_public_key.is_none() {
            push(
                "JWT_PUBLIC_KEY",
                "is required (inline PEM, or JWT_PUBLIC_KEY_PATH)",
            );
        }
        if let Some(password) = &self.seed_admin_password
            && WEAK_SEED_PASSWORDS.contains(&password.expose_secret().to_lowercase().as_str())
        {
            push("SEED_ADMIN_PASSWORD", "is a known weak value");
        }
        if self.cookies.same_site == SameSite::None && !self.cookies.secure {
            push(
                "AUTH_COOKIE_SECURE",
                "must be true when AUTH_COOKIE_SAMESITE=none (browsers drop the cookies)",
            );
        }
        if self.allowed_origins.is_empty() {
            push("ALLOWED_ORIGINS", "must list the frontend origin(s)");
        }
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
    fn origins_accept_json_and_commas_and_are_normalised() {
        let s = Settings::from_env(&env(&[(
            "ALLOWED_ORIGINS",
            r#"["http://a.test:5173/", "https://b.test"]"#,
        )]))
        .unwrap();
        assert_eq!(
            s.allowed_origins,
            vec!["http://a.test:5173", "https://b.test"]
        );
        let s = Settings::from_env(&env(&[(
            "allowed_origins",
            "https://b.test, https://b.test",
        )]))
        .unwrap();
        assert_eq!(s.allowed_origins, vec!["https://b.test"]);
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
    fn origins_with_paths_are_refused() {
        assert!(normalize_origin("https://a.test/app").is_err());
        assert!(normalize_origin("ftp://a.test").is_err());
        assert!(normalize_origin("https://a.test?x=1").is_err());
        assert_eq!(
            normalize_origin("HTTPS://A.test").unwrap(),
            "https://a.test"
        );
    }

    #[test]
    fn unknown_keys_from_files_are_reported_with_the_closest_known_key() {
        let mut env = EnvMap::new();
        env.set_from("DATABSE_URL", "x", ".env");
        env.set_from("LOG_LEVEL", "INFO", ".env");
        env.set_from("HOME", "/root", ORIGIN_ENVIRONMENT);
        env.set_from("TOTALLY_UNRELATED_THING", "1", "config.yaml");
        let unknown = unknown_keys(&env);
        assert_eq!(unknown.len(), 2, "{unknown:?}");
        assert_eq!(unknown[0].key, "DATABSE_URL");
        assert_eq!(unknown[0].suggestion.as_deref(), Some("DATABASE_URL"));
        assert_eq!(unknown[1].suggestion, None);
        assert!(known_keys().contains("GCS_BUCKET"));
    }

    #[test]
    fn production_problems_never_contain_secret_values() {
        let s = Settings::from_env(&env(&[
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
