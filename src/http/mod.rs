//! The HTTP API: state, router assembly, middleware stack and graceful shutdown.

pub mod envelope;
pub mod extract;
pub mod guard;
pub mod middleware;
pub mod openapi;
pub mod routes;
pub mod session;
pub mod tenant;
pub mod token;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa_axum::router::OpenApiRouter;

use crate::auth::fernet::Crypto;
use crate::auth::jwt::JwtKeys;
use crate::auth::password::PasswordHasher;
use crate::cache::Cache;
use crate::config::Settings;
use crate::error::ApiError;

/// Everything a handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: PgPool,
    pub cache: Cache,
    pub auth: Arc<AuthContext>,
    pub started: Instant,
    /// The announcement event hub (one Redis subscription per process) and the shutdown
    /// notification open streams observe.
    pub announcements: Arc<crate::pubsub::Hub>,
    /// Object storage (local files or GCS), with its clients built once at startup.
    pub storage: Arc<crate::storage::Storage>,
}

impl AppState {
    pub fn new(
        settings: Arc<Settings>,
        db: PgPool,
        cache: Cache,
        auth: Arc<AuthContext>,
        storage: Arc<crate::storage::Storage>,
    ) -> Self {
        let announcements = Arc::new(crate::pubsub::Hub::new(&settings, &cache));
        Self {
            settings,
            db,
            cache,
            auth,
            started: Instant::now(),
            announcements,
            storage,
        }
    }
}

/// The crypto the API needs, built once at startup: parsed JWT keys, the password hasher with
/// its dummy hash, and the derived Fernet key (PBKDF2 is far too slow to run per request).
pub struct AuthContext {
    pub jwt: JwtKeys,
    pub passwords: PasswordHasher,
    pub crypto: Crypto,
    pub verified: token::VerifiedTokens,
}

impl AuthContext {
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        Ok(Self {
            jwt: JwtKeys::from_settings(settings)?,
            passwords: PasswordHasher::new(&settings.argon2)?,
            crypto: Crypto::from_settings(settings)?,
            verified: token::VerifiedTokens::new(4096),
        })
    }
}

/// The prefix of every API route.
pub const API_PREFIX: &str = "/api/v1";

async fn not_found() -> impl IntoResponse {
    ApiError::not_found("Not Found")
}

async fn method_not_allowed() -> impl IntoResponse {
    ApiError::http(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
}

/// Builds the full application: API routes, docs (when enabled) and the middleware stack.
pub fn app(state: AppState) -> Router {
    let settings = state.settings.clone();
    let (api, spec) = OpenApiRouter::with_openapi(openapi::base())
        .nest(API_PREFIX, routes::router())
        .split_for_parts();

    let mut router = api
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);
    if settings.docs_enabled {
        router = router.merge(openapi::docs_router(spec));
    }

    let edge = Arc::new(middleware::Edge {
        cors: middleware::CorsPolicy::new(&settings),
        security: middleware::SecurityHeaders::new(&settings),
        proxies: settings.proxies_count,
        timeout: settings.request_timeout,
    });

    // Layers wrap from the inside out: the last one added runs first.
    router = router
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(DefaultBodyLimit::max(settings.max_body_bytes));
    if settings.request_concurrency_limit > 0 {
        let limit = Arc::new(middleware::ConcurrencyLimit::new(
            settings.request_concurrency_limit,
            settings.request_concurrency_timeout,
        ));
        router = router.layer(axum::middleware::from_fn_with_state(
            limit,
            middleware::concurrency_limit,
        ));
    }
    router.layer(axum::middleware::from_fn_with_state(edge, middleware::edge))
}

/// Serves until `shutdown` resolves, then drains in-flight requests for at most `grace`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        let _ = tx.send(true);
    });
    let mut rx = rx;
    let deadline = async move {
        // Wait for the shutdown signal, then give in-flight requests `grace` to finish.
        let _ = rx.wait_for(|stopping| *stopping).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        result = server => result,
        () = deadline => {
            tracing::warn!(grace_s = grace.as_secs_f64(), "shutdown deadline reached; closing remaining connections");
            Ok(())
        }
    }
}

/// Resolves when `signal` does, after telling every open announcement stream to end, so the
/// graceful shutdown of [`serve`] is not held open by idle streams until its deadline.
pub fn ending_streams(
    state: &AppState,
    signal: impl std::future::Future<Output = ()> + Send + 'static,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let hub = state.announcements.clone();
    async move {
        signal.await;
        hub.shutdown();
    }
}

/// Resolves on SIGTERM (Cloud Run) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; draining in-flight requests");
}
