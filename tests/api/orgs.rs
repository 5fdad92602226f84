//! `POST /orgs`.

use serde_json::{Value, json};

use crate::fixtures::{Member, MemberSpec, Session, create_member, create_org};
use crate::helpers::{TestApp, assert_same_keys, sample, spawn_app, spawn_app_with};

async fn create(app: &TestApp, s: &Session, body: Value) -> (u16, Value) {
    app.call("POST", "/orgs")
        .token(&s.access)
        .json(&body)
        .fetch()
        .await
}

async fn root(app: &TestApp) -> (Member, Session) {
    let m = create_member(
        app,
        "acme",
        MemberSpec::admin("root@acme.example.com").superuser(),
    )
    .await;
    let s = app.sign_in(&m).await;
    (m, s)
}

async fn scalar(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn superuser_creates_an_org_with_every_side_effect() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme Inc").await;
    let (member, s) = root(&app).await;
    let recorded = sample("orgs.json", "create org success (superuser)");
    let (status, body) = create(&app, &s, recorded["request"]["body"].clone()).await;
    assert_eq!(status, 201, "{body}");
    let exp = &recorded["response"]["body"];
    assert_same_keys(&body, exp);
    assert_eq!(body["code"], "created");
    assert_same_keys(&body["data"], &exp["data"]);
    for key in ["id", "name", "slug", "status"] {
        assert_eq!(body["data"][key], exp["data"][key], "{key}");
    }
    assert!(body["data"]["created_at"].as_str().unwrap().ends_with('Z'));

    for table in ["audit_logs_golden_sample", "journal_entries_golden_sample"] {
        let n = scalar(
            &app,
            &format!("SELECT count(*) FROM pg_class WHERE relname = '{table}'"),
        )
        .await;
        assert_eq!(n, 1, "{table}");
    }
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM roles WHERE org_id = 'golden-sample' AND is_system_role"
        )
        .await,
        5
    );
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM org_settings WHERE org_id = 'golden-sample'"
        )
        .await,
        1
    );
    let (user_id, superuser, identity): (uuid::Uuid, bool, uuid::Uuid) = sqlx::query_as(
        "SELECT id, is_superuser, identity_id FROM users WHERE org_id = 'golden-sample'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert!(!superuser);
    assert_eq!(identity, member.identity_id);
    let (employee_id, statuses): (String, String) = sqlx::query_as(
        "SELECT employee_id, employment_status || '/' || platform_status || '/' || invitation_status \
         FROM org_memberships WHERE org_id = 'golden-sample'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(employee_id, format!("admin-{user_id}"));
    assert_eq!(statuses, "ACTIVE/ACTIVE/ACCEPTED");
    let roles: Vec<String> = sqlx::query_scalar(
        "SELECT r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
         WHERE ur.org_id = 'golden-sample' AND ur.user_id = $1 ORDER BY r.name",
    )
    .bind(user_id)
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(roles, ["EMPLOYEE", "ORG ADMIN"]);
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM org_user_profiles WHERE org_id = 'golden-sample'"
        )
        .await,
        0
    );

    // The new org works at once: its settings are the defaults, and audit rows can be written.
    let (status, settings) = app
        .call("GET", "/org/settings")
        .token(&s.access)
        .org("golden-sample")
        .fetch()
        .await;
    assert_eq!(status, 200, "{settings}");
    assert_eq!(settings["data"]["created_at"], body["data"]["created_at"]);
    let (status, _) = app
        .call("PUT", "/org/settings")
        .token(&s.access)
        .header("X-Org-Id", "golden-sample")
        .json(&json!({"session_timeout_minutes": 9}))
        .fetch()
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM audit_logs WHERE org_id = 'golden-sample' \
             AND action <> 'superuser.cross_org_access'"
        )
        .await,
        1
    );
    // The superuser works there from its own org's session: each of the two requests is on
    // the record of the org it reached.
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM audit_logs WHERE org_id = 'golden-sample' \
             AND action = 'superuser.cross_org_access'"
        )
        .await,
        2
    );

    // The creator can sign in to the new org as its admin.
    let inside = app
        .sign_in(&Member {
            org_id: "golden-sample".into(),
            ..member
        })
        .await;
    let (status, ctx) = app
        .call("GET", "/self/context")
        .token(&inside.access)
        .org("golden-sample")
        .fetch()
        .await;
    assert_eq!(status, 200, "{ctx}");
    assert_eq!(ctx["data"]["roles"].as_array().unwrap().len(), 2);
    assert!(
        ctx["data"]["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("org.settings.manage"))
    );
}

#[tokio::test]
async fn duplicates_and_invalid_bodies_are_refused_without_side_effects() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme Inc").await;
    let (_, s) = root(&app).await;
    let (status, _) = create(
        &app,
        &s,
        json!({"org_id": "beta", "name": "Beta", "slug": "beta"}),
    )
    .await;
    assert_eq!(status, 201);
    let before = scalar(&app, "SELECT count(*) FROM orgs").await;
    let users_before = scalar(&app, "SELECT count(*) FROM users").await;
    let dup = sample("orgs.json", "create org 400 duplicate id/slug")["response"]["body"].clone();
    for body in [
        json!({"org_id": "beta", "name": "Other", "slug": "other"}),
        json!({"org_id": "other", "name": "Other", "slug": " BETA "}),
        json!({"org_id": "ACME", "name": "Other", "slug": "other2"}),
    ] {
        let (status, resp) = create(&app, &s, body.clone()).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(resp, dup);
    }
    let invalid = sample("orgs.json", "create org 422 invalid org_id")["response"]["body"].clone();
    let (status, resp) = create(
        &app,
        &s,
        json!({"org_id": "Bad Org!", "name": "X Org", "slug": "bad-org"}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(resp["message"], invalid["message"]);
    assert_eq!(resp["details"]["errors"][0]["type"], "value_error");
    let missing = sample("orgs.json", "create org 422 missing fields")["response"]["body"].clone();
    let (status, resp) = create(&app, &s, json!({"org_id": "golden-x"})).await;
    assert_eq!(status, 422);
    assert_eq!(resp["message"], missing["message"]);
    let locs: Vec<Value> = resp["details"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["loc"].clone())
        .collect();
    assert_eq!(locs, vec![json!(["body", "name"]), json!(["body", "slug"])]);
    for (body, message) in [
        (
            json!({"org_id": "x", "name": "Xy", "slug": "xy"}),
            "org_id: Value error, org_id must be between 2 and 64 characters",
        ),
        (
            json!({"org_id": "xy", "name": "  X ", "slug": "xy"}),
            "name: String should have at least 2 characters",
        ),
        (
            json!({"org_id": "xy", "name": "Xy", "slug": "s".repeat(256)}),
            "slug: String should have at most 255 characters",
        ),
        (
            json!({"org_id": 5, "name": "Xy", "slug": "xy"}),
            "org_id: Input should be a valid string",
        ),
        (
            json!([]),
            "Input should be a valid dictionary or object to extract fields from",
        ),
    ] {
        let (status, resp) = create(&app, &s, body.clone()).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(resp["message"], message);
    }
    assert_eq!(scalar(&app, "SELECT count(*) FROM orgs").await, before);
    assert_eq!(
        scalar(&app, "SELECT count(*) FROM users").await,
        users_before
    );
}

#[tokio::test]
async fn only_superusers_in_multi_mode_may_create_orgs() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme Inc").await;
    let admin = create_member(&app, "acme", MemberSpec::admin("admin@acme.example.com")).await;
    let s = app.sign_in(&admin).await;
    let body = json!({"org_id": "golden-y", "name": "Golden Y", "slug": "golden-y"});
    let (status, resp) = create(&app, &s, body.clone()).await;
    assert_eq!(status, 403);
    assert_eq!(
        resp,
        sample("orgs.json", "create org 403 not a superuser")["response"]["body"]
    );
    let (status, resp) = app.call("POST", "/orgs").json(&body.clone()).fetch().await;
    assert_eq!(status, 401);
    assert_eq!(
        resp,
        sample("orgs.json", "create org 401 no token")["response"]["body"]
    );
    assert_eq!(
        scalar(&app, "SELECT count(*) FROM orgs WHERE id = 'golden-y'").await,
        0
    );

    let single = spawn_app_with(&[("TENANCY_MODE", "single"), ("DEFAULT_ORG_ID", "acme")]).await;
    create_org(&single, "acme", "Acme Inc").await;
    let (_, s) = root(&single).await;
    let (status, resp) = create(&single, &s, body).await;
    assert_eq!(status, 400, "{resp}");
    assert_eq!(
        resp["message"],
        "Org creation is disabled in single-tenant mode"
    );
    assert_eq!(scalar(&single, "SELECT count(*) FROM orgs").await, 1);
}
