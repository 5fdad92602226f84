//! `GET /self/context` and `GET /self/policy`.

use serde_json::json;

use crate::fixtures::{MemberSpec, create_member, create_org, set_org_settings};
use crate::helpers::{assert_same_keys, sample, spawn_app};

const EMPLOYEE_CODES: [&str; 11] = [
    "loan.apply",
    "loan.cancel_own",
    "loan.document.self_upload_83b",
    "loan.document.self_view",
    "loan.export.self",
    "loan.payment.self.view",
    "loan.schedule.self.view",
    "loan.view_own",
    "loan.what_if.self.simulate",
    "org.dashboard.view",
    "stock.self.view",
];

#[tokio::test]
async fn context_of_an_employee_has_the_legacy_shape_and_values() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme Inc").await;
    let member = create_member(&app, "acme", MemberSpec::new("ann@acme.example.com")).await;
    set_org_settings(&app, "acme", "session_timeout_minutes = 17").await;
    let session = app.sign_in(&member).await;

    let (status, body) = app
        .call("GET", "/self/context")
        .token(&session.access)
        .org("acme")
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    let expected = sample("self.json", "context (employee)")["response"]["body"].clone();
    assert_same_keys(&body, &expected);
    let data = &body["data"];
    let exp = &expected["data"];
    assert_same_keys(data, exp);
    assert_same_keys(&data["org"], &exp["org"]);
    assert_same_keys(&data["roles"][0], &exp["roles"][0]);
    assert_eq!(data["org"]["id"], "acme");
    assert_eq!(data["org"]["name"], "Acme Inc");
    assert_eq!(data["org"]["status"], "ACTIVE");
    assert!(data["org"]["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(data["roles"].as_array().unwrap().len(), 1);
    assert_eq!(data["roles"][0]["name"], "EMPLOYEE");
    assert_eq!(data["roles"][0]["is_system_role"], true);
    assert_eq!(
        data["roles"][0]["permissions"],
        exp["roles"][0]["permissions"]
    );
    assert_eq!(data["permissions"], json!(EMPLOYEE_CODES));
    assert_eq!(data["permissions"], exp["permissions"]);
    assert_eq!(data["session_timeout_minutes"], 17);
    assert_eq!(data["tenancy_mode"], "multi");
}

#[tokio::test]
async fn context_adds_direct_allow_and_removes_direct_deny() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme Inc").await;
    let member = create_member(&app, "acme", MemberSpec::new("ann@acme.example.com")).await;
    sqlx::query(
        "INSERT INTO user_permissions (id, org_id, user_id, permissions, effect) \
         VALUES ($1, 'acme', $2, '[\"user.view\", \"not.a.code\"]', 'allow')",
    )
    .bind(uuid::Uuid::new_v4())
    .bind(member.user_id)
    .execute(&app.db)
    .await
    .unwrap();
    let session = app.sign_in(&member).await;
    let (status, body) = app
        .call("GET", "/self/context")
        .token(&session.access)
        .org("acme")
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    let perms: Vec<&str> = body["data"]["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(perms.contains(&"user.view"));
    assert!(!perms.contains(&"not.a.code"));
    let mut sorted = perms.clone();
    sorted.sort_unstable();
    assert_eq!(perms, sorted);
}

#[tokio::test]
async fn superuser_context_in_another_org_has_no_expansion() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme Inc").await;
    create_org(&app, "other", "Other Org").await;
    let admin = create_member(
        &app,
        "acme",
        MemberSpec::admin("root@acme.example.com").superuser(),
    )
    .await;
    let session = app.sign_in(&admin).await;

    let (status, body) = app
        .call("GET", "/self/context")
        .token(&session.access)
        .org("other")
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    let expected = sample(
        "self.json",
        "context of another org as superuser (X-Org-Id differs from token org)",
    );
    assert_same_keys(&body["data"], &expected["response"]["body"]["data"]);
    assert_eq!(body["data"]["org"]["id"], "other");
    assert_eq!(body["data"]["roles"], json!([]));
    assert_eq!(body["data"]["permissions"], json!([]));
    assert_eq!(body["data"]["session_timeout_minutes"], 5);

    // In its own org the superuser gets its role permissions, not the whole catalogue.
    let (_, body) = app
        .call("GET", "/self/context")
        .token(&session.access)
        .org("acme")
        .fetch()
        .await;
    let perms = body["data"]["permissions"].as_array().unwrap();
    assert_eq!(perms.len(), 64);
    assert_eq!(body["data"]["roles"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn self_routes_need_a_token_first() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme Inc").await;
    for path in ["/self/context", "/self/policy"] {
        let (status, body) = crate::helpers::json(app.get(path).await).await;
        assert_eq!(status, 401, "{path}");
        assert_eq!(
            body,
            sample("self.json", "context 401 no token")["response"]["body"]
        );
    }
}

#[tokio::test]
async fn policy_has_the_legacy_shape_and_does_not_create_the_row() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme Inc").await;
    let member = create_member(&app, "acme", MemberSpec::new("ann@acme.example.com")).await;
    let session = app.sign_in(&member).await;

    let (status, body) = app
        .call("GET", "/self/policy")
        .token(&session.access)
        .org("acme")
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    let mut expected = sample("self.json", "policy")["response"]["body"]["data"].clone();
    assert_same_keys(&body["data"], &expected);
    expected["org_id"] = json!("acme");
    expected["policy_version"] = json!(1);
    assert_eq!(body["data"], expected);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM org_settings WHERE org_id = 'acme'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(rows, 0);

    set_org_settings(
        &app,
        "acme",
        "policy_version = 7, allow_profile_edit = false, down_payment_percent = 12.5, \
         require_down_payment = true, fixed_interest_rate_annual_percent = 4.25",
    )
    .await;
    let (_, body) = app
        .call("GET", "/self/policy")
        .token(&session.access)
        .org("acme")
        .fetch()
        .await;
    let data = &body["data"];
    assert_eq!(data["policy_version"], 7);
    assert_eq!(data["allow_profile_edit"], false);
    assert_eq!(data["down_payment_percent"], "12.50");
    assert_eq!(data["fixed_interest_rate_annual_percent"], "4.2500");
    assert_eq!(data["variable_base_rate_annual_percent"], json!(null));
}
