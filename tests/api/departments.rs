//! `/departments/*`: CRUD, member counts, archive, assign/unassign, isolation and audit.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{MemberSpec, Org, create_member, org};
use crate::helpers::{
    TestApp, UNKNOWN, assert_422, assert_same_keys, audit_count, error_body, fail_commit_when,
    sample, spawn_app,
};

async fn create(app: &TestApp, o: &Org, name: &str, code: &str) -> Value {
    let (status, body) = app
        .call("POST", "/departments")
        .session(&o.admin_s)
        .json(&json!({"name": name, "code": code}))
        .fetch()
        .await;
    assert_eq!(status, 201, "{body}");
    body["data"].clone()
}

async fn department_of(app: &TestApp, membership: Uuid) -> Option<Uuid> {
    sqlx::query_scalar("SELECT department_id FROM org_memberships WHERE id = $1")
        .bind(membership)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn departments_are_normalised_listed_with_counts_and_paged() {
    let app = spawn_app().await;
    let a = org(&app, "org-a").await;

    let (status, body) = app
        .call("POST", "/departments")
        .session(&a.admin_s)
        .json(&json!({"name": "golden ops team", "code": "golden  ops"}))
        .fetch()
        .await;
    assert_eq!(status, 201, "{body}");
    let expected = sample(
        "departments.json",
        "create department (name title-cased, code normalised)",
    )["response"]["body"]
        .clone();
    assert_same_keys(&body, &expected);
    assert_same_keys(&body["data"], &expected["data"]);
    for key in ["name", "code", "is_archived", "member_count"] {
        assert_eq!(body["data"][key], expected["data"][key], "{key}");
    }
    assert_eq!(body["data"]["org_id"], "org-a");
    let ops = body["data"].clone();
    let ops_id = ops["id"].as_str().unwrap().to_owned();
    assert_eq!(audit_count(&app, "org-a", "department.created").await, 1);

    for (name, code) in [("Golden Ops Team", "OTHER"), ("Other", "GOLDEN_OPS")] {
        let (status, body) = app
            .call("POST", "/departments")
            .session(&a.admin_s)
            .json(&json!({"name": name, "code": code}))
            .fetch()
            .await;
        assert_eq!(status, 400);
        assert_eq!(
            body,
            sample("departments.json", "create department 400 duplicate")["response"]["body"]
        );
    }
    let r = app
        .call("POST", "/departments")
        .session(&a.admin_s)
        .json(&json!({"name": "Golden Bad", "code": "bad/code!"}))
        .fetch()
        .await;
    let expected = sample("departments.json", "create department 422 invalid code");
    assert_422(
        &r,
        expected["response"]["body"]["message"].as_str().unwrap(),
    );
    assert_eq!(r.1["details"]["errors"][0]["loc"], json!(["body", "code"]));
    assert_422(
        &app.call("POST", "/departments")
            .session(&a.admin_s)
            .json(&json!({"name": "Golden Bad"}))
            .fetch()
            .await,
        "code: Field required",
    );
    assert_422(
        &app.call("POST", "/departments")
            .session(&a.admin_s)
            .json(&json!({"name": "Long", "code": "X".repeat(51)}))
            .fetch()
            .await,
        "code: String should have at most 50 characters",
    );
    let (status, body) = app
        .call("POST", "/departments")
        .session(&a.emp_s)
        .json(&json!({"name": "Golden X", "code": "GX"}))
        .fetch()
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        error_body("forbidden", "Missing permission: department.manage")
    );
    assert_eq!(audit_count(&app, "org-a", "department.created").await, 1);

    // PATCH
    let (status, body) = app
        .call("PATCH", &format!("/departments/{ops_id}"))
        .session(&a.admin_s)
        .json(&json!({"name": "golden operations"}))
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["name"], "Golden Operations");
    assert_eq!(body["data"]["code"], "GOLDEN_OPS");
    assert_eq!(body["data"]["member_count"], Value::Null);
    let (status, body) = app
        .call("PATCH", &format!("/departments/{UNKNOWN}"))
        .session(&a.admin_s)
        .json(&json!({"name": "x"}))
        .fetch()
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        sample("departments.json", "update department 404")["response"]["body"]
    );
    let r = app
        .call("PATCH", "/departments/not-a-uuid")
        .session(&a.admin_s)
        .json(&json!({"name": "x"}))
        .fetch()
        .await;
    assert_eq!(r.0, 422);
    assert!(
        r.1["message"]
            .as_str()
            .unwrap()
            .starts_with("department_id: Input should be a valid UUID"),
        "{}",
        r.1
    );
    // The permission is checked before the path and the body are validated.
    let (status, body) = app
        .call("PATCH", "/departments/not-a-uuid")
        .session(&a.emp_s)
        .json(&json!({"name": 7}))
        .fetch()
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        error_body("forbidden", "Missing permission: department.manage")
    );

    // List with member counts, in creation order, paged.
    let eng = create(&app, &a, "Engineering", "eng").await;
    create(&app, &a, "Human Resources", "HR").await;
    let archived = create(&app, &a, "Old", "OLD").await;
    let (status, _) = app
        .call(
            "PATCH",
            &format!("/departments/{}", archived["id"].as_str().unwrap()),
        )
        .session(&a.admin_s)
        .json(&json!({"is_archived": true}))
        .fetch()
        .await;
    assert_eq!(status, 200);
    for m in [&a.emp.membership_id, &a.admin.membership_id] {
        sqlx::query("UPDATE org_memberships SET department_id = $1 WHERE id = $2")
            .bind(Uuid::parse_str(eng["id"].as_str().unwrap()).unwrap())
            .bind(m)
            .execute(&app.db)
            .await
            .unwrap();
    }
    let (status, body) = app
        .call("GET", "/departments")
        .session(&a.admin_s)
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    let expected = sample("departments.json", "list departments")["response"]["body"].clone();
    assert_same_keys(&body["data"], &expected["data"]);
    let items = body["data"]["items"].as_array().unwrap();
    assert_same_keys(&items[0], &expected["data"]["items"][0]);
    let summary: Vec<(&str, i64)> = items
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap(),
                d["member_count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [("GOLDEN_OPS", 0), ("ENG", 2), ("HR", 0), ("OLD", 0)]
    );
    assert_eq!(body["data"]["total"], 4);
    let (_, body) = app
        .call("GET", "/departments?include_archived=false")
        .session(&a.admin_s)
        .fetch()
        .await;
    assert_eq!(body["data"]["total"], 3);
    assert!(
        body["data"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["is_archived"] == false)
    );
    let (_, body) = app
        .call(
            "GET",
            "/departments?include_archived=true&page=2&page_size=3",
        )
        .session(&a.admin_s)
        .fetch()
        .await;
    assert_eq!(body["data"]["items"].as_array().unwrap().len(), 1);
    assert_eq!(body["data"]["items"][0]["code"], "OLD");
    assert_eq!(body["data"]["total"], 4);
    for (query, message) in [
        (
            "page_size=101",
            "page_size: Input should be less than or equal to 100",
        ),
        (
            "page_size=0",
            "page_size: Input should be greater than or equal to 1",
        ),
        (
            "include_archived=maybe",
            "include_archived: Input should be a valid boolean, unable to interpret input",
        ),
    ] {
        assert_422(
            &app.call("GET", &format!("/departments?{query}"))
                .session(&a.admin_s)
                .fetch()
                .await,
            message,
        );
    }
    let (status, body) = app
        .call("GET", "/departments")
        .session(&a.emp_s)
        .fetch()
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        sample("departments.json", "list departments 403 (employee)")["response"]["body"]
    );

    // DELETE detaches members.
    let eng_id = eng["id"].as_str().unwrap();
    let (status, body) = app
        .call("DELETE", &format!("/departments/{eng_id}"))
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
    assert_eq!(department_of(&app, a.emp.membership_id).await, None);
    let (status, body) = app
        .call("DELETE", &format!("/departments/{eng_id}"))
        .session(&a.admin_s)
        .fetch()
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        sample("departments.json", "delete department 404")["response"]["body"]
    );
    assert_eq!(audit_count(&app, "org-a", "department.updated").await, 2);
    assert_eq!(audit_count(&app, "org-a", "department.deleted").await, 1);
}

#[tokio::test]
async fn assign_moves_only_active_memberships_and_unassign_ignores_unknown_ids() {
    let app = spawn_app().await;
    let a = org(&app, "org-a").await;
    let dept = create(&app, &a, "golden ops", "GOPS").await;
    let dept_id = dept["id"].as_str().unwrap().to_owned();
    let on_leave = create_member(
        &app,
        "org-a",
        MemberSpec::new("leave@org-a.example.com").statuses("ON_LEAVE", "ACTIVE", "ACCEPTED"),
    )
    .await;
    let invited = create_member(
        &app,
        "org-a",
        MemberSpec::new("invited@org-a.example.com").statuses("ACTIVE", "INVITED", "PENDING"),
    )
    .await;

    let (status, body) = app.call("POST", &format!("/departments/{dept_id}/assign")).session(&a.admin_s).json(&json!({"membership_ids": [
            a.emp.membership_id, UNKNOWN, on_leave.membership_id, invited.membership_id, "junk", a.emp.membership_id
        ]})).fetch().await;
    assert_eq!(status, 200, "{body}");
    let expected = sample(
        "departments.json",
        "assign members (one ok, one unknown, one inactive)",
    )["response"]["body"]
        .clone();
    assert_same_keys(&body["data"], &expected["data"]);
    assert_same_keys(&body["data"]["department"], &expected["data"]["department"]);
    assert_eq!(body["data"]["department"]["member_count"], Value::Null);
    assert_eq!(body["data"]["assigned"], json!([a.emp.membership_id]));
    assert_eq!(
        body["data"]["skipped_inactive"],
        json!([on_leave.membership_id, invited.membership_id])
    );
    assert_eq!(body["data"]["not_found"], json!([UNKNOWN, "junk"]));
    assert_eq!(
        department_of(&app, a.emp.membership_id).await,
        Some(Uuid::parse_str(&dept_id).unwrap())
    );
    assert_eq!(department_of(&app, on_leave.membership_id).await, None);
    assert_eq!(
        audit_count(&app, "org-a", "department.member_assigned").await,
        1
    );

    // Archived departments still accept members (legacy).
    let (status, _) = app
        .call("PATCH", &format!("/departments/{dept_id}"))
        .session(&a.admin_s)
        .json(&json!({"is_archived": true}))
        .fetch()
        .await;
    assert_eq!(status, 200);
    let (status, body) = app
        .call("POST", &format!("/departments/{dept_id}/assign"))
        .session(&a.admin_s)
        .json(&json!({"membership_ids": [a.admin.membership_id]}))
        .fetch()
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["department"]["is_archived"], true);
    assert_eq!(body["data"]["assigned"], json!([a.admin.membership_id]));

    let (status, body) = app
        .call("POST", &format!("/departments/{UNKNOWN}/assign"))
        .session(&a.admin_s)
        .json(&json!({"membership_ids": [a.emp.membership_id]}))
        .fetch()
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        sample("departments.json", "assign 404 unknown department")["response"]["body"]
    );
    let (status, body) = app
        .call("POST", &format!("/departments/{dept_id}/assign"))
        .session(&a.emp_s)
        .json(&json!({"membership_ids": [a.emp.membership_id]}))
        .fetch()
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        error_body("forbidden", "Missing permission: department.manage")
    );

    let (status, body) = app
        .call("POST", "/departments/unassign")
        .session(&a.admin_s)
        .json(&json!({"membership_ids": [a.emp.membership_id, UNKNOWN, "junk"]}))
        .fetch()
        .await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"code": "ok", "message": "OK", "data": null, "details": {}})
        )
    );
    assert_eq!(department_of(&app, a.emp.membership_id).await, None);
    assert_eq!(
        audit_count(&app, "org-a", "department.member_unassigned").await,
        1
    );
    let r = app
        .call("POST", "/departments/unassign")
        .session(&a.admin_s)
        .json(&json!({}))
        .fetch()
        .await;
    assert_eq!(
        r.1,
        sample("departments.json", "unassign 422 missing membership_ids")["response"]["body"]
    );
}

#[tokio::test]
async fn departments_of_another_org_are_invisible() {
    let app = spawn_app().await;
    let a = org(&app, "org-a").await;
    let b = org(&app, "org-b").await;
    let b_dept = create(&app, &b, "B Team", "BT").await;
    let b_id = b_dept["id"].as_str().unwrap();
    let a_dept = create(&app, &a, "A Team", "AT").await;
    let a_id = a_dept["id"].as_str().unwrap();
    // Same name and code in another org is fine.
    create(&app, &a, "B Team", "BT").await;

    let (_, body) = app
        .call("GET", "/departments")
        .session(&a.admin_s)
        .fetch()
        .await;
    assert!(
        body["data"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["org_id"] == "org-a" && d["id"] != b_id)
    );
    for (method, suffix, payload) in [
        ("PATCH", "", json!({"name": "x"})),
        (
            "POST",
            "/assign",
            json!({"membership_ids": [a.emp.membership_id]}),
        ),
        ("DELETE", "", json!({})),
    ] {
        let foreign = app
            .call(method, &format!("/departments/{b_id}{suffix}"))
            .session(&a.admin_s)
            .json(&payload.clone())
            .fetch()
            .await;
        let random = app
            .call(method, &format!("/departments/{UNKNOWN}{suffix}"))
            .session(&a.admin_s)
            .json(&payload)
            .fetch()
            .await;
        assert_eq!(foreign.0, 404, "{method} {suffix}");
        assert_eq!(foreign, random);
    }
    // A membership of org B is "not found" from org A, and unassign leaves it alone.
    sqlx::query("UPDATE org_memberships SET department_id = $1 WHERE id = $2")
        .bind(Uuid::parse_str(b_id).unwrap())
        .bind(b.emp.membership_id)
        .execute(&app.db)
        .await
        .unwrap();
    let (status, body) = app
        .call("POST", &format!("/departments/{a_id}/assign"))
        .session(&a.admin_s)
        .json(&json!({"membership_ids": [b.emp.membership_id]}))
        .fetch()
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["not_found"], json!([b.emp.membership_id]));
    let (status, _) = app
        .call("POST", "/departments/unassign")
        .session(&a.admin_s)
        .json(&json!({"membership_ids": [b.emp.membership_id]}))
        .fetch()
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        department_of(&app, b.emp.membership_id).await,
        Some(Uuid::parse_str(b_id).unwrap())
    );
    let (_, body) = app
        .call("GET", "/departments")
        .session(&b.admin_s)
        .fetch()
        .await;
    assert_eq!(body["data"]["items"][0]["member_count"], 1);
}

#[tokio::test]
async fn a_failed_commit_leaves_neither_department_nor_audit_row() {
    let app = spawn_app().await;
    let a = org(&app, "org-a").await;
    fail_commit_when(&app, "departments", "code", "BOOM").await;
    let (status, body) = app
        .call("POST", "/departments")
        .session(&a.admin_s)
        .json(&json!({"name": "Boom", "code": "boom"}))
        .fetch()
        .await;
    assert_eq!(status, 500, "{body}");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM departments WHERE org_id = 'org-a'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 0);
    assert_eq!(audit_count(&app, "org-a", "department.created").await, 0);
    create(&app, &a, "Fine", "FINE").await;
    assert_eq!(audit_count(&app, "org-a", "department.created").await, 1);
}
