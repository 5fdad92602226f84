//! `sole serve`: the HTTP API.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::cache::Cache;
use crate::cli::ServeArgs;
use crate::commands::{Reported, runtime};
use crate::config::Settings;
use crate::http::{self, AppState};

/// Cloud Run sends SIGKILL 10 s after SIGTERM; finish in-flight work well before that.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);

pub fn run(settings: Settings, args: &ServeArgs) -> anyhow::Result<()> {
    crate::telemetry::init(
        &settings.log_level,
        settings.log_format,
        settings.google_cloud_project.clone(),
    );
    let problems = settings.production_problems();
    if !problems.is_empty() {
        let list = problems
            .iter()
            .map(|p| format!("  - {p}"))
            .collect::<Vec<_>>()
            .join("\n");
        return Err(Reported::new(
            2,
            format!("refusing to start with an invalid production configuration:\n{list}"),
        )
        .into());
    }
    if settings.database.url.is_none() {
        return Err(Reported::new(
            2,
            "DATABASE_URL is required (e.g. postgres://localhost/sole)",
        )
        .into());
    }
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
        let shutdown = http::ending_streams(&state, http::shutdown_signal());
        http::serve(listener, http::app(state), shutdown, SHUTDOWN_GRACE).await?;
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
