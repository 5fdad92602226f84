//! `GET /announcements/stream`: the live Server-Sent Events stream (contract §1.8).
//!
//! Wire format as legacy: `: connected`, then `event: announcement.published` + one `data:` line
//! per event and `: keep-alive` comments; never `id:` or `retry:` (the frontend's CORS allow-list
//! has no `Last-Event-ID`).
//!
//! Unlike legacy: events come from the process-wide [`crate::pubsub::Hub`] (no Redis connection
//! per stream); keep-alives every `ANNOUNCEMENT_STREAM_KEEPALIVE_SECONDS`; the stream holds no
//! concurrency slot and no database connection while idle, does not refresh `last_active_at`,
//! and ends cleanly when the token expires, when the identity's `token_version` changes or the
//! user loses access (checked on every keep-alive), after `ANNOUNCEMENT_STREAM_MAX_SECONDS`, when
//! it falls too far behind, and at server shutdown.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use rand::RngExt as _;
use time::OffsetDateTime;
use tokio::sync::{broadcast, watch};
use tokio::time::{Instant, Interval, MissedTickBehavior};
use uuid::Uuid;

use crate::domain::membership::Gate;
use crate::http::error::{ApiError, ApiResult};
use crate::http::guard::{CurrentUser, OrgMember};
use crate::http::state::AppState;
use crate::pubsub::{Event, stopped};
use crate::services;

/// How long a new stream waits for the process's subscription before it answers anyway.
const SUBSCRIBE_WAIT: Duration = Duration::from_secs(2);

pub const CONTENT_TYPE: &str = "text/event-stream; charset=utf-8";
const CONNECTED: &[u8] = b": connected\n\n";
const KEEP_ALIVE: &[u8] = b": keep-alive\n\n";

/// Opens the announcement stream of the caller's org.
#[utoipa::path(get, path = "/announcements/stream", tag = "announcements", security(("bearer" = [])),
    responses((status = 200, content_type = "text/event-stream", description = "`: connected`, then `event: announcement.published` frames and `: keep-alive` comments"),
        (status = 401, description = "Not authenticated"), (status = 503, description = "Shutting down")))]
pub async fn stream(
    State(state): State<AppState>,
    user: CurrentUser<OrgMember>,
) -> ApiResult<Response> {
    let hub = state.announcements.clone();
    let shutdown = hub.shutdown_signal();
    if *shutdown.borrow() {
        return Err(ApiError::unavailable("Server is shutting down"));
    }
    let events = hub.subscribe(user.org_id.as_str());
    if !hub.wait_live(SUBSCRIBE_WAIT).await {
        tracing::warn!(
            state = hub.state().as_str(),
            "announcement stream opened before the Redis subscription is live; events may be missed until it reconnects"
        );
    }

    let settings = &state.settings;
    let now = Instant::now();
    // Up to 10% shorter at random, so streams opened together (after a deploy) do not all
    // reconnect in the same second.
    let max = settings.announcement_stream_max;
    let mut lifetime = max.mul_f64(1.0 - rand::rng().random_range(0.0..0.1));
    if let Some(exp) = user.claims.exp {
        let left = exp - OffsetDateTime::now_utc().unix_timestamp();
        lifetime = lifetime.min(Duration::from_secs(u64::try_from(left).unwrap_or(0)));
    }
    let period = settings.announcement_stream_keepalive;
    let mut keepalive = tokio::time::interval_at(now + period, period);
    keepalive.set_missed_tick_behavior(MissedTickBehavior::Delay);

    let live = Live {
        phase: Phase::Hello,
        events,
        keepalive,
        deadline: now + lifetime,
        shutdown,
        who: Who {
            org_id: user.org_id.as_str().to_owned(),
            user_id: user.user_id,
            identity_id: user.claims.iid_uuid(),
            token_version: user.claims.tv,
            superuser: user.claims.su,
        },
        state: state.clone(),
    };
    let body = futures_util::stream::unfold(live, |mut live| async move {
        let chunk = live.next_chunk().await?;
        Some((Ok::<_, Infallible>(chunk), live))
    });

    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// Whose stream this is, for the periodic re-check.
struct Who {
    org_id: String,
    user_id: Uuid,
    identity_id: Option<Uuid>,
    token_version: Option<i64>,
    superuser: bool,
}

enum Phase {
    Hello,
    Live,
}

struct Live {
    phase: Phase,
    events: broadcast::Receiver<Event>,
    keepalive: Interval,
    deadline: Instant,
    shutdown: watch::Receiver<bool>,
    who: Who,
    state: AppState,
}

impl Live {
    /// The next bytes to send, or `None` to end the stream cleanly.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        if matches!(self.phase, Phase::Hello) {
            self.phase = Phase::Live;
            return Some(Bytes::from_static(CONNECTED));
        }
        let end = |reason: &'static str| {
            tracing::debug!(reason, "announcement stream ended");
            None
        };
        tokio::select! {
            biased;
            () = stopped(&mut self.shutdown) => end("server shutdown"),
            () = tokio::time::sleep_until(self.deadline) => end("token expired or maximum lifetime reached"),
            event = self.events.recv() => match event {
                Ok(payload) => Some(frame(&payload)),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "announcement stream fell behind; disconnecting it");
                    None
                }
                Err(broadcast::error::RecvError::Closed) => end("hub closed"),
            },
            _ = self.keepalive.tick() => {
                if still_allowed(&self.state, &self.who).await {
                    Some(Bytes::from_static(KEEP_ALIVE))
                } else {
                    end("token revoked or access lost")
                }
            }
        }
    }
}

/// One event frame: `event:` line, one `data:` line per payload line (CR/CRLF → LF), blank line.
pub fn frame(payload: &str) -> Bytes {
    let text = payload.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = String::with_capacity(text.len() + 48);
    out.push_str("event: announcement.published\n");
    for line in text.split('\n') {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    Bytes::from(out)
}

/// One cheap query: is the token still good (same `token_version`, identity and user active,
/// membership still active)? A database hiccup keeps the stream (the next tick checks again).
/// A refusal read here (a change nobody announced, e.g. the legacy service's) also drops what
/// this process's guard cached about the user, so a reconnect is refused too.
async fn still_allowed(state: &AppState, who: &Who) -> bool {
    let allowed = check_still_allowed(state, who).await;
    if !allowed {
        state
            .announcements
            .guard
            .apply(&crate::guard_cache::Scope::User(who.user_id));
    }
    allowed
}

async fn check_still_allowed(state: &AppState, who: &Who) -> bool {
    let Ok(mut conn) = state.db.acquire().await else {
        return true;
    };
    let ctx = match services::users::context(&mut conn, who.user_id, who.identity_id, &who.org_id)
        .await
    {
        Ok(Some(ctx)) => ctx,
        Ok(None) => return false,
        Err(e) => {
            tracing::warn!(error = %e, "announcement stream: re-check failed; keeping the stream");
            return true;
        }
    };
    drop(conn);
    if !ctx.user_is_active || !ctx.identity_is_active {
        return false;
    }
    if who
        .token_version
        .is_some_and(|tv| tv != i64::from(ctx.token_version))
    {
        return false;
    }
    if who.superuser {
        return true;
    }
    ctx.membership(Gate::Strict).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_have_one_data_line_per_payload_line() {
        assert_eq!(
            &frame("{\"type\": \"announcement.published\"}")[..],
            b"event: announcement.published\ndata: {\"type\": \"announcement.published\"}\n\n"
        );
        assert_eq!(
            &frame("a\r\nb\rc")[..],
            b"event: announcement.published\ndata: a\ndata: b\ndata: c\n\n"
        );
    }
}
