//! `GET /org/dashboard/user-summary`.

use serde_json::json;
use uuid::Uuid;

use crate::fixtures::{MemberSpec, create_member, create_org};
use crate::helpers::{assert_same_keys, json, sample, spawn_app};

async fn exec(app: &crate::helpers::TestApp, sql: &str, id: Uuid) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(id)
        .execute(&app.db)
        .await
        .unwrap();
}

#[tokio::test]
async fn every_figure_is_computed_as_the_contract_says() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme Inc").await;
    create_org(&app, "beta", "Beta Inc").await;
    let admin = create_member(&app, "acme", MemberSpec::admin("admin@acme.example.com")).await;
    let invited = create_member(
        &app,
        "acme",
        MemberSpec::new("inv@acme.example.com").statuses("ACTIVE", "INVITED", "PENDING"),
    )
    .await;
    let leave = create_member(
        &app,
        "acme",
        MemberSpec::new("leave@acme.example.com").statuses("ON_LEAVE", "ACTIVE", "ACCEPTED"),
    )
    .await;
    let stale = create_member(
        &app,
        "acme",
        MemberSpec::new("stale@acme.example.com")
            .statuses("TERMINATED", "DISABLED", "ACCEPTED")
            .must_change_password(),
    )
    .await;
    // Another org's member must not count.
    create_member(&app, "beta", MemberSpec::new("b@beta.example.com")).await;

    let eng = Uuid::new_v4();
    let ops = Uuid::new_v4();
    let old = Uuid::new_v4();
    for (id, name, code, archived) in [
        (eng, "Engineering", "ENG", false),
        (ops, "Ops", "OPS", false),
        (old, "Archived", "ARC", true),
    ] {
        sqlx::query(
            "INSERT INTO departments (id, org_id, name, code, is_archived) VALUES ($1, 'acme', $2, $3, $4)",
        )
        .bind(id)
        .bind(name)
        .bind(code)
        .bind(archived)
        .execute(&app.db)
        .await
        .unwrap();
    }
    sqlx::query("UPDATE org_memberships SET department_id = $1 WHERE id = $2")
        .bind(eng)
        .bind(admin.membership_id)
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query("UPDATE org_memberships SET department_id = $1 WHERE id = $2")
        .bind(old)
        .bind(stale.membership_id)
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO roles (id, org_id, name, is_system_role, permissions) VALUES ($1, 'acme', 'golden temp', false, '[]')",
    )
    .bind(Uuid::new_v4())
    .execute(&app.db)
    .await
    .unwrap();
    // Activity: the stale one 40 days ago, the on-leave one 10 days ago, the invited never.
    exec(
        &app,
        "UPDATE identities SET last_active_at = now() - interval '40 days' WHERE id = $1",
        stale.identity_id,
    )
    .await;
    exec(
        &app,
        "UPDATE identities SET last_active_at = now() - interval '10 days' WHERE id = $1",
        leave.identity_id,
    )
    .await;
    exec(
        &app,
        "UPDATE identities SET last_active_at = NULL WHERE id = $1",
        invited.identity_id,
    )
    .await;
    // Profiles: complete for the admin, missing for the invited one, empty string counts as present.
    exec(&app, "UPDATE org_user_profiles SET timezone = 'UTC', phone_number = '', address_line1 = 'x', country = 'US' WHERE membership_id = $1", admin.membership_id).await;
    exec(
        &app,
        "DELETE FROM org_user_profiles WHERE membership_id = $1",
        invited.membership_id,
    )
    .await;

    let session = app.sign_in(&admin).await; // sets the admin's last_active_at to now
    let (status, body) = app
        .call("GET", "/org/dashboard/user-summary")
        .token(&session.access)
        .org("acme")
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    let exp = sample("summary.json", "user summary")["response"]["body"].clone();
    assert_same_keys(&body, &exp);
    let d = &body["data"];
    assert_same_keys(d, &exp["data"]);
    assert_same_keys(
        &d["department_counts"][0],
        &exp["data"]["department_counts"][0],
    );
    assert_same_keys(&d["role_counts"][0], &exp["data"]["role_counts"][0]);

    assert_eq!(d["org_id"], "acme");
    assert_eq!(d["total_users"], 4);
    assert_eq!(d["platform_status_counts"]["ACTIVE"], 2);
    assert_eq!(d["platform_status_counts"]["INVITED"], 1);
    assert_eq!(d["platform_status_counts"]["DISABLED"], 1);
    assert_eq!(d["platform_status_counts"].as_object().unwrap().len(), 3);
    assert_eq!(d["invitation_status_counts"]["ACCEPTED"], 3);
    assert_eq!(d["invitation_status_counts"]["PENDING"], 1);
    assert_eq!(d["invitation_status_counts"].as_object().unwrap().len(), 2);
    assert_eq!(d["employment_status_counts"]["TERMINATED"], 1);
    assert_eq!(d["employment_status_counts"]["ON_LEAVE"], 1);
    assert_eq!(d["employment_status_counts"]["ACTIVE"], 2);
    assert_eq!(d["active_users"], 2);
    assert_eq!(d["suspended_users"], 0);
    assert_eq!(d["invited_pending"], 1);
    assert_eq!(d["accepted_invites"], 3);
    assert_eq!(d["mfa_enabled"], 1);
    assert_eq!(d["mfa_disabled"], 3);
    assert_eq!(d["never_logged_in"], 1);
    assert_eq!(d["active_last_7_days"], 1);
    assert_eq!(d["active_last_30_days"], 2);
    assert_eq!(d["stale_30_plus_days"], 1);
    assert_eq!(
        d["never_logged_in"].as_i64().unwrap()
            + d["active_last_30_days"].as_i64().unwrap()
            + d["stale_30_plus_days"].as_i64().unwrap(),
        4
    );
    assert_eq!(d["users_with_temp_password"], 1);
    assert_eq!(d["users_without_department"], 2);
    assert_eq!(d["missing_profile_fields"], 3);
    assert_eq!(
        d["department_counts"],
        json!([
            {"department_id": eng, "department_name": "Engineering", "count": 1},
            {"department_id": ops, "department_name": "Ops", "count": 0}
        ])
    );
    // Role names in the database collation's order.
    let ordered: Vec<String> =
        sqlx::query_scalar("SELECT name FROM roles WHERE org_id = 'acme' ORDER BY name")
            .fetch_all(&app.db)
            .await
            .unwrap();
    let names: Vec<&str> = d["role_counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["role_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ordered);
    let count_of = |name: &str| {
        d["role_counts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["role_name"] == name)
            .unwrap()["count"]
            .clone()
    };
    assert_eq!(count_of("EMPLOYEE"), 4);
    assert_eq!(count_of("ORG ADMIN"), 1);
    assert_eq!(count_of("golden temp"), 0);
    let zero: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| ["FINANCE", "Human Resource", "LEGAL", "golden temp"].contains(n))
        .collect();
    assert_eq!(d["roles_with_zero_members"], json!(zero));
    // No field is ever null.
    assert!(d.as_object().unwrap().values().all(|v| !v.is_null()));
}

#[tokio::test]
async fn summary_needs_user_view_and_a_token() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme Inc").await;
    let m = create_member(&app, "acme", MemberSpec::new("e@acme.example.com")).await;
    let s = app.sign_in(&m).await;
    let (status, body) = app
        .call("GET", "/org/dashboard/user-summary")
        .token(&s.access)
        .org("acme")
        .fetch()
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        sample("summary.json", "user summary 403 (employee)")["response"]["body"]
    );
    let resp = app
        .call("GET", "/org/dashboard/user-summary")
        .header("X-Org-Id", "acme")
        .response()
        .await;
    let (status, body) = json(resp).await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        sample("summary.json", "user summary 401 no token")["response"]["body"]
    );
}

#[tokio::test]
async fn an_empty_org_has_zeros_and_its_system_roles() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme Inc").await;
    create_org(&app, "empty", "Empty Org").await;
    let root = create_member(
        &app,
        "acme",
        MemberSpec::admin("root@acme.example.com").superuser(),
    )
    .await;
    let s = app.sign_in(&root).await;
    let (status, body) = app
        .call("GET", "/org/dashboard/user-summary")
        .token(&s.access)
        .org("empty")
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    let d = &body["data"];
    assert_eq!(d["org_id"], "empty");
    assert_eq!(d["total_users"], 0);
    assert_eq!(d["platform_status_counts"], json!({}));
    assert_eq!(d["mfa_disabled"], 0);
    assert_eq!(d["department_counts"], json!([]));
    assert_eq!(d["role_counts"].as_array().unwrap().len(), 5);
    assert_eq!(d["roles_with_zero_members"].as_array().unwrap().len(), 5);
}
