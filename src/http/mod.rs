//! The HTTP API: state, router assembly, middleware stack and graceful shutdown.

pub mod envelope;
pub mod error;
pub mod extract;
pub mod files;
pub mod guard;
pub mod input_guard;
pub mod middleware;
pub mod multipart;
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
        access_log: settings.access_log,
    });

    // Layers wrap from the inside out: the last one added runs first.
    router = router
        .layer(axum::middleware::from_fn(files::byte_ranges))
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

/// Per-connection limits of the HTTP/1.1 server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A connection that has not sent a complete request head within this time (including an
    /// idle keep-alive connection between requests) is closed: slowloris. `None`: no limit.
    pub header_read_timeout: Option<Duration>,
    /// The largest request head (request line and headers) accepted; larger ones get 431.
    pub max_header_bytes: usize,
}

impl ConnectionLimits {
    /// `HEADER_READ_TIMEOUT_SECONDS` (0 disables it) and `MAX_REQUEST_HEADER_BYTES`.
    pub fn from_settings(settings: &crate::config::Settings) -> Self {
        Self {
            header_read_timeout: Some(settings.header_read_timeout).filter(|d| !d.is_zero()),
            max_header_bytes: settings.max_header_bytes,
        }
    }
}

/// Serves until `shutdown` resolves, then drains in-flight requests for at most `grace`.
///
/// HTTP/1.1 through hyper's own connection builder rather than `axum::serve`, which exposes
/// neither a header-read timeout nor a header size limit: heads over `max_header_bytes` get
/// 431 and a connection that does not finish its head within `header_read_timeout` is closed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let server = accept_loop(listener, app, limits, async move {
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

/// Accepts connections until `shutdown` resolves, then asks each open connection to finish
/// its current request and waits until all have closed.
async fn accept_loop(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::extract::ConnectInfo;
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;
    use tower::ServiceExt as _;

    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_header_bytes);
    // Dropped when the accept loop ends: each connection task then starts a graceful close.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(());
    // Each connection task holds a receiver; `closed()` resolves when the last one is gone.
    let (open_tx, open_rx) = tokio::sync::watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            // Shutdown first: its first poll installs the signal handlers, which must be in
            // place before the first request is answered.
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
        };
        let service =
            app.clone()
                .map_request(move |mut req: axum::http::Request<hyper::body::Incoming>| {
                    req.extensions_mut()
                        .insert(ConnectInfo::<SocketAddr>(remote));
                    req.map(axum::body::Body::new)
                });
        let connection =
            builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let mut stop_rx = stop_rx.clone();
        let open_rx = open_rx.clone();
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection.with_upgrades());
            let mut stopping = false;
            loop {
                tokio::select! {
                    result = connection.as_mut() => {
                        if let Err(e) = result {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                        break;
                    }
                    _ = stop_rx.changed(), if !stopping => {
                        stopping = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
            drop(open_rx);
        });
    }
    drop(listener);
    drop(stop_tx);
    drop(open_rx);
    open_tx.closed().await;
    Ok(())
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
