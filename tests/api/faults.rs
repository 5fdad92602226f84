//! Database faults a client can retry answer 503 `service_unavailable` with `Retry-After`, never
//! a 500 or the database's own text, and the next request after the fault works.

use sqlx::Connection as _;

use crate::helpers::{connect, json, spawn_app, spawn_app_with};

/// A table held by another session past `statement_timeout`: the request that waits on it ends
/// with a retryable 503, and once the lock is gone the same request is answered normally.
#[tokio::test]
async fn a_held_table_lock_answers_503_with_retry_after_then_recovers() {
    let app = spawn_app_with(&[
        ("DB_STATEMENT_TIMEOUT_MS", "300"),
        ("DB_POOL_RETRY_AFTER_SECONDS", "4"),
    ])
    .await;
    let login = || {
        app.call("POST", "")
            .url(format!("{}/auth/login", app.api))
            .json(
                &serde_json::json!({"email": "nobody@example.com", "password": "Wrong-password-1"}),
            )
            .response()
    };

    let mut holder = connect(&app.db_name).await;
    let mut lock = holder.begin().await.unwrap();
    sqlx::query("LOCK TABLE identities IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();

    let resp = login().await;
    assert_eq!(
        resp.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("4")
    );
    let (status, body) = json(resp).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "service_unavailable");
    assert_eq!(body["message"], "Service temporarily unavailable");
    assert_eq!(body["data"], serde_json::Value::Null);
    let text = body.to_string();
    assert!(
        !text.contains("statement timeout") && !text.contains("canceling"),
        "database text leaked: {text}"
    );

    lock.rollback().await.unwrap();
    let (status, body) = json(login().await).await;
    assert_eq!(status, 401, "{body}");
}

/// Every backend of the server killed between two requests (a failover, an idle-connection
/// reaper): the next request is answered normally, not with a 500.
#[tokio::test]
async fn terminated_backends_are_replaced_without_a_500() {
    let app = spawn_app_with(&[]).await;
    let login = || {
        app.call("POST", "")
            .url(format!("{}/auth/login", app.api))
            .json(
                &serde_json::json!({"email": "nobody@example.com", "password": "Wrong-password-1"}),
            )
            .response()
    };
    let (status, _) = json(login().await).await;
    assert_eq!(status, 401);

    let mut admin = connect(&app.db_name).await;
    let killed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()) t",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert!(killed >= 1, "the server held no connection to kill");

    for _ in 0..3 {
        let (status, body) = json(login().await).await;
        assert!(status == 401 || status == 503, "{status} {body}");
        if status == 503 {
            assert_eq!(body["code"], "service_unavailable");
        }
    }
    let (status, body) = json(login().await).await;
    assert_eq!(status, 401, "not recovered: {body}");
}

/// Kills every server connection of the app's database but the caller's; returns how many.
async fn kill_backends(admin: &mut sqlx::PgConnection) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()) t",
    )
    .fetch_one(admin)
    .await
    .unwrap()
}

/// Pooled connections the server closed while they sat idle (a failover, a reaper): the next
/// read finds its connection dead, runs once more on a live one and answers 200, not 503 —
/// on the guard's first read of a session and on the handlers' reads.
#[tokio::test]
async fn a_read_on_a_pooled_connection_killed_while_idle_is_retried_and_answers_200() {
    let app = spawn_app_with(&[("DB_POOL_SIZE", "3")]).await;
    let a = crate::fixtures::org(&app, "acme").await;
    let mut admin = connect(&app.db_name).await;
    let get = async |session: &crate::fixtures::Session, path: &str| {
        app.call("GET", path).session(session).fetch().await
    };
    // Fill the pool with idle connections: concurrent requests each hold one.
    let (one, two, three) = tokio::join!(
        get(&a.admin_s, "/departments"),
        get(&a.admin_s, "/auth/me"),
        get(&a.emp_s, "/auth/me"),
    );
    for (status, body) in [one, two, three] {
        assert_eq!(status, 200, "{body}");
    }

    for (session, path) in [
        (&a.admin_s, "/departments"),
        (&a.admin_s, "/auth/me"),
        (&a.emp_s, "/auth/me"),
        (&a.admin_s, "/org/users"),
        (&a.emp_s, "/self/context"),
    ] {
        assert!(
            kill_backends(&mut admin).await >= 1,
            "no connection to kill"
        );
        let (status, body) = get(session, path).await;
        assert_eq!(status, 200, "GET {path} after the kill: {body}");
    }

    // A session the server has not seen: the guard's own read runs on a dead connection.
    let fresh = app.sign_in(&a.emp).await;
    assert!(
        kill_backends(&mut admin).await >= 1,
        "no connection to kill"
    );
    let (status, body) = get(&fresh, "/departments").await;
    assert!(status == 200 || status == 403, "{status} {body}");
    assert_ne!(status, 503, "{body}");
}

/// Redis unreachable (`REDIS_URL` on a port nobody listens on; the shared Redis is left
/// alone): reads that need only PostgreSQL — `/auth/me`, the member list — answer 200, logins
/// fail closed with 503, and `/health/ready` says degraded.
#[tokio::test]
async fn with_redis_unreachable_reads_answer_200_logins_503_and_ready_is_degraded() {
    let app = spawn_app().await;
    let a = crate::fixtures::org(&app, "acme").await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_url = format!("redis://{}/0", closed.local_addr().unwrap());
    drop(closed);
    // A second server on the same database with the tokens the first one issued.
    let mut env = crate::helpers::base_env(&app.db_name, &app.redis_prefix);
    env.overlay(sole::config::EnvMap::from_pairs([(
        "REDIS_URL",
        closed_url,
    )]));
    let cut =
        crate::helpers::spawn_with_env(env, app.db_name.clone(), app.redis_prefix.clone()).await;

    for path in ["/auth/me", "/org/users"] {
        let (status, body) = cut.call("GET", path).session(&a.admin_s).fetch().await;
        assert_eq!(status, 200, "GET {path} without Redis: {body}");
    }
    let (status, body) = cut.call("GET", "/auth/me").session(&a.emp_s).fetch().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["email"], a.emp.email.as_str());

    let (status, body) = cut.login(&a.emp.email, &a.emp.password).await;
    assert_eq!(status, 503, "login without Redis: {body}");
    for key in ["code", "message", "data", "details"] {
        assert!(body.get(key).is_some(), "{key} missing: {body}");
    }

    let (status, body) = json(cut.get("/health/ready").await).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["data"]["status"], "degraded", "{body}");
    assert_eq!(body["data"]["ready"], false, "{body}");
}
