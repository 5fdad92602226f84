//! Tenant resolution, contract §5 and §11 scenarios 1–8, the superuser bypass and the
//! subdomain rule limited to ALLOWED_TENANT_HOSTS (DESIGN.md §4).

use serde_json::json;

use crate::auth_support::*;
use crate::fixtures::{MemberSpec, create_member, create_org};
use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn single_mode_always_uses_the_default_org() {
    let app = spawn_app_with(&[("TENANCY_MODE", "single"), ("DEFAULT_ORG_ID", "org-123")]).await;
    create_org(&app, "org-123", "Org 123").await;
    create_org(&app, "other", "Other").await;
    let m = create_member(&app, "org-123", MemberSpec::new("ann@example.com")).await;
    let s = app.sign_in(&m).await;
    // 1. No headers: the default org.
    let r = app
        .call("GET", "/auth/me")
        .without_cookies()
        .token(&s.access)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.data()["org_id"], "org-123");
    let r = app
        .call("GET", "/auth/me")
        .without_cookies()
        .token(&s.access)
        .org("org-123")
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    app.call("GET", "/auth/me")
        .without_cookies()
        .token(&s.access)
        .org("other")
        .send()
        .await
        .is(
            400,
            "bad_request",
            "Tenant header does not match default org",
        );
    // Refresh needs no header either.
    let r = app
        .call("POST", "/auth/refresh")
        .without_cookies()
        .json(&json!({"refresh_token": s.refresh}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // A member of another org cannot use its token here.
    let o = create_member(&app, "other", MemberSpec::new("bob@example.com")).await;
    let pre = pre_org(&app, &o).await;
    let r = select_org(&app, &pre, "other", None).await;
    let access = r.str("access_token");
    app.call("GET", "/auth/me")
        .without_cookies()
        .token(&access)
        .send()
        .await
        .is(401, "unauthorized", "Token tenant mismatch");
}

#[tokio::test]
async fn multi_mode_resolves_header_token_subdomain_and_refuses_the_rest() {
    // Step 7 deletes the membership with SQL, which announces nothing (like a legacy write):
    // with the guard cache on it would be seen within the cache TTL (tests/api/guard_cache.rs),
    // here it must be seen at once.
    let app = spawn_app_with(&[("GUARD_CACHE_TTL_SECONDS", "0")]).await;
    create_org(&app, "org-123", "Org 123").await;
    create_org(&app, "org-b", "Org B").await;
    let m = create_member(&app, "org-123", MemberSpec::new("ann@example.com")).await;
    let s = app.sign_in(&m).await;

    // 2. Nothing to resolve from.
    let r = app
        .call("POST", "/auth/step-up/verify")
        .without_cookies()
        .json(&json!({}))
        .send()
        .await;
    r.is(
        400,
        "bad_request",
        "Tenant resolution failed: provide X-Org-Id header",
    );
    // 3. The header names the org.
    let r = me(&app, &s.access, "org-123").await;
    assert_eq!(r.data()["org_id"], "org-123");
    // ...and so does the token alone.
    let r = app
        .call("GET", "/auth/me")
        .without_cookies()
        .token(&s.access)
        .send()
        .await;
    assert_eq!(r.data()["org_id"], "org-123");
    // 4. The legacy X-Tenant-ID header is ignored.
    let r = app
        .call("POST", "/auth/step-up/verify")
        .without_cookies()
        .header("X-Tenant-ID", "org-123")
        .json(&json!({}))
        .send()
        .await;
    r.is(
        400,
        "bad_request",
        "Tenant resolution failed: provide X-Org-Id header",
    );
    // Without ALLOWED_TENANT_HOSTS a subdomain is never a tenant.
    let r = app
        .call("POST", "/auth/refresh")
        .without_cookies()
        .header("Host", "org-123.example.com")
        .json(&json!({"refresh_token": s.refresh}))
        .send()
        .await;
    r.is(
        400,
        "bad_request",
        "Tenant resolution failed: provide X-Org-Id header",
    );
    // 6. Token of org-123, header org-b, not a superuser.
    me(&app, &s.access, "org-b")
        .await
        .is(403, "forbidden", "Tenant header does not match token");
    // SQL metacharacters in the header are just a mismatch or a format error.
    me(&app, &s.access, "org-123' OR '1'='1").await.is(
        403,
        "forbidden",
        "Tenant header does not match token",
    );
    app.call("POST", "/auth/refresh").without_cookies().org("x'; DROP TABLE orgs; --").send().await
        .is(400, "bad_request", "Invalid tenant id format: org_id may only contain lowercase letters, numbers, '-' and '_'");
    let r = app
        .call("POST", "/auth/refresh")
        .without_cookies()
        .org("a")
        .send()
        .await;
    r.is(
        400,
        "bad_request",
        "Invalid tenant id format: org_id must be between 2 and 64 characters",
    );
    // 7. Token and header agree, but the membership is gone.
    sqlx::query("DELETE FROM org_user_profiles WHERE membership_id = $1")
        .bind(m.membership_id)
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query("DELETE FROM org_memberships WHERE id = $1")
        .bind(m.membership_id)
        .execute(&app.db)
        .await
        .unwrap();
    app.call("GET", "/auth/me")
        .without_cookies()
        .token(&s.access)
        .org("org-123")
        .send()
        .await
        .like("me 403 user is not a member of this organization (membership deleted)");
}

#[tokio::test]
async fn superusers_act_in_any_org_with_the_header() {
    let app = spawn_app().await;
    create_org(&app, "org-a", "Org A").await;
    create_org(&app, "org-b", "Org B").await;
    let su = create_member(
        &app,
        "org-a",
        MemberSpec::admin("root@example.com").superuser(),
    )
    .await;
    let s = app.sign_in(&su).await;
    // 8. Superuser token of org-a, header org-b.
    let r = me(&app, &s.access, "org-b").await;
    r.like_prefix("me as superuser with X-Org-Id of another org");
    assert_eq!(r.data()["org_id"], "org-b");
    assert_eq!(r.data()["is_superuser"], true);
    // ...but only orgs that exist.
    me(&app, &s.access, "org-zzz")
        .await
        .is(404, "not_found", "Org not found: org-zzz");
}

#[tokio::test]
async fn subdomains_resolve_only_for_allowed_hosts() {
    let app = spawn_app_with(&[("ALLOWED_TENANT_HOSTS", "acme.example.com")]).await;
    create_org(&app, "acme", "Acme").await;
    create_org(&app, "beta", "Beta").await;
    let m = create_member(&app, "acme", MemberSpec::new("ann@example.com")).await;
    let s = app.sign_in(&m).await;
    // 5. Host acme.example.com, no header: tenant acme.
    let r = app
        .call("POST", "/auth/refresh")
        .without_cookies()
        .header("Host", "acme.example.com:8000")
        .json(&json!({"refresh_token": s.refresh}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (_, claims) = decode_jwt(&r.str("access_token"));
    assert_eq!(claims["org"], "acme");
    // A host not in the list, and an IP literal (the legacy "127" quirk), are not tenants.
    for host in [
        "beta.example.com",
        "127.0.0.1:8000",
        "sole-api-abc.a.run.app",
    ] {
        let r = app
            .call("POST", "/auth/refresh")
            .without_cookies()
            .header("Host", host)
            .json(&json!({"refresh_token": r.str("refresh_token")}))
            .send()
            .await;
        r.is(
            400,
            "bad_request",
            "Tenant resolution failed: provide X-Org-Id header",
        );
    }
}
