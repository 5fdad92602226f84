//! Token endpoints are rate limited per client IP and per identity, every 429 carries
//! `Retry-After`, and the client IP is the address the trusted front end appended to
//! `X-Forwarded-For`, never one the client wrote (issue 13, medium; security-reliability.md
//! §4.4).

use serde_json::json;

use crate::fixtures::{MemberSpec, create_member, create_org};
use crate::helpers::{Resp, TestApp, spawn_app_with};

async fn refresh_via(app: &TestApp, xff: &str) -> Resp {
    app.call("POST", "/auth/refresh")
        .without_cookies()
        .org("acme")
        .header("X-Forwarded-For", xff)
        .send()
        .await
}

fn assert_limited(r: &Resp) {
    r.is(429, "rate_limited", "Rate limit exceeded");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
}

/// Three refreshes a minute from one client, whatever it writes on the left of the header.
async fn rotating_left_entries_do_not_escape(app: &TestApp, shape: impl Fn(&str, &str) -> String) {
    create_org(app, "acme", "Acme").await;
    for i in 0..3 {
        let r = refresh_via(app, &shape(&format!("10.0.0.{i}"), "203.0.113.7")).await;
        r.is(400, "bad_request", "Refresh token required");
    }
    assert_limited(&refresh_via(app, &shape("10.0.0.99", "203.0.113.7")).await);
    // Another client is not affected.
    refresh_via(app, &shape("10.0.0.99", "203.0.113.8"))
        .await
        .is(400, "bad_request", "Refresh token required");
}

#[tokio::test]
async fn security_refresh_limit_keys_on_the_address_cloud_run_appended() {
    // Direct *.run.app ingress: Google's front end appends the client address last.
    let app = spawn_app_with(&[("RATE_LIMIT_PER_MINUTE", "3"), ("PROXIES_COUNT", "1")]).await;
    rotating_left_entries_do_not_escape(&app, |spoof, client| format!("{spoof}, {client}")).await;
}

#[tokio::test]
async fn security_refresh_limit_keys_on_the_client_behind_a_load_balancer() {
    // External HTTPS load balancer: one more hop, so the client is second from the right.
    let app = spawn_app_with(&[("RATE_LIMIT_PER_MINUTE", "3"), ("PROXIES_COUNT", "2")]).await;
    rotating_left_entries_do_not_escape(&app, |spoof, client| {
        format!("{spoof}, {client}, 35.191.0.1")
    })
    .await;
}

#[tokio::test]
async fn security_refresh_is_limited_per_identity_across_addresses() {
    let app = spawn_app_with(&[("RATE_LIMIT_PER_MINUTE", "3")]).await;
    create_org(&app, "acme", "Acme").await;
    let m = create_member(&app, "acme", MemberSpec::new("ann@acme.example.com")).await;
    let s = app.sign_in(&m).await;
    let body = json!({"refresh_token": s.refresh});
    let mut statuses = Vec::new();
    for i in 0..3 {
        let r = app
            .call("POST", "/auth/refresh")
            .without_cookies()
            .org("acme")
            .header("X-Forwarded-For", format!("198.51.100.{i}"))
            .json(&body)
            .send()
            .await;
        statuses.push(r.status);
        if i == 2 {
            assert_limited(&r);
        }
    }
    // Select-org counted once for the identity; then the first refresh rotates, the replay is
    // refused, and the third token call of the minute from yet another address is over it.
    assert_eq!(statuses, vec![200, 401, 429]);
}
