//! The people tests' world (org users, onboarding, bulk onboarding, self profile): the org
//! `acme` with a signed-in admin and employee, a second org, and the first-login journey.

#![allow(dead_code)]

use serde_json::{Value, json};

use crate::fixtures::{Member, MemberSpec, Session, create_member, create_org};
use crate::helpers::{TestApp, spawn_app};

pub const ORG: &str = "acme";

pub const OTHER_ORG: &str = "globex";

/// An org with a signed-in admin (ORG ADMIN + EMPLOYEE, MFA) and a signed-in employee, plus a
/// second org with one member.
pub struct World {
    pub app: TestApp,
    pub admin: Member,
    pub admin_s: Session,
    pub emp: Member,
    pub emp_s: Session,
    pub other: Member,
}

pub async fn world() -> World {
    let app = spawn_app().await;
    create_org(&app, ORG, "Acme Inc").await;
    create_org(&app, OTHER_ORG, "Globex").await;
    let admin = create_member(
        &app,
        ORG,
        MemberSpec::admin("admin@acme.example.com").full_name("Ada Admin"),
    )
    .await;
    let emp = create_member(
        &app,
        ORG,
        MemberSpec::new("emp@acme.example.com").full_name("Eve Employee"),
    )
    .await;
    let other = create_member(
        &app,
        OTHER_ORG,
        MemberSpec::new("olga@globex.example.com").full_name("Olga Other"),
    )
    .await;
    let admin_s = app.sign_in(&admin).await;
    let emp_s = app.sign_in(&emp).await;
    World {
        app,
        admin,
        admin_s,
        emp,
        emp_s,
        other,
    }
}

/// Installs a deferred trigger that fails the commit of any transaction that wrote an audit
/// row with `action` in org `ORG`.
pub async fn fail_commit_after_audit(app: &TestApp, action: &str) {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE OR REPLACE FUNCTION test_fail_audit() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN IF NEW.action = '{action}' THEN RAISE EXCEPTION 'forced failure after audit'; END IF; \
         RETURN NEW; END $$"
    )))
    .execute(&app.db)
    .await
    .unwrap();
    sqlx::query(
        "CREATE CONSTRAINT TRIGGER test_fail_audit AFTER INSERT ON audit_logs_acme \
         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_fail_audit()",
    )
    .execute(&app.db)
    .await
    .unwrap();
}

/// A temporary password that passes the policy.
pub const TEMP_PASSWORD: &str = "Temp#Password2026";

/// The sample's onboarding body with a known temporary password.
pub fn request(email: &str, employee_id: &str) -> Value {
    json!({
        "email": email,
        "first_name": "golden",
        "middle_name": "q",
        "last_name": "tester",
        "preferred_name": "Goldie",
        "timezone": "America/New_York",
        "phone_number": "+1-555-0100",
        "marital_status": "domestic partnership",
        "country": "us",
        "state": "ny",
        "address_line1": "1 Test Street",
        "address_line2": "Apt 2",
        "postal_code": "10001",
        "temporary_password": TEMP_PASSWORD,
        "employee_id": employee_id,
        "employment_start_date": "2026-01-15",
        "employment_status": "active"
    })
}

/// Login → select-org → (first login) → tokens for an onboarded member.
pub async fn first_login(w: &World, email: &str, password: &str) -> String {
    let (status, body) = w.app.login(email, password).await;
    assert_eq!(status, 200, "login: {body}");
    assert_eq!(body["data"]["must_change_password"], true);
    let pre_org = body["data"]["pre_org_token"].as_str().unwrap().to_owned();
    let (status, body) = w
        .app
        .call("POST", "/auth/select-org")
        .token(&pre_org)
        .json(&json!({"org_id": ORG}))
        .fetch()
        .await;
    assert_eq!(status, 200, "select-org: {body}");
    body["data"]["access_token"].as_str().unwrap().to_owned()
}

/// The journey after onboarding: forced password change, then ACTIVE/ACCEPTED.
pub async fn complete_first_login(w: &World, email: &str, membership_id: &str) {
    let access = first_login(w, email, TEMP_PASSWORD).await;
    let (status, body) = w
        .app
        .call("GET", "/auth/me")
        .token(&access)
        .org(ORG)
        .fetch()
        .await;
    // The invitation is still pending, and the membership check comes first (legacy order);
    // the frontend takes any 403 from /auth/me during login as "change your password".
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["message"], "Membership is not active");
    let (status, body) = w
        .app
        .call("POST", "/auth/change-password")
        .token(&access)
        .org(ORG)
        .json(&json!({"current_password": TEMP_PASSWORD, "new_password": "Brand#NewPass2027"}))
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    let access = body["data"]["access_token"].as_str().unwrap().to_owned();
    let (status, me) = w
        .app
        .call("GET", "/auth/me")
        .token(&access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["data"]["email"], email);
    let (status, detail) = w
        .app
        .call("GET", &format!("/org/users/{membership_id}"))
        .token(&w.admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 200);
    assert_eq!(detail["data"]["membership"]["platform_status"], "ACTIVE");
    assert_eq!(
        detail["data"]["membership"]["invitation_status"],
        "ACCEPTED"
    );
    assert!(detail["data"]["membership"]["accepted_at"].is_string());
}

/// The strict-schema rules of frontend-client §10.3 on one `{user, membership, roles}` item.
pub fn assert_strict_item(item: &Value) {
    let user = &item["user"];
    for key in ["id", "org_id", "email"] {
        assert!(user[key].is_string(), "user.{key}: {item}");
    }
    let email = user["email"].as_str().unwrap();
    let domain = email.split('@').nth(1).unwrap_or("");
    assert!(domain.contains('.'), "strict email: {email}");
    for key in ["is_active", "is_superuser", "mfa_enabled", "created_at"] {
        assert!(
            user.get(key).is_none_or(|v| !v.is_null()),
            "user.{key} null: {item}"
        );
    }
    let m = &item["membership"];
    for key in [
        "id",
        "org_id",
        "user_id",
        "employment_status",
        "platform_status",
    ] {
        assert!(m[key].is_string(), "membership.{key}: {item}");
    }
    assert!(m.get("invitation_status").is_none_or(|v| v.is_string()));
    let employment = [
        "ACTIVE",
        "ON_LEAVE",
        "FURLOUGHED",
        "SUSPENDED",
        "PROBATIONARY",
        "TERMINATED",
        "RETIRED",
        "RESIGNED",
    ];
    let platform = ["INVITED", "ENABLED", "DISABLED", "LOCKED", "ACTIVE"];
    let invitation = ["PENDING", "ACCEPTED", "EXPIRED", "INVITED"];
    let upper = |v: &Value| v.as_str().unwrap().to_uppercase();
    assert!(employment.contains(&upper(&m["employment_status"]).as_str()));
    assert!(platform.contains(&upper(&m["platform_status"]).as_str()));
    assert!(invitation.contains(&upper(&m["invitation_status"]).as_str()));
    for role in item["roles"].as_array().unwrap() {
        assert!(role["name"].is_string(), "role name: {role}");
        for key in ["org_id", "is_system_role", "created_at", "updated_at"] {
            assert!(role.get(key).is_none_or(|v| !v.is_null()), "role.{key}");
        }
    }
}
