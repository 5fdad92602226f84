//! Bounded sessions (issue 13): a refresh chain ends `SESSION_MAX_MINUTES` after its sign-in
//! however often it is refreshed, idle expiry still applies, and refresh tokens the legacy
//! service minted (no `auth_time`) start their chain at their first refresh through `sole`.

use serde_json::{Value, json};

use crate::auth_support::*;
use crate::fixtures::{MemberSpec, create_member, create_org};
use crate::helpers::{Resp, spawn_app};

async fn refresh(app: &crate::helpers::TestApp, token: &str) -> Resp {
    app.call("POST", "/auth/refresh")
        .without_cookies()
        .org("acme")
        .json(&json!({"refresh_token": token}))
        .send()
        .await
}

/// A refresh token like `template` (same user, org, token version) signed with the test keys,
/// with a fresh `jti` and `auth_time` set to `auth_time` (removed when `None`).
fn refresh_token_started_at(template: &str, auth_time: Option<i64>) -> String {
    let (_, mut claims) = decode_jwt(template);
    let c = claims.as_object_mut().unwrap();
    c.insert("jti".into(), json!(uuid::Uuid::new_v4().to_string()));
    match auth_time {
        Some(t) => c.insert("auth_time".into(), json!(t)),
        None => c.remove("auth_time"),
    };
    legacy_sign(&claims)
}

fn claims_of(token: &str) -> Value {
    decode_jwt(token).1
}

#[tokio::test]
async fn a_refresh_chain_ends_twelve_hours_after_sign_in_however_often_refreshed() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme").await;
    let m = create_member(&app, "acme", MemberSpec::new("ann@example.com")).await;
    let before = now();
    let s = app.sign_in(&m).await;
    let signed_in = claims_of(&s.refresh)["auth_time"].as_i64().unwrap();
    assert!(signed_in >= before && signed_in <= now());
    assert_eq!(claims_of(&s.access)["auth_time"], signed_in);

    // Refreshing carries the sign-in time; it never restarts the chain.
    let r = refresh(&app, &s.refresh).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let next = r.str("refresh_token");
    assert_eq!(claims_of(&next)["auth_time"], signed_in);
    assert_eq!(claims_of(&r.str("access_token"))["auth_time"], signed_in);
    let r = refresh(&app, &next).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(claims_of(&r.str("refresh_token"))["auth_time"], signed_in);

    // Two minutes before the 12 h mark: still refreshable, but the new pair ends with the chain.
    let end = now() + 120;
    let late = refresh_token_started_at(&s.refresh, Some(end - 12 * 3600));
    let r = refresh(&app, &late).await;
    assert_eq!(r.status, 200, "{}", r.body);
    for token in [r.str("access_token"), r.str("refresh_token")] {
        let exp = claims_of(&token)["exp"].as_i64().unwrap();
        assert!(exp <= end + 1, "exp {exp} outlives the chain end {end}");
    }
    assert_eq!(
        claims_of(&r.str("refresh_token"))["auth_time"],
        end - 12 * 3600
    );

    // Past the 12 h mark the chain is over, however fresh the refresh token itself is.
    let expired = refresh_token_started_at(&s.refresh, Some(now() - 12 * 3600 - 1));
    refresh(&app, &expired)
        .await
        .is(401, "unauthorized", "Session expired");
}

#[tokio::test]
async fn the_absolute_lifetime_is_configurable_and_idle_expiry_still_applies() {
    let app = crate::helpers::spawn_app_with(&[("SESSION_MAX_MINUTES", "30")]).await;
    create_org(&app, "acme", "Acme").await;
    let m = create_member(&app, "acme", MemberSpec::new("ann@example.com")).await;
    let s = app.sign_in(&m).await;
    let c = claims_of(&s.refresh);
    assert!(
        c["exp"].as_i64().unwrap() <= c["auth_time"].as_i64().unwrap() + 30 * 60,
        "the first refresh token already ends with the chain: {c}"
    );
    let old = refresh_token_started_at(&s.refresh, Some(now() - 31 * 60));
    refresh(&app, &old)
        .await
        .is(401, "unauthorized", "Session expired");

    // A chain well within its lifetime still ends after SESSION_TIMEOUT_MINUTES idle.
    set_last_active_minutes_ago(&app, m.identity_id, 31).await;
    refresh(&app, &s.refresh)
        .await
        .is(401, "unauthorized", "Session expired due to inactivity");
}

#[tokio::test]
async fn a_legacy_refresh_token_starts_its_chain_at_its_first_refresh_through_sole() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme").await;
    let m = create_member(&app, "acme", MemberSpec::new("ann@example.com")).await;
    let s = app.sign_in(&m).await;
    let legacy = refresh_token_started_at(&s.refresh, None);
    assert!(claims_of(&legacy).get("auth_time").is_none());

    let before = now();
    let r = refresh(&app, &legacy).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let started = claims_of(&r.str("refresh_token"))["auth_time"]
        .as_i64()
        .unwrap();
    assert!(started >= before && started <= now(), "{started}");
    let r = refresh(&app, &r.str("refresh_token")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(claims_of(&r.str("refresh_token"))["auth_time"], started);
}

#[tokio::test]
async fn security_a_second_logout_with_the_same_token_answers_200_and_changes_nothing() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme").await;
    let m = create_member(&app, "acme", MemberSpec::new("ann@example.com")).await;
    let s = app.sign_in(&m).await;
    let other = app.sign_in(&m).await;

    app.call("POST", "/auth/logout")
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .send()
        .await
        .like("logout success (clears cookies)");
    let tv = token_version(&app, m.identity_id).await;
    me(&app, &other.access, "acme")
        .await
        .is(401, "unauthorized", "Token revoked");

    // The same token again (a second tab, a double click): 200, cookies cleared again, and
    // nothing else happens.
    app.call("POST", "/auth/logout")
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .send()
        .await
        .like("logout success (clears cookies)");
    assert_eq!(token_version(&app, m.identity_id).await, tv);

    // A new session is not ended by a late logout of the old token.
    let fresh = app.sign_in(&m).await;
    app.call("POST", "/auth/logout")
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .send()
        .await
        .like("logout success (clears cookies)");
    assert_eq!(me(&app, &fresh.access, "acme").await.status, 200);

    // No token, or one that is not a genuine access token, is still refused.
    app.call("POST", "/auth/logout")
        .without_cookies()
        .org("acme")
        .send()
        .await
        .like("logout 401 no token");
    let r = app
        .call("POST", "/auth/logout")
        .without_cookies()
        .token(&s.refresh)
        .org("acme")
        .send()
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
    let mut forged = legacy_access_claims(&m, i64::from(tv) - 1, 600);
    forged["org"] = json!("acme");
    let r = app
        .call("POST", "/auth/logout")
        .without_cookies()
        .token(alg_none(&forged))
        .org("acme")
        .send()
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
}
