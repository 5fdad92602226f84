//! Refresh rotation with replay detection: a replayed refresh token revokes every session of
//! the identity, and concurrent refreshes of one token give at most one new pair.

use serde_json::json;

use crate::auth_support::*;
use crate::fixtures::{MemberSpec, create_member, create_org};
use crate::helpers::{Resp, spawn_app};

async fn refresh(app: &crate::helpers::TestApp, org: &str, token: &str) -> Resp {
    app.call("POST", "/auth/refresh")
        .without_cookies()
        .org(org)
        .json(&json!({"refresh_token": token}))
        .send()
        .await
}

#[tokio::test]
async fn replaying_a_rotated_refresh_token_revokes_every_session_of_the_identity() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme").await;
    create_org(&app, "beta", "Beta").await;
    let m = create_member(&app, "acme", MemberSpec::new("ann@example.com")).await;
    let mb = create_member(&app, "beta", MemberSpec::new("ann@example.com")).await;
    let one = app.sign_in(&m).await;
    let two = app.sign_in(&m).await;
    let other_org = app.sign_in(&mb).await;

    let rotated = refresh(&app, "acme", &one.refresh).await;
    rotated.like("refresh success with body refresh_token (+X-Org-Id)");
    let (_, old) = decode_jwt(&one.refresh);
    let (_, new) = decode_jwt(&rotated.str("refresh_token"));
    assert_ne!(old["jti"], new["jti"]);

    let tv = token_version(&app, m.identity_id).await;
    refresh(&app, "acme", &one.refresh)
        .await
        .like("refresh 401 reuse of an already used refresh token (revokes all sessions)");
    assert_eq!(token_version(&app, m.identity_id).await, tv + 1);

    for access in [&one.access, &two.access, &rotated.str("access_token")] {
        me(&app, access, "acme")
            .await
            .like("me 401 token revoked (after refresh reuse bumped token_version)");
    }
    me(&app, &other_org.access, "beta")
        .await
        .is(401, "unauthorized", "Token revoked");
    refresh(&app, "acme", &rotated.str("refresh_token"))
        .await
        .like("refresh 401 token revoked (refresh token of the revoked session)");
    refresh(&app, "acme", &two.refresh)
        .await
        .is(401, "unauthorized", "Token revoked");
    // A new login works.
    let s = app.sign_in(&m).await;
    assert_eq!(me(&app, &s.access, "acme").await.status, 200);
}

#[tokio::test]
async fn twenty_concurrent_refreshes_of_one_token_yield_at_most_one_success() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme").await;
    let m = create_member(&app, "acme", MemberSpec::new("ann@acme.example.com")).await;
    let s = app.sign_in(&m).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let refresh = app.call("POST", "/auth/refresh").without_cookies();
        let token = s.refresh.clone();
        tasks.push(tokio::spawn(async move {
            refresh
                .header("X-Org-Id", "acme")
                .json(&json!({"refresh_token": token}))
                .send()
                .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let r = t.await.unwrap();
        match r.status {
            200 => ok += 1,
            401 => assert!(
                ["Refresh token reuse detected", "Token revoked"]
                    .contains(&r.body["message"].as_str().unwrap()),
                "{}",
                r.body
            ),
            other => panic!("unexpected {other}: {}", r.body),
        }
    }
    assert!(ok <= 1, "{ok} refreshes succeeded");
    // Whatever won, the replays revoked the identity's sessions.
    me(&app, &s.access, "acme")
        .await
        .is(401, "unauthorized", "Token revoked");
}

#[tokio::test]
async fn refresh_keeps_the_session_claims_and_rejects_missing_ones() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme").await;
    let m = create_member(&app, "acme", MemberSpec::admin("admin@acme.example.com")).await;
    let s = app.sign_in(&m).await;
    let r = refresh(&app, "acme", &s.refresh).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (_, claims) = decode_jwt(&r.str("access_token"));
    assert_eq!(claims["mfa"], true);
    assert_eq!(claims["mfa_method"], "totp");
    assert_eq!(claims["org"], "acme");

    // A legacy refresh token without jti is refused as invalid.
    let tv = token_version(&app, m.identity_id).await;
    let mut claims = legacy_access_claims(&m, tv.into(), 600);
    claims["type"] = json!("refresh");
    refresh(&app, "acme", &legacy_sign(&claims))
        .await
        .is(401, "unauthorized", "Invalid token");
    // A legacy-layout refresh token (no kid, no iss) with a jti is accepted.
    claims["jti"] = json!(uuid::Uuid::new_v4().to_string());
    let r = refresh(&app, "acme", &legacy_sign(&claims)).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn a_revoked_access_token_cannot_open_a_new_session_through_select_org() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme").await;
    let m = create_member(&app, "acme", MemberSpec::new("ann@acme.example.com")).await;
    let s = app.sign_in(&m).await;
    // Before revocation an access token names the identity for the identity-only endpoints.
    assert_eq!(
        app.call("GET", "/auth/orgs")
            .without_cookies()
            .token(&s.access)
            .send()
            .await
            .status,
        200
    );
    app.call("POST", "/auth/logout")
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .send()
        .await;
    app.call("GET", "/auth/orgs")
        .without_cookies()
        .token(&s.access)
        .send()
        .await
        .is(401, "unauthorized", "Token revoked");
    select_org(&app, &s.access, "acme", None)
        .await
        .is(401, "unauthorized", "Token revoked");
    // The same after a refresh-token replay revoked everything.
    let s = app.sign_in(&m).await;
    refresh(&app, "acme", &s.refresh).await;
    refresh(&app, "acme", &s.refresh).await;
    select_org(&app, &s.access, "acme", None)
        .await
        .is(401, "unauthorized", "Token revoked");
}
