//! `GET /announcements/stream`: the SSE wire format, delivery across `sole` processes sharing a
//! Redis, one Redis subscription per process, keep-alives, and every way a stream ends.
//!
//! Streams are read with bounded timeouts; nothing here sleeps to synchronise.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use base64::Engine as _;
use futures_util::{Stream, StreamExt};
use serde_json::{Value, json};
use sole::config::{EnvMap, Settings};

use crate::announcement_support::{Org, create, org_with_members};
use crate::fixtures::Session;
use crate::helpers::{
    TestApp, base_env, client, fresh_database, json, redis_url, spawn_app_with, spawn_with_env,
};

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// An open stream, read frame by frame (a frame ends with a blank line).
pub struct Sse {
    pub headers: reqwest::header::HeaderMap,
    body: ByteStream,
    buf: String,
}

const FRAME_WAIT: Duration = Duration::from_secs(10);

impl Sse {
    pub async fn open(app: &TestApp, http: &reqwest::Client, token: &str, org: &str) -> Sse {
        let resp = app
            .call("GET", "/announcements/stream")
            .client(http)
            .token(token)
            .header("X-Org-Id", org)
            .header("Accept", "text/event-stream")
            .response()
            .await;
        assert_eq!(resp.status(), 200);
        Sse {
            headers: resp.headers().clone(),
            body: Box::pin(resp.bytes_stream()),
            buf: String::new(),
        }
    }

    /// The next frame, or `None` when the server ended the body cleanly. Panics when nothing
    /// arrives within `within` or the body breaks instead of ending.
    pub async fn frame(&mut self, within: Duration) -> Option<String> {
        tokio::time::timeout(within, async {
            loop {
                if let Some(pos) = self.buf.find("\n\n") {
                    let frame: String = self.buf.drain(..pos + 2).collect();
                    return Some(frame);
                }
                match self.body.next().await {
                    Some(Ok(chunk)) => self.buf.push_str(std::str::from_utf8(&chunk).unwrap()),
                    Some(Err(e)) => panic!("stream broke instead of ending cleanly: {e}"),
                    None => {
                        assert!(self.buf.is_empty(), "partial frame at end: {:?}", self.buf);
                        return None;
                    }
                }
            }
        })
        .await
        .expect("no frame in time")
    }

    /// Skips keep-alive comments; returns the next event's data JSON.
    pub async fn event(&mut self) -> Value {
        loop {
            let frame = self.frame(FRAME_WAIT).await.expect("stream ended");
            if frame == ": keep-alive\n\n" {
                continue;
            }
            let lines: Vec<&str> = frame.trim_end_matches('\n').split('\n').collect();
            assert_eq!(lines.len(), 2, "{frame:?}");
            assert_eq!(lines[0], "event: announcement.published");
            let data = lines[1].strip_prefix("data: ").expect("data line");
            return serde_json::from_str(data).unwrap();
        }
    }

    pub async fn connected(&mut self) {
        assert_eq!(
            self.frame(FRAME_WAIT).await.as_deref(),
            Some(": connected\n\n")
        );
    }

    /// Reads until the server ends the stream (keep-alives allowed meanwhile).
    pub async fn ends(&mut self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.frame(left).await {
                None => return,
                Some(f) => assert_eq!(f, ": keep-alive\n\n", "unexpected frame"),
            }
        }
    }
}

/// A second `sole` process on the same database, Redis and key prefix.
async fn second_instance(app: &TestApp, overrides: &[(&str, &str)]) -> TestApp {
    let mut env = base_env(&app.db_name, &app.redis_prefix);
    env.overlay(EnvMap::from_pairs(
        overrides.iter().map(|(k, v)| (*k, v.to_string())),
    ));
    spawn_with_env(env, app.db_name.clone(), app.redis_prefix.clone()).await
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

#[tokio::test]
async fn a_stream_receives_events_published_by_another_instance() {
    let quiet = [("ANNOUNCEMENT_STREAM_KEEPALIVE_SECONDS", "60")];
    let Org {
        app: a,
        admin,
        employee,
        ..
    } = org_with_members(spawn_app_with(&quiet).await, "acme").await;
    let b = second_instance(&a, &quiet).await;

    let mut sse = Sse::open(&b, &client(), &employee.access, "acme").await;
    assert_eq!(
        sse.headers["content-type"],
        "text/event-stream; charset=utf-8"
    );
    assert_eq!(sse.headers["cache-control"], "no-cache");
    sse.connected().await;

    // A draft is not announced; publishing it (on the other instance) is.
    let draft = create(&a, &admin, json!({"title": "Draft", "body": "b"})).await;
    let (status, live) = a
        .call(
            "PATCH",
            &format!("/announcements/{}", draft["id"].as_str().unwrap()),
        )
        .session(&admin)
        .json(&json!({"status": "published", "title": "Now live"}))
        .fetch()
        .await;
    assert_eq!(status, 200);
    let event = sse.event().await;
    assert_eq!(
        keys(&event),
        [
            "type",
            "id",
            "org_id",
            "title",
            "announcement_type",
            "status",
            "published_at"
        ]
    );
    assert_eq!(event["type"], "announcement.published");
    assert_eq!(event["id"], live["data"]["id"]);
    assert_eq!(event["org_id"], "acme");
    assert_eq!(event["title"], "Now live");
    assert_eq!(event["announcement_type"], "GENERAL");
    assert_eq!(event["status"], "PUBLISHED");
    let published_at = event["published_at"].as_str().unwrap();
    assert!(published_at.ends_with("+00:00"), "{published_at}");
    assert_eq!(
        published_at.trim_end_matches("+00:00"),
        live["data"]["published_at"]
            .as_str()
            .unwrap()
            .trim_end_matches('Z')
    );

    // A create with status PUBLISHED on either instance, in order.
    create(
        &b,
        &admin,
        json!({"title": "Outage", "body": "b", "status": "PUBLISHED", "type": "OUTAGE"}),
    )
    .await;
    let event = sse.event().await;
    assert_eq!(
        (event["title"].as_str(), event["announcement_type"].as_str()),
        (Some("Outage"), Some("OUTAGE"))
    );

    let (_, ready) = json(b.get("/health/ready").await).await;
    assert_eq!(ready["data"]["announcements_pubsub"], "subscribed");
    assert_eq!(ready["data"]["announcement_streams"], 1);
}

#[tokio::test]
async fn another_orgs_stream_never_sees_these_events() {
    let quiet = [("ANNOUNCEMENT_STREAM_KEEPALIVE_SECONDS", "60")];
    let Org { app, admin, .. } = org_with_members(spawn_app_with(&quiet).await, "acme").await;
    crate::fixtures::create_org(&app, "globex", "Globex").await;
    let other = crate::fixtures::create_member(
        &app,
        "globex",
        crate::fixtures::MemberSpec::admin("boss@globex.test"),
    )
    .await;
    let other = app.sign_in(&other).await;
    let mut globex = Sse::open(&app, &client(), &other.access, "globex").await;
    globex.connected().await;

    create(
        &app,
        &admin,
        json!({"title": "Acme secret", "body": "b", "status": "PUBLISHED"}),
    )
    .await;
    create(
        &app,
        &other,
        json!({"title": "Globex news", "body": "b", "status": "PUBLISHED"}),
    )
    .await;
    // The first event globex sees is its own, published after acme's.
    let event = globex.event().await;
    assert_eq!(
        (event["org_id"].as_str(), event["title"].as_str()),
        (Some("globex"), Some("Globex news"))
    );
}

#[tokio::test]
async fn keep_alives_follow_the_configured_interval() {
    let Org { app, employee, .. } = org_with_members(
        spawn_app_with(&[("ANNOUNCEMENT_STREAM_KEEPALIVE_SECONDS", "0.2")]).await,
        "acme",
    )
    .await;
    let mut sse = Sse::open(&app, &client(), &employee.access, "acme").await;
    sse.connected().await;
    let started = std::time::Instant::now();
    for _ in 0..3 {
        assert_eq!(
            sse.frame(Duration::from_secs(5)).await.as_deref(),
            Some(": keep-alive\n\n")
        );
    }
    // Three intervals, not one per second as legacy.
    assert!(started.elapsed() >= Duration::from_millis(550));
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_stream_ends_on_logout_and_on_revocation() {
    let Org {
        app,
        admin,
        employee,
        employee_member,
    } = org_with_members(
        spawn_app_with(&[("ANNOUNCEMENT_STREAM_KEEPALIVE_SECONDS", "0.2")]).await,
        "acme",
    )
    .await;
    // Logout bumps token_version: the open stream ends at its next check.
    let mut sse = Sse::open(&app, &client(), &admin.access, "acme").await;
    sse.connected().await;
    let (status, body) = app
        .call("POST", "/auth/logout")
        .session(&admin)
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    sse.ends(Duration::from_secs(5)).await;

    // Revocation from anywhere (e.g. the legacy service) does the same.
    let mut sse = Sse::open(&app, &client(), &employee.access, "acme").await;
    sse.connected().await;
    sqlx::query("UPDATE identities SET token_version = token_version + 1 WHERE id = $1")
        .bind(employee_member.identity_id)
        .execute(&app.db)
        .await
        .unwrap();
    sse.ends(Duration::from_secs(5)).await;
    // And the reconnect is refused.
    let resp = app
        .call("GET", "/announcements/stream")
        .token(&employee.access)
        .header("X-Org-Id", "acme")
        .response()
        .await;
    assert_eq!(resp.status(), 401);
}

/// The session's access token re-signed with `exp` = now + `secs`.
fn short_lived(app: &TestApp, session: &Session, secs: i64) -> String {
    let payload = session.access.split('.').nth(1).unwrap();
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let mut claims: serde_json::Map<String, Value> = serde_json::from_slice(&raw).unwrap();
    claims.insert(
        "exp".into(),
        json!(time::OffsetDateTime::now_utc().unix_timestamp() + secs),
    );
    app.auth.jwt.encode(&claims).unwrap()
}

#[tokio::test]
async fn a_stream_ends_when_its_token_expires() {
    let Org { app, employee, .. } = org_with_members(
        spawn_app_with(&[("ANNOUNCEMENT_STREAM_KEEPALIVE_SECONDS", "60")]).await,
        "acme",
    )
    .await;
    let token = short_lived(&app, &employee, 2);
    let mut sse = Sse::open(&app, &client(), &token, "acme").await;
    sse.connected().await;
    let started = std::time::Instant::now();
    sse.ends(Duration::from_secs(6)).await;
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn a_stream_ends_after_its_maximum_lifetime() {
    let Org { app, employee, .. } = org_with_members(
        spawn_app_with(&[
            ("ANNOUNCEMENT_STREAM_KEEPALIVE_SECONDS", "60"),
            ("ANNOUNCEMENT_STREAM_MAX_SECONDS", "1"),
        ])
        .await,
        "acme",
    )
    .await;
    let mut sse = Sse::open(&app, &client(), &employee.access, "acme").await;
    sse.connected().await;
    sse.ends(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn streams_skip_the_concurrency_limit_and_do_not_count_as_activity() {
    let Org {
        app,
        admin,
        employee,
        employee_member,
    } = org_with_members(
        spawn_app_with(&[
            ("REQUEST_CONCURRENCY_LIMIT", "1"),
            ("REQUEST_CONCURRENCY_TIMEOUT_SECONDS", "0.2"),
            ("ANNOUNCEMENT_STREAM_KEEPALIVE_SECONDS", "60"),
        ])
        .await,
        "acme",
    )
    .await;
    let long_ago = "UPDATE identities SET last_active_at = now() - interval '5 minutes' WHERE id = $1 \
                    RETURNING last_active_at";
    let before: time::OffsetDateTime = sqlx::query_scalar(long_ago)
        .bind(employee_member.identity_id)
        .fetch_one(&app.db)
        .await
        .unwrap();

    // Occupy the only slot: a PATCH that waits for a row lock this test holds.
    let a = create(&app, &admin, json!({"title": "Locked", "body": "b"})).await;
    let id = uuid::Uuid::parse_str(a["id"].as_str().unwrap()).unwrap();
    let mut lock = app.db.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM announcements WHERE id = $1 FOR UPDATE")
        .bind(id)
        .execute(&mut *lock)
        .await
        .unwrap();
    let patch = {
        let patch = app
            .call("PATCH", &format!("/announcements/{id}"))
            .client(&client())
            .token(&admin.access)
            .header("X-Org-Id", "acme")
            .json(&json!({"body": "changed"}));
        tokio::spawn(async move { patch.response().await.status() })
    };
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                 AND wait_event_type = 'Lock'",
            )
            .fetch_one(&app.db)
            .await
            .unwrap();
            if waiting > 0 {
                break;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the PATCH is waiting for the lock");
    let (status, busy) = app
        .call("GET", "/announcements/unread/count")
        .session(&employee)
        .fetch()
        .await;
    assert_eq!((status, busy["code"].as_str()), (429, Some("server_busy")));

    // Streams still open while the slot is taken.
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut sse = Sse::open(&app, &client(), &employee.access, "acme").await;
        sse.connected().await;
        open.push(sse);
    }
    lock.rollback().await.unwrap();
    assert_eq!(patch.await.unwrap(), 200);

    let last: time::OffsetDateTime =
        sqlx::query_scalar("SELECT last_active_at FROM identities WHERE id = $1")
            .bind(employee_member.identity_id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(last, before, "opening a stream is not activity");
    // An ordinary request is.
    let (status, _) = app
        .call("GET", "/announcements/unread/count")
        .session(&employee)
        .fetch()
        .await;
    assert_eq!(status, 200);
    let last: time::OffsetDateTime =
        sqlx::query_scalar("SELECT last_active_at FROM identities WHERE id = $1")
            .bind(employee_member.identity_id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(last > before);
}

#[tokio::test]
async fn five_hundred_streams_share_one_redis_subscription() {
    const STREAMS: usize = 500;
    let Org {
        app,
        admin,
        employee,
        ..
    } = org_with_members(
        spawn_app_with(&[("ANNOUNCEMENT_STREAM_KEEPALIVE_SECONDS", "60")]).await,
        "acme",
    )
    .await;
    let http = client();
    let mut streams = futures_util::future::join_all(
        (0..STREAMS).map(|_| Sse::open(&app, &http, &employee.access, "acme")),
    )
    .await;
    futures_util::future::join_all(streams.iter_mut().map(Sse::connected)).await;

    let (_, ready) = json(app.get("/health/ready").await).await;
    assert_eq!(ready["data"]["announcement_streams"], STREAMS);
    assert_eq!(ready["data"]["announcements_pubsub"], "subscribed");

    // PUBLISH answers how many Redis subscriptions received the message: one for the whole
    // process, however many streams are open (legacy: one per stream).
    let redis = redis::Client::open(redis_url()).unwrap();
    let mut conn = redis.get_multiplexed_async_connection().await.unwrap();
    let payload = json!({"type": "announcement.published", "id": "x", "org_id": "acme",
        "title": "from redis", "announcement_type": "GENERAL", "status": "PUBLISHED",
        "published_at": null})
    .to_string();
    let receivers: i64 = redis::cmd("PUBLISH")
        .arg(format!("{}:announcements:acme", app.redis_prefix))
        .arg(&payload)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(receivers, 1);
    let events = futures_util::future::join_all(streams.iter_mut().map(Sse::event)).await;
    assert!(events.iter().all(|e| e["title"] == "from redis"));

    // And an event published through the API reaches all of them too.
    create(
        &app,
        &admin,
        json!({"title": "to all", "body": "b", "status": "PUBLISHED"}),
    )
    .await;
    let events = futures_util::future::join_all(streams.iter_mut().map(Sse::event)).await;
    assert!(events.iter().all(|e| e["title"] == "to all"));

    drop(streams);
    // Closed streams are let go (checked without sleeping: poll the readiness counter).
    let mut left = STREAMS;
    for _ in 0..200 {
        let (_, ready) = json(app.get("/health/ready").await).await;
        left = ready["data"]["announcement_streams"].as_u64().unwrap() as usize;
        if left == 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(left, 0);
}

/// Like `spawn_app_with`, but with a shutdown trigger wired exactly as `sole serve` wires it.
async fn spawn_stoppable(
    overrides: &[(&str, &str)],
) -> (
    TestApp,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let db_name = fresh_database().await;
    let prefix = format!("test:{}", uuid::Uuid::new_v4().simple());
    let mut env = base_env(&db_name, &prefix);
    env.overlay(EnvMap::from_pairs(
        overrides.iter().map(|(k, v)| (*k, v.to_string())),
    ));
    let settings = Arc::new(Settings::from_env(&env).unwrap());
    let state = sole::commands::serve::build_state(settings.clone()).unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown = sole::http::ending_streams(&state, async move {
        let _ = rx.await;
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let cache = state.cache.clone();
    let auth = state.auth.clone();
    let limits = sole::http::ConnectionLimits::from_settings(&state.settings);
    let server = tokio::spawn(sole::http::serve(
        listener,
        sole::http::app(state),
        limits,
        shutdown,
        Duration::from_secs(30),
    ));
    let db = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&crate::helpers::url_for(&db_name))
        .await
        .unwrap();
    let app = TestApp {
        api: format!("{address}/api/v1"),
        address,
        client: client(),
        db,
        db_name,
        settings,
        cache,
        auth,
        redis_prefix: prefix,
    };
    (app, tx, server)
}

#[tokio::test]
async fn shutdown_ends_open_streams_cleanly_and_promptly() {
    let (app, stop, server) =
        spawn_stoppable(&[("ANNOUNCEMENT_STREAM_KEEPALIVE_SECONDS", "60")]).await;
    let Org { app, employee, .. } = org_with_members(app, "acme").await;
    let mut streams = Vec::new();
    for _ in 0..3 {
        let mut sse = Sse::open(&app, &client(), &employee.access, "acme").await;
        sse.connected().await;
        streams.push(sse);
    }
    let started = std::time::Instant::now();
    stop.send(()).unwrap();
    for sse in &mut streams {
        sse.ends(Duration::from_secs(5)).await;
    }
    // The server drained well before its 30 s grace period: the streams did not hold it open.
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("server stopped")
        .unwrap()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_publish_while_redis_is_down_saves_the_change() {
    let Org { app, admin, .. } = org_with_members(spawn_app_with(&[]).await, "acme").await;
    // The same database, but a Redis that refuses connections.
    let broken = second_instance(&app, &[("REDIS_URL", "redis://127.0.0.1:1")]).await;

    let started = std::time::Instant::now();
    let (status, body) = broken
        .call("POST", "/announcements")
        .session(&admin)
        .json(&json!({"title": "Saved anyway", "body": "b", "status": "PUBLISHED"}))
        .fetch()
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let id = body["data"]["id"].as_str().unwrap();
    let (status, patched) = broken
        .call("PATCH", &format!("/announcements/{id}"))
        .session(&admin)
        .json(&json!({"body": "edited"}))
        .fetch()
        .await;
    assert_eq!(status, 200, "{patched}");

    let (body_text, audits): (String, i64) = sqlx::query_as(
        "SELECT a.body, (SELECT count(*) FROM audit_logs l WHERE l.resource_id = a.id::text) \
         FROM announcements a WHERE a.id = $1::uuid",
    )
    .bind(id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((body_text.as_str(), audits), ("edited", 2));
}

#[tokio::test]
async fn without_redis_events_fan_out_in_process() {
    let Org {
        app,
        admin,
        employee,
        ..
    } = org_with_members(
        spawn_app_with(&[
            ("REDIS_URL", ""),
            ("ANNOUNCEMENT_STREAM_KEEPALIVE_SECONDS", "60"),
        ])
        .await,
        "acme",
    )
    .await;
    let mut sse = Sse::open(&app, &client(), &employee.access, "acme").await;
    sse.connected().await;
    create(
        &app,
        &admin,
        json!({"title": "Local", "body": "b", "status": "PUBLISHED"}),
    )
    .await;
    assert_eq!(sse.event().await["title"], "Local");
    let (_, ready) = json(app.get("/health/ready").await).await;
    assert_eq!(ready["data"]["announcements_pubsub"], "in_process");
}

#[tokio::test]
async fn an_event_a_legacy_instance_publishes_arrives_byte_for_byte() {
    let Org { app, employee, .. } = org_with_members(
        spawn_app_with(&[("ANNOUNCEMENT_STREAM_KEEPALIVE_SECONDS", "60")]).await,
        "acme",
    )
    .await;
    let mut sse = Sse::open(&app, &client(), &employee.access, "acme").await;
    sse.connected().await;

    // The recorded legacy frame (Python json.dumps spacing), published as legacy does.
    let recorded = crate::helpers::sample(
        "announcements.json",
        "SSE stream (~7 s, two announcement.published events)",
    );
    let chunks = recorded["chunks"].as_array().unwrap();
    let event_at = chunks
        .iter()
        .position(|c| c[1] == "event: announcement.published\n")
        .unwrap();
    let expected: String = (event_at..event_at + 3)
        .map(|i| chunks[i][1].as_str().unwrap())
        .collect();
    let payload = chunks[event_at + 1][1]
        .as_str()
        .unwrap()
        .strip_prefix("data: ")
        .unwrap()
        .trim_end_matches('\n');
    let redis = redis::Client::open(redis_url()).unwrap();
    let mut conn = redis.get_multiplexed_async_connection().await.unwrap();
    let _: i64 = redis::cmd("PUBLISH")
        .arg(format!("{}:announcements:acme", app.redis_prefix))
        .arg(payload)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(sse.frame(FRAME_WAIT).await.unwrap(), expected);
}

/// A TCP proxy to the test Redis whose connections can all be cut at once.
struct RedisProxy {
    port: u16,
    cut: tokio::sync::watch::Sender<u64>,
}

impl RedisProxy {
    async fn start() -> RedisProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let target = url::Url::parse(&redis_url()).unwrap();
        let target = format!(
            "{}:{}",
            target.host_str().unwrap(),
            target.port().unwrap_or(6379)
        );
        let (cut, _) = tokio::sync::watch::channel(0u64);
        let cuts = cut.clone();
        tokio::spawn(async move {
            loop {
                let (mut inbound, _) = listener.accept().await.unwrap();
                let mut cut = cuts.subscribe();
                cut.mark_unchanged();
                let target = target.clone();
                tokio::spawn(async move {
                    let mut outbound = tokio::net::TcpStream::connect(target).await.unwrap();
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        RedisProxy { port, cut }
    }

    fn cut_all(&self) {
        self.cut.send_modify(|n| *n += 1);
    }
}

#[tokio::test]
async fn the_subscription_comes_back_after_redis_drops_it() {
    let proxy = RedisProxy::start().await;
    let redis = format!("redis://127.0.0.1:{}", proxy.port);
    let Org {
        app,
        admin,
        employee,
        ..
    } = org_with_members(
        spawn_app_with(&[
            ("REDIS_URL", redis.as_str()),
            ("ANNOUNCEMENT_STREAM_KEEPALIVE_SECONDS", "60"),
        ])
        .await,
        "acme",
    )
    .await;
    let mut sse = Sse::open(&app, &client(), &employee.access, "acme").await;
    sse.connected().await;

    proxy.cut_all();
    // Events published while the subscription is down are lost (no replay, as legacy); keep
    // publishing until one arrives on the same, still open stream.
    let got = tokio::time::timeout(Duration::from_secs(15), async {
        for n in 0.. {
            create(
                &app,
                &admin,
                json!({"title": format!("after cut {n}"), "body": "b", "status": "PUBLISHED"}),
            )
            .await;
            if let Ok(event) = tokio::time::timeout(Duration::from_millis(300), sse.event()).await {
                return event;
            }
        }
        unreachable!()
    })
    .await
    .expect("the hub resubscribed");
    assert!(got["title"].as_str().unwrap().starts_with("after cut"));
    let (_, ready) = json(app.get("/health/ready").await).await;
    assert_eq!(ready["data"]["announcements_pubsub"], "subscribed");
}
