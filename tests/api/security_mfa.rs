//! MFA that cannot be replayed or guessed across challenges (issue 13, high): a TOTP code is
//! accepted once per identity, and wrong codes count per identity across fresh challenges.

use serde_json::json;
use sole::auth::totp;

use crate::auth_support::{pre_org, select_org};
use crate::fixtures::{Member, MemberSpec, create_member, create_org};
use crate::helpers::{Resp, TestApp, spawn_app};

const ORG: &str = "acme";

async fn mfa_member() -> (TestApp, Member) {
    let app = spawn_app().await;
    create_org(&app, ORG, "Acme Inc").await;
    let m = create_member(&app, ORG, MemberSpec::new("mfa@acme.example.com").mfa(true)).await;
    (app, m)
}

/// Password → select-org → a fresh MFA challenge token.
async fn fresh_challenge(app: &TestApp, m: &Member) -> (String, String) {
    let pre = pre_org(app, m).await;
    let r = select_org(app, &pre, ORG, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.data()["mfa_required"], true, "{}", r.body);
    (pre, r.str("challenge_token"))
}

async fn answer(app: &TestApp, pre: &str, challenge: &str, code: &str) -> Resp {
    app.call("POST", "/auth/mfa/verify")
        .without_cookies()
        .token(pre)
        .json(&json!({"challenge_token": challenge, "code": code}))
        .send()
        .await
}

fn now_step() -> u64 {
    time::OffsetDateTime::now_utc().unix_timestamp() as u64 / totp::STEP_SECONDS
}

/// A six-digit code valid for none of the steps around now.
fn wrong_code(secret: &str) -> String {
    let step = now_step();
    let valid: Vec<String> = (step - 2..=step + 2)
        .map(|s| totp::code_at(secret, s * totp::STEP_SECONDS).unwrap())
        .collect();
    (0..)
        .map(|n: u32| format!("{:06}", (123_457 + n * 7919) % 1_000_000))
        .find(|c| !valid.contains(c))
        .unwrap()
}

#[tokio::test]
async fn security_a_totp_code_is_accepted_once_per_identity() {
    let (app, m) = mfa_member().await;
    let secret = m.totp_secret.clone().unwrap();
    let code = totp::code_at(&secret, now_step() * totp::STEP_SECONDS).unwrap();

    let (pre, challenge) = fresh_challenge(&app, &m).await;
    let r = answer(&app, &pre, &challenge, &code).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // The same code on a second, fresh challenge (still inside its window) is a replay.
    let (pre, challenge) = fresh_challenge(&app, &m).await;
    answer(&app, &pre, &challenge, &code)
        .await
        .is(401, "unauthorized", "Invalid MFA code");

    // The last accepted step lives in Redis under the test's key prefix.
    let key = app
        .cache
        .key(&["mfa_totp_step", &m.identity_id.to_string()]);
    assert!(key.starts_with(&app.redis_prefix), "{key}");
    let stored: Option<u64> = app
        .cache
        .get(&key)
        .await
        .unwrap()
        .and_then(|v| v.parse().ok());
    assert!(stored.is_some_and(|s| s + 1 >= now_step()), "{stored:?}");
}

#[tokio::test]
async fn security_mfa_failures_count_per_identity_across_challenges() {
    let (app, m) = mfa_member().await;
    let secret = m.totp_secret.clone().unwrap();
    for _ in 1..=5 {
        let (pre, challenge) = fresh_challenge(&app, &m).await;
        let r = answer(&app, &pre, &challenge, &wrong_code(&secret)).await;
        r.is(401, "unauthorized", "Invalid MFA code");
    }
    // Locked after five: even the right code on a new challenge waits for the lockout.
    let (pre, challenge) = fresh_challenge(&app, &m).await;
    let code = totp::code_at(&secret, now_step() * totp::STEP_SECONDS).unwrap();
    let r = answer(&app, &pre, &challenge, &code).await;
    r.is(
        429,
        "rate_limited",
        "Too many MFA verification attempts; try later",
    );
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 15 * 60, "{retry}");
}
