//! The HTTP API: state, router assembly, middleware stack and graceful shutdown.

pub mod envelope;
pub mod error;
pub mod extract;
pub mod files;
pub mod guard;
pub mod input_guard;
pub mod middleware;
pub mod openapi;
pub mod routes;
pub mod session;
pub mod state;
pub mod step_up;
pub mod tenant;
pub mod token;
pub mod validate;

pub use state::{API_PREFIX, AppState, AuthContext};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa_axum::router::OpenApiRouter;

use self::error::ApiError;

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
        .layer(DefaultBodyLimit::max(settings.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            settings.max_body_bytes,
            input_guard::refuse_nul,
        ));
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
