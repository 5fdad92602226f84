//! PostgreSQL: `DATABASE_URL`, the pool (`DB_POOL_*`, `DB_MAX_OVERFLOW`), statement limits,
//! `DB_SSL` and the pooler mode (`DB_POOLER`).

use std::time::Duration;

use secrecy::SecretString;

use super::reader::Reader;
use super::{Problem, Settings};

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

/// Reads the `DB_*` and `DATABASE_URL*` variables.
pub(super) fn parse(r: &mut Reader<'_>) -> DatabaseSettings {
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
        url_origin: r.env.origin("DATABASE_URL").map(str::to_owned),
        url_direct_origin: r.env.origin("DATABASE_URL_DIRECT").map(str::to_owned),
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
    database
}

/// In production a database is required.
pub(super) fn production_problems(s: &Settings, out: &mut Vec<Problem>) {
    if s.database.url.is_none() {
        out.push(Problem::new("DATABASE_URL", "is required"));
    }
}
