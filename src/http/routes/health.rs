//! `/health/live`, `/health/ready`, `/status/summary` (contract §3; DESIGN.md §4 for the
//! summary's always-present checks). The body says what is wrong. `/health/ready` answers 503
//! while PostgreSQL or Redis does not answer (Cloud Run and load balancers read the status, not
//! the body; a deliberate change from the legacy always-200, whose body is kept); the others
//! stay 200.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::envelope::Envelope;
use crate::http::state::AppState;
use crate::timefmt::iso_offset;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(live))
        .routes(routes!(ready))
        .routes(routes!(summary))
}

const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Readiness probes must answer quickly even when a dependency hangs.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Liveness: never touches PostgreSQL or Redis.
#[utoipa::path(get, path = "/health/live", tag = "health", responses((status = 200, description = "Process is alive")))]
async fn live() -> Envelope<Live> {
    Envelope(Live {
        status: "ok",
        timestamp: iso_offset(OffsetDateTime::now_utc()),
    })
}

/// The liveness payload (a struct: the hottest endpoint should not build a map per call).
#[derive(serde::Serialize)]
struct Live {
    status: &'static str,
    timestamp: String,
}

struct Check {
    ok: bool,
    message: Option<String>,
}

async fn check_database(state: &AppState) -> Check {
    let probe = async {
        let mut conn = state.db.acquire().await?;
        sqlx::query("SELECT 1").execute(&mut *conn).await?;
        Ok::<_, sqlx::Error>(())
    };
    match tokio::time::timeout(CHECK_TIMEOUT, probe).await {
        Ok(Ok(())) => Check {
            ok: true,
            message: None,
        },
        Ok(Err(e)) => {
            tracing::warn!(error = %crate::db::describe_connect_error(&e), "readiness: database check failed");
            Check {
                ok: false,
                message: Some("database unavailable".into()),
            }
        }
        Err(_) => Check {
            ok: false,
            message: Some("database check timed out".into()),
        },
    }
}

async fn check_cache(state: &AppState) -> Check {
    match tokio::time::timeout(CHECK_TIMEOUT, state.cache.ping()).await {
        Ok(Ok(())) => Check {
            ok: true,
            message: None,
        },
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: redis check failed");
            Check {
                ok: false,
                message: Some("redis unavailable".into()),
            }
        }
        Err(_) => Check {
            ok: false,
            message: Some("redis check timed out".into()),
        },
    }
}

fn status_word(ok: bool) -> &'static str {
    if ok { "ok" } else { "error" }
}

/// The readiness payload; `with_version` adds the summary's `version` field, and
/// `always_checks` the summary's always-present `checks` (DESIGN.md §4).
async fn readiness(state: &AppState, with_version: bool, always_checks: bool) -> Value {
    let (db, cache) = tokio::join!(check_database(state), check_cache(state));
    let ready = db.ok && cache.ok;
    let details = state.settings.health_include_details;
    let mut out = Map::new();
    out.insert(
        "status".into(),
        json!(if ready { "ok" } else { "degraded" }),
    );
    out.insert("ready".into(), json!(ready));
    if with_version {
        out.insert("version".into(), json!(VERSION));
    }
    out.insert(
        "timestamp".into(),
        json!(iso_offset(OffsetDateTime::now_utc())),
    );
    out.insert("cache_backend".into(), json!(state.cache.backend_name()));
    if details {
        out.insert(
            "environment".into(),
            json!(state.settings.environment.as_str()),
        );
    }
    if details || always_checks {
        let entry = |check: &Check, extra: Option<(&str, Value)>| {
            let mut m = Map::new();
            m.insert("status".into(), json!(status_word(check.ok)));
            if details {
                if let Some((k, v)) = extra {
                    m.insert(k.into(), v);
                }
                if let Some(msg) = &check.message {
                    m.insert("message".into(), json!(msg));
                }
            }
            Value::Object(m)
        };
        let api = Check {
            ok: true,
            message: None,
        };
        out.insert(
            "checks".into(),
            json!({
                "api": entry(&api, Some(("version", json!(VERSION)))),
                "database": entry(&db, None),
                "redis": entry(&cache, Some(("backend", json!(state.cache.backend_name())))),
            }),
        );
    }
    Value::Object(out)
}

/// Readiness: `SELECT 1` and Redis `PING` with short timeouts; 503 (same body, status
/// `degraded`) while either fails.
#[utoipa::path(get, path = "/health/ready", tag = "health", responses(
    (status = 200, description = "Ready: PostgreSQL and Redis answer (status ok)"),
    (status = 503, description = "Not ready: the same body with status degraded and ready false"),
))]
async fn ready(State(state): State<AppState>) -> (StatusCode, Envelope<Value>) {
    let mut body = readiness(&state, false, false).await;
    let ready = body.get("ready").and_then(Value::as_bool).unwrap_or(false);
    // The event hub's one Redis subscription (`idle` until the first stream or authenticated
    // request; `in_process` without Redis; the guard cache is trusted only while it is
    // `subscribed` or `in_process`) and how many streams this process holds open.
    if let Value::Object(map) = &mut body {
        map.insert(
            "announcements_pubsub".into(),
            json!(state.announcements.state().as_str()),
        );
        map.insert(
            "announcement_streams".into(),
            json!(state.announcements.receivers()),
        );
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Envelope(body))
}

/// The public status page's payload.
#[utoipa::path(get, path = "/status/summary", tag = "health", responses((status = 200, description = "Public status summary")))]
async fn summary(State(state): State<AppState>) -> Envelope<Value> {
    Envelope(readiness(&state, true, true).await)
}
