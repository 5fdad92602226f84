//! `/org/users*` (except onboarding, see onboarding.rs and bulk_onboarding.rs): list, detail,
//! status, profile, deletes, forced password reset and admin MFA reset (the shared world is in
//! people_support.rs).

#![allow(dead_code)]

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{MemberSpec, create_member, set_org_settings, totp_now};
use crate::helpers::{UNKNOWN, assert_same_keys, audit_count, error_body, json, sample};
use crate::people_support::{ORG, assert_strict_item, fail_commit_after_audit, world};

fn sample_data(file: &str, name: &str) -> Value {
    sample(file, name)["response"]["body"]["data"].clone()
}

#[tokio::test]
async fn list_has_the_legacy_shape_stable_order_paging_and_filters() {
    let w = world().await;
    let app = &w.app;
    for (i, name) in ["Zed Last", "Amy First", "Mia Middle"].iter().enumerate() {
        create_member(
            app,
            ORG,
            MemberSpec::new(&format!("p{i}@acme.example.com")).full_name(name),
        )
        .await;
    }
    let (status, body) = app
        .call("GET", "/org/users?page=1&page_size=2")
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    assert_eq!(data["total"], 5);
    let items = data["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let expected = sample_data("users.json", "list users page 1 size 5");
    assert_same_keys(data, &expected);
    let sample_item = &expected["items"][0];
    assert_same_keys(&items[0], sample_item);
    assert_same_keys(&items[0]["user"], &sample_item["user"]);
    assert_same_keys(&items[0]["membership"], &sample_item["membership"]);
    assert_same_keys(&items[0]["roles"][0], &sample_item["roles"][0]);
    for item in items {
        assert_strict_item(item);
    }
    // Stable order by membership creation (the legacy service returned rows in insertion
    // order): Ada Admin, Eve Employee, then Zed Last, Amy First, Mia Middle.
    let names = |body: &Value| -> Vec<String> {
        body["data"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["user"]["first_name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&body), ["Ada", "Eve"]);
    let (_, page2) = app
        .call("GET", "/org/users?page=2&page_size=2")
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(names(&page2), ["Zed", "Amy"]);
    let (_, page3) = app
        .call("GET", "/org/users?page=3&page_size=2")
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(names(&page3), ["Mia"]);
    assert_eq!(page3["data"]["total"], 5, "every page carries the total");
    // A page past the end is empty and still tells the total.
    let (status, past) = app
        .call("GET", "/org/users?page=9&page_size=2")
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 200, "{past}");
    assert_eq!(past["data"]["items"], json!([]));
    assert_eq!(past["data"]["total"], 5);
    // Other orgs' members never show.
    let (_, all) = app
        .call("GET", "/org/users?page_size=100")
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert!(!all.to_string().contains("globex.example.com"));
    // Each item carries the same roles, in the same order, as that member's detail page.
    let hr_role: Uuid =
        sqlx::query_scalar("SELECT id FROM roles WHERE org_id = $1 AND name = 'FINANCE'")
            .bind(ORG)
            .fetch_one(&app.db)
            .await
            .unwrap();
    sqlx::query(
        "INSERT INTO user_roles (id, org_id, user_id, role_id) SELECT gen_random_uuid(), org_id, user_id, $2 \
         FROM org_memberships WHERE id = $1",
    )
    .bind(w.admin.membership_id)
    .bind(hr_role)
    .execute(&app.db)
    .await
    .unwrap();
    let (_, all) = app
        .call("GET", "/org/users?page_size=100")
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    let mut role_counts = Vec::new();
    for item in all["data"]["items"].as_array().unwrap() {
        let id = item["membership"]["id"].as_str().unwrap();
        let (_, detail) = app
            .call("GET", &format!("/org/users/{id}"))
            .token(&w.admin_s.access)
            .org(ORG)
            .fetch()
            .await;
        assert_eq!(item["roles"], detail["data"]["roles"], "{id}");
        role_counts.push(item["roles"].as_array().unwrap().len());
    }
    assert_eq!(
        role_counts,
        [3, 1, 1, 1, 1],
        "admin: ORG ADMIN, EMPLOYEE, FINANCE"
    );

    // Coercions: 0, negative → defaults; 10^9 → capped; non-integer → 422.
    for query in [
        "page=0&page_size=0",
        "page=-4&page_size=-1",
        "page_size=1000000000",
    ] {
        let (status, body) = app
            .call("GET", &format!("/org/users?{query}"))
            .token(&w.admin_s.access)
            .org(ORG)
            .fetch()
            .await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(
            body["data"]["items"].as_array().unwrap().len(),
            5,
            "{query}"
        );
    }
    let (status, body) = app
        .call("GET", "/org/users?page=x")
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        body["message"],
        "page: Input should be a valid integer, unable to parse string as an integer"
    );

    // Filters.
    let (_, body) = app
        .call("GET", "/org/users?search=MIDDLE")
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(names(&body), ["Mia"]);
    let (_, body) = app
        .call("GET", "/org/users?search=p1%40acme")
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(names(&body), ["Amy"]);
    let (_, body) = app
        .call("GET", "/org/users?search=%25")
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(body["data"]["total"], 0, "LIKE wildcards are literal");
    sqlx::query("UPDATE org_memberships SET employment_status = 'ON_LEAVE' WHERE id = $1")
        .bind(w.emp.membership_id)
        .execute(&app.db)
        .await
        .unwrap();
    let (_, body) = app
        .call("GET", "/org/users?employment_status=on%20leave")
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(names(&body), ["Eve"]);
    let (status, body) = app
        .call("GET", "/org/users?employment_status=WORKING")
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!((status, body["data"]["total"].clone()), (200, json!(0)));
    let (_, body) = app
        .call(
            "GET",
            "/org/users?platform_status=active&invitation_status=ACCEPTED",
        )
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(body["data"]["total"], 5);
    let admin_role: Uuid =
        sqlx::query_scalar("SELECT id FROM roles WHERE org_id = $1 AND name = 'ORG ADMIN'")
            .bind(ORG)
            .fetch_one(&app.db)
            .await
            .unwrap();
    let (_, body) = app
        .call("GET", &format!("/org/users?role_id={admin_role}"))
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(names(&body), ["Ada"]);
    let (status, _) = app
        .call("GET", "/org/users?role_id=nope")
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn detail_404_cross_tenant_and_malformed_ids() {
    let w = world().await;
    let app = &w.app;
    let (status, body) = app
        .call("GET", &format!("/org/users/{}", w.emp.membership_id))
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    let expected = sample_data("users.json", "get user detail");
    assert_same_keys(&body["data"], &expected);
    assert_same_keys(&body["data"]["user"], &expected["user"]);
    assert_same_keys(&body["data"]["membership"], &expected["membership"]);
    assert_strict_item(&body["data"]);
    assert_eq!(body["data"]["organization_name"], "Acme Inc");
    assert_eq!(body["data"]["role_names"], json!(["EMPLOYEE"]));
    assert_eq!(body["data"]["user"]["org_name"], "Acme Inc");

    let (status, unknown) = app
        .call("GET", &format!("/org/users/{UNKNOWN}"))
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 404);
    assert_eq!(unknown, error_body("not_found", "Membership not found"));
    let (status, cross) = app
        .call("GET", &format!("/org/users/{}", w.other.membership_id))
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!((status, cross), (404, unknown));
    let (status, body) = app
        .call("GET", "/org/users/not-a-uuid")
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("membership_id: Input should be a valid UUID")
    );
    // Cross-tenant writes are 404 too, and change nothing.
    let other = w.other.membership_id;
    for (method, path, body) in [
        (
            Method::PATCH,
            format!("/org/users/{other}"),
            Some(json!({"employment_status": "TERMINATED"})),
        ),
        (
            Method::PATCH,
            format!("/org/users/{other}/profile"),
            Some(json!({"first_name": "X"})),
        ),
        (Method::DELETE, format!("/org/users/{other}"), None),
        (
            Method::POST,
            format!("/org/users/{other}/force-password-reset"),
            None,
        ),
        (Method::POST, format!("/org/users/{other}/mfa/reset"), None),
    ] {
        let (status, body) = app
            .call(method, &path)
            .token(&w.admin_s.access)
            .org(ORG)
            .maybe_json(body)
            .fetch()
            .await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    let still: String =
        sqlx::query_scalar("SELECT employment_status FROM org_memberships WHERE id = $1")
            .bind(other)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(still, "ACTIVE");
}

#[tokio::test]
async fn an_employee_is_refused_every_endpoint_by_permission() {
    let w = world().await;
    let app = &w.app;
    let m = w.admin.membership_id;
    let cases: Vec<(Method, String, Option<Value>, &str)> = vec![
        (Method::GET, "/org/users".into(), None, "user.view"),
        (Method::GET, format!("/org/users/{m}"), None, "user.view"),
        (
            Method::POST,
            "/org/users".into(),
            Some(crate::people_support::request("x@acme.example.com", "X-1")),
            "user.onboard",
        ),
        (
            Method::GET,
            "/org/users/bulk/template".into(),
            None,
            "user.onboard",
        ),
        (
            Method::DELETE,
            format!("/org/users/{m}"),
            None,
            "user.manage",
        ),
        (
            Method::PATCH,
            format!("/org/users/{m}"),
            Some(json!({"employment_status": "TERMINATED"})),
            "user.manage",
        ),
        (
            Method::PATCH,
            format!("/org/users/{m}/profile"),
            Some(json!({"first_name": "X"})),
            "user.manage",
        ),
        (
            Method::POST,
            format!("/org/users/{m}/force-password-reset"),
            None,
            "user.manage",
        ),
        (
            Method::POST,
            format!("/org/users/{m}/mfa/reset"),
            None,
            "user.mfa.reset",
        ),
        (
            Method::POST,
            "/org/users/bulk/delete".into(),
            Some(json!({"membership_ids": [m]})),
            "user.manage",
        ),
    ];
    for (method, path, body, code) in cases {
        let (status, resp) = app
            .call(method, &path)
            .token(&w.emp_s.access)
            .org(ORG)
            .maybe_json(body)
            .fetch()
            .await;
        assert_eq!(status, 403, "{path}");
        assert_eq!(
            resp,
            error_body("forbidden", &format!("Missing permission: {code}")),
            "{path}"
        );
    }
    // The permission is checked before the path, query and body are validated.
    let invalid = [
        (
            Method::POST,
            "/org/users".to_owned(),
            Some(json!({"email": 7})),
            "user.onboard",
        ),
        (
            Method::POST,
            "/org/users/bulk/delete".to_owned(),
            Some(json!({})),
            "user.manage",
        ),
        (
            Method::GET,
            "/org/users?page=x".to_owned(),
            None,
            "user.view",
        ),
        (
            Method::GET,
            "/org/users/not-a-uuid".to_owned(),
            None,
            "user.view",
        ),
    ];
    for (method, path, body, code) in invalid {
        let (status, resp) = app
            .call(method, &path)
            .token(&w.emp_s.access)
            .org(ORG)
            .maybe_json(body)
            .fetch()
            .await;
        assert_eq!(status, 403, "{path}: {resp}");
        assert_eq!(
            resp,
            error_body("forbidden", &format!("Missing permission: {code}")),
            "{path}"
        );
    }
    // Without X-Org-Id the tenant error comes first; without a token, 401.
    let resp = app.call("GET", "/org/users").response().await;
    let (status, body) = json(resp).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        "Tenant resolution failed: provide X-Org-Id header"
    );
    let resp = app
        .call("GET", "/org/users")
        .header("X-Org-Id", ORG)
        .response()
        .await;
    let (status, body) = json(resp).await;
    assert_eq!(
        (status, body["message"].clone()),
        (401, json!("Not authenticated"))
    );
}

#[tokio::test]
async fn deactivating_a_member_removes_roles_and_kills_their_sessions() {
    let w = world().await;
    let app = &w.app;
    let path = format!("/org/users/{}", w.emp.membership_id);
    let (status, me) = app
        .call("GET", "/auth/me")
        .token(&w.emp_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 200, "{me}");

    let (status, body) = app
        .call("PATCH", &path)
        .token(&w.admin_s.access)
        .org(ORG)
        .json(&json!({"employment_status": "working"}))
        .fetch()
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        body["message"],
        "employment_status: Value error, Invalid employment_status value"
    );
    let (status, body) = app
        .call("PATCH", &path)
        .token(&w.admin_s.access)
        .org(ORG)
        .json(&json!({"platform_status": "sleeping"}))
        .fetch()
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(audit_count(app, ORG, "user.membership.updated").await, 0);

    let (status, body) = app
        .call("PATCH", &path)
        .token(&w.admin_s.access)
        .org(ORG)
        .json(&json!({"employment_status": "on leave"}))
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    assert_same_keys(
        data,
        &sample_data(
            "users.json",
            "patch membership employment_status alias 'on leave' -> ON_LEAVE (roles removed, sessions revoked)",
        ),
    );
    assert_eq!(data["membership"]["employment_status"], "ON_LEAVE");
    assert_eq!(data["roles"], json!([]));
    assert_eq!(data["role_names"], json!([]));
    assert_strict_item(data);
    assert_eq!(audit_count(app, ORG, "role.removed").await, 1);
    assert_eq!(audit_count(app, ORG, "user.membership.updated").await, 1);

    // The membership gate ends the sessions in this org; the identity's token version (its
    // sessions in other orgs) is untouched.
    let (status, body) = app
        .call("GET", "/auth/me")
        .token(&w.emp_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 403);
    assert_eq!(body["message"], "Membership is not active");

    // Back to ACTIVE: nothing else is removed, the audit row is written.
    let (status, body) = app
        .call("PATCH", &path)
        .token(&w.admin_s.access)
        .org(ORG)
        .json(&json!({"employment_status": "ACTIVE", "platform_status": "active"}))
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["membership"]["platform_status"], "ACTIVE");
    assert_eq!(audit_count(app, ORG, "user.membership.updated").await, 2);
    assert_eq!(audit_count(app, ORG, "role.removed").await, 1);
}

#[tokio::test]
async fn admin_profile_edit_validates_and_audits() {
    let w = world().await;
    let app = &w.app;
    let path = format!("/org/users/{}/profile", w.emp.membership_id);
    let (status, body) = app.call("PATCH", &path).token(&w.admin_s.access).org(ORG).json(&json!({"first_name": "bulk", "last_name": "ONE-updated", "phone_number": " +1-555-0102 ", "country": "ca", "state": "on", "middle_name": ""})).fetch().await;
    assert_eq!(status, 200, "{body}");
    let user = &body["data"]["user"];
    assert_eq!(user["first_name"], "bulk");
    assert_eq!(user["last_name"], "ONE-updated");
    assert_eq!(user["phone_number"], "+1-555-0102");
    assert_eq!(user["country"], "Canada");
    assert_eq!(user["state"], "Ontario");
    assert_eq!(user["country_code"], "ca");
    assert_eq!(user["state_name"], "Ontario");
    assert_eq!(user["middle_name"], Value::Null);
    let full: String =
        sqlx::query_scalar("SELECT full_name FROM org_user_profiles WHERE membership_id = $1")
            .bind(w.emp.membership_id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(full, "bulk ONE-updated");
    assert_eq!(audit_count(app, ORG, "user.profile.updated").await, 1);

    // Country names resolve; over-long or unknown values are 422, never a database 500.
    let (status, body) = app
        .call("PATCH", &path)
        .token(&w.admin_s.access)
        .org(ORG)
        .json(&json!({"country": "United States", "state": "New York"}))
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["user"]["country_code"], "US");
    assert_eq!(body["data"]["user"]["state_code"], "NY");
    for bad in [
        json!({"country": "Atlantis"}),
        json!({"state": "Narnia Kingdom"}),
        json!({"postal_code": "9".repeat(40)}),
        json!({"marital_status": "complicated"}),
        json!({"first_name": 5}),
    ] {
        let (status, body) = app
            .call("PATCH", &path)
            .token(&w.admin_s.access)
            .org(ORG)
            .json(&bad.clone())
            .fetch()
            .await;
        assert_eq!(status, 422, "{bad}: {body}");
    }

    // E-mail: users.email only, duplicate → duplicate_email.
    let (status, body) = app
        .call("PATCH", &path)
        .token(&w.admin_s.access)
        .org(ORG)
        .json(&json!({"email": "admin@acme.example.com"}))
        .fetch()
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"code": "duplicate_email", "message": "Email already exists", "data": null, "details": {}})
    );
    let (status, body) = app
        .call("PATCH", &path)
        .token(&w.admin_s.access)
        .org(ORG)
        .json(&json!({"email": "nope"}))
        .fetch()
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        body["message"],
        "email: value is not a valid email address: An email address must have an @-sign."
    );
    let (status, body) = app
        .call("PATCH", &path)
        .token(&w.admin_s.access)
        .org(ORG)
        .json(&json!({"email": "eve.new@acme.example.com"}))
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["user"]["email"], "eve.new@acme.example.com");
    let identity_email: String = sqlx::query_scalar("SELECT email FROM identities WHERE id = $1")
        .bind(w.emp.identity_id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(identity_email, "emp@acme.example.com");

    // Step-up when the org requires it for USER_PROFILE_EDIT.
    set_org_settings(
        app,
        ORG,
        "require_two_factor = true, mfa_required_actions = '[\"USER_PROFILE_EDIT\"]'",
    )
    .await;
    let (status, body) = app
        .call("PATCH", &path)
        .token(&w.admin_s.access)
        .org(ORG)
        .json(&json!({"preferred_name": "Goldie"}))
        .fetch()
        .await;
    assert_eq!(status, 403);
    assert_eq!(body["code"], "step_up_mfa_required");
    assert_eq!(body["details"]["action"], "USER_PROFILE_EDIT");
    let (status, verified) = app.call("POST", "/auth/step-up/verify").token(&w.admin_s.access).org(ORG).json(&json!({"challenge_token": body["details"]["challenge_token"], "code": totp_now(w.admin.totp_secret.as_deref().unwrap())})).fetch().await;
    assert_eq!(status, 200, "{verified}");
    let resp = app
        .call("PATCH", &path)
        .token(&w.admin_s.access)
        .header("X-Org-Id", ORG)
        .header(
            "X-Step-Up-Token",
            verified["data"]["step_up_token"].as_str().unwrap(),
        )
        .json(&json!({"preferred_name": "Goldie"}))
        .response()
        .await;
    let (status, body) = json(resp).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["user"]["preferred_name"], "Goldie");
}

#[tokio::test]
async fn forced_password_reset_flags_and_revokes() {
    let w = world().await;
    let app = &w.app;
    let (status, body) = app
        .call(
            "POST",
            &format!("/org/users/{}/force-password-reset", w.emp.membership_id),
        )
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!({"message": "Password reset required for emp@acme.example.com"})
    );
    let must: bool =
        sqlx::query_scalar("SELECT must_change_password FROM identities WHERE id = $1")
            .bind(w.emp.identity_id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(must);
    let (status, body) = app
        .call("GET", "/auth/me")
        .token(&w.emp_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(
        (status, body["message"].clone()),
        (401, json!("Token revoked"))
    );
    assert_eq!(audit_count(app, ORG, "user.password.force_reset").await, 1);

    let (status, body) = app
        .call(
            "POST",
            &format!("/org/users/{}/force-password-reset", w.admin.membership_id),
        )
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        "Cannot force-reset your own password. Use change-password instead."
    );
    let (status, body) = app
        .call(
            "POST",
            &format!("/org/users/{UNKNOWN}/force-password-reset"),
        )
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 404);
    assert_eq!(body, error_body("not_found", "User not found"));
}

#[tokio::test]
async fn admin_mfa_reset_clears_mfa_and_honours_listed_step_up() {
    let w = world().await;
    let app = &w.app;
    let target = create_member(app, ORG, MemberSpec::new("mfa@acme.example.com").mfa(true)).await;
    sqlx::query(
        "INSERT INTO user_mfa_recovery_codes (id, code_hash, identity_id) VALUES ($1, 'h', $2)",
    )
    .bind(Uuid::new_v4())
    .bind(target.identity_id)
    .execute(&app.db)
    .await
    .unwrap();
    let path = format!("/org/users/{}/mfa/reset", target.membership_id);

    // Listed in mfa_required_actions without require_two_factor: step-up still applies.
    set_org_settings(app, ORG, "mfa_required_actions = '[\"USER_MFA_RESET\"]'").await;
    let (status, body) = app
        .call("POST", &path)
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "step_up_mfa_required");
    assert_eq!(audit_count(app, ORG, "user.mfa.reset").await, 0);
    set_org_settings(app, ORG, "mfa_required_actions = '[]'").await;

    let (status, body) = app
        .call("POST", &path)
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!({"message": "MFA has been reset for user mfa@acme.example.com"})
    );
    let (enabled, secret): (bool, Option<String>) =
        sqlx::query_as("SELECT mfa_enabled, mfa_secret_encrypted FROM identities WHERE id = $1")
            .bind(target.identity_id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(!enabled && secret.is_none());
    let codes: i64 =
        sqlx::query_scalar("SELECT count(*) FROM user_mfa_recovery_codes WHERE identity_id = $1")
            .bind(target.identity_id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(codes, 0);
    let (old, new): (Value, Value) = sqlx::query_as(
        "SELECT old_value::jsonb, new_value::jsonb FROM audit_logs WHERE org_id = $1 AND action = 'user.mfa.reset'",
    )
    .bind(ORG)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(
        (old, new),
        (json!({"mfa_enabled": true}), json!({"mfa_enabled": false}))
    );

    let (status, body) = app
        .call("POST", &path)
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["message"], "User does not have MFA enabled");
    let (status, body) = app
        .call(
            "POST",
            &format!("/org/users/{}/mfa/reset", w.admin.membership_id),
        )
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        "Cannot reset your own MFA via admin endpoint. Use self-service reset."
    );
    let (status, body) = app
        .call("POST", &format!("/org/users/{UNKNOWN}/mfa/reset"))
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(
        (status, body),
        (404, error_body("not_found", "User not found"))
    );
}

#[tokio::test]
async fn deletes_remove_membership_and_user_but_keep_the_identity() {
    let w = world().await;
    let app = &w.app;
    let path = format!("/org/users/{}", w.emp.membership_id);
    let (status, body) = app
        .call("DELETE", &path)
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"code": "ok", "message": "OK", "data": null, "details": {}})
    );
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE id = $1")
        .bind(w.emp.user_id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    let identities: i64 = sqlx::query_scalar("SELECT count(*) FROM identities WHERE id = $1")
        .bind(w.emp.identity_id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    let profiles: i64 =
        sqlx::query_scalar("SELECT count(*) FROM org_user_profiles WHERE membership_id = $1")
            .bind(w.emp.membership_id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((users, identities, profiles), (0, 1, 0));
    assert_eq!(audit_count(app, ORG, "user.membership.deleted").await, 1);
    assert_eq!(audit_count(app, ORG, "user.deleted").await, 1);
    let (status, body) = app
        .call("DELETE", &path)
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(
        (status, body),
        (404, error_body("not_found", "Membership not found"))
    );
    let (status, _) = app
        .call("DELETE", "/org/users/xyz")
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 422);

    let victim = create_member(app, ORG, MemberSpec::new("v@acme.example.com")).await;
    let (status, body) = app.call("POST", "/org/users/bulk/delete").token(&w.admin_s.access).org(ORG).json(&json!({"membership_ids": [victim.membership_id, UNKNOWN, "garbage", w.other.membership_id]})).fetch().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!({"deleted": 1, "not_found": [UNKNOWN, "garbage", w.other.membership_id]})
    );
    let (status, body) = app
        .call("POST", "/org/users/bulk/delete")
        .token(&w.admin_s.access)
        .org(ORG)
        .json(&json!({}))
        .fetch()
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["message"], "membership_ids: Field required");
}

#[tokio::test]
async fn audit_rows_exist_iff_the_change_committed() {
    let w = world().await;
    let app = &w.app;
    fail_commit_after_audit(app, "user.membership.updated").await;
    let (status, _) = app
        .call("PATCH", &format!("/org/users/{}", w.emp.membership_id))
        .token(&w.admin_s.access)
        .org(ORG)
        .json(&json!({"employment_status": "TERMINATED"}))
        .fetch()
        .await;
    assert_eq!(status, 500);
    let status_now: String =
        sqlx::query_scalar("SELECT employment_status FROM org_memberships WHERE id = $1")
            .bind(w.emp.membership_id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(status_now, "ACTIVE");
    assert_eq!(audit_count(app, ORG, "user.membership.updated").await, 0);
    assert_eq!(audit_count(app, ORG, "role.removed").await, 0);
    let roles: i64 = sqlx::query_scalar("SELECT count(*) FROM user_roles WHERE user_id = $1")
        .bind(w.emp.user_id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(roles, 1);
    // The session survived because the token_version bump rolled back too.
    let (status, _) = app
        .call("GET", "/auth/me")
        .token(&w.emp_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 200);
}
