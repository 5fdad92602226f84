//! `POST /org/users`: single onboarding, its errors, and the first-login journey.

use serde_json::{Value, json};

use crate::fixtures::{Member, MemberSpec, create_member};
use crate::helpers::{assert_same_keys, audit_count, error_body, json, sample};
use crate::people_support::{ORG, TEMP_PASSWORD, World, complete_first_login, request, world};

async fn onboard(w: &World, body: Value) -> (u16, Value, reqwest::header::HeaderMap) {
    let resp = w
        .app
        .call("POST", "")
        .url(w.app.url("/org/users"))
        .token(&w.admin_s.access)
        .header("X-Org-Id", ORG)
        .json(&body)
        .response()
        .await;
    let headers = resp.headers().clone();
    let (status, body) = json(resp).await;
    (status, body, headers)
}

fn assert_no_nulls_in_strict_onboarding_fields(data: &Value) {
    for key in ["user_status", "membership_status"] {
        assert!(data[key].is_string(), "{key}: {data}");
    }
    assert!(data.get("temporary_password").is_none());
    assert!(!data.to_string().contains(TEMP_PASSWORD));
    for key in [
        "id",
        "org_id",
        "email",
        "is_active",
        "is_superuser",
        "created_at",
    ] {
        assert!(!data["user"][key].is_null(), "user.{key}");
    }
    for key in [
        "id",
        "org_id",
        "user_id",
        "employment_status",
        "platform_status",
        "invitation_status",
    ] {
        assert!(!data["membership"][key].is_null(), "membership.{key}");
    }
}

#[tokio::test]
async fn onboarding_new_existing_and_conflicts() {
    let w = world().await;
    let (status, body, headers) =
        onboard(&w, request(" Golden.Tester1@Example.com ", "GOLD-001")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["code"], "created");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["pragma"], "no-cache");
    let expected = sample("users.json", "onboard single user success (new)");
    let expected = &expected["response"]["body"]["data"];
    let data = &body["data"];
    assert_same_keys(data, expected);
    assert_same_keys(&data["user"], &expected["user"]);
    assert_same_keys(&data["membership"], &expected["membership"]);
    assert_no_nulls_in_strict_onboarding_fields(data);
    assert_eq!(data["user"]["email"], "golden.tester1@example.com");
    assert_eq!(data["user"]["first_name"], "Golden");
    assert_eq!(data["user"]["middle_name"], "Q");
    assert_eq!(data["user"]["last_name"], "Tester");
    assert_eq!(data["user"]["marital_status"], "DOMESTIC_PARTNER");
    assert_eq!(data["user"]["country"], "US");
    assert_eq!(data["user"]["state"], "NY");
    assert_eq!(data["membership"]["platform_status"], "INVITED");
    assert_eq!(data["membership"]["invitation_status"], "PENDING");
    assert_eq!(data["membership"]["employment_start_date"], "2026-01-15");
    assert!(data["membership"]["invited_at"].is_string());
    assert_eq!(
        (
            &data["user_status"],
            &data["membership_status"],
            &data["credentials_issued"]
        ),
        (&json!("new"), &json!("created"), &json!(true))
    );
    assert_eq!(audit_count(&w.app, ORG, "user.onboarded").await, 1);
    let (must_change, hash): (bool, String) = sqlx::query_as(
        "SELECT must_change_password, hashed_password FROM identities WHERE email = 'golden.tester1@example.com'",
    )
    .fetch_one(&w.app.db)
    .await
    .unwrap();
    assert!(must_change);
    assert!(hash.starts_with("$argon2id$"));
    let roles: Vec<String> = sqlx::query_scalar(
        "SELECT r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = $1",
    )
    .bind(uuid::Uuid::parse_str(data["user"]["id"].as_str().unwrap()).unwrap())
    .fetch_all(&w.app.db)
    .await
    .unwrap();
    assert_eq!(roles, ["EMPLOYEE"]);

    // Again: 201, existing/already_exists, same ids, no new audit row.
    let (status, again, _) = onboard(&w, request("golden.tester1@example.com", "GOLD-001")).await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["data"]["user"]["id"], data["user"]["id"]);
    assert_eq!(again["data"]["membership"]["id"], data["membership"]["id"]);
    assert_eq!(
        (
            &again["data"]["user_status"],
            &again["data"]["membership_status"],
            &again["data"]["credentials_issued"]
        ),
        (&json!("existing"), &json!("already_exists"), &json!(false))
    );
    assert_eq!(audit_count(&w.app, ORG, "user.onboarded").await, 1);

    let (status, body, _) = onboard(&w, request("golden.tester1@example.com", "GOLD-999")).await;
    assert_eq!(
        (status, body),
        (
            400,
            error_body(
                "bad_request",
                "User already onboarded with a different employee_id"
            )
        )
    );
    let (status, body, _) = onboard(&w, request("golden.other@example.com", "GOLD-001")).await;
    assert_eq!(
        (status, body),
        (
            400,
            error_body(
                "bad_request",
                "employee_id already in use for this organization"
            )
        )
    );
    let mut weak = request("golden.weak@example.com", "GOLD-002");
    weak["temporary_password"] = json!("weak");
    let (status, body, _) = onboard(&w, weak).await;
    assert_eq!(
        (status, body),
        (
            400,
            error_body("bad_request", "Password too short; minimum 12 characters")
        )
    );
    assert_eq!(audit_count(&w.app, ORG, "user.onboarded").await, 1);
}

#[tokio::test]
async fn onboarding_validation_errors_are_422_never_500() {
    let w = world().await;
    let (status, body, _) = onboard(&w, json!({"email": "golden.missing@example.com"})).await;
    assert_eq!(status, 422);
    assert_eq!(body["message"], "first_name: Field required");
    let cases = [
        (
            "employment_status",
            json!("working"),
            "employment_status: Value error, Invalid employment_status value",
        ),
        (
            "marital_status",
            json!("complicated"),
            "marital_status: Value error, Invalid marital_status value",
        ),
        (
            "email",
            json!("not-an-email"),
            "email: value is not a valid email address: An email address must have an @-sign.",
        ),
        (
            "country",
            json!("United States"),
            "country: String should have at most 2 characters",
        ),
        (
            "state",
            json!("x".repeat(11)),
            "state: String should have at most 10 characters",
        ),
        (
            "first_name",
            json!("x".repeat(101)),
            "first_name: String should have at most 100 characters",
        ),
    ];
    for (field, value, message) in cases {
        let mut body = request("golden.x@example.com", "GOLD-003");
        body[field] = value;
        let (status, resp, _) = onboard(&w, body).await;
        assert_eq!(status, 422, "{field}: {resp}");
        assert_eq!(resp["message"], message);
    }
    let mut body = request("golden.x@example.com", "GOLD-003");
    body["employment_start_date"] = json!("yesterday");
    let (status, resp, _) = onboard(&w, body).await;
    assert_eq!(status, 422, "{resp}");
    assert!(
        resp["message"]
            .as_str()
            .unwrap()
            .starts_with("employment_start_date:")
    );
    assert_eq!(audit_count(&w.app, ORG, "user.onboarded").await, 0);
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE email LIKE 'golden%'")
        .fetch_one(&w.app.db)
        .await
        .unwrap();
    assert_eq!(users, 0);
}

#[tokio::test]
async fn onboarded_member_logs_in_changes_password_and_becomes_active() {
    let w = world().await;
    let (status, body, _) = onboard(&w, request("newbie@acme.example.com", "NEW-1")).await;
    assert_eq!(status, 201, "{body}");
    let membership_id = body["data"]["membership"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    complete_first_login(&w, "newbie@acme.example.com", &membership_id).await;
}

#[tokio::test]
async fn onboarding_reuses_an_identity_from_another_org() {
    let w = world().await;
    // olga exists in globex; onboarding her into acme links the same identity, issues no
    // credentials and leaves her password alone.
    let (status, body, _) = onboard(&w, request("olga@globex.example.com", "OLGA-1")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["user_status"], "new");
    assert_eq!(body["data"]["credentials_issued"], false);
    let identities: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM identities WHERE email = 'olga@globex.example.com'",
    )
    .fetch_one(&w.app.db)
    .await
    .unwrap();
    assert_eq!(identities, 1);
    let other: &Member = &w.other;
    let (status, _) = w.app.login(&other.email, &other.password).await;
    assert_eq!(status, 200);
    // An employee cannot onboard.
    let member = create_member(&w.app, ORG, MemberSpec::new("e2@acme.example.com")).await;
    let _ = member;
    let (status, body) = w
        .app
        .call("POST", "/org/users")
        .token(&w.emp_s.access)
        .org(ORG)
        .json(&request("x@acme.example.com", "X"))
        .fetch()
        .await;
    assert_eq!(
        (status, body),
        (
            403,
            error_body("forbidden", "Missing permission: user.onboard")
        )
    );
}
