//! Login journeys: login → orgs → select-org → tokens, and the failure answers.

use serde_json::json;

use crate::fixtures::{MemberSpec, create_member, create_org};
use crate::helpers::{sample, spawn_app};

#[tokio::test]
async fn employee_logs_in_selects_the_org_and_reads_me() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme Inc").await;
    let member = create_member(
        &app,
        "acme",
        MemberSpec::new("ann@acme.example.com").full_name("Ann Lee"),
    )
    .await;

    let (status, body) = app.login(&member.email, &member.password).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["must_change_password"], false);
    let pre_org = body["data"]["pre_org_token"].as_str().unwrap().to_owned();

    let (status, body) = app
        .call("GET", "/auth/orgs")
        .token(&pre_org)
        .org("acme")
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!({"orgs": [{"org_id": "acme", "name": "Acme Inc", "slug": "acme"}], "auto_selected": true})
    );

    let resp = app
        .call("POST", "/auth/select-org")
        .token(&pre_org)
        .json(&json!({"org_id": "acme"}))
        .response()
        .await;
    assert_eq!(resp.status(), 200);
    let headers = resp.headers().clone();
    let body: serde_json::Value = resp.json().await.unwrap();
    let expected = sample(
        "auth.json",
        "select-org success without MFA (employee; tokens issued directly, cookies set)",
    );
    crate::helpers::assert_same_keys(&body["data"], &expected["response"]["body"]["data"]);
    assert_eq!(
        headers["cache-control"],
        "no-store, no-cache, must-revalidate, max-age=0"
    );
    let cookies: Vec<&str> = headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(cookies.len(), 2);
    assert!(
        cookies[0].starts_with("sole_refresh=")
            && cookies[0]
                .ends_with("; HttpOnly; Max-Age=604800; Path=/api/v1/auth/refresh; SameSite=lax"),
        "{}",
        cookies[0]
    );
    assert!(
        cookies[1].starts_with("sole_csrf=")
            && cookies[1].ends_with("; Max-Age=604800; Path=/api/v1/auth/refresh; SameSite=lax"),
        "{}",
        cookies[1]
    );
    assert_eq!(
        headers["x-csrf-token"].to_str().unwrap(),
        body["data"]["csrf_token"].as_str().unwrap()
    );

    let access = body["data"]["access_token"].as_str().unwrap();
    let (status, me) = app
        .call("GET", "/auth/me")
        .token(access)
        .org("acme")
        .fetch()
        .await;
    assert_eq!(status, 200, "{me}");
    let me = &me["data"];
    assert_eq!(me["id"], member.user_id.to_string());
    assert_eq!(me["org_id"], "acme");
    assert_eq!(me["email"], "ann@acme.example.com");
    assert_eq!(me["full_name"], "Ann Lee");
    assert_eq!(me["must_change_password"], false);
    assert_eq!(me["roles"], json!(["EMPLOYEE"]));
    assert!(
        me["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("org.dashboard.view"))
    );
}

#[tokio::test]
async fn wrong_password_unknown_email_and_inactive_identity_answer_alike() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme").await;
    let member = create_member(&app, "acme", MemberSpec::new("bo@acme.example.com")).await;
    let expected = sample("auth.json", "login 401 wrong password")["response"]["body"].clone();
    let (s1, b1) = app.login(&member.email, "Wrong#Password1").await;
    let (s2, b2) = app
        .login("nobody@acme.example.com", "Wrong#Password1")
        .await;
    sqlx::query("UPDATE identities SET is_active = false WHERE id = $1")
        .bind(member.identity_id)
        .execute(&app.db)
        .await
        .unwrap();
    let (s3, b3) = app.login(&member.email, &member.password).await;
    for (s, b) in [(s1, b1), (s2, b2), (s3, b3)] {
        assert_eq!(s, 401);
        assert_eq!(b, expected);
    }
}

#[tokio::test]
async fn login_validates_the_email_and_the_body() {
    let app = spawn_app().await;
    let (status, body) = app
        .call("POST", "/auth/login")
        .json(&json!({"email": "not-an-email", "password": "x"}))
        .fetch()
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        body["message"],
        "email: value is not a valid email address: An email address must have an @-sign."
    );
    let (status, body) = app
        .call("POST", "/auth/login")
        .json(&json!({"email": "a@b.io"}))
        .fetch()
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["message"], "password: Field required");
    let resp = app.call("POST", "/auth/login").response().await;
    assert_eq!(resp.status(), 422);
}
