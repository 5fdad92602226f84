//! Cross-cutting middleware, in order of effect (contract §9.7): request context and access
//! log, CORS, security headers, trusted proxies, the concurrency limit, the request timeout and
//! the panic handler.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::config::{AccessLog, Settings};
use crate::http::error::{ApiError, DbOverloaded};
use crate::http::state::API_PREFIX;
use crate::telemetry::TraceContext;

/// The client address after applying `PROXIES_COUNT` to `X-Forwarded-For`.
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub IpAddr);

/// Marks routes (the announcement stream) that must not hold a concurrency slot.
#[derive(Clone, Copy, Debug)]
pub struct ConcurrencyExempt;

const X_REQUEST_ID: &str = "x-request-id";

/// Everything the edge middleware needs, computed once at startup.
pub struct Edge {
    pub cors: CorsPolicy,
    pub security: SecurityHeaders,
    pub proxies: usize,
    pub timeout: Duration,
    /// `ACCESS_LOG`: which answers get a line.
    pub access_log: AccessLog,
}

/// The incoming `X-Request-ID` when it is sane, else a fresh UUID. The UUID comes from the
/// thread-local CSPRNG rather than a getrandom syscall per request.
fn request_id_of(headers: &HeaderMap) -> String {
    headers
        .get(X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 200 && v.chars().all(|c| c.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let bytes: [u8; 16] = rand::random();
            uuid::Builder::from_random_bytes(bytes)
                .into_uuid()
                .to_string()
        })
}

/// The outermost middleware, one layer instead of five (each `from_fn` layer boxes a future):
/// request context and access log, CORS, security headers, trusted proxies and the request
/// timeout, in that order of effect (contract §9.7).
pub async fn edge(State(edge): State<Arc<Edge>>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request_id_of(req.headers());
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        tenant_id = tracing::field::Empty,
        trace_id = tracing::field::Empty,
        span_id = tracing::field::Empty,
        trace_sampled = tracing::field::Empty,
    );
    if !span.is_disabled()
        && let Some(t) = TraceContext::from_headers(
            header_str(req.headers(), "traceparent"),
            header_str(req.headers(), "x-cloud-trace-context"),
        )
    {
        span.record("trace_id", t.trace_id.as_str());
        if let Some(s) = &t.span_id {
            span.record("span_id", s.as_str());
        }
        span.record("trace_sampled", if t.sampled { "true" } else { "false" });
    }
    // Only the access log needs owned copies of these.
    let logged = (!span.is_disabled() && edge.access_log != AccessLog::Off)
        .then(|| (req.method().clone(), req.uri().path().to_owned()));
    let is_docs = req.uri().path().starts_with("/docs");
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);

    let mut response = match &origin {
        Some(origin)
            if req.method() == Method::OPTIONS
                && req
                    .headers()
                    .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD) =>
        {
            preflight(&edge.cors, origin, req.headers())
        }
        _ => {
            let peer = req
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip());
            if let Some(ip) = client_ip(req.headers(), peer, edge.proxies) {
                req.extensions_mut().insert(ClientIp(ip));
            }
            match tokio::time::timeout(edge.timeout, next.run(req).instrument(span.clone())).await {
                Ok(response) => response,
                Err(_) => {
                    let _guard = span.enter();
                    tracing::warn!(timeout_s = edge.timeout.as_secs_f64(), "request timed out");
                    ApiError::http(StatusCode::REQUEST_TIMEOUT, "Request timed out").into_response()
                }
            }
        }
    };

    // Every 429 tells the client when to come back (limiters that know their window set it).
    if response.status() == StatusCode::TOO_MANY_REQUESTS
        && !response.headers().contains_key(header::RETRY_AFTER)
    {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
    }
    edge.security.apply(&mut response, is_docs);
    if let Some(origin) = &origin {
        let headers = response.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        if edge.cors.allows(origin)
            && !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            && let Ok(value) = HeaderValue::from_str(origin)
        {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
            headers.append(header::VARY, HeaderValue::from_static("Origin"));
        }
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(X_REQUEST_ID, value);
    }
    if let Some((method, path)) = logged
        && edge.access_log.logs(response.status().as_u16())
    {
        let status = response.status().as_u16();
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        let _guard = span.enter();
        if status >= 500 {
            tracing::warn!(method = %method, path = %path, status, latency_ms, "{method} {path} {status}");
        } else {
            tracing::info!(method = %method, path = %path, status, latency_ms, "{method} {path} {status}");
        }
    }
    response
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The request headers the frontend sends cross-origin, plus the CORS-safelisted ones; sorted
/// as the legacy service listed them.
const ALLOWED_HEADERS: &[&str] = &[
    "Accept",
    "Accept-Language",
    "Authorization",
    "Content-Language",
    "Content-Type",
    "Idempotency-Key",
    "X-Background-Request",
    "X-CSRF-Token",
    "X-Org-Id",
    "X-Step-Up-Token",
];
const ALLOWED_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";

pub struct CorsPolicy {
    origins: Vec<String>,
}

impl CorsPolicy {
    pub fn new(settings: &Settings) -> Self {
        Self {
            origins: settings.allowed_origins.clone(),
        }
    }

    fn allows(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o == origin)
    }
}

fn preflight(policy: &CorsPolicy, origin: &str, headers: &HeaderMap) -> Response {
    let mut failures = Vec::new();
    let origin_ok = policy.allows(origin);
    if !origin_ok {
        failures.push("origin");
    }
    let method = header_str(headers, "access-control-request-method").unwrap_or("");
    if !ALLOWED_METHODS
        .split(", ")
        .any(|m| m.eq_ignore_ascii_case(method.trim()))
    {
        failures.push("method");
    }
    if let Some(requested) = header_str(headers, "access-control-request-headers") {
        let all_allowed = requested
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .all(|h| ALLOWED_HEADERS.iter().any(|a| a.eq_ignore_ascii_case(h)));
        if !all_allowed {
            failures.push("headers");
        }
    }
    let (status, body) = if failures.is_empty() {
        (StatusCode::OK, "OK".to_owned())
    } else {
        (
            StatusCode::BAD_REQUEST,
            format!("Disallowed CORS {}", failures.join(", ")),
        )
    };
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOWED_METHODS),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    if let Ok(v) = HeaderValue::from_str(&ALLOWED_HEADERS.join(", ")) {
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
    }
    h.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
    if origin_ok && let Ok(v) = HeaderValue::from_str(origin) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Precomputed security headers.
pub struct SecurityHeaders {
    defaults: Vec<(HeaderName, HeaderValue)>,
    csp_name: HeaderName,
    csp: Option<HeaderValue>,
    docs_csp: HeaderValue,
    retry_after_db: HeaderValue,
}

/// The embedded Swagger UI needs inline styles and data: images; the API itself keeps the
/// configured policy.
const DOCS_CSP: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:";

impl SecurityHeaders {
    pub fn new(settings: &Settings) -> Self {
        let mut defaults = vec![
            (
                HeaderName::from_static("x-content-type-options"),
                HeaderValue::from_static("nosniff"),
            ),
            (
                HeaderName::from_static("x-frame-options"),
                HeaderValue::from_static("DENY"),
            ),
            (
                HeaderName::from_static("referrer-policy"),
                HeaderValue::from_static("no-referrer"),
            ),
            (
                HeaderName::from_static("x-xss-protection"),
                HeaderValue::from_static("0"),
            ),
            (
                HeaderName::from_static("cross-origin-opener-policy"),
                HeaderValue::from_static("same-origin"),
            ),
            (
                HeaderName::from_static("cross-origin-resource-policy"),
                HeaderValue::from_static("same-origin"),
            ),
        ];
        if settings.enable_hsts {
            defaults.push((
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=63072000; includeSubDomains; preload"),
            ));
        }
        Self {
            defaults,
            csp_name: if settings.content_security_policy_report_only {
                HeaderName::from_static("content-security-policy-report-only")
            } else {
                header::CONTENT_SECURITY_POLICY
            },
            csp: Some(settings.content_security_policy.as_str())
                .filter(|v| !v.is_empty())
                .and_then(|v| HeaderValue::from_str(v).ok()),
            docs_csp: HeaderValue::from_static(DOCS_CSP),
            retry_after_db: HeaderValue::from(settings.database.pool_retry_after_seconds),
        }
    }

    /// Adds each header only when the handler did not set it.
    fn apply(&self, response: &mut Response, is_docs: bool) {
        if response.extensions().get::<DbOverloaded>().is_some() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, self.retry_after_db.clone());
        }
        let h = response.headers_mut();
        for (name, value) in &self.defaults {
            if !h.contains_key(name) {
                h.insert(name.clone(), value.clone());
            }
        }
        if !h.contains_key(&self.csp_name) {
            if is_docs {
                h.insert(self.csp_name.clone(), self.docs_csp.clone());
            } else if let Some(csp) = &self.csp {
                h.insert(self.csp_name.clone(), csp.clone());
            }
        }
    }
}

/// Resolves the client IP: the `PROXIES_COUNT`-th `X-Forwarded-For` entry from the right,
/// i.e. the address the first trusted proxy appended (Cloud Run's front end appends the real
/// client last: 1; behind an external load balancer: 2); the peer address when the header has
/// fewer entries or the setting is 0. Entries the client wrote on the left are never used, so
/// rotating them cannot escape a per-IP limit (security-reliability.md §4.4).
pub fn client_ip(headers: &HeaderMap, peer: Option<IpAddr>, proxies: usize) -> Option<IpAddr> {
    if proxies > 0
        && let Some(xff) = header_str(headers, "x-forwarded-for")
    {
        let entries: Vec<&str> = xff
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if entries.len() >= proxies
            && let Ok(ip) = entries[entries.len() - proxies].parse::<IpAddr>()
        {
            return Some(ip);
        }
    }
    peer
}

pub struct ConcurrencyLimit {
    semaphore: Semaphore,
    timeout: Duration,
}

impl ConcurrencyLimit {
    pub fn new(limit: usize, timeout: Duration) -> Self {
        Self {
            semaphore: Semaphore::new(limit),
            timeout,
        }
    }
}

/// `REQUEST_CONCURRENCY_LIMIT` in-flight requests per process; waiting longer than
/// `REQUEST_CONCURRENCY_TIMEOUT_SECONDS` (0 = forever) answers 429 `server_busy`.
pub async fn concurrency_limit(
    State(limit): State<Arc<ConcurrencyLimit>>,
    req: Request,
    next: Next,
) -> Response {
    if req.extensions().get::<ConcurrencyExempt>().is_some() || is_stream_path(req.uri().path()) {
        return next.run(req).await;
    }
    let permit = if limit.timeout.is_zero() {
        limit.semaphore.acquire().await.ok()
    } else {
        tokio::time::timeout(limit.timeout, limit.semaphore.acquire())
            .await
            .ok()
            .and_then(Result::ok)
    };
    match permit {
        Some(_permit) => next.run(req).await,
        None => {
            let retry = limit.timeout.as_secs().max(1);
            ApiError::coded(
                StatusCode::TOO_MANY_REQUESTS,
                "server_busy",
                "Server is handling too many requests",
                serde_json::json!({"detail": "Concurrency limit reached. Please retry."}),
            )
            .with_header(header::RETRY_AFTER, HeaderValue::from(retry))
            .into_response()
        }
    }
}

/// A panicking handler becomes the opaque 500 envelope; the process keeps serving. The panic
/// itself was already logged, once, by the panic hook (`telemetry::install_panic_hook`).
pub fn panic_response(_err: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    ApiError::internal().into_response()
}

/// The announcement stream route, relative to the API prefix.
const STREAM_ROUTE: &str = "/announcements/stream";

/// Whether a request path (with or without the `/api/v1` prefix, as seen outside or inside the
/// nested router) is the announcement stream: it holds no concurrency slot and does not count
/// as user activity.
pub fn is_stream_path(path: &str) -> bool {
    path.strip_prefix(API_PREFIX).unwrap_or(path) == STREAM_ROUTE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ip_counts_proxies_from_the_right() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 1.2.3.4, 10.0.0.1"),
        );
        let peer: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(
            client_ip(&headers, Some(peer), 1),
            Some("10.0.0.1".parse().unwrap())
        );
        assert_eq!(
            client_ip(&headers, Some(peer), 2),
            Some("1.2.3.4".parse().unwrap())
        );
        assert_eq!(
            client_ip(&headers, Some(peer), 3),
            Some("6.6.6.6".parse().unwrap())
        );
        assert_eq!(client_ip(&headers, Some(peer), 4), Some(peer));
        assert_eq!(client_ip(&headers, Some(peer), 0), Some(peer));
    }
}
