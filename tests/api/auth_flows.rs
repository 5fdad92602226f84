//! The frontend's login journeys end to end, each answer compared with the recorded legacy
//! exchange: login → orgs → select-org, must-change-password, page reload (refresh cookie +
//! CSRF), CSRF recovery, org switch via refresh, logout.

use serde_json::json;

use crate::auth_support::*;
use crate::fixtures::{MemberSpec, create_member, create_org};
use crate::helpers::{client, no_cookies, spawn_app};

#[tokio::test]
async fn login_orgs_and_select_org_answer_like_the_legacy_service() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme").await;
    create_org(&app, "other", "Other").await;
    let m = create_member(&app, "acme", MemberSpec::new("ann@acme.example.com")).await;

    app.call("POST", "/auth/login")
        .without_cookies()
        .json(&json!({"email": "not-an-email", "password": "x"}))
        .send()
        .await
        .like("login 422 invalid email");
    app.call("POST", "/auth/login")
        .without_cookies()
        .json(&json!({"email": m.email}))
        .send()
        .await
        .like("login 422 missing password");
    app.call("POST", "/auth/login")
        .without_cookies()
        .send()
        .await
        .like("login 422 no body");
    login(&app, "nobody@acme.example.com", "Wrong#Password1")
        .await
        .like("login 401 unknown email");
    let r = login(&app, &m.email, &m.password).await;
    r.like("login success (demo employee, no password change pending)");
    assert_eq!(r.data()["must_change_password"], false);
    let pre = r.str("pre_org_token");

    let r = app
        .call("GET", "/auth/orgs")
        .without_cookies()
        .token(&pre)
        .send()
        .await;
    r.like("orgs with pre_org token");
    assert_eq!(
        r.data(),
        &json!({"orgs": [{"org_id": "acme", "name": "Acme", "slug": "acme"}], "auto_selected": true})
    );
    app.call("GET", "/auth/orgs")
        .without_cookies()
        .send()
        .await
        .like("orgs 401 no token");
    app.call("GET", "/auth/orgs")
        .without_cookies()
        .token("not-a-jwt")
        .send()
        .await
        .like("orgs 401 garbage token");

    select_org(&app, &pre, "Bad Org!", None)
        .await
        .like("select-org 400 invalid org id format");
    select_org(&app, &pre, "other", None)
        .await
        .like("select-org 401 org where identity has no user");
    app.call("POST", "/auth/select-org")
        .without_cookies()
        .token(&pre)
        .json(&json!({}))
        .send()
        .await
        .like("select-org 422 missing org_id");
    app.call("POST", "/auth/select-org")
        .without_cookies()
        .json(&json!({"org_id": "acme"}))
        .send()
        .await
        .like("select-org 401 no token");

    let r = select_org(&app, &pre, "acme", None).await;
    r.like("select-org success without MFA (employee; tokens issued directly, cookies set)");
    assert_eq!(r.data()["mfa_required"], false);
    assert_eq!(r.data()["challenge_token"], json!(null));
    assert_eq!(r.data()["remember_device_days"], 30);
    let access = r.str("access_token");
    assert_eq!(r.str("csrf_token").len(), 43);

    app.call("GET", "/auth/orgs")
        .without_cookies()
        .token(&access)
        .send()
        .await
        .like("orgs with access token");
    let r = me(&app, &access, "acme").await;
    r.like_prefix("me success with explicit matching X-Org-Id");
    assert!(
        r.data()["last_active_at"].as_str().unwrap().ends_with('Z'),
        "{}",
        r.body
    );
    app.call("GET", "/auth/me")
        .without_cookies()
        .token(&access)
        .send()
        .await
        .like_prefix("me success (employee)");
    app.call("GET", "/auth/me")
        .without_cookies()
        .org("acme")
        .send()
        .await
        .like("me 401 no token");
    app.call("GET", "/auth/me")
        .without_cookies()
        .send()
        .await
        .like("me 401 no token and no X-Org-Id");
    app.call("GET", "/auth/me")
        .without_cookies()
        .token("not-a-jwt")
        .org("acme")
        .send()
        .await
        .like("me 401 garbage token");
    app.call("GET", "/auth/me")
        .without_cookies()
        .token(&pre)
        .send()
        .await
        .like("me 400 pre_org token without X-Org-Id");
    app.call("GET", "/auth/me")
        .without_cookies()
        .token(&pre)
        .org("acme")
        .send()
        .await
        .like("me 401 pre_org token with X-Org-Id");
    app.call("GET", "/auth/me")
        .without_cookies()
        .token(&access)
        .org("other")
        .send()
        .await
        .like("me 403 employee with X-Org-Id of another existing org");
    app.call("GET", "/auth/me")
        .without_cookies()
        .token(&access)
        .org("Not Valid")
        .send()
        .await
        .like("me 403 tenant header invalid format (non-superuser, mismatch checked first)");

    // Inactive membership: ON_LEAVE cannot enter.
    let on_leave = create_member(
        &app,
        "acme",
        MemberSpec::new("leave@acme.example.com").statuses("ON_LEAVE", "ACTIVE", "ACCEPTED"),
    )
    .await;
    let pre = pre_org(&app, &on_leave).await;
    select_org(&app, &pre, "acme", None)
        .await
        .like("select-org 403 membership not active (employment ON_LEAVE)");
}

#[tokio::test]
async fn must_change_password_journey_activates_the_invited_membership() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme").await;
    let m = create_member(
        &app,
        "acme",
        MemberSpec::new("new@acme.example.com")
            .must_change_password()
            .statuses("ACTIVE", "INVITED", "PENDING"),
    )
    .await;
    let r = login(&app, &m.email, &m.password).await;
    r.like("login success (onboarded user with temporary password)");
    assert_eq!(r.data()["must_change_password"], true);
    let pre = r.str("pre_org_token");
    let r = select_org(&app, &pre, "acme", None).await;
    r.like("select-org success for INVITED/PENDING membership (pending allowed)");
    let access = r.str("access_token");

    // Membership checks run before the password-change check (legacy order): an invited
    // member is refused as not active; an active one is asked to change the password.
    me(&app, &access, "acme")
        .await
        .is(403, "forbidden", "Membership is not active");
    let active = create_member(
        &app,
        "acme",
        MemberSpec::new("active@acme.example.com").must_change_password(),
    )
    .await;
    let active = app.sign_in(&active).await;
    me(&app, &active.access, "acme")
        .await
        .like("me 403 password change required");

    let cp = |cur: &str, new: &str| json!({"current_password": cur, "new_password": new});
    let path = "/auth/change-password";
    let p = m.password.as_str();
    for (body, name) in [
        (
            cp("Wrong#Password1", "Another#Pass123"),
            "change-password 400 wrong current password",
        ),
        (cp(p, p), "change-password 400 same password"),
        (cp(p, "Sh0rt#pw"), "change-password 400 too short"),
        (
            cp(p, "lowercase#only123"),
            "change-password 400 no uppercase",
        ),
        (cp(p, "NoDigits#Here!!"), "change-password 400 no digit"),
        (cp(p, "NoSpecial12345"), "change-password 400 no special"),
        (
            cp(p, " Password123 "),
            "change-password 400 common password (onboarded user)",
        ),
        (
            json!({"current_password": p}),
            "change-password 422 missing field",
        ),
    ] {
        app.call("POST", path)
            .without_cookies()
            .token(&access)
            .org("acme")
            .json(&body)
            .send()
            .await
            .like(name);
    }
    app.call("POST", path)
        .without_cookies()
        .org("acme")
        .json(&cp(p, "Another#Pass123"))
        .send()
        .await
        .like("change-password 401 no token");
    let r = app
        .call("POST", path)
        .without_cookies()
        .token(&access)
        .org("acme")
        .json(&cp(p, "NOLOWER#12345"))
        .send()
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.body["message"],
        "Password must include at least one lowercase letter"
    );

    let tv_before = token_version(&app, m.identity_id).await;
    let r = app
        .call("POST", path)
        .without_cookies()
        .token(&access)
        .org("acme")
        .json(&cp(p, "Brand#New#Pass42"))
        .send()
        .await;
    r.like("change-password success (activates INVITED membership)");
    assert_eq!(token_version(&app, m.identity_id).await, tv_before + 1);
    let new_access = r.str("access_token");
    me(&app, &access, "acme")
        .await
        .like("me 401 token revoked (access token from before change-password)");
    let r = me(&app, &new_access, "acme").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.data()["must_change_password"], false);

    let (platform, invitation, accepted): (String, String, Option<time::OffsetDateTime>) =
        sqlx::query_as(
            "SELECT platform_status, invitation_status, accepted_at FROM org_memberships WHERE id = $1",
        )
        .bind(m.membership_id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(
        (platform.as_str(), invitation.as_str()),
        ("ACTIVE", "ACCEPTED")
    );
    assert!(accepted.is_some());

    login(&app, &m.email, p)
        .await
        .like("login 401 wrong password");
    let r = login(&app, &m.email, "Brand#New#Pass42").await;
    r.like("login success (admin after password change)");
    assert_eq!(r.data()["must_change_password"], false);
}

#[tokio::test]
async fn page_reload_refreshes_with_the_cookie_and_csrf_then_logout_clears_them() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme").await;
    let m = create_member(&app, "acme", MemberSpec::new("ann@acme.example.com")).await;
    let browser = client();
    let pre = pre_org(&app, &m).await;
    let r = app
        .call("POST", "/auth/select-org")
        .client(&browser)
        .token(&pre)
        .json(&json!({"org_id": "acme"}))
        .send()
        .await;
    assert_eq!(r.status, 200);
    let csrf = r.str("csrf_token");

    // Reload: the cookie store sends sole_refresh + sole_csrf; the SPA sends the header.
    let refresh = |csrf: Option<String>| {
        let mut rq = app.call("POST", "/auth/refresh").client(&browser);
        if let Some(c) = csrf {
            rq = rq.header("X-CSRF-Token", c);
        }
        async move { rq.send().await }
    };
    let r = refresh(Some(csrf.clone())).await;
    r.like("refresh success with cookie + matching X-CSRF-Token (no X-Org-Id: tenant from cookie)");
    let csrf = r.str("csrf_token");
    let access = r.str("access_token");
    assert_eq!(me(&app, &access, "acme").await.status, 200);

    refresh(Some("wrong-csrf-value".into()))
        .await
        .like("refresh 403 cookie with wrong X-CSRF-Token");
    let r = refresh(None).await;
    r.like("refresh 403 cookie without X-CSRF-Token");
    assert!(r.body["message"].as_str().unwrap().contains("CSRF"));

    // The frontend's recovery: renew the CSRF token, then retry.
    let r = app
        .call("POST", "/auth/refresh/csrf")
        .client(&browser)
        .send()
        .await;
    r.like("refresh/csrf success with refresh cookie only");
    let renewed = r.str("csrf_token");
    assert_ne!(renewed, csrf);
    let r = refresh(Some(renewed)).await;
    r.like("refresh success with cookie after refresh/csrf rotated the CSRF token");
    let access = r.str("access_token");

    let r = app
        .call("POST", "/auth/logout")
        .client(&browser)
        .token(&access)
        .send()
        .await;
    r.like("logout success (clears cookies)");
    me(&app, &access, "acme")
        .await
        .like("me 401 token revoked (after refresh reuse bumped token_version)");
    // A second logout with the same token is a success (the legacy 401 "Token revoked" is a
    // deliberate difference, README).
    app.call("POST", "/auth/logout")
        .without_cookies()
        .token(&access)
        .org("acme")
        .send()
        .await
        .like("logout success (clears cookies)");
    app.call("POST", "/auth/logout")
        .without_cookies()
        .org("acme")
        .send()
        .await
        .like("logout 401 no token");
    // The store dropped the cleared cookies: a reload now has nothing to refresh with.
    let r = app
        .call("POST", "/auth/refresh")
        .client(&browser)
        .header("X-Org-Id", "acme")
        .send()
        .await;
    r.like("refresh 400 no token with X-Org-Id");
}

#[tokio::test]
async fn refresh_errors_answer_like_the_legacy_service() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme").await;
    create_org(&app, "other", "Other").await;
    let m = create_member(&app, "acme", MemberSpec::new("ann@acme.example.com")).await;
    let s = app.sign_in(&m).await;
    let plain = no_cookies();
    let url = app.url("/auth/refresh");

    app.call("POST", "")
        .url(&url)
        .client(&plain)
        .send()
        .await
        .like("refresh 400 nothing at all (tenant resolution fails first)");
    app.call("POST", "")
        .url(&url)
        .client(&plain)
        .header("X-Org-Id", "acme")
        .send()
        .await
        .like("refresh 400 no token with X-Org-Id");
    app.call("POST", "")
        .url(&url)
        .client(&plain)
        .header("X-Org-Id", "Bad Org")
        .send()
        .await
        .like("refresh 400 X-Org-Id invalid format");
    app.call("POST", "")
        .url(&url)
        .client(&plain)
        .header("X-Org-Id", "unknown-org")
        .send()
        .await
        .like("refresh 404 X-Org-Id unknown org");
    app.call("POST", "")
        .url(&url)
        .client(&plain)
        .header("X-Org-Id", "acme")
        .json(&json!({"refresh_token": "not-a-jwt"}))
        .send()
        .await
        .like("refresh 401 garbage body token");
    app.call("POST", "")
        .url(&url)
        .client(&plain)
        .header("X-Org-Id", "acme")
        .json(&json!({"refresh_token": s.access}))
        .send()
        .await
        .like("refresh 401 access token given as refresh token");
    app.call("POST", "")
        .url(&url)
        .client(&plain)
        .header("X-Org-Id", "acme")
        .json(&json!({}))
        .send()
        .await
        .like("refresh 400 empty JSON body and no cookie");
    app.call("POST", "")
        .url(&url)
        .client(&plain)
        .header("X-Org-Id", "other")
        .json(&json!({"refresh_token": s.refresh}))
        .send()
        .await
        .like("refresh 401 token tenant mismatch (employee refresh token, X-Org-Id other org)");
    let cookie = format!("sole_refresh={}; sole_csrf=x", s.refresh);
    app.call("POST", "/auth/refresh/csrf")
        .client(&plain)
        .header("X-Org-Id", "other")
        .header("Cookie", &cookie)
        .send()
        .await
        .like("refresh/csrf 401 cookie org differs from X-Org-Id");
    app.call("POST", "/auth/refresh/csrf")
        .client(&plain)
        .header("X-Org-Id", "acme")
        .send()
        .await
        .like("refresh/csrf 401 no cookie (X-Org-Id given)");
    app.call("POST", "/auth/refresh/csrf")
        .client(&plain)
        .send()
        .await
        .like("refresh/csrf 400 no cookie, no X-Org-Id");
    // An explicit cookie header works the same as the browser's store.
    let r = app
        .call("POST", "")
        .url(&url)
        .client(&plain)
        .header("Cookie", &cookie)
        .header("X-CSRF-Token", "x")
        .send()
        .await;
    r.like("refresh success with cookie + matching X-CSRF-Token (no X-Org-Id: tenant from cookie)");
    let r = app
        .call("POST", "")
        .url(&url)
        .client(&plain)
        .header("X-Org-Id", "acme")
        .json(&json!({"refresh_token": r.str("refresh_token")}))
        .send()
        .await;
    r.like("refresh success with body refresh_token (+X-Org-Id)");
}

#[tokio::test]
async fn refresh_with_the_x_org_id_of_another_membership_switches_org() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme").await;
    create_org(&app, "beta", "Beta").await;
    let a = create_member(&app, "acme", MemberSpec::new("ann@example.com")).await;
    let b = create_member(&app, "beta", MemberSpec::new("ann@example.com")).await;
    assert_eq!(a.identity_id, b.identity_id);

    // The same identity sees both orgs, ordered by name, nothing auto-selected.
    let pre = pre_org(&app, &a).await;
    let r = app
        .call("GET", "/auth/orgs")
        .without_cookies()
        .token(&pre)
        .send()
        .await;
    r.like("orgs (admin now in two orgs -> auto_selected false)");
    let ids: Vec<_> = r.data()["orgs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["org_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["acme", "beta"]);
    let s = app.sign_in(&a).await;

    let r = app
        .call("POST", "/auth/refresh")
        .without_cookies()
        .org("beta")
        .json(&json!({"refresh_token": s.refresh}))
        .send()
        .await;
    r.like("refresh success with body refresh_token (+X-Org-Id)");
    let (_, claims) = decode_jwt(&r.str("access_token"));
    assert_eq!(claims["org"], "beta");
    assert_eq!(claims["sub"], b.user_id.to_string());
    assert_eq!(claims["iid"], b.identity_id.to_string());
    let r = me(&app, &r.str("access_token"), "beta").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.data()["id"], b.user_id.to_string());
    assert_eq!(r.data()["org_id"], "beta");

    // An org where the membership is not active stays a mismatch.
    sqlx::query("UPDATE org_memberships SET employment_status = 'TERMINATED' WHERE id = $1")
        .bind(b.membership_id)
        .execute(&app.db)
        .await
        .unwrap();
    let s = app.sign_in(&a).await;
    app.call("POST", "/auth/refresh")
        .without_cookies()
        .org("beta")
        .json(&json!({"refresh_token": s.refresh}))
        .send()
        .await
        .is(401, "unauthorized", "Token tenant mismatch");
}

#[tokio::test]
async fn inactivity_expires_sessions_and_background_requests_do_not_extend_them() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme").await;
    let m = create_member(&app, "acme", MemberSpec::new("ann@acme.example.com")).await;
    let s = app.sign_in(&m).await;

    set_last_active_minutes_ago(&app, m.identity_id, 10).await;
    assert_eq!(me(&app, &s.access, "acme").await.status, 200);

    // A background poll neither fails early nor counts as activity.
    set_last_active_minutes_ago(&app, m.identity_id, 20).await;
    let before = last_active(&app, m.identity_id).await;
    let r = app
        .call("GET", "/auth/me")
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .header("X-Background-Request", "1")
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(last_active(&app, m.identity_id).await, before);
    let r = app
        .call("GET", "/auth/me")
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .header("X-Background-Request", "true")
        .send()
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(last_active(&app, m.identity_id).await, before);
    // A foreground request does.
    assert_eq!(me(&app, &s.access, "acme").await.status, 200);
    let after = last_active(&app, m.identity_id).await.unwrap();
    assert!(time::OffsetDateTime::now_utc() - after < time::Duration::minutes(1));

    set_last_active_minutes_ago(&app, m.identity_id, 45).await;
    me(&app, &s.access, "acme")
        .await
        .is(401, "unauthorized", "Session expired due to inactivity");
    app.call("POST", "/auth/refresh")
        .without_cookies()
        .org("acme")
        .json(&json!({"refresh_token": s.refresh}))
        .send()
        .await
        .is(401, "unauthorized", "Session expired due to inactivity");
    // Signing in again is activity.
    let s = app.sign_in(&m).await;
    assert_eq!(me(&app, &s.access, "acme").await.status, 200);
}

#[tokio::test]
async fn an_org_switch_by_refresh_never_skips_the_mfa_the_target_org_demands() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme").await;
    create_org(&app, "beta", "Beta").await;
    create_org(&app, "gamma", "Gamma").await;
    // An employee without MFA in acme is an admin (sensitive permissions) in beta.
    let a = create_member(&app, "acme", MemberSpec::new("ann@example.com")).await;
    create_member(
        &app,
        "beta",
        MemberSpec::new("ann@example.com").roles(&["ORG ADMIN"]),
    )
    .await;
    create_member(&app, "gamma", MemberSpec::new("ann@example.com")).await;
    let s = app.sign_in(&a).await;
    let switch = |org: &'static str, token: String| {
        let app = &app;
        async move {
            app.call("POST", "/auth/refresh")
                .without_cookies()
                .org(org)
                .json(&json!({"refresh_token": token}))
                .send()
                .await
        }
    };
    switch("beta", s.refresh.clone())
        .await
        .is(401, "unauthorized", "Token tenant mismatch");
    // select-org in beta asks for enrolment, as the switch must not bypass.
    let pre = pre_org(&app, &a).await;
    assert_eq!(
        select_org(&app, &pre, "beta", None).await.data()["mfa_setup_required"],
        true
    );
    // An org that requires two-factor likewise.
    crate::fixtures::set_org_settings(&app, "gamma", "require_two_factor = true").await;
    switch("gamma", s.refresh.clone())
        .await
        .is(401, "unauthorized", "Token tenant mismatch");
    // Without the requirement the switch goes through.
    crate::fixtures::set_org_settings(&app, "gamma", "require_two_factor = false").await;
    let r = switch("gamma", s.refresh.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // An MFA-verified session may switch into an org that requires it...
    let admin = create_member(&app, "acme", MemberSpec::admin("boss@example.com")).await;
    let b2 = create_member(&app, "gamma", MemberSpec::new("boss@example.com")).await;
    crate::fixtures::set_org_settings(
        &app,
        "gamma",
        "require_two_factor = true, mfa_required_actions = '[\"LOGIN\"]'",
    )
    .await;
    let s = app.sign_in(&admin).await;
    let r = switch("gamma", s.refresh.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (_, claims) = decode_jwt(&r.str("access_token"));
    assert_eq!(
        (claims["sub"].clone(), claims["mfa"].clone()),
        (json!(b2.user_id.to_string()), json!(true))
    );
    // ...but a remembered device does not count where the org forces MFA at login.
    let r = sign_in_remembering(&app, &admin).await;
    let device = r.str("remember_device_token");
    let pre = pre_org(&app, &admin).await;
    let r = select_org(&app, &pre, "acme", Some(&device)).await;
    let (_, claims) = decode_jwt(&r.str("access_token"));
    assert_eq!(claims["mfa_method"], "remember_device");
    switch("gamma", r.str("refresh_token"))
        .await
        .is(401, "unauthorized", "Token tenant mismatch");
}
