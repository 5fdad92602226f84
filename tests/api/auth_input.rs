//! Token compatibility (legacy layout accepted, sole's kid/iss, pinned algorithm) and hostile
//! input: every bad request gets a 4xx envelope, never a 500.

use std::time::Instant;

use serde_json::{Value, json};

use crate::auth_support::*;
use crate::fixtures::{MemberSpec, create_member, create_org};
use crate::helpers::{Resp, no_cookies, spawn_app};

fn assert_envelope_4xx(r: &Resp, what: &str) {
    assert!(
        (400..500).contains(&r.status),
        "{what}: {} {}",
        r.status,
        r.body
    );
    assert!(r.body["code"].is_string(), "{what}: {}", r.body);
    assert!(r.body["message"].is_string(), "{what}: {}", r.body);
    assert_eq!(r.body["data"], Value::Null, "{what}");
}

#[tokio::test]
async fn legacy_tokens_are_accepted_and_forged_ones_are_not() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme").await;
    let m = create_member(&app, "acme", MemberSpec::new("ann@acme.example.com")).await;
    let s = app.sign_in(&m).await;

    // sole's tokens carry a kid and iss = "sole"; the claims otherwise follow the legacy layout.
    let (header, claims) = decode_jwt(&s.access);
    assert_eq!(header["alg"], "RS256");
    assert!(header["kid"].is_string(), "{header}");
    assert_eq!(claims["iss"], "sole");
    assert_eq!(claims["aud"], "sole-backend");
    assert_eq!(claims["type"], "access");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        15 * 60
    );
    // REFRESH_TOKEN_EXPIRE_MINUTES (7 days), capped by the session's absolute lifetime
    // (SESSION_MAX_MINUTES, 12 h) counted from the sign-in.
    let (_, refresh) = decode_jwt(&s.refresh);
    assert_eq!(
        refresh["exp"].as_i64().unwrap() - refresh["auth_time"].as_i64().unwrap(),
        12 * 60 * 60
    );
    assert!(refresh["jti"].is_string());

    // A token as the legacy service minted it: no kid, no iss.
    let tv: i64 = token_version(&app, m.identity_id).await.into();
    let legacy = legacy_sign(&legacy_access_claims(&m, tv, 600));
    let (header, _) = decode_jwt(&legacy);
    assert_eq!(header, json!({"typ": "JWT", "alg": "RS256"}));
    let r = me(&app, &legacy, "acme").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.data()["id"], m.user_id.to_string());
    // Pre-org tokens of the legacy layout work for the identity endpoints.
    let n = now();
    let pre = legacy_sign(&json!({"sub": m.identity_id.to_string(), "type": "pre_org",
        "aud": "sole-backend", "iat": n, "exp": n + 300}));
    assert_eq!(
        app.call("GET", "/auth/orgs")
            .without_cookies()
            .token(&pre)
            .send()
            .await
            .status,
        200
    );

    let claims = legacy_access_claims(&m, tv, 600);
    for (what, token) in [
        ("alg none", alg_none(&claims)),
        ("HS256 with the public key", hs256_with_public_key(&claims)),
        ("garbage", "not-a-jwt".to_owned()),
        ("three garbage parts", "a.b.c".to_owned()),
        ("signature stripped", {
            let mut parts: Vec<&str> = legacy.split('.').collect();
            parts[2] = "";
            parts.join(".")
        }),
        (
            "wrong audience",
            legacy_sign(&{
                let mut c = claims.clone();
                c["aud"] = json!("someone-else");
                c
            }),
        ),
        (
            "no audience",
            legacy_sign(&{
                let mut c = claims.clone();
                c.as_object_mut().unwrap().remove("aud");
                c
            }),
        ),
    ] {
        let r = me(&app, &token, "acme").await;
        assert_eq!(
            (r.status, r.body["message"].as_str()),
            (401, Some("Invalid token")),
            "{what}: {}",
            r.body
        );
        let r = app
            .call("GET", "/auth/orgs")
            .without_cookies()
            .token(&token)
            .send()
            .await;
        assert_eq!(r.status, 401, "{what}");
    }
    let expired = legacy_sign(&legacy_access_claims(&m, tv, -60));
    me(&app, &expired, "acme")
        .await
        .like("me 401 expired token");
    app.call("GET", "/auth/orgs")
        .without_cookies()
        .token(&expired)
        .send()
        .await
        .is(401, "unauthorized", "Token expired");
    // A token type the route does not take.
    let mut refresh_claims = legacy_access_claims(&m, tv, 600);
    refresh_claims["type"] = json!("refresh");
    me(&app, &legacy_sign(&refresh_claims), "acme").await.is(
        401,
        "unauthorized",
        "Unexpected token type",
    );
    // A stale token_version is revoked; a token without tv skips the check (legacy rule).
    me(
        &app,
        &legacy_sign(&legacy_access_claims(&m, tv + 1, 600)),
        "acme",
    )
    .await
    .is(401, "unauthorized", "Token revoked");
    let mut no_tv = legacy_access_claims(&m, tv, 600);
    no_tv.as_object_mut().unwrap().remove("tv");
    assert_eq!(me(&app, &legacy_sign(&no_tv), "acme").await.status, 200);
    let mut no_org = legacy_access_claims(&m, tv, 600);
    no_org.as_object_mut().unwrap().remove("org");
    me(&app, &legacy_sign(&no_org), "acme").await.is(
        401,
        "unauthorized",
        "Token missing org claim",
    );
}

#[tokio::test]
async fn hostile_input_gets_a_4xx_envelope_never_a_500() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme").await;
    let m = create_member(&app, "acme", MemberSpec::new("ann@acme.example.com")).await;
    let s = app.sign_in(&m).await;
    let client = no_cookies();
    let login_url = app.url("/auth/login");
    let raw = |body: &'static str| {
        app.call("POST", "")
            .url(&login_url)
            .client(&client)
            .header("Content-Type", "application/json")
            .body(body)
    };

    for (what, body) in [
        ("malformed JSON", "{\"email\": "),
        ("not an object", "[1,2,3]"),
        ("wrong types", "{\"email\": 1, \"password\": true}"),
        (
            "null password",
            "{\"email\": \"a@b.io\", \"password\": null}",
        ),
        (
            "NUL in email",
            "{\"email\": \"a\\u0000@b.io\", \"password\": \"x\"}",
        ),
    ] {
        let r = raw(body).send().await;
        assert_envelope_4xx(&r, what);
        assert_eq!(r.status, 422, "{what}: {}", r.body);
    }
    let r = raw("{\"email\": \"ann@acme.example.com\", \"password\": \"a\\u0000b\"}")
        .send()
        .await;
    // A NUL never reaches the credential check (422 naming the field), and the password is
    // not echoed.
    r.is(
        422,
        "validation_error",
        "password: String should not contain NUL characters",
    );
    assert_eq!(r.body["details"]["errors"][0]["input"], Value::Null);
    let r = app
        .call("POST", "")
        .url(&login_url)
        .client(&client)
        .header("Content-Type", "text/plain")
        .body("hello")
        .send()
        .await;
    assert_envelope_4xx(&r, "text/plain body");

    // A 1 MB password is refused without hashing it.
    let big = "A".repeat(1024 * 1024);
    let started = Instant::now();
    let r = login(&app, &m.email, &big).await;
    r.is(413, "http_error", "Request body too large");
    assert!(
        started.elapsed().as_millis() < 2000,
        "{:?}",
        started.elapsed()
    );
    let r = login(&app, &m.email, &"A".repeat(2000)).await;
    r.is(401, "unauthorized", "Invalid credentials");
    let r = app.call("POST", "/auth/change-password").without_cookies().token(&s.access).org("acme").json(&json!({"current_password": m.password, "new_password": format!("Aa1#{}", "x".repeat(200))})).send().await;
    assert_envelope_4xx(&r, "over-long new password");
    let r = app
        .call("POST", "/auth/change-password")
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .json(&json!({"current_password": "x".repeat(100_000), "new_password": "Brand#New#Pass42"}))
        .send()
        .await;
    r.is(400, "bad_request", "Current password is incorrect");

    // Headers: SQL metacharacters, NUL-ish garbage, 10 KB values.
    // The header is compared raw with the token's org (legacy rule), so anything else is a
    // mismatch, before any parsing or SQL.
    for org in ["'; DROP TABLE orgs; --", "acme\" OR 1=1", "%00acme", "ACME"] {
        me(&app, &s.access, org)
            .await
            .is(403, "forbidden", "Tenant header does not match token");
    }
    let r = app
        .call("POST", "/auth/refresh")
        .without_cookies()
        .org("'; DROP TABLE orgs; --")
        .send()
        .await;
    assert_envelope_4xx(&r, "SQL in X-Org-Id");
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('orgs') IS NOT NULL")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(exists);
    let long = "a".repeat(10 * 1024);
    me(&app, &s.access, &long)
        .await
        .is(403, "forbidden", "Tenant header does not match token");
    let r = me(&app, &long, "acme").await;
    r.is(401, "unauthorized", "Invalid token");
    let r = app
        .call("GET", "/auth/me")
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .header("X-Step-Up-Token", long.clone())
        .send()
        .await;
    assert_eq!(r.status, 200);
    let r = app
        .call("POST", "/auth/refresh")
        .client(&client)
        .header("X-Org-Id", "acme")
        .header("Cookie", format!("sole_refresh={long}; sole_csrf=x"))
        .header("X-CSRF-Token", "x")
        .send()
        .await;
    r.is(401, "unauthorized", "Invalid token");
    let r = app
        .call("GET", "/auth/me")
        .client(&client)
        .header("Authorization", "Basic dXNlcjpwYXNz")
        .header("X-Org-Id", "acme")
        .send()
        .await;
    r.is(401, "unauthorized", "Not authenticated");
    let r = app
        .call("GET", "/auth/me")
        .client(&client)
        .header("Authorization", "Bearer ")
        .header("X-Org-Id", "acme")
        .send()
        .await;
    r.is(401, "unauthorized", "Not authenticated");

    // Garbage in the identity-only flows.
    let pre = pre_org(&app, &m).await;
    for (path, body) in [
        ("/auth/select-org", json!({"org_id": "acme\u{0}"})),
        ("/auth/select-org", json!({"org_id": 42})),
        (
            "/auth/select-org",
            json!({"org_id": "acme", "remember_device_token": "x".repeat(5000)}),
        ),
        (
            "/auth/mfa/verify",
            json!({"challenge_token": "x".repeat(20_000), "code": "1"}),
        ),
        (
            "/auth/mfa/verify",
            json!({"challenge_token": "a.b.c", "code": ["1"]}),
        ),
        ("/auth/mfa/enroll/start", json!({"setup_token": "\u{0}"})),
        (
            "/auth/mfa/enroll/verify",
            json!({"setup_token": "a.b.c", "code": "123456"}),
        ),
    ] {
        let r = app
            .call("POST", path)
            .without_cookies()
            .token(&pre)
            .json(&body.clone())
            .send()
            .await;
        let ok = r.status == 200 || (400..500).contains(&r.status);
        assert!(ok, "{path} {body}: {} {}", r.status, r.body);
        assert!(r.body["code"].is_string(), "{path}: {}", r.body);
    }
    for (path, body) in [
        (
            "/auth/step-up/verify",
            json!({"challenge_token": "x", "code": "1", "code_type": "TOTP"}),
        ),
        (
            "/auth/step-up/verify",
            json!({"challenge_token": null, "code": "1"}),
        ),
        (
            "/auth/impersonate/start",
            json!({"target_membership_id": "'; --"}),
        ),
        ("/auth/refresh", json!({"refresh_token": 12})),
        (
            "/auth/change-password",
            json!({"current_password": 1, "new_password": 2}),
        ),
    ] {
        let r = app
            .call("POST", path)
            .without_cookies()
            .token(&s.access)
            .org("acme")
            .json(&body.clone())
            .send()
            .await;
        assert_envelope_4xx(&r, path);
    }
}

/// The claim names and order of `tokens.json` (sole adds `iss` after `aud` and `auth_time` at
/// the end of access and refresh tokens), and the header
/// `{"alg":"RS256","typ":"JWT"}` plus `kid`.
fn assert_layout(token: &str, sample_key: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/contract/samples/tokens.json");
    let all: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let expected = &all[sample_key];
    let (header, claims) = decode_jwt(token);
    assert_eq!(header["alg"], "RS256", "{sample_key}");
    assert_eq!(header["typ"], "JWT", "{sample_key}");
    let mut keys: Vec<String> = claims.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys.iter().position(|k| k == "iss"),
        keys.iter().position(|k| k == "aud").map(|p| p + 1)
    );
    keys.retain(|k| k != "iss");
    // Access and refresh tokens carry the session's start (`auth_time`), last.
    if let Some(at) = keys.iter().position(|k| k == "auth_time") {
        assert_eq!(at, keys.len() - 1, "{sample_key}: auth_time not last");
        assert!(claims["auth_time"].as_i64().unwrap() <= claims["iat"].as_i64().unwrap());
        keys.pop();
    }
    let expected_keys: Vec<String> = expected["claims"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    if !expected_keys.iter().any(|k| k == "jti") {
        // `sole` gives each challenge its own id, after the legacy claims.
        if let Some(at) = keys.iter().position(|k| k == "jti") {
            assert_eq!(at, keys.len() - 1, "{sample_key}: jti not last");
            keys.pop();
        }
    }
    assert_eq!(keys, expected_keys, "{sample_key}");
    let ttl = |c: &Value| c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap();
    // A fresh session's tokens end with it: SESSION_MAX_MINUTES (12 h) caps the legacy TTLs.
    let legacy_ttl = ttl(&expected["claims"]);
    let expected_ttl = if claims.get("auth_time").is_some() {
        legacy_ttl.min(12 * 60 * 60)
    } else {
        legacy_ttl
    };
    assert_eq!(ttl(&claims), expected_ttl, "{sample_key}");
    assert_eq!(claims["type"], expected["claims"]["type"], "{sample_key}");
}

#[tokio::test]
async fn every_token_type_follows_the_legacy_claim_layout() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme").await;
    crate::fixtures::set_org_settings(&app, "acme", "allow_impersonation = true").await;
    let emp = create_member(&app, "acme", MemberSpec::new("e@acme.example.com")).await;
    let admin = create_member(&app, "acme", MemberSpec::admin("a@acme.example.com")).await;
    let fresh_su = create_member(
        &app,
        "acme",
        MemberSpec::admin("su@acme.example.com")
            .mfa(false)
            .superuser(),
    )
    .await;

    let pre = pre_org(&app, &emp).await;
    assert_layout(&pre, "pre_org");
    let r = select_org(&app, &pre, "acme", None).await;
    assert_layout(&r.str("access_token"), "access (mfa=false)");
    assert_layout(&r.str("refresh_token"), "refresh (mfa=false)");

    let pre = pre_org(&app, &fresh_su).await;
    assert_layout(
        &select_org(&app, &pre, "acme", None)
            .await
            .str("setup_token"),
        "mfa_setup",
    );
    let pre = pre_org(&app, &admin).await;
    assert_layout(
        &select_org(&app, &pre, "acme", None)
            .await
            .str("challenge_token"),
        "mfa_challenge",
    );

    let r = sign_in_remembering(&app, &admin).await;
    assert_layout(&r.str("access_token"), "access (mfa=true, mfa_method=totp)");
    assert_layout(
        &r.str("refresh_token"),
        "refresh (mfa=true, mfa_method=totp)",
    );
    let s = crate::fixtures::Session {
        access: r.str("access_token"),
        refresh: r.str("refresh_token"),
        csrf: None,
        org_id: "acme".into(),
    };
    let r = app
        .call("POST", "/auth/mfa/recovery-codes/regenerate")
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .send()
        .await;
    let challenge = r.body["details"]["challenge_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_layout(&challenge, "step_up_challenge");
    assert_layout(
        &step_up_token(&app, &s, &admin, &challenge).await,
        "step_up",
    );

    let r = app
        .call("POST", "/auth/impersonate/start")
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .json(&json!({"target_membership_id": emp.membership_id.to_string()}))
        .send()
        .await;
    assert_layout(&r.str("access_token"), "access (impersonation, mfa=true)");
    assert_layout(&r.str("refresh_token"), "refresh (impersonation, mfa=true)");
    let r = app
        .call("POST", "/auth/impersonate/stop")
        .without_cookies()
        .token(r.str("access_token"))
        .org("acme")
        .send()
        .await;
    assert_layout(&r.str("access_token"), "access (superuser, mfa=true)");
}

#[tokio::test]
async fn cookie_attributes_follow_the_settings() {
    let app = crate::helpers::spawn_app_with(&[
        ("AUTH_COOKIE_SECURE", "true"),
        ("AUTH_COOKIE_DOMAIN", "example.com"),
        ("AUTH_COOKIE_SAMESITE", "strict"),
        ("REFRESH_TOKEN_EXPIRE_MINUTES", "60"),
    ])
    .await;
    create_org(&app, "acme", "Acme").await;
    let m = create_member(&app, "acme", MemberSpec::new("e@acme.example.com")).await;
    let pre = pre_org(&app, &m).await;
    let r = select_org(&app, &pre, "acme", None).await;
    let cookies: Vec<String> = r
        .cookies()
        .iter()
        .map(|c| c.split_once("; ").unwrap().1.to_owned())
        .collect();
    assert_eq!(
        cookies,
        [
            "Domain=example.com; HttpOnly; Max-Age=3600; Path=/api/v1/auth/refresh; SameSite=strict; Secure",
            "Domain=example.com; Max-Age=3600; Path=/api/v1/auth/refresh; SameSite=strict; Secure",
        ]
    );
}
