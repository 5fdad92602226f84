//! Impersonation (contract §4.8): start with its refusals and step-up, what the session may
//! not do, refresh keeping the imp claims and the cap, stop, and the audit rows.

use serde_json::{Value, json};

use crate::auth_support::*;
use crate::fixtures::{MemberSpec, create_member, create_org, set_org_settings};
use crate::helpers::spawn_app;

const START: &str = "/auth/impersonate/start";
const STOP: &str = "/auth/impersonate/stop";

fn target(id: uuid::Uuid) -> Value {
    json!({"target_membership_id": id.to_string()})
}

#[tokio::test]
async fn impersonation_start_refusals_session_limits_and_stop() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme").await;
    let admin = create_member(
        &app,
        "acme",
        MemberSpec::admin("admin@acme.example.com").full_name("Admin User"),
    )
    .await;
    let emp = create_member(
        &app,
        "acme",
        MemberSpec::new("priya@acme.example.com").full_name("Priya Sharma"),
    )
    .await;
    let on_leave = create_member(
        &app,
        "acme",
        MemberSpec::new("leave@acme.example.com").statuses("ON_LEAVE", "ACTIVE", "ACCEPTED"),
    )
    .await;
    let su = create_member(
        &app,
        "acme",
        MemberSpec::admin("root@acme.example.com").superuser(),
    )
    .await;
    let gone = create_member(&app, "acme", MemberSpec::new("gone@acme.example.com")).await;
    let locked = create_member(&app, "acme", MemberSpec::new("locked@acme.example.com")).await;
    let s = app.sign_in(&admin).await;
    let se = app.sign_in(&emp).await;

    app.call("POST", START)
        .without_cookies()
        .token(&se.access)
        .org("acme")
        .json(&target(admin.membership_id))
        .send()
        .await
        .like("impersonate start 403 missing permission (employee)");
    app.call("POST", START)
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .json(&target(emp.membership_id))
        .send()
        .await
        .like("impersonate start 403 impersonation disabled for org");
    app.call("POST", STOP)
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .send()
        .await
        .like("impersonate stop 400 not impersonating");

    set_org_settings(
        &app,
        "acme",
        "allow_impersonation = true, require_two_factor = true, mfa_required_actions = '[\"USER_IMPERSONATE\"]'",
    )
    .await;
    let r = app
        .call("POST", START)
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .json(&target(emp.membership_id))
        .send()
        .await;
    r.like("impersonate start 403 step-up required");
    assert_eq!(r.body["details"]["action"], "USER_IMPERSONATE");
    let challenge = r.body["details"]["challenge_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let step_up = step_up_token(&app, &s, &admin, &challenge).await;
    let start = |body: Value| {
        let rq = app
            .call("POST", START)
            .without_cookies()
            .token(&s.access)
            .org("acme")
            .header("X-Step-Up-Token", step_up.clone())
            .json(&body);
        rq.send()
    };
    start(target(admin.membership_id))
        .await
        .like("impersonate start 400 self");
    start(json!({"target_membership_id": "00000000-0000-4000-8000-000000000000"}))
        .await
        .like("impersonate start 404 unknown membership");
    start(json!({"target_membership_id": "not-a-uuid"}))
        .await
        .is(404, "not_found", "Target user not found");
    start(target(on_leave.membership_id))
        .await
        .like("impersonate start 400 target membership not active (ON_LEAVE)");
    start(json!({}))
        .await
        .like("impersonate start 422 missing target");
    start(target(su.membership_id))
        .await
        .is(403, "forbidden", "Cannot impersonate a superuser");
    sqlx::query("UPDATE users SET is_active = false WHERE id = $1")
        .bind(gone.user_id)
        .execute(&app.db)
        .await
        .unwrap();
    start(target(gone.membership_id)).await.is(
        404,
        "not_found",
        "Target user not found or inactive",
    );
    sqlx::query("UPDATE identities SET is_active = false WHERE id = $1")
        .bind(locked.identity_id)
        .execute(&app.db)
        .await
        .unwrap();
    start(target(locked.membership_id)).await.is(
        400,
        "bad_request",
        "Target user identity is inactive",
    );

    let r = start(target(emp.membership_id)).await;
    r.like("impersonate start success");
    let tu = &r.data()["target_user"];
    assert_eq!(tu["id"], emp.user_id.to_string());
    assert_eq!(tu["full_name"], "Priya Sharma");
    assert_eq!(
        (tu["last_active_at"].clone(), tu["created_at"].clone()),
        (json!(null), json!(null))
    );
    assert_eq!(r.data()["impersonator_user_id"], admin.user_id.to_string());
    assert_eq!(r.data()["impersonator_name"], "Admin User");
    let imp_access = r.str("access_token");
    let imp_refresh = r.str("refresh_token");
    let (_, claims) = decode_jwt(&imp_access);
    assert_eq!(claims["sub"], emp.user_id.to_string());
    assert_eq!(claims["iid"], admin.identity_id.to_string());
    assert_eq!(claims["imp"], admin.user_id.to_string());
    assert_eq!(claims["imp_iid"], admin.identity_id.to_string());
    assert!(claims["imp_started"].is_i64());
    assert_eq!(
        (claims["su"].clone(), claims["mfa"].clone()),
        (json!(false), json!(true))
    );

    let r = me(&app, &imp_access, "acme").await;
    r.like_prefix("me during impersonation (target user)");
    assert_eq!(r.data()["id"], emp.user_id.to_string());
    app.call("POST", "/auth/logout")
        .without_cookies()
        .token(&imp_access)
        .org("acme")
        .send()
        .await
        .like("logout 403 during impersonation");
    app.call("POST", "/auth/change-password")
        .without_cookies()
        .token(&imp_access)
        .org("acme")
        .json(&json!({"current_password": emp.password, "new_password": "Brand#New#Pass42"}))
        .send()
        .await
        .like("change-password 403 during impersonation");
    app.call("POST", "/auth/mfa/setup/start")
        .without_cookies()
        .token(&imp_access)
        .org("acme")
        .send()
        .await
        .like("mfa setup/start 403 during impersonation");
    for path in ["/auth/mfa/recovery-codes/regenerate", "/auth/mfa/reset"] {
        app.call("POST", path)
            .without_cookies()
            .token(&imp_access)
            .org("acme")
            .send()
            .await
            .is(
                403,
                "forbidden",
                "Cannot modify MFA settings during impersonation",
            );
    }
    app.call("POST", START)
        .without_cookies()
        .token(&imp_access)
        .org("acme")
        .json(&target(admin.membership_id))
        .send()
        .await
        .like("impersonate start 403 while impersonating (target lacks permission)");

    // Refresh keeps the impersonation claims.
    let r = app
        .call("POST", "/auth/refresh")
        .without_cookies()
        .org("acme")
        .json(&json!({"refresh_token": imp_refresh}))
        .send()
        .await;
    r.like("refresh impersonation session (body token; imp claims kept)");
    let (_, refreshed) = decode_jwt(&r.str("access_token"));
    for k in ["sub", "iid", "imp", "imp_iid", "imp_started"] {
        assert_eq!(refreshed[k], claims[k], "{k}");
    }
    let imp_access = r.str("access_token");

    let r = app
        .call("POST", STOP)
        .without_cookies()
        .token(&imp_access)
        .org("acme")
        .send()
        .await;
    r.like("impersonate stop success (admin tokens again)");
    let (_, back) = decode_jwt(&r.str("access_token"));
    assert_eq!(back["sub"], admin.user_id.to_string());
    assert_eq!(back["mfa"], true);
    assert!(back.get("imp").is_none());
    app.call("POST", STOP)
        .without_cookies()
        .token(r.str("access_token"))
        .org("acme")
        .send()
        .await
        .like("impersonate stop 400 with a normal token");

    let rows: Vec<(String, Option<uuid::Uuid>, String, Option<Value>)> = sqlx::query_as(
        "SELECT action, actor_id, resource_id, new_value FROM audit_logs WHERE org_id = 'acme' \
         AND action LIKE 'impersonation.%' ORDER BY created_at",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    let expected_value = json!({"impersonator_email": "admin@acme.example.com", "target_email": "priya@acme.example.com"});
    assert_eq!(rows.len(), 2, "{rows:?}");
    for (row, action) in rows
        .iter()
        .zip(["impersonation.start", "impersonation.stop"])
    {
        assert_eq!(row.0, action);
        assert_eq!(row.1, Some(admin.user_id));
        assert_eq!(row.2, emp.user_id.to_string());
        assert_eq!(row.3.as_ref(), Some(&expected_value));
    }
}

#[tokio::test]
async fn impersonation_cannot_nest_and_is_capped() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme").await;
    set_org_settings(&app, "acme", "allow_impersonation = true").await;
    let admin = create_member(&app, "acme", MemberSpec::admin("admin@acme.example.com")).await;
    let admin2 = create_member(&app, "acme", MemberSpec::admin("admin2@acme.example.com")).await;
    let emp = create_member(&app, "acme", MemberSpec::new("e@acme.example.com")).await;
    let s = app.sign_in(&admin).await;
    // No step-up configured: the start goes straight through.
    let r = app
        .call("POST", START)
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .json(&target(admin2.membership_id))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let imp = r.str("access_token");
    // The impersonated admin has the permission, but sessions do not nest.
    app.call("POST", START)
        .without_cookies()
        .token(&imp)
        .org("acme")
        .json(&target(emp.membership_id))
        .send()
        .await
        .is(
            400,
            "bad_request",
            "Cannot start impersonation while already impersonating",
        );
    // The admin's own logout elsewhere ends the impersonation too (tv is the admin's).
    let (_, claims) = decode_jwt(&imp);
    app.call("POST", "/auth/logout")
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .send()
        .await;
    me(&app, &imp, "acme")
        .await
        .is(401, "unauthorized", "Token revoked");

    // A refresh past IMPERSONATION_MAX_MINUTES is refused; one without a start time too.
    let tv = token_version(&app, admin.identity_id).await;
    let now = now();
    let mut refresh = json!({
        "sub": admin2.user_id.to_string(), "org": "acme", "iid": admin.identity_id.to_string(),
        "su": false, "mfa": true, "aud": "sole-backend", "exp": now + 600, "iat": now,
        "type": "refresh", "jti": uuid::Uuid::new_v4().to_string(), "tv": tv,
        "imp": admin.user_id.to_string(), "imp_iid": admin.identity_id.to_string(),
        "imp_started": now - 24 * 3600,
    });
    assert_eq!(claims["iid"], refresh["iid"]);
    app.call("POST", "/auth/refresh")
        .without_cookies()
        .org("acme")
        .json(&json!({"refresh_token": legacy_sign(&refresh)}))
        .send()
        .await
        .is(401, "unauthorized", "Impersonation session expired");
    refresh.as_object_mut().unwrap().remove("imp_started");
    refresh["jti"] = json!(uuid::Uuid::new_v4().to_string());
    app.call("POST", "/auth/refresh")
        .without_cookies()
        .org("acme")
        .json(&json!({"refresh_token": legacy_sign(&refresh)}))
        .send()
        .await
        .is(
            401,
            "unauthorized",
            "Impersonation token missing start time",
        );
}
