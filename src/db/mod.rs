//! PostgreSQL: URL normalisation (contract §9.5), the runtime pool, and connection errors that
//! name the host and database but never the password.

pub mod migrator;
pub mod partitions;
pub mod pooler;
pub mod retry;

use std::str::FromStr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};

use crate::config::{DatabaseSettings, DbPooler, Settings};

/// A database URL after the legacy normalisation, ready for sqlx.
#[derive(Clone)]
pub struct DbUrl {
    url: url::Url,
    /// The variable or flag that gave the URL and where its value came from, e.g.
    /// "DATABASE_URL from .env" (messages only).
    source: String,
    /// The pooler between us and PostgreSQL on this URL (`DB_POOLER` for `DATABASE_URL`;
    /// none for a direct URL).
    pooler: DbPooler,
}

impl std::fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DbUrl({})", self.describe())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(
        "{var} is not a valid PostgreSQL URL (expected postgres://user:password@host:port/database)"
    )]
    InvalidUrl { var: &'static str },
    #[error(
        "{var}: unsupported scheme {scheme:?}; use postgres://, postgresql://, postgresql+psycopg:// or postgresql+asyncpg://"
    )]
    Scheme { var: &'static str, scheme: String },
    #[error(
        "{var} is required (postgres://user:password@host:port/database): set it in the environment \
         or .env (`sole setup-env --profile dev` writes one), or run `sole serve --dev`, which finds \
         or starts a local PostgreSQL"
    )]
    Missing { var: &'static str },
    #[error(
        "DB_POOLER=transaction: DATABASE_URL goes through a transaction-mode pooler, which cannot \
         keep this command's session (its advisory lock and prepared statements); set \
         DATABASE_URL_DIRECT to a direct or session-mode PostgreSQL URL, or pass --database-url"
    )]
    PoolerNeedsDirect,
    #[error("cannot connect to PostgreSQL ({target}): {reason}")]
    Connect {
        target: String,
        reason: String,
        /// The server answered that the database does not exist (SQLSTATE 3D000).
        missing_database: bool,
    },
}

impl DbUrl {
    /// Accepts the schemes the legacy service accepted and maps the `ssl=` query key onto
    /// `sslmode` (contract §9.5). `var` names the variable in errors.
    pub fn parse(var: &'static str, raw: &str) -> Result<Self, DbError> {
        let raw = raw.trim();
        let (scheme, rest) = raw.split_once("://").ok_or(DbError::InvalidUrl { var })?;
        match scheme.to_ascii_lowercase().as_str() {
            "postgres"
            | "postgresql"
            | "postgresql+psycopg"
            | "postgresql+asyncpg"
            | "postgresql+psycopg2" => {}
            other => {
                return Err(DbError::Scheme {
                    var,
                    scheme: other.to_owned(),
                });
            }
        }
        let mut url = url::Url::parse(&format!("postgres://{rest}"))
            .map_err(|_| DbError::InvalidUrl { var })?;

        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let has_sslmode = pairs.iter().any(|(k, _)| k.eq_ignore_ascii_case("sslmode"));
        let mut kept: Vec<(String, String)> = Vec::new();
        for (k, v) in pairs {
            if k.eq_ignore_ascii_case("ssl") {
                if !has_sslmode {
                    let lower = v.to_ascii_lowercase();
                    let mode = match lower.as_str() {
                        "0" | "false" | "no" | "off" | "disable" => "disable",
                        m @ ("require" | "verify-ca" | "verify-full") => m,
                        _ => "require",
                    };
                    kept.push(("sslmode".into(), mode.to_owned()));
                }
            } else {
                kept.push((k, v));
            }
        }
        url.set_query(None);
        if !kept.is_empty() {
            url.query_pairs_mut().extend_pairs(kept);
        }
        Ok(Self {
            url,
            source: var.to_owned(),
            pooler: DbPooler::None,
        })
    }

    /// Says which pooler sits on this URL (`DB_POOLER`).
    pub fn with_pooler(mut self, pooler: DbPooler) -> Self {
        self.pooler = pooler;
        self
    }

    pub fn pooler(&self) -> DbPooler {
        self.pooler
    }

    /// Records where the value came from (`.env`, a config file, the environment).
    pub fn with_origin(mut self, origin: Option<&str>) -> Self {
        if let Some(origin) = origin {
            self.source = format!("{} from {origin}", self.source);
        }
        self
    }

    /// Host, port, user and database as the driver will use them (defaults filled in), and
    /// where the URL came from; never the password.
    pub fn describe_connection(&self) -> String {
        let Ok(options) = PgConnectOptions::from_str(self.url.as_str()) else {
            return format!("{}; {}", self.describe(), self.source);
        };
        let host = match options.get_socket() {
            Some(dir) => format!("unix socket in {}", dir.display()),
            None => format!("host {}", options.get_host()),
        };
        let user = if self.url.username().is_empty() {
            format!(
                "user {} (none in the URL: the default)",
                options.get_username()
            )
        } else {
            format!("user {}", options.get_username())
        };
        let database = options
            .get_database()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("{} (none in the URL)", options.get_username()));
        format!(
            "{host}, port {}, {user}, database {database}; {}",
            options.get_port(),
            self.source
        )
    }

    fn sslmode(&self) -> Option<String> {
        self.url
            .query_pairs()
            .find(|(k, _)| k.eq_ignore_ascii_case("sslmode"))
            .map(|(_, v)| v.to_lowercase())
    }

    fn is_local(&self) -> bool {
        match self.url.host_str() {
            None | Some("") => true,
            Some(h) => {
                h == "localhost" || h.starts_with("127.") || h == "[::1]" || h.starts_with('/')
            }
        }
    }

    /// The runtime `DB_SSL` rule (contract §2): when set, it decides; when unset, SSL is on
    /// unless the URL disables it. "On" appends `sslmode=require` when the URL has no sslmode.
    /// One deliberate difference: with `DB_SSL` unset, a loopback or unix-socket URL gets
    /// `sslmode=prefer` instead of `require`, so a local PostgreSQL without TLS works out of
    /// the box; remote hosts keep the legacy default.
    pub fn with_runtime_ssl(mut self, db_ssl: Option<bool>) -> Self {
        if self.sslmode().is_some() {
            if db_ssl == Some(false) {
                self.set_sslmode("disable");
            }
            return self;
        }
        let mode = match db_ssl {
            Some(true) => "require",
            Some(false) => "disable",
            None if self.is_local() => "prefer",
            None => "require",
        };
        self.set_sslmode(mode);
        self
    }

    fn set_sslmode(&mut self, mode: &str) {
        let pairs: Vec<(String, String)> = self
            .url
            .query_pairs()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("sslmode"))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        self.url.set_query(None);
        let mut q = self.url.query_pairs_mut();
        q.extend_pairs(pairs);
        q.append_pair("sslmode", mode);
    }

    /// `host:port/database` for messages; never the user's password.
    pub fn describe(&self) -> String {
        let host = self
            .url
            .host_str()
            .filter(|h| !h.is_empty())
            .unwrap_or("localhost");
        let host = if host.starts_with('%') || host.starts_with('/') {
            "unix socket"
        } else {
            host
        };
        let port = self.url.port().unwrap_or(5432);
        let db = self.url.path().trim_start_matches('/');
        let db = if db.is_empty() {
            "(default database)"
        } else {
            db
        };
        format!("{host}:{port}/{db}")
    }

    pub fn database_name(&self) -> String {
        let path = self.url.path().trim_start_matches('/');
        percent_decode(path)
    }

    pub fn connect_options(&self) -> Result<PgConnectOptions, DbError> {
        PgConnectOptions::from_str(self.url.as_str()).map_err(|_| DbError::InvalidUrl {
            var: "DATABASE_URL",
        })
    }

    /// The same server with another database (used to create per-test databases and to
    /// connect to the maintenance database).
    pub fn with_database(&self, name: &str) -> Self {
        let mut url = self.url.clone();
        url.set_path(&format!("/{name}"));
        Self {
            url,
            source: self.source.clone(),
            pooler: self.pooler,
        }
    }

    /// A shell command that creates this URL's database (for messages).
    pub fn createdb_hint(&self) -> String {
        let Ok(options) = PgConnectOptions::from_str(self.url.as_str()) else {
            return format!("createdb {}", self.database_name());
        };
        let host = match options.get_socket() {
            Some(dir) => dir.display().to_string(),
            None => options.get_host().to_owned(),
        };
        format!(
            "createdb -h {host} -p {} -U {} {}",
            options.get_port(),
            options.get_username(),
            self.database_name()
        )
    }

    pub fn as_secret(&self) -> SecretString {
        SecretString::from(self.url.to_string())
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The runtime URL: `DATABASE_URL` with the runtime SSL rule applied.
pub fn runtime_url(settings: &Settings) -> Result<DbUrl, DbError> {
    let raw = settings.database.url.as_ref().ok_or(DbError::Missing {
        var: "DATABASE_URL",
    })?;
    Ok(DbUrl::parse("DATABASE_URL", raw.expose_secret())?
        .with_origin(settings.database.url_origin.as_deref())
        .with_runtime_ssl(settings.database.ssl)
        .with_pooler(settings.database.pooler))
}

/// The migration URL: `--database-url`, else `DATABASE_URL_DIRECT`, else `DATABASE_URL`; the
/// legacy Alembic path normalised it without injecting `sslmode`.
pub fn direct_url(settings: &Settings, flag: Option<&SecretString>) -> Result<DbUrl, DbError> {
    let db = &settings.database;
    let (var, raw, origin) = if let Some(url) = flag {
        ("--database-url", url, None)
    } else if let Some(url) = &db.url_direct {
        ("DATABASE_URL_DIRECT", url, db.url_direct_origin.as_deref())
    } else if let Some(url) = &db.url {
        // A transaction-mode pooler cannot hold a command's session (the migration advisory
        // lock, the seed's prepared statements): refuse rather than fail halfway.
        if db.pooler == DbPooler::Transaction {
            return Err(DbError::PoolerNeedsDirect);
        }
        ("DATABASE_URL", url, db.url_origin.as_deref())
    } else {
        return Err(DbError::Missing {
            var: "DATABASE_URL",
        });
    };
    // No sslmode injection here (as the legacy Alembic path): sqlx's default is `prefer`.
    let url = DbUrl::parse(var, raw.expose_secret())?.with_origin(origin);
    Ok(if var == "DATABASE_URL" {
        url.with_pooler(db.pooler)
    } else {
        url
    })
}

fn connect_options(url: &DbUrl, db: &DatabaseSettings) -> Result<PgConnectOptions, DbError> {
    let mut options = url
        .connect_options()?
        .application_name("sole")
        .log_slow_statements(tracing::log::LevelFilter::Warn, db.slow_query);
    options = if db.log_query_timings {
        options.log_statements(tracing::log::LevelFilter::Info)
    } else {
        options.log_statements(tracing::log::LevelFilter::Debug)
    };
    if url.pooler != DbPooler::None {
        // PgBouncer refuses startup parameters it does not track ("unsupported startup
        // parameter: extra_float_digits / options"); the statement timeout is set per session
        // or per transaction instead (`runtime_pool`, `pooler::session_setup`).
        options = options.extra_float_digits(None);
        if url.pooler == DbPooler::Transaction {
            // No statement outlives a transaction: see `pooler` for why this alone is not
            // enough and what the pool does on top.
            options = options.statement_cache_capacity(0);
        }
    } else if db.statement_timeout_ms > 0 {
        options = options.options([("statement_timeout", db.statement_timeout_ms.to_string())]);
    }
    Ok(options)
}

/// Connections idle at least this long are pinged before they are handed out.
const IDLE_PING_AFTER: Duration = Duration::from_secs(10);

/// The runtime pool. Connections are opened lazily so `serve` starts in milliseconds and
/// `/health/live` never waits for PostgreSQL; `acquire_timeout` bounds every wait.
pub fn runtime_pool(settings: &Settings) -> Result<PgPool, DbError> {
    let url = runtime_url(settings)?;
    let db = &settings.database;
    let options = connect_options(&url, db)?;
    let pool = PgPoolOptions::new()
        .max_connections(settings.max_db_connections().max(1))
        .min_connections(0)
        .acquire_timeout(db.pool_timeout.max(Duration::from_millis(100)))
        .max_lifetime(Some(db.pool_recycle))
        .idle_timeout(Some(Duration::from_secs(600)))
        // The legacy pool pinged every connection before use (pool_pre_ping), one extra round
        // trip per checkout. Ping only connections that sat idle long enough to have been
        // closed by a pooler or a restart; hot connections go straight to work.
        .test_before_acquire(false);
    let timeout_ms = db.statement_timeout_ms;
    Ok(match url.pooler() {
        DbPooler::None => pool.before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= IDLE_PING_AFTER {
                    conn.ping().await?;
                }
                Ok(true)
            })
        }),
        DbPooler::Session => pool
            .after_connect(move |conn, _| Box::pin(pooler::session_setup(conn, timeout_ms)))
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= IDLE_PING_AFTER {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            }),
        // BEGIN at checkout proves the connection alive: no separate ping.
        // sqlx hands a new connection out without `before_acquire`: `after_connect` opens
        // its first checkout.
        DbPooler::Transaction => pool
            .after_connect(move |conn, _| {
                Box::pin(async move { pooler::begin_checkout(conn, timeout_ms).await.map(drop) })
            })
            .before_acquire(move |conn, _| Box::pin(pooler::begin_checkout(conn, timeout_ms)))
            .after_release(|conn, _| Box::pin(pooler::end_checkout(conn))),
    }
    .connect_lazy_with(options))
}

/// One connection for a command (`migrate`, `seed`), bounded by `DB_POOL_TIMEOUT`, with a
/// one-line error that names the host and database.
pub async fn connect_once(
    url: &DbUrl,
    db: &DatabaseSettings,
) -> Result<sqlx::PgConnection, DbError> {
    let options = connect_options(url, db)?;
    let timeout = db.pool_timeout.max(Duration::from_secs(1));
    match tokio::time::timeout(timeout, options.connect()).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(DbError::Connect {
            target: url.describe_connection(),
            reason: describe_connect_error(&e),
            missing_database: is_missing_database(&e),
        }),
        Err(_) => Err(DbError::Connect {
            target: url.describe_connection(),
            reason: format!(
                "timed out after {:.1}s (DB_POOL_TIMEOUT)",
                timeout.as_secs_f64()
            ),
            missing_database: false,
        }),
    }
}

/// Whether the server said the database does not exist.
pub fn is_missing_database(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some("3D000"))
}

/// Connects to the server's `postgres` database and creates `url`'s database when it is
/// missing. `Ok(true)` when it was created.
pub async fn create_database_if_missing(url: &DbUrl) -> Result<bool, DbError> {
    let name = url.database_name();
    let admin = url.with_database("postgres");
    let options = admin.connect_options()?;
    let connect_error = |e: &sqlx::Error| DbError::Connect {
        target: admin.describe_connection(),
        reason: describe_connect_error(e),
        missing_database: false,
    };
    let mut conn = match tokio::time::timeout(Duration::from_secs(5), options.connect()).await {
        Err(_) => {
            return Err(DbError::Connect {
                target: admin.describe_connection(),
                reason: "timed out after 5s".into(),
                missing_database: false,
            });
        }
        Ok(Err(e)) => return Err(connect_error(&e)),
        Ok(Ok(conn)) => conn,
    };
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(&mut conn)
        .await
        .map_err(|e| connect_error(&e))?;
    let mut created = false;
    if exists.is_none() {
        let sql = format!("CREATE DATABASE {}", partitions::quote_ident(&name));
        match sqlx::Executor::execute(&mut conn, sqlx::AssertSqlSafe(sql)).await {
            Ok(_) => created = true,
            // A concurrent creator won: fine.
            Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("42P04") => {}
            Err(e) => {
                return Err(DbError::Connect {
                    target: url.describe_connection(),
                    reason: format!(
                        "the database does not exist and cannot be created: {}",
                        describe_connect_error(&e)
                    ),
                    missing_database: true,
                });
            }
        }
    }
    conn.close().await.ok();
    Ok(created)
}

/// A short reason for a failed connection, without echoing the URL.
pub fn describe_connect_error(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("28P01") => "authentication failed (check the user and password)".into(),
            // 28000 is also "role does not exist" and pg_hba refusals: the server's words say
            // which.
            Some("28000") => format!(
                "authentication refused: {} (check the user, and that the role exists)",
                db.message()
            ),
            Some("3D000") => "the database does not exist".into(),
            _ => db.message().to_owned(),
        },
        sqlx::Error::Io(io) => crate::config::describe_io(io),
        sqlx::Error::Tls(_) => "TLS negotiation failed (check sslmode / DB_SSL)".into(),
        sqlx::Error::PoolTimedOut => "timed out".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_schemes_are_accepted() {
        for scheme in [
            "postgres",
            "postgresql",
            "postgresql+psycopg",
            "postgresql+asyncpg",
        ] {
            let url = DbUrl::parse(
                "DATABASE_URL",
                &format!("{scheme}://u:p@db.example:6543/app"),
            )
            .unwrap();
            assert_eq!(url.describe(), "db.example:6543/app");
        }
        assert!(matches!(
            DbUrl::parse("DATABASE_URL", "mysql://x/y"),
            Err(DbError::Scheme { .. })
        ));
    }

    #[test]
    fn ssl_query_key_maps_to_sslmode() {
        let url = DbUrl::parse("DATABASE_URL", "postgres://h/db?ssl=false&x=1").unwrap();
        assert_eq!(url.sslmode().as_deref(), Some("disable"));
        let url = DbUrl::parse("DATABASE_URL", "postgres://h/db?SSL=maybe").unwrap();
        assert_eq!(url.sslmode().as_deref(), Some("require"));
        let url = DbUrl::parse(
            "DATABASE_URL",
            "postgres://h/db?ssl=true&sslmode=verify-full",
        )
        .unwrap();
        assert_eq!(url.sslmode().as_deref(), Some("verify-full"));
    }

    #[test]
    fn runtime_ssl_rule() {
        let remote = DbUrl::parse("DATABASE_URL", "postgres://u:p@db.example/app").unwrap();
        assert_eq!(
            remote.clone().with_runtime_ssl(None).sslmode().as_deref(),
            Some("require")
        );
        assert_eq!(
            remote.with_runtime_ssl(Some(false)).sslmode().as_deref(),
            Some("disable")
        );
        let local = DbUrl::parse("DATABASE_URL", "postgres://localhost/app").unwrap();
        assert_eq!(
            local.with_runtime_ssl(None).sslmode().as_deref(),
            Some("prefer")
        );
        let disabled =
            DbUrl::parse("DATABASE_URL", "postgres://db.example/app?sslmode=disable").unwrap();
        assert_eq!(
            disabled.with_runtime_ssl(None).sslmode().as_deref(),
            Some("disable")
        );
    }

    #[test]
    fn descriptions_never_contain_passwords() {
        let url = DbUrl::parse("DATABASE_URL", "postgres://user:hunter2@db.example/app").unwrap();
        assert!(!url.describe().contains("hunter2"));
        assert!(!format!("{url:?}").contains("hunter2"));
    }
}
