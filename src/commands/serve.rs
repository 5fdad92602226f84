//! `sole serve`: the HTTP API.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::cache::Cache;
use crate::cli::{Cli, ServeArgs};
use crate::commands::{Reported, load_env, preflight, runtime};
use crate::config::Settings;
use crate::http::{self, AppState};

/// Cloud Run sends SIGKILL 10 s after SIGTERM; finish in-flight work well before that.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);

/// Loads the configuration, refuses to start with every problem listed at once, then serves.
pub fn start(cli: &Cli, args: &ServeArgs) -> anyhow::Result<()> {
    let env = load_env(cli).map_err(|e| Reported::new(2, e.to_string()))?;
    let (settings, problems) = preflight::check(&env);
    if !problems.is_empty() {
        let list = problems
            .iter()
            .map(|p| format!("  - {p}"))
            .collect::<Vec<_>>()
            .join("\n");
        let hint = if settings.environment.is_production() {
            String::new()
        } else {
            "\nfor local development, `sole serve --dev` generates the missing keys and secrets \
             into .sole/ and finds (or starts) a local PostgreSQL; `sole config check` lists the \
             same problems without starting"
                .to_owned()
        };
        let what = if settings.environment.is_production() {
            "an invalid production configuration"
        } else {
            "an incomplete configuration"
        };
        return Err(Reported::new(
            2,
            format!(
                "refusing to start with {what} ({} problem(s)):\n{list}{hint}",
                problems.len()
            ),
        )
        .into());
    }
    run(settings, args)
}

pub fn run(settings: Settings, args: &ServeArgs) -> anyhow::Result<()> {
    crate::telemetry::init(
        &settings.log_level,
        settings.log_format,
        settings.google_cloud_project.clone(),
    );
    let runtime = runtime()?;
    let served = runtime.block_on(async move {
        let state = build_state(Arc::new(settings))?;
        let addr = format!("{}:{}", args.host.as_deref().unwrap_or("0.0.0.0"), args.port);
        let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("cannot bind {addr}"))?;
        tracing::info!(address = %addr, environment = state.settings.environment.as_str(), "sole is serving");
        // The slow one-time crypto (PBKDF2 for Fernet, argon2 dummy hash) runs after the
        // listener is up, so the first health check does not wait for it.
        let auth = state.auth.clone();
        tokio::task::spawn_blocking(move || {
            crate::auth::password::lower_thread_priority_once();
            auth.passwords.warm();
            auth.crypto.warm();
        });
        // DB_POOLER must match what DATABASE_URL really is: a mismatch breaks prepared
        // statements on some requests only, so it stops the server at once, with the fix.
        let (misfit_tx, misfit_rx) = tokio::sync::oneshot::channel::<String>();
        // Then PostgreSQL and Redis are probed once (the pool is lazy, so nothing else would
        // say so): an unreachable one is a loud warning at start, not a silent 503 at the first
        // login. The pooler check runs first and alone: it reads which server session each of
        // its two connections lands on, and a pool connection opened at the same moment (the
        // reachability probe's) would change which server PgBouncer hands out next.
        let pooler_state = state.clone();
        tokio::spawn(async move {
            if let Some(message) = check_pooler(&pooler_state).await {
                let _ = misfit_tx.send(message);
                return;
            }
            probe_dependencies(&pooler_state).await.warn();
        });
        let misfit = Arc::new(std::sync::Mutex::new(None::<String>));
        let misfit_seen = misfit.clone();
        let stop = async move {
            tokio::select! {
                () = http::shutdown_signal() => {}
                Ok(message) = misfit_rx => {
                    if let Ok(mut slot) = misfit_seen.lock() {
                        *slot = Some(message);
                    }
                }
            }
        };
        let shutdown = http::ending_streams(&state, stop);
        let limits = http::ConnectionLimits::from_settings(&state.settings);
        http::serve(listener, http::app(state), limits, shutdown, SHUTDOWN_GRACE).await?;
        if let Some(message) = misfit.lock().ok().and_then(|mut slot| slot.take()) {
            return Err(Reported::new(1, message).into());
        }
        tracing::info!("sole stopped");
        Ok(())
    });
    // Dropping the runtime would wait for every blocking task, including the start-up crypto
    // warm-up that runs at the lowest priority: on a busy host (or a Cloud Run instance whose
    // CPU is throttled after SIGTERM) that wait outlasted the drain budget. Nothing a blocking
    // task still does matters once the server has drained.
    runtime.shutdown_background();
    served
}

/// Runs the `DB_POOLER` probe; `Some(message)` when the configured mode cannot work.
async fn check_pooler(state: &AppState) -> Option<String> {
    let settings = &state.settings;
    let url = crate::db::runtime_url(settings).ok()?;
    match crate::db::pooler::probe(&url, &settings.database).await {
        crate::db::pooler::Verdict::Fits(note) => {
            tracing::info!(
                pooler = url.pooler().as_str(),
                "database connection: {note}"
            );
            None
        }
        crate::db::pooler::Verdict::Unknown(why) => {
            tracing::debug!("DB_POOLER check skipped: {why}");
            None
        }
        crate::db::pooler::Verdict::Breaks(message) => {
            tracing::error!("{message}");
            Some(message)
        }
    }
}

/// Whether PostgreSQL and Redis answered, with a description of each (never a password).
pub struct Reachability {
    pub database: Result<String, String>,
    pub cache: Result<String, String>,
}

impl Reachability {
    /// Logs a warning for each dependency that did not answer.
    pub fn warn(&self) {
        if let Err(e) = &self.database {
            tracing::warn!(
                "PostgreSQL is not reachable: {e}. /health/ready answers 503 and requests that need the database fail until it is; sole keeps serving and retries on each request"
            );
        }
        if let Err(e) = &self.cache {
            tracing::warn!(
                "Redis is not reachable: {e}. /health/ready answers 503 and logins answer 503 until it is; sole keeps serving and retries on each request"
            );
        }
    }
}

/// How long each start-up probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Connects once to PostgreSQL and pings Redis, each bounded by a few seconds.
pub async fn probe_dependencies(state: &AppState) -> Reachability {
    let settings = &state.settings;
    let db_target = crate::db::runtime_url(settings)
        .map(|u| u.describe_connection())
        .unwrap_or_else(|e| e.to_string());
    let database = async {
        let probe = async {
            let mut conn = state.db.acquire().await?;
            sqlx::query("SELECT 1").execute(&mut *conn).await?;
            Ok::<_, sqlx::Error>(())
        };
        match tokio::time::timeout(PROBE_TIMEOUT, probe).await {
            Ok(Ok(())) => Ok(db_target.clone()),
            Ok(Err(e)) => Err(format!(
                "{db_target}: {}",
                crate::db::describe_connect_error(&e)
            )),
            Err(_) => Err(format!(
                "{db_target}: no answer within {}s",
                PROBE_TIMEOUT.as_secs()
            )),
        }
    };
    let cache_target = match &settings.redis_url {
        Some(url) => format!("Redis at {} (REDIS_URL)", redis_target(url)),
        None => "in-process cache (REDIS_URL is not set)".to_owned(),
    };
    let cache = async {
        match tokio::time::timeout(PROBE_TIMEOUT, state.cache.ping()).await {
            Ok(Ok(())) => Ok(cache_target.clone()),
            Ok(Err(e)) => Err(format!("{cache_target}: {e}")),
            Err(_) => Err(format!(
                "{cache_target}: no answer within {}s",
                PROBE_TIMEOUT.as_secs()
            )),
        }
    };
    let (database, cache) = tokio::join!(database, cache);
    Reachability { database, cache }
}

/// `host:port` of a Redis URL, never its password.
pub fn redis_target(url: &secrecy::SecretString) -> String {
    use secrecy::ExposeSecret as _;
    match url::Url::parse(url.expose_secret()) {
        Ok(u) => format!(
            "{}:{}",
            u.host_str().unwrap_or("localhost"),
            u.port().unwrap_or(6379)
        ),
        Err(_) => "(unparsable REDIS_URL)".to_owned(),
    }
}

/// Pool, cache, storage and the rest of the shared state. Nothing here connects: the first request
/// does, so startup takes milliseconds and `/health/live` answers at once.
pub fn build_state(settings: Arc<Settings>) -> anyhow::Result<AppState> {
    let db = crate::db::runtime_pool(&settings).map_err(|e| Reported::new(2, e.to_string()))?;
    let cache = match &settings.redis_url {
        Some(url) => Cache::redis(url, &settings.redis_key_prefix)
            .map_err(|e| Reported::new(2, e.to_string()))?,
        None => {
            tracing::warn!(
                "REDIS_URL is not set: using the in-process cache (single instance only; never in production)"
            );
            Cache::memory(&settings.redis_key_prefix)
        }
    };
    let auth = crate::http::AuthContext::from_settings(&settings)
        .map_err(|e| Reported::new(2, format!("{e:#}")))?;
    let storage = crate::storage::Storage::from_settings(&settings)
        .map_err(|e| Reported::new(2, e.to_string()))?;
    Ok(AppState::new(
        settings,
        db,
        cache,
        Arc::new(auth),
        Arc::new(storage),
    ))
}
