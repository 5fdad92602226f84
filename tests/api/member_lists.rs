//! `GET /roles/{role_id}/members` and `GET /departments/{department_id}/members`.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{MemberSpec, create_member};
use crate::helpers::{TestApp, UNKNOWN, assert_same_keys, error_body, sample};
use crate::people_support::{ORG, OTHER_ORG, assert_strict_item, world};

async fn role_id(app: &TestApp, org: &str, name: &str) -> Uuid {
    sqlx::query_scalar("SELECT id FROM roles WHERE org_id = $1 AND name = $2")
        .bind(org)
        .bind(name)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

async fn department(app: &TestApp, org: &str, name: &str, archived: bool) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO departments (id, org_id, name, code, is_archived) VALUES ($1, $2, $3, $3, $4)",
    )
    .bind(id)
    .bind(org)
    .bind(name)
    .bind(archived)
    .execute(&app.db)
    .await
    .unwrap();
    id
}

#[tokio::test]
async fn role_members_list_shape_404_and_permissions() {
    let w = world().await;
    let app = &w.app;
    let admin_role = role_id(app, ORG, "ORG ADMIN").await;
    let (status, body) = app
        .call("GET", &format!("/roles/{admin_role}/members"))
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    let expected =
        sample("roles.json", "role members (system role)")["response"]["body"]["data"].clone();
    assert_same_keys(&body["data"], &expected);
    let item = &body["data"]["items"][0];
    assert_same_keys(item, &expected["items"][0]);
    assert_same_keys(&item["user"], &expected["items"][0]["user"]);
    assert_same_keys(&item["membership"], &expected["items"][0]["membership"]);
    assert_same_keys(&item["roles"][0], &expected["items"][0]["roles"][0]);
    assert_strict_item(item);
    assert_eq!(body["data"]["total"], 1);
    assert_eq!(item["user"]["email"], "admin@acme.example.com");
    // The legacy quirk of this list: no org name and no profile fields.
    assert_eq!(item["user"]["org_name"], Value::Null);
    assert_eq!(item["user"]["first_name"], Value::Null);
    let names: Vec<&str> = item["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ORG ADMIN", "EMPLOYEE"]);

    let employee_role = role_id(app, ORG, "EMPLOYEE").await;
    for _ in 0..3 {
        create_member(
            app,
            ORG,
            MemberSpec::new(&format!("m{}@acme.example.com", Uuid::new_v4().simple())),
        )
        .await;
    }
    let (_, body) = app
        .call(
            "GET",
            &format!("/roles/{employee_role}/members?page=2&page_size=2"),
        )
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(body["data"]["total"], 5);
    assert_eq!(body["data"]["items"].as_array().unwrap().len(), 2);
    let (status, body) = app
        .call(
            "GET",
            &format!("/roles/{employee_role}/members?page_size=0"),
        )
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["items"].as_array().unwrap().len(), 5);

    let (status, unknown) = app
        .call("GET", &format!("/roles/{UNKNOWN}/members"))
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(
        (status, &unknown),
        (404, &error_body("not_found", "Role not found"))
    );
    let other_role = role_id(app, OTHER_ORG, "EMPLOYEE").await;
    let (status, cross) = app
        .call("GET", &format!("/roles/{other_role}/members"))
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!((status, cross), (404, unknown));
    let (status, body) = app
        .call("GET", "/roles/not-a-uuid/members")
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 422);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("role_id: Input should be a valid UUID")
    );
    let (status, body) = app
        .call("GET", &format!("/roles/{admin_role}/members"))
        .token(&w.emp_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(
        (status, body),
        (
            403,
            error_body("forbidden", "Missing permission: role.view")
        )
    );
}

#[tokio::test]
async fn department_members_archived_404_and_permissions() {
    let w = world().await;
    let app = &w.app;
    let ops = department(app, ORG, "Operations", false).await;
    let (status, body) = app
        .call("GET", &format!("/departments/{ops}/members"))
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!({"items": [], "total": 0}));
    sqlx::query("UPDATE org_memberships SET department_id = $1 WHERE id = $2")
        .bind(ops)
        .bind(w.emp.membership_id)
        .execute(&app.db)
        .await
        .unwrap();
    let (status, body) = app
        .call("GET", &format!("/departments/{ops}/members"))
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    let expected = sample("departments.json", "members (one)")["response"]["body"]["data"].clone();
    let item = &body["data"]["items"][0];
    assert_same_keys(item, &expected["items"][0]);
    assert_same_keys(&item["user"], &expected["items"][0]["user"]);
    assert_same_keys(&item["membership"], &expected["items"][0]["membership"]);
    assert_strict_item(item);
    assert_eq!(item["membership"]["department_name"], "Operations");
    assert_eq!(item["user"]["email"], "emp@acme.example.com");

    let archived = department(app, ORG, "Old", true).await;
    let (status, body) = app
        .call("GET", &format!("/departments/{archived}/members"))
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(
        (status, body),
        (
            400,
            error_body(
                "bad_request",
                "Cannot assign members to an archived department"
            )
        )
    );
    let (status, unknown) = app
        .call("GET", &format!("/departments/{UNKNOWN}/members"))
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(
        (status, &unknown),
        (404, &error_body("not_found", "Department not found"))
    );
    let foreign = department(app, OTHER_ORG, "Foreign", false).await;
    let (status, cross) = app
        .call("GET", &format!("/departments/{foreign}/members"))
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!((status, cross), (404, unknown));
    let (status, _) = app
        .call("GET", "/departments/zzz/members")
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 422);
    let (status, body) = app
        .call("GET", &format!("/departments/{ops}/members"))
        .token(&w.emp_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(
        (status, body),
        (
            403,
            error_body("forbidden", "Missing permission: department.view")
        )
    );
}
