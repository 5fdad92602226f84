//! `/roles/*`: listing, custom-role CRUD, assignment rules, step-up, cache invalidation,
//! tenant isolation and audit rows.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{
    MemberSpec, Org, create_member, me_permissions, org, set_org_settings, step_up_token,
};
use crate::helpers::{
    TestApp, UNKNOWN, assert_422, assert_same_keys, audit_count, error_body, fail_commit_when,
    json, sample, spawn_app,
};

async fn role_id(app: &TestApp, org: &str, name: &str) -> Uuid {
    sqlx::query_scalar("SELECT id FROM roles WHERE org_id = $1 AND name = $2")
        .bind(org)
        .bind(name)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

async fn create_role(app: &TestApp, o: &Org, name: &str, perms: &[&str]) -> Value {
    let (status, body) = app
        .call("POST", "/roles")
        .session(&o.admin_s)
        .json(&json!({"name": name, "permissions": perms}))
        .fetch()
        .await;
    assert_eq!(status, 201, "{body}");
    body["data"].clone()
}

#[tokio::test]
async fn roles_list_title_cases_names_in_a_stable_order_and_pages() {
    let app = spawn_app().await;
    let a = org(&app, "org-a").await;

    let (status, body) = app.call("GET", "/roles").session(&a.admin_s).fetch().await;
    assert_eq!(status, 200, "{body}");
    let expected = sample("roles.json", "list roles");
    assert_same_keys(&body, &expected["response"]["body"]);
    assert_same_keys(&body["data"], &expected["response"]["body"]["data"]);
    let items = body["data"]["items"].as_array().unwrap();
    let names: Vec<&str> = items.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "Org Admin",
            "Human Resource",
            "Finance",
            "Legal",
            "Employee"
        ]
    );
    assert_eq!(body["data"]["total"], 5);
    for (item, sample_item) in items.iter().zip(
        expected["response"]["body"]["data"]["items"]
            .as_array()
            .unwrap(),
    ) {
        assert_same_keys(item, sample_item);
        assert_eq!(item["org_id"], "org-a");
        assert_eq!(item["is_system_role"], true);
        assert_eq!(item["description"], sample_item["description"]);
        assert_eq!(item["permissions"], sample_item["permissions"]);
        assert!(item["created_at"].as_str().unwrap().ends_with('Z'));
    }

    let (status, body) = app
        .call("GET", "/roles?page=2&page_size=2")
        .session(&a.admin_s)
        .fetch()
        .await;
    assert_eq!(status, 200);
    let names: Vec<&str> = body["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Finance", "Legal"]);
    assert_eq!(body["data"]["total"], 5);

    let over = app
        .call("GET", "/roles?page_size=101")
        .session(&a.admin_s)
        .fetch()
        .await;
    assert_eq!(
        over.1,
        json!({"code": "validation_error", "message": "page_size: Input should be less than or equal to 100", "data": null,
               "details": {"errors": [{"type": "less_than_equal", "loc": ["query", "page_size"],
                           "msg": "Input should be less than or equal to 100", "input": "101", "ctx": {"le": 100}}]}})
    );
    for (query, message) in [
        (
            "page_size=0",
            "page_size: Input should be greater than or equal to 1",
        ),
        (
            "page_size=-3",
            "page_size: Input should be greater than or equal to 1",
        ),
        (
            "page_size=1000000000",
            "page_size: Input should be less than or equal to 100",
        ),
        ("page=0", "page: Input should be greater than or equal to 1"),
        (
            "page=abc",
            "page: Input should be a valid integer, unable to parse string as an integer",
        ),
    ] {
        let r = app
            .call("GET", &format!("/roles?{query}"))
            .session(&a.admin_s)
            .fetch()
            .await;
        assert_422(&r, message);
    }

    let (status, body) = app.call("GET", "/roles").session(&a.emp_s).fetch().await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        sample("roles.json", "list roles 403 (employee)")["response"]["body"]
    );
    // The employee gets 403 before any validation of the query.
    let (status, _) = app
        .call("GET", "/roles?page_size=101")
        .session(&a.emp_s)
        .fetch()
        .await;
    assert_eq!(status, 403);

    let resp = app
        .call("GET", "/roles")
        .header("X-Org-Id", "org-a")
        .response()
        .await;
    let (status, body) = json(resp).await;
    assert_eq!(status, 401);
    assert_eq!(body, error_body("unauthorized", "Not authenticated"));
    // Neither token nor X-Org-Id: the tenant error comes first on org-admin routes.
    let (status, body) = json(app.get("/roles").await).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        "Tenant resolution failed: provide X-Org-Id header"
    );
}

#[tokio::test]
async fn custom_roles_are_normalised_validated_edited_and_deleted_with_audit() {
    let app = spawn_app().await;
    let a = org(&app, "org-a").await;

    // Unknown codes are rejected, listing them, and nothing is written.
    let r = app
        .call("POST", "/roles")
        .session(&a.admin_s)
        .json(&json!({"name": "x", "permissions": ["audit_log.view", "bogus.permission", "x.y"]}))
        .fetch()
        .await;
    assert_422(
        &r,
        "permissions: Value error, Unknown permissions: bogus.permission, x.y",
    );
    assert_eq!(
        r.1["details"]["errors"][0]["loc"],
        json!(["body", "permissions"])
    );
    assert_eq!(audit_count(&app, "org-a", "role.created").await, 0);

    let (status, body) = app.call("POST", "/roles").session(&a.admin_s).json(&json!({"name": "  golden   AUDITOR ", "description": "reads audit logs", "permissions": ["audit_log.view", "user.view"]})).fetch().await;
    assert_eq!(status, 201, "{body}");
    let expected = sample(
        "roles.json",
        "create custom role (name normalised, unknown permission dropped)",
    );
    assert_same_keys(&body, &expected["response"]["body"]);
    assert_same_keys(&body["data"], &expected["response"]["body"]["data"]);
    assert_eq!(body["code"], "created");
    let role = &body["data"];
    assert_eq!(role["name"], "Golden Auditor");
    assert_eq!(role["description"], "Reads audit logs");
    assert_eq!(role["is_system_role"], false);
    assert_eq!(role["org_id"], "org-a");
    assert_eq!(role["permissions"], json!(["audit_log.view", "user.view"]));
    let id = role["id"].as_str().unwrap().to_owned();
    assert_eq!(audit_count(&app, "org-a", "role.created").await, 1);

    let (status, body) = app
        .call("POST", "/roles")
        .session(&a.admin_s)
        .json(&json!({"name": "Golden Auditor", "permissions": []}))
        .fetch()
        .await;
    assert_eq!(status, 400);
    assert_eq!(body, error_body("bad_request", "Role name already exists"));
    assert_422(
        &app.call("POST", "/roles")
            .session(&a.admin_s)
            .json(&json!({"permissions": []}))
            .fetch()
            .await,
        "name: Field required",
    );
    assert_422(
        &app.call("POST", "/roles")
            .session(&a.admin_s)
            .json(&json!({"name": "   ", "permissions": []}))
            .fetch()
            .await,
        "name: String should have at least 1 character",
    );
    let (status, body) = app
        .call("POST", "/roles")
        .session(&a.emp_s)
        .json(&json!({"name": "X", "permissions": []}))
        .fetch()
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        error_body("forbidden", "Missing permission: role.manage")
    );

    // PATCH
    let (status, body) = app.call("PATCH", &format!("/roles/{id}")).session(&a.admin_s).json(&json!({"description": "reads audit logs and users", "permissions": ["audit_log.view", "user.view", "role.view"]})).fetch().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["description"], "Reads audit logs and users");
    assert_eq!(
        body["data"]["permissions"],
        json!(["audit_log.view", "user.view", "role.view"])
    );
    assert_eq!(body["data"]["name"], "Golden Auditor");
    assert_422(
        &app.call("PATCH", &format!("/roles/{id}"))
            .session(&a.admin_s)
            .json(&json!({"permissions": ["nope"]}))
            .fetch()
            .await,
        "permissions: Value error, Unknown permission: nope",
    );
    // 'finance' is stored as 'Finance', which does not clash with the system role 'FINANCE'.
    let (status, body) = app
        .call("PATCH", &format!("/roles/{id}"))
        .session(&a.admin_s)
        .json(&json!({"name": "finance"}))
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["name"], "Finance");
    let other = create_role(&app, &a, "Golden Temp", &["user.view"]).await;
    let (status, body) = app
        .call(
            "PATCH",
            &format!("/roles/{}", other["id"].as_str().unwrap()),
        )
        .session(&a.admin_s)
        .json(&json!({"name": "FINANCE"}))
        .fetch()
        .await;
    assert_eq!(status, 400);
    assert_eq!(body, error_body("bad_request", "Role name already exists"));

    let admin_role = role_id(&app, "org-a", "ORG ADMIN").await;
    let (status, body) = app
        .call("PATCH", &format!("/roles/{admin_role}"))
        .session(&a.admin_s)
        .json(&json!({"description": "x"}))
        .fetch()
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        error_body("bad_request", "System roles cannot be edited")
    );
    let (status, body) = app
        .call("PATCH", &format!("/roles/{UNKNOWN}"))
        .session(&a.admin_s)
        .json(&json!({"description": "x"}))
        .fetch()
        .await;
    assert_eq!(status, 404);
    assert_eq!(body, error_body("not_found", "Role not found"));
    let r = app
        .call("PATCH", "/roles/not-a-uuid")
        .session(&a.admin_s)
        .json(&json!({}))
        .fetch()
        .await;
    assert_eq!(r.0, 422);
    assert!(
        r.1["message"]
            .as_str()
            .unwrap()
            .starts_with("role_id: Input should be a valid UUID")
    );
    assert_eq!(audit_count(&app, "org-a", "role.updated").await, 2);

    // DELETE: system roles stay; a custom role goes with its assignments.
    let (status, body) = app
        .call("DELETE", &format!("/roles/{admin_role}"))
        .session(&a.admin_s)
        .fetch()
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        error_body("bad_request", "System roles cannot be deleted")
    );
    let (status, _) = app
        .call(
            "POST",
            &format!("/roles/org/users/{}/roles", a.emp.membership_id),
        )
        .session(&a.admin_s)
        .json(&json!({"role_ids": [id]}))
        .fetch()
        .await;
    assert_eq!(status, 200);
    let (status, body) = app
        .call("DELETE", &format!("/roles/{id}"))
        .session(&a.admin_s)
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"code": "ok", "message": "OK", "data": null, "details": {}})
    );
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM user_roles WHERE role_id = $1")
        .bind(Uuid::parse_str(&id).unwrap())
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(left, 0);
    let (status, body) = app
        .call("DELETE", &format!("/roles/{id}"))
        .session(&a.admin_s)
        .fetch()
        .await;
    assert_eq!(status, 404);
    assert_eq!(body, error_body("not_found", "Role not found"));
    assert_eq!(audit_count(&app, "org-a", "role.deleted").await, 1);
    let snapshot: Value = sqlx::query_scalar(
        "SELECT old_value::jsonb FROM audit_logs WHERE org_id = 'org-a' AND action = 'role.deleted'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(snapshot["name"], "Finance");
    assert!(snapshot["created_at"].as_str().unwrap().ends_with("+00:00"));
}

#[tokio::test]
async fn role_assignment_follows_the_membership_rules() {
    let app = spawn_app().await;
    let a = org(&app, "org-a").await;
    let auditor = create_role(&app, &a, "Golden Auditor", &["audit_log.view"]).await;
    let auditor_id = auditor["id"].as_str().unwrap().to_owned();
    let path = format!("/roles/org/users/{}/roles", a.emp.membership_id);

    let (status, body) = app
        .call("POST", &path)
        .session(&a.admin_s)
        .json(&json!({"role_ids": [auditor_id, auditor_id]}))
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    let expected = sample("roles.json", "assign roles success");
    assert_same_keys(&body, &expected["response"]["body"]);
    let list = body["data"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_same_keys(&list[0], &expected["response"]["body"]["data"][0]);
    assert_eq!(list[0]["id"], auditor_id.as_str());
    assert_eq!(audit_count(&app, "org-a", "role.assigned").await, 1);
    let resource: String = sqlx::query_scalar(
        "SELECT resource_id FROM audit_logs WHERE org_id = 'org-a' AND action = 'role.assigned'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(resource, format!("{}:{}", a.emp.user_id, auditor_id));
    // Re-assigning is idempotent and writes no second audit row.
    let (status, _) = app
        .call("POST", &path)
        .session(&a.admin_s)
        .json(&json!({"role_ids": [auditor_id]}))
        .fetch()
        .await;
    assert_eq!(status, 200);
    assert_eq!(audit_count(&app, "org-a", "role.assigned").await, 1);

    let (status, body) = app
        .call("POST", &path)
        .session(&a.admin_s)
        .json(&json!({"role_ids": []}))
        .fetch()
        .await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"code": "ok", "message": "OK", "data": [], "details": {}})
        )
    );

    let (status, body) = app
        .call("POST", &path)
        .session(&a.admin_s)
        .json(&json!({"role_ids": [UNKNOWN]}))
        .fetch()
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        sample("roles.json", "assign roles 404 unknown role")["response"]["body"]
    );
    let (status, body) = app
        .call("POST", &format!("/roles/org/users/{UNKNOWN}/roles"))
        .session(&a.admin_s)
        .json(&json!({"role_ids": [auditor_id]}))
        .fetch()
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        sample("roles.json", "assign roles 404 unknown membership")["response"]["body"]
    );
    let r = app
        .call("POST", &path)
        .session(&a.admin_s)
        .json(&json!({"role_ids": ["nope"]}))
        .fetch()
        .await;
    assert_422(
        &r,
        sample("roles.json", "assign roles 422 non-UUID role id")["response"]["body"]["message"]
            .as_str()
            .unwrap(),
    );
    let (status, body) = app
        .call("POST", &path)
        .session(&a.emp_s)
        .json(&json!({"role_ids": [auditor_id]}))
        .fetch()
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        error_body("forbidden", "Missing permission: role.manage")
    );

    // Employment not ACTIVE: no role at all, not even EMPLOYEE.
    let on_leave = create_member(
        &app,
        "org-a",
        MemberSpec::new("leave@org-a.example.com").statuses("ON_LEAVE", "ACTIVE", "ACCEPTED"),
    )
    .await;
    let employee_role = role_id(&app, "org-a", "EMPLOYEE").await;
    let hr_role = role_id(&app, "org-a", "Human Resource").await;
    for role in [auditor_id.clone(), employee_role.to_string()] {
        let (status, body) = app
            .call(
                "POST",
                &format!("/roles/org/users/{}/roles", on_leave.membership_id),
            )
            .session(&a.admin_s)
            .json(&json!({"role_ids": [role]}))
            .fetch()
            .await;
        assert_eq!(status, 400);
        assert_eq!(
            body,
            sample(
                "roles.json",
                "assign roles 400 membership inactive (employment ON_LEAVE)"
            )["response"]["body"]
        );
    }
    // Platform not ACTIVE: only the role literally named EMPLOYEE.
    let invited = create_member(
        &app,
        "org-a",
        MemberSpec::new("invited@org-a.example.com")
            .roles(&[])
            .statuses("ACTIVE", "INVITED", "PENDING"),
    )
    .await;
    let invited_path = format!("/roles/org/users/{}/roles", invited.membership_id);
    let (status, body) = app
        .call("POST", &invited_path)
        .session(&a.admin_s)
        .json(&json!({"role_ids": [employee_role]}))
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][0]["name"], "Employee");
    let (status, body) = app
        .call("POST", &invited_path)
        .session(&a.admin_s)
        .json(&json!({"role_ids": [employee_role, hr_role]}))
        .fetch()
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "membership_inactive");
    assert_eq!(
        body["message"],
        "Cannot assign role when platform status is not ACTIVE"
    );
    // Inactive user.
    sqlx::query("UPDATE users SET is_active = false WHERE id = $1")
        .bind(invited.user_id)
        .execute(&app.db)
        .await
        .unwrap();
    let (status, body) = app
        .call("POST", &invited_path)
        .session(&a.admin_s)
        .json(&json!({"role_ids": [employee_role]}))
        .fetch()
        .await;
    assert_eq!(status, 400);
    assert_eq!(body, error_body("user_inactive", "User is inactive"));

    // Removal (JSON body on DELETE).
    let (status, body) = app
        .call("DELETE", &path)
        .session(&a.admin_s)
        .json(&json!({"role_ids": [auditor_id]}))
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], Value::Null);
    assert_eq!(audit_count(&app, "org-a", "role.removed").await, 1);
    let (status, body) = app
        .call("DELETE", &format!("/roles/org/users/{UNKNOWN}/roles"))
        .session(&a.admin_s)
        .json(&json!({"role_ids": [auditor_id]}))
        .fetch()
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        sample("roles.json", "remove roles 404 unknown membership")["response"]["body"]
    );
    assert_422(
        &app.call("DELETE", &path)
            .session(&a.admin_s)
            .json(&json!({}))
            .fetch()
            .await,
        "role_ids: Field required",
    );
}

#[tokio::test]
async fn assigning_hr_changes_the_members_permissions_at_once() {
    let app = spawn_app().await;
    let a = org(&app, "org-a").await;
    // Prime the member's permission cache.
    let before = me_permissions(&app, &a.emp_s).await;
    assert!(!before.contains(&"user.view".to_owned()));
    let hr = role_id(&app, "org-a", "Human Resource").await;
    let path = format!("/roles/org/users/{}/roles", a.emp.membership_id);

    let (status, body) = app
        .call("POST", &path)
        .session(&a.admin_s)
        .json(&json!({"role_ids": [hr]}))
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][0]["name"], "Human Resource");
    let after = me_permissions(&app, &a.emp_s).await;
    assert!(after.contains(&"user.view".to_owned()), "{after:?}");
    let (status, _) = app.call("GET", "/roles").session(&a.emp_s).fetch().await;
    assert_eq!(status, 200, "HR has role.view");

    let (status, _) = app
        .call("DELETE", &path)
        .session(&a.admin_s)
        .json(&json!({"role_ids": [hr]}))
        .fetch()
        .await;
    assert_eq!(status, 200);
    assert_eq!(me_permissions(&app, &a.emp_s).await, before);

    // Editing a custom role the member holds changes their permissions at once too.
    let custom = create_role(&app, &a, "Auditors", &["audit_log.view"]).await;
    let (status, _) = app
        .call("POST", &path)
        .session(&a.admin_s)
        .json(&json!({"role_ids": [custom["id"]]}))
        .fetch()
        .await;
    assert_eq!(status, 200);
    assert!(
        me_permissions(&app, &a.emp_s)
            .await
            .contains(&"audit_log.view".to_owned())
    );
    let (status, _) = app
        .call(
            "PATCH",
            &format!("/roles/{}", custom["id"].as_str().unwrap()),
        )
        .session(&a.admin_s)
        .json(&json!({"permissions": ["role.view"]}))
        .fetch()
        .await;
    assert_eq!(status, 200);
    let now = me_permissions(&app, &a.emp_s).await;
    assert!(now.contains(&"role.view".to_owned()) && !now.contains(&"audit_log.view".to_owned()));
}

#[tokio::test]
async fn role_assignment_asks_for_step_up_when_the_org_requires_it() {
    let app = spawn_app().await;
    let a = org(&app, "org-a").await;
    set_org_settings(
        &app,
        "org-a",
        "require_two_factor = true, mfa_required_actions = '[\"ROLE_ASSIGNMENT\"]'",
    )
    .await;
    let hr = role_id(&app, "org-a", "Human Resource").await;
    let path = format!("/roles/org/users/{}/roles", a.emp.membership_id);
    let body = json!({"role_ids": [hr]});

    let (status, denied) = app
        .call("POST", &path)
        .session(&a.admin_s)
        .json(&body.clone())
        .fetch()
        .await;
    assert_eq!(status, 403, "{denied}");
    let expected = sample("roles.json", "assign roles 403 step-up required");
    assert_same_keys(&denied, &expected["response"]["body"]);
    assert_eq!(denied["code"], "step_up_mfa_required");
    assert_eq!(denied["message"], "Step-up MFA verification required");
    assert_eq!(denied["details"]["step_up_required"], true);
    assert_eq!(denied["details"]["action"], "ROLE_ASSIGNMENT");
    assert_eq!(audit_count(&app, "org-a", "role.assigned").await, 0);

    let token = step_up_token(
        &app,
        &a.admin,
        &a.admin_s,
        &denied["details"]["challenge_token"],
    )
    .await;
    let (status, ok) = app
        .call("POST", &path)
        .session(&a.admin_s)
        .json(&body.clone())
        .step_up(&token)
        .fetch()
        .await;
    assert_eq!(status, 200, "{ok}");
    assert_eq!(ok["data"][0]["name"], "Human Resource");
    assert_eq!(audit_count(&app, "org-a", "role.assigned").await, 1);
    // Removal needs no step-up.
    let (status, _) = app
        .call("DELETE", &path)
        .session(&a.admin_s)
        .json(&body)
        .fetch()
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn roles_and_memberships_of_another_org_are_invisible() {
    let app = spawn_app().await;
    let a = org(&app, "org-a").await;
    let b = org(&app, "org-b").await;
    let b_custom = create_role(&app, &b, "B Only", &["user.view"]).await;
    let b_role = b_custom["id"].as_str().unwrap().to_owned();
    let b_system = role_id(&app, "org-b", "Human Resource").await.to_string();

    let (_, list) = app.call("GET", "/roles").session(&a.admin_s).fetch().await;
    assert!(
        list["data"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["org_id"] == "org-a")
    );
    assert_eq!(list["data"]["total"], 5);

    for id in [&b_role, &b_system] {
        for method in ["PATCH", "DELETE"] {
            let foreign = app
                .call(method, &format!("/roles/{id}"))
                .session(&a.admin_s)
                .json(&json!({"description": "x"}))
                .fetch()
                .await;
            let random = app
                .call(method, &format!("/roles/{UNKNOWN}"))
                .session(&a.admin_s)
                .json(&json!({"description": "x"}))
                .fetch()
                .await;
            assert_eq!(foreign.0, 404);
            assert_eq!(foreign, random);
        }
    }
    // A role of org B cannot be assigned in org A.
    let (status, body) = app
        .call(
            "POST",
            &format!("/roles/org/users/{}/roles", a.emp.membership_id),
        )
        .session(&a.admin_s)
        .json(&json!({"role_ids": [b_system]}))
        .fetch()
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], "role_not_found");
    assert_eq!(
        body["message"],
        format!("Roles not found: {{UUID('{b_system}')}}")
    );
    // A membership of org B is not found from org A.
    let hr_a = role_id(&app, "org-a", "Human Resource").await;
    for (method, suffix) in [
        ("POST", "roles"),
        ("DELETE", "roles"),
        ("POST", "permissions/invalidate"),
    ] {
        let foreign = app
            .call(
                method,
                &format!("/roles/org/users/{}/{suffix}", b.emp.membership_id),
            )
            .session(&a.admin_s)
            .json(&json!({"role_ids": [hr_a]}))
            .fetch()
            .await;
        let random = app
            .call(method, &format!("/roles/org/users/{UNKNOWN}/{suffix}"))
            .session(&a.admin_s)
            .json(&json!({"role_ids": [hr_a]}))
            .fetch()
            .await;
        assert_eq!(foreign.0, 404, "{method} {suffix}: {}", foreign.1);
        assert_eq!(foreign, random);
    }
    let held: i64 = sqlx::query_scalar("SELECT count(*) FROM user_roles WHERE user_id = $1")
        .bind(b.emp.user_id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(held, 1, "org B member still has only EMPLOYEE");
}

#[tokio::test]
async fn permission_cache_invalidation_endpoints() {
    let app = spawn_app().await;
    let a = org(&app, "org-a").await;
    // A permission check primes the shared cache (the employee lacks role.view).
    let (status, _) = app.call("GET", "/roles").session(&a.emp_s).fetch().await;
    assert_eq!(status, 403);
    let key = app
        .cache
        .key(&["permissions", "org-a", &a.emp.user_id.to_string()]);
    assert!(app.cache.get(&key).await.unwrap().is_some(), "cache primed");

    let (status, body) = app
        .call(
            "POST",
            &format!(
                "/roles/org/users/{}/permissions/invalidate",
                a.emp.membership_id
            ),
        )
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
    assert!(app.cache.get(&key).await.unwrap().is_none());
    let (status, body) = app
        .call(
            "POST",
            &format!("/roles/org/users/{UNKNOWN}/permissions/invalidate"),
        )
        .session(&a.admin_s)
        .fetch()
        .await;
    assert_eq!(status, 404);
    assert_eq!(body, error_body("not_found", "Membership not found"));

    // Prime both users' cached permissions with permission checks.
    app.call("GET", "/roles").session(&a.emp_s).fetch().await;
    app.call("GET", "/roles").session(&a.admin_s).fetch().await;
    let (status, body) = app
        .call("POST", "/roles/org/permissions/invalidate")
        .session(&a.admin_s)
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    assert_same_keys(
        &body["data"],
        &sample("roles.json", "invalidate org permission cache")["response"]["body"]["data"],
    );
    assert!(body["data"]["cleared"].as_u64().unwrap() >= 2, "{body}");
    assert!(app.cache.get(&key).await.unwrap().is_none());

    let (status, body) = app
        .call("POST", "/roles/org/permissions/invalidate")
        .session(&a.emp_s)
        .fetch()
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        error_body("forbidden", "Missing permission: role.manage")
    );
    let r = app
        .call("POST", "/roles/org/users/not-a-uuid/permissions/invalidate")
        .session(&a.admin_s)
        .fetch()
        .await;
    assert_eq!(r.0, 422);
}

#[tokio::test]
async fn a_failed_commit_leaves_neither_role_nor_audit_row() {
    let app = spawn_app().await;
    let a = org(&app, "org-a").await;
    fail_commit_when(&app, "roles", "name", "Boom").await;

    let (status, body) = app
        .call("POST", "/roles")
        .session(&a.admin_s)
        .json(&json!({"name": "boom", "permissions": ["user.view"]}))
        .fetch()
        .await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["code"], "internal_server_error");
    let roles: i64 =
        sqlx::query_scalar("SELECT count(*) FROM roles WHERE org_id = 'org-a' AND name = 'Boom'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(roles, 0);
    assert_eq!(audit_count(&app, "org-a", "role.created").await, 0);

    create_role(&app, &a, "Fine", &["user.view"]).await;
    assert_eq!(audit_count(&app, "org-a", "role.created").await, 1);
}
