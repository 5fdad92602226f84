//! `/acls/*`: resource ACLs and direct permission assignments.

use serde_json::{Value, json};

use crate::fixtures::{
    MemberSpec, create_member, me_permissions, org, set_org_settings, step_up_token,
};
use crate::helpers::{
    UNKNOWN, assert_422, assert_same_keys, audit_count, error_body, sample, spawn_app,
};

fn acl_body(user_id: impl std::fmt::Display, resource_id: &str) -> Value {
    json!({"user_id": user_id.to_string(), "resource_type": "loan", "resource_id": resource_id,
           "permissions": ["loan.view_all"], "effect": "allow"})
}

#[tokio::test]
async fn acl_crud_validation_and_audit() {
    let app = spawn_app().await;
    let a = org(&app, "org-a").await;

    let (status, body) = app.call("GET", "/acls").session(&a.admin_s).fetch().await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        sample("acls.json", "list ACLs (empty)")["response"]["body"]
    );

    let (status, body) = app
        .call("POST", "/acls")
        .session(&a.admin_s)
        .json(&acl_body(a.emp.user_id, "loan-123"))
        .fetch()
        .await;
    assert_eq!(status, 201, "{body}");
    let expected = sample("acls.json", "create ACL")["response"]["body"].clone();
    assert_same_keys(&body, &expected);
    assert_same_keys(&body["data"], &expected["data"]);
    let acl = body["data"].clone();
    assert_eq!(acl["user_id"], a.emp.user_id.to_string());
    assert_eq!(acl["org_id"], "org-a");
    assert_eq!(acl["resource_id"], "loan-123");
    assert_eq!(acl["effect"], "allow");
    assert_eq!(acl["expires_at"], Value::Null);
    assert!(acl["created_at"].as_str().unwrap().ends_with('Z'));
    let id = acl["id"].as_str().unwrap().to_owned();
    assert_eq!(audit_count(&app, "org-a", "acl.created").await, 1);

    let (status, body) = app
        .call("POST", "/acls")
        .session(&a.admin_s)
        .json(&acl_body(a.emp.user_id, "loan-123"))
        .fetch()
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        sample("acls.json", "create ACL 400 duplicate user/resource")["response"]["body"]
    );

    let mut bad = acl_body(a.emp.user_id, "loan-9");
    bad["permissions"] = json!(["bogus.permission"]);
    let r = app
        .call("POST", "/acls")
        .session(&a.admin_s)
        .json(&bad)
        .fetch()
        .await;
    let expected = sample("acls.json", "create ACL 422 unknown permission code");
    assert_422(
        &r,
        expected["response"]["body"]["message"].as_str().unwrap(),
    );
    assert_eq!(
        r.1["details"]["errors"][0]["loc"],
        expected["response"]["body"]["details"]["errors"][0]["loc"]
    );
    let mut bad = acl_body(a.emp.user_id, "loan-9");
    bad["effect"] = json!("maybe");
    let r = app
        .call("POST", "/acls")
        .session(&a.admin_s)
        .json(&bad)
        .fetch()
        .await;
    assert_422(&r, "effect: Input should be 'allow' or 'deny'");
    let r = app
        .call("POST", "/acls")
        .session(&a.admin_s)
        .json(&acl_body(a.emp.user_id, "  "))
        .fetch()
        .await;
    assert_422(&r, "resource_id: Value error, must not be empty");
    let r = app
        .call("POST", "/acls")
        .session(&a.admin_s)
        .json(&acl_body("not-a-uuid", "loan-9"))
        .fetch()
        .await;
    assert_eq!(r.0, 422);
    assert!(
        r.1["message"]
            .as_str()
            .unwrap()
            .starts_with("user_id: Input should be a valid UUID")
    );
    let mut bad = acl_body(a.emp.user_id, "loan-9");
    bad["expires_at"] = json!("someday");
    assert_422(
        &app.call("POST", "/acls")
            .session(&a.admin_s)
            .json(&bad)
            .fetch()
            .await,
        "expires_at: Input should be a valid datetime",
    );
    let (status, body) = app
        .call("POST", "/acls")
        .session(&a.admin_s)
        .json(&acl_body(UNKNOWN, "loan-9"))
        .fetch()
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        sample("acls.json", "create ACL 404 user not a member")["response"]["body"]
    );
    // A membership id is not a user id.
    let (status, _) = app
        .call("POST", "/acls")
        .session(&a.admin_s)
        .json(&acl_body(a.emp.membership_id, "loan-9"))
        .fetch()
        .await;
    assert_eq!(status, 404);
    assert_eq!(audit_count(&app, "org-a", "acl.created").await, 1);

    for (method, path) in [("GET", "/acls"), ("POST", "/acls")] {
        let (status, body) = app
            .call(method, path)
            .session(&a.emp_s)
            .json(&acl_body(a.emp.user_id, "loan-9"))
            .fetch()
            .await;
        assert_eq!(status, 403);
        assert_eq!(
            body,
            error_body("forbidden", "Missing permission: acl.manage")
        );
    }

    let (_, body) = app.call("GET", "/acls").session(&a.admin_s).fetch().await;
    assert_eq!(body["data"]["items"].as_array().unwrap().len(), 1);
    assert_eq!(body["data"]["items"][0], acl);

    let (status, body) = app.call("PATCH", &format!("/acls/{id}")).session(&a.admin_s).json(&json!({"effect": "deny", "expires_at": "2027-01-01T00:00:00Z", "permissions": ["loan.view_all", "loan.manage"]})).fetch().await;
    assert_eq!(status, 200, "{body}");
    let expected = sample("acls.json", "update ACL")["response"]["body"].clone();
    assert_same_keys(&body["data"], &expected["data"]);
    for key in [
        "effect",
        "expires_at",
        "permissions",
        "resource_type",
        "resource_id",
    ] {
        assert_eq!(body["data"][key], expected["data"][key], "{key}");
    }
    // `expires_at: null` clears the expiry; absent keeps it.
    let (_, body) = app
        .call("PATCH", &format!("/acls/{id}"))
        .session(&a.admin_s)
        .json(&json!({"permissions": ["loan.view_all"]}))
        .fetch()
        .await;
    assert_eq!(body["data"]["expires_at"], "2027-01-01T00:00:00Z");
    let (_, body) = app
        .call("PATCH", &format!("/acls/{id}"))
        .session(&a.admin_s)
        .json(&json!({"expires_at": null}))
        .fetch()
        .await;
    assert_eq!(body["data"]["expires_at"], Value::Null);
    assert_422(
        &app.call("PATCH", &format!("/acls/{id}"))
            .session(&a.admin_s)
            .json(&json!({"permissions": ["a.b", "c.d"]}))
            .fetch()
            .await,
        "permissions: Value error, Unknown permissions: a.b, c.d",
    );
    let (status, body) = app
        .call("PATCH", &format!("/acls/{UNKNOWN}"))
        .session(&a.admin_s)
        .json(&json!({"effect": "deny"}))
        .fetch()
        .await;
    assert_eq!(status, 404);
    assert_eq!(body, error_body("not_found", "ACL not found"));
    assert_eq!(audit_count(&app, "org-a", "acl.updated").await, 3);

    let r = app
        .call("DELETE", "/acls/not-a-uuid")
        .session(&a.admin_s)
        .fetch()
        .await;
    assert_eq!(r.0, 422);
    let (status, body) = app
        .call("DELETE", &format!("/acls/{id}"))
        .session(&a.admin_s)
        .fetch()
        .await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"code": "ok", "message": "OK", "data": null, "details": {}})
        )
    );
    let (status, body) = app
        .call("DELETE", &format!("/acls/{id}"))
        .session(&a.admin_s)
        .fetch()
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        sample("acls.json", "delete ACL 404 unknown")["response"]["body"]
    );
    assert_eq!(audit_count(&app, "org-a", "acl.deleted").await, 1);
}

#[tokio::test]
async fn direct_assignments_change_effective_permissions_at_once() {
    let app = spawn_app().await;
    let a = org(&app, "org-a").await;
    let zed = create_member(
        &app,
        "org-a",
        MemberSpec::new("zed@org-a.example.com").full_name("Zed Last"),
    )
    .await;
    let before = me_permissions(&app, &a.emp_s).await;
    assert!(!before.contains(&"audit_log.view".to_owned()));

    let (status, body) = app
        .call("GET", "/acls/assignments")
        .session(&a.admin_s)
        .fetch()
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        sample("acls.json", "list assignments")["response"]["body"]
    );

    let (status, body) = app
        .call("POST", "/acls/assignments")
        .session(&a.admin_s)
        .json(&json!({"user_id": zed.user_id, "permissions": ["user.view"], "effect": "allow"}))
        .fetch()
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app.call("POST", "/acls/assignments").session(&a.admin_s).json(&json!({"user_id": a.emp.user_id, "permissions": ["audit_log.view"], "effect": "allow", "expires_at": null})).fetch().await;
    assert_eq!(status, 201, "{body}");
    let expected =
        sample("acls.json", "create direct permission assignment")["response"]["body"].clone();
    assert_same_keys(&body, &expected);
    assert_same_keys(&body["data"], &expected["data"]);
    assert_eq!(body["data"]["full_name"], "Emma Ployee");
    assert_eq!(body["data"]["email"], "emp@org-a.example.com");
    assert_eq!(body["data"]["user_id"], a.emp.user_id.to_string());
    let id = body["data"]["id"].as_str().unwrap().to_owned();
    assert!(
        me_permissions(&app, &a.emp_s)
            .await
            .contains(&"audit_log.view".to_owned())
    );
    assert_eq!(
        audit_count(&app, "org-a", "user_permissions.created").await,
        2
    );

    // Ordered by full name.
    let (_, body) = app
        .call("GET", "/acls/assignments")
        .session(&a.admin_s)
        .fetch()
        .await;
    let names: Vec<&str> = body["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["full_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Emma Ployee", "Zed Last"]);

    let (status, body) = app.call("POST", "/acls/assignments").session(&a.admin_s).json(&json!({"user_id": a.emp.user_id, "permissions": ["audit_log.view"], "effect": "allow"})).fetch().await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        sample("acls.json", "create assignment 400 already exists")["response"]["body"]
    );
    let (status, body) = app
        .call("POST", "/acls/assignments")
        .session(&a.admin_s)
        .json(&json!({"user_id": UNKNOWN, "permissions": ["audit_log.view"], "effect": "allow"}))
        .fetch()
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        sample("acls.json", "create assignment 404 user not a member")["response"]["body"]
    );
    let r = app
        .call("POST", "/acls/assignments")
        .session(&a.admin_s)
        .json(&json!({"user_id": a.emp.user_id, "permissions": ["nope"], "effect": "allow"}))
        .fetch()
        .await;
    assert_422(&r, "permissions: Value error, Unknown permission: nope");

    // Deny takes the codes away from what the roles give.
    let (status, body) = app
        .call("PATCH", &format!("/acls/assignments/{id}"))
        .session(&a.admin_s)
        .json(&json!({"effect": "deny", "permissions": ["loan.apply"]}))
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["effect"], "deny");
    assert_eq!(body["data"]["permissions"], json!(["loan.apply"]));
    assert_eq!(body["data"]["full_name"], "Emma Ployee");
    let now = me_permissions(&app, &a.emp_s).await;
    assert!(!now.contains(&"loan.apply".to_owned()) && !now.contains(&"audit_log.view".to_owned()));
    let (status, body) = app
        .call("PATCH", &format!("/acls/assignments/{UNKNOWN}"))
        .session(&a.admin_s)
        .json(&json!({"effect": "deny"}))
        .fetch()
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        sample("acls.json", "update assignment 404 unknown")["response"]["body"]
    );

    let (status, _) = app
        .call("DELETE", &format!("/acls/assignments/{id}"))
        .session(&a.admin_s)
        .fetch()
        .await;
    assert_eq!(status, 200);
    assert_eq!(me_permissions(&app, &a.emp_s).await, before);
    let (status, body) = app
        .call("DELETE", &format!("/acls/assignments/{id}"))
        .session(&a.admin_s)
        .fetch()
        .await;
    assert_eq!(status, 404);
    assert_eq!(body, error_body("not_found", "Assignment not found"));
    assert_eq!(
        audit_count(&app, "org-a", "user_permissions.updated").await,
        1
    );
    assert_eq!(
        audit_count(&app, "org-a", "user_permissions.deleted").await,
        1
    );

    let (status, body) = app
        .call("GET", "/acls/assignments")
        .session(&a.emp_s)
        .fetch()
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        sample("acls.json", "list assignments 403 (employee)")["response"]["body"]
    );
}

#[tokio::test]
async fn acl_writes_ask_for_step_up_when_the_org_requires_it() {
    let app = spawn_app().await;
    let a = org(&app, "org-a").await;
    set_org_settings(
        &app,
        "org-a",
        "require_two_factor = true, mfa_required_actions = '[\"ACL_ASSIGNMENT\"]'",
    )
    .await;
    let (status, _) = app.call("GET", "/acls").session(&a.admin_s).fetch().await;
    assert_eq!(status, 200, "reads need no step-up");

    let body = acl_body(a.emp.user_id, "loan-456");
    let (status, denied) = app
        .call("POST", "/acls")
        .session(&a.admin_s)
        .json(&body.clone())
        .fetch()
        .await;
    assert_eq!(status, 403, "{denied}");
    assert_same_keys(
        &denied["details"],
        &sample("acls.json", "create ACL 403 step-up required")["response"]["body"]["details"],
    );
    assert_eq!(denied["code"], "step_up_mfa_required");
    assert_eq!(denied["details"]["action"], "ACL_ASSIGNMENT");
    assert_eq!(audit_count(&app, "org-a", "acl.created").await, 0);
    let token = step_up_token(
        &app,
        &a.admin,
        &a.admin_s,
        &denied["details"]["challenge_token"],
    )
    .await;
    let (status, created) = app
        .call("POST", "/acls")
        .session(&a.admin_s)
        .json(&body)
        .step_up(&token)
        .fetch()
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["data"]["id"].as_str().unwrap();

    let (status, denied) = app
        .call("DELETE", &format!("/acls/{id}"))
        .session(&a.admin_s)
        .fetch()
        .await;
    assert_eq!(status, 403);
    assert_eq!(denied["details"]["action"], "ACL_ASSIGNMENT");
    let (status, denied) = app
        .call("POST", "/acls/assignments")
        .session(&a.admin_s)
        .json(&json!({"user_id": a.emp.user_id, "permissions": ["user.view"], "effect": "allow"}))
        .fetch()
        .await;
    assert_eq!(status, 403);
    assert_eq!(denied["code"], "step_up_mfa_required");
    let (status, _) = app
        .call("DELETE", &format!("/acls/{id}"))
        .session(&a.admin_s)
        .step_up(&token)
        .fetch()
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn acls_and_assignments_of_another_org_are_invisible() {
    let app = spawn_app().await;
    let a = org(&app, "org-a").await;
    let b = org(&app, "org-b").await;
    let (status, b_acl) = app
        .call("POST", "/acls")
        .session(&b.admin_s)
        .json(&acl_body(b.emp.user_id, "loan-1"))
        .fetch()
        .await;
    assert_eq!(status, 201);
    let (status, b_assignment) = app
        .call("POST", "/acls/assignments")
        .session(&b.admin_s)
        .json(&json!({"user_id": b.emp.user_id, "permissions": ["user.view"], "effect": "allow"}))
        .fetch()
        .await;
    assert_eq!(status, 201);

    for (path, list) in [
        ("/acls", "/acls"),
        ("/acls/assignments", "/acls/assignments"),
    ] {
        let (_, body) = app.call("GET", list).session(&a.admin_s).fetch().await;
        assert_eq!(body["data"]["items"], json!([]), "{path}");
    }
    let b_acl_id = b_acl["data"]["id"].as_str().unwrap();
    let b_assignment_id = b_assignment["data"]["id"].as_str().unwrap();
    for (prefix, id) in [("/acls", b_acl_id), ("/acls/assignments", b_assignment_id)] {
        for method in ["PATCH", "DELETE"] {
            let foreign = app
                .call(method, &format!("{prefix}/{id}"))
                .session(&a.admin_s)
                .json(&json!({"effect": "deny"}))
                .fetch()
                .await;
            let random = app
                .call(method, &format!("{prefix}/{UNKNOWN}"))
                .session(&a.admin_s)
                .json(&json!({"effect": "deny"}))
                .fetch()
                .await;
            assert_eq!(foreign.0, 404);
            assert_eq!(foreign, random);
        }
    }
    // A user of org B is not a member of org A.
    let (status, body) = app
        .call("POST", "/acls")
        .session(&a.admin_s)
        .json(&acl_body(b.emp.user_id, "loan-2"))
        .fetch()
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        error_body("not_found", "User is not a member of this organization")
    );
    let (status, _) = app
        .call("POST", "/acls/assignments")
        .session(&a.admin_s)
        .json(&json!({"user_id": b.emp.user_id, "permissions": ["user.view"], "effect": "allow"}))
        .fetch()
        .await;
    assert_eq!(status, 404);
    // B's rows are untouched.
    let (_, body) = app.call("GET", "/acls").session(&b.admin_s).fetch().await;
    assert_eq!(body["data"]["items"][0]["effect"], "allow");
}
