//! Login limits (contract §4.9): lockout after LOGIN_ATTEMPT_LIMIT failures, the per-IP and
//! per-e-mail rate limits, and fail-closed 503 when Redis is unreachable.

use std::time::Instant;

use serde_json::json;

use crate::auth_support::*;
use crate::fixtures::{MemberSpec, create_member, create_org};
use crate::helpers::{Resp, spawn_app, spawn_app_with};

async fn login_from(app: &crate::helpers::TestApp, ip: &str, email: &str, password: &str) -> Resp {
    // PROXIES_COUNT=1 (default, Cloud Run): the client address is the entry the front end
    // appended, last; the one on the left is whatever the client wrote.
    app.call("POST", "/auth/login")
        .without_cookies()
        .header("X-Forwarded-For", format!("10.255.0.1, {ip}"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
}

#[tokio::test]
async fn the_account_locks_at_the_attempt_limit_with_the_legacy_texts() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme").await;
    let m = create_member(&app, "acme", MemberSpec::new("ann@acme.example.com")).await;
    let bystander = create_member(&app, "acme", MemberSpec::new("bob@acme.example.com")).await;
    for _ in 0..4 {
        login(&app, &m.email, "Wrong#Password1")
            .await
            .like("login 401 wrong password");
    }
    login(&app, &m.email, "Wrong#Password1")
        .await
        .like("login 429 5th failed attempt locks the account");
    // Locked: even the right password is refused before it is checked.
    login(&app, &m.email, &m.password)
        .await
        .like("login 429 while locked");
    let ttl = app
        .cache
        .ttl(&app.cache.key(&["lock", &m.email]))
        .await
        .unwrap()
        .unwrap();
    assert!(ttl > 14 * 60 && ttl <= 15 * 60, "{ttl}");
    // Other accounts are not affected; a success clears the failure count.
    assert_eq!(
        login(&app, &bystander.email, &bystander.password)
            .await
            .status,
        200
    );
    for _ in 0..4 {
        login(&app, &bystander.email, "Wrong#Password1").await;
    }
    assert_eq!(
        login(&app, &bystander.email, &bystander.password)
            .await
            .status,
        200
    );
    login(&app, &bystander.email, "Wrong#Password1").await.is(
        401,
        "unauthorized",
        "Invalid credentials",
    );
    // The domain part is normalised: the same lock.
    login(&app, "ann@ACME.example.com", &m.password).await.is(
        429,
        "rate_limited",
        "Too many login attempts; try later",
    );
    // Unknown e-mails lock too (no account enumeration through the limiter).
    for _ in 0..4 {
        login(&app, "ghost@acme.example.com", "x")
            .await
            .like("login 401 unknown email");
    }
    login(&app, "ghost@acme.example.com", "x").await.is(
        429,
        "rate_limited",
        "Account temporarily locked due to failed attempts",
    );
}

#[tokio::test]
async fn login_is_rate_limited_per_ip_and_per_email() {
    let app = spawn_app_with(&[
        ("RATE_LIMIT_PER_MINUTE", "3"),
        ("LOGIN_ATTEMPT_LIMIT", "100"),
    ])
    .await;
    create_org(&app, "acme", "Acme").await;
    let m = create_member(&app, "acme", MemberSpec::new("ann@acme.example.com")).await;
    // Per IP: different e-mails from one address.
    for i in 0..3 {
        let r = login_from(&app, "192.0.2.1", &format!("u{i}@acme.example.com"), "x").await;
        assert_eq!(r.status, 401, "{}", r.body);
    }
    login_from(&app, "192.0.2.1", &m.email, &m.password)
        .await
        .is(429, "rate_limited", "Rate limit exceeded");
    // Another address is fine...
    assert_eq!(
        login_from(&app, "192.0.2.2", &m.email, &m.password)
            .await
            .status,
        200
    );
    // Per e-mail: one address each time, same e-mail (two more requests reach 4 > 3).
    assert_eq!(
        login_from(&app, "192.0.2.3", &m.email, &m.password)
            .await
            .status,
        200
    );
    login_from(&app, "192.0.2.4", &m.email, &m.password)
        .await
        .is(429, "rate_limited", "Rate limit exceeded");
    let count: Option<String> = app
        .cache
        .get(&app.cache.key(&["rate_limit", "email", &m.email]))
        .await
        .unwrap();
    assert_eq!(count.as_deref(), Some("4"));
}

#[tokio::test]
async fn login_fails_closed_when_redis_is_unreachable() {
    let app = spawn_app_with(&[("REDIS_URL", "redis://127.0.0.1:1")]).await;
    create_org(&app, "acme", "Acme").await;
    let m = create_member(&app, "acme", MemberSpec::new("ann@acme.example.com")).await;
    let started = Instant::now();
    for password in [m.password.as_str(), "Wrong#Password1"] {
        login(&app, &m.email, password).await.is(
            503,
            "http_error",
            "Service temporarily unavailable",
        );
    }
    assert!(started.elapsed().as_secs() < 10);
    // Refresh cannot check for replay either, so it refuses too instead of rotating.
    let tv = token_version(&app, m.identity_id).await;
    let mut claims = legacy_access_claims(&m, tv.into(), 600);
    claims["type"] = json!("refresh");
    claims["jti"] = json!(uuid::Uuid::new_v4().to_string());
    app.call("POST", "/auth/refresh")
        .without_cookies()
        .org("acme")
        .json(&json!({"refresh_token": legacy_sign(&claims)}))
        .send()
        .await
        .is(503, "http_error", "Service temporarily unavailable");
}
