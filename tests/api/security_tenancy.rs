//! Cross-tenant control of a shared identity (issue 13, critical): an org admin may change the
//! identity itself (MFA, forced password change, token version) only when the org holds the
//! person's only, accepted membership; a superuser identity only a superuser may touch.
//! Disabling a membership ends that org's sessions only.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{Member, MemberSpec, Session, create_member, create_org};
use crate::helpers::{TestApp, spawn_app};

const ORG_A: &str = "acme";
const ORG_B: &str = "globex";
const REFUSED: &str = "This change affects the person's sign-in everywhere; only a platform administrator can make it for this user";

/// The identity row as a comparable snapshot (everything an org could change).
async fn identity_row(app: &TestApp, id: Uuid) -> Value {
    sqlx::query_scalar(
        "SELECT jsonb_build_object('hash', hashed_password, 'mfa', mfa_enabled, \
         'secret', mfa_secret_encrypted, 'tv', token_version, 'must', must_change_password, \
         'active', is_active, 'updated', updated_at)::text FROM identities WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&app.db)
    .await
    .map(|s: String| serde_json::from_str(&s).unwrap())
    .unwrap()
}

struct Two {
    app: TestApp,
    b_admin: Member,
    b_admin_s: Session,
}

async fn two_orgs() -> Two {
    let app = spawn_app().await;
    create_org(&app, ORG_A, "Acme Inc").await;
    create_org(&app, ORG_B, "Globex").await;
    let b_admin = create_member(&app, ORG_B, MemberSpec::admin("boss@globex.example.com")).await;
    let b_admin_s = app.sign_in(&b_admin).await;
    Two {
        app,
        b_admin,
        b_admin_s,
    }
}

/// Org B's admin invites `victim` (an identity of org A) into org B; returns the membership id.
async fn invite_into_b(t: &Two, victim: &Member) -> String {
    let (status, body) = t
        .app
        .call("POST", "/org/users")
        .token(&t.b_admin_s.access)
        .org(ORG_B)
        .json(&json!({
            "email": victim.email,
            "first_name": "Victor",
            "last_name": "Victim",
            "employee_id": "B-1",
            "employment_start_date": "2024-01-01",
            "temporary_password": "Another#Password99",
        }))
        .fetch()
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["credentials_issued"], false);
    body["data"]["membership"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The attack of the black-box run, as org B's admin against `victim`: every identity-wide
/// action is refused with a message that names no org, and nothing of the identity changes.
async fn attack_is_refused(t: &Two, victim: &Member, victim_s: &Session) {
    let app = &t.app;
    let before = identity_row(app, victim.identity_id).await;
    let membership = invite_into_b(t, victim).await;
    // Onboarding an existing identity changes nothing of it.
    assert_eq!(identity_row(app, victim.identity_id).await, before);

    // Org B sees no identity-level fact before the person accepts.
    let (status, body) = app
        .call("GET", &format!("/org/users/{membership}"))
        .token(&t.b_admin_s.access)
        .org(ORG_B)
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["user"]["mfa_enabled"], false);
    let text = body.to_string();
    assert!(
        !text.contains("\"acme\"") && !text.contains("Acme Inc"),
        "{text}"
    );

    for path in [
        format!("/org/users/{membership}/mfa/reset"),
        format!("/org/users/{membership}/force-password-reset"),
    ] {
        let (status, body) = app
            .call("POST", &path)
            .token(&t.b_admin_s.access)
            .org(ORG_B)
            .fetch()
            .await;
        assert_eq!(
            (status, body["code"].clone()),
            (403, json!("forbidden")),
            "{path}: {body}"
        );
        assert_eq!(body["message"], REFUSED);
        let text = body.to_string();
        assert!(
            !text.contains("\"acme\"") && !text.contains("Acme Inc"),
            "{text}"
        );
    }
    // Disabling the B membership ends nothing outside org B.
    let (status, body) = app
        .call("PATCH", &format!("/org/users/{membership}"))
        .token(&t.b_admin_s.access)
        .org(ORG_B)
        .json(&json!({"platform_status": "DISABLED"}))
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");

    assert_eq!(identity_row(app, victim.identity_id).await, before);
    let (status, body) = app
        .call("GET", "/auth/me")
        .token(&victim_s.access)
        .org(ORG_A)
        .fetch()
        .await;
    assert_eq!(status, 200, "the org-A session survives: {body}");
    let audits: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_logs WHERE action IN ('user.mfa.reset', 'user.password.force_reset')",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(audits, 0);
}

#[tokio::test]
async fn security_org_b_admin_cannot_touch_an_org_a_person() {
    let t = two_orgs().await;
    let victim = create_member(
        &t.app,
        ORG_A,
        MemberSpec::new("victor@acme.example.com").mfa(true),
    )
    .await;
    let victim_s = t.app.sign_in(&victim).await;
    attack_is_refused(&t, &victim, &victim_s).await;
}

#[tokio::test]
async fn security_org_b_admin_cannot_touch_a_superuser() {
    let t = two_orgs().await;
    let root = create_member(
        &t.app,
        ORG_A,
        MemberSpec::admin("root@acme.example.com").superuser(),
    )
    .await;
    let root_s = t.app.sign_in(&root).await;
    attack_is_refused(&t, &root, &root_s).await;

    // A superuser whose only membership is org B's, accepted: still out of the admin's reach.
    let su_b = create_member(
        &t.app,
        ORG_B,
        MemberSpec::new("su@globex.example.com")
            .mfa(true)
            .superuser(),
    )
    .await;
    let (status, body) = t
        .app
        .call(
            "POST",
            &format!("/org/users/{}/mfa/reset", su_b.membership_id),
        )
        .token(&t.b_admin_s.access)
        .org(ORG_B)
        .fetch()
        .await;
    assert_eq!((status, body["message"].clone()), (403, json!(REFUSED)));
}

#[tokio::test]
async fn security_identity_changes_still_work_for_sole_members_and_superusers() {
    let t = two_orgs().await;
    let app = &t.app;
    // A person whose only membership is org B's and accepted: the admin speaks for them.
    let solo = create_member(
        app,
        ORG_B,
        MemberSpec::new("solo@globex.example.com").mfa(true),
    )
    .await;
    let solo_s = app.sign_in(&solo).await;
    let (status, body) = app
        .call(
            "POST",
            &format!("/org/users/{}/mfa/reset", solo.membership_id),
        )
        .token(&t.b_admin_s.access)
        .org(ORG_B)
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .call(
            "POST",
            &format!("/org/users/{}/force-password-reset", solo.membership_id),
        )
        .token(&t.b_admin_s.access)
        .org(ORG_B)
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = app
        .call("GET", "/auth/me")
        .token(&solo_s.access)
        .org(ORG_B)
        .fetch()
        .await;
    assert_eq!(status, 401);

    // A pending invitation of an org-A person: a superuser may act, from org B's side.
    let victim = create_member(
        app,
        ORG_A,
        MemberSpec::new("victor@acme.example.com").mfa(true),
    )
    .await;
    let membership = invite_into_b(&t, &victim).await;
    let root = create_member(
        app,
        ORG_A,
        MemberSpec::admin("root@acme.example.com").superuser(),
    )
    .await;
    let root_s = app.sign_in(&root).await;
    let (status, body) = app
        .call("POST", &format!("/org/users/{membership}/mfa/reset"))
        .token(&root_s.access)
        .org(ORG_B)
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    let mfa: bool = sqlx::query_scalar("SELECT mfa_enabled FROM identities WHERE id = $1")
        .bind(victim.identity_id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(!mfa);
    let _ = &t.b_admin;
}

#[tokio::test]
async fn security_disabling_a_membership_ends_that_orgs_sessions_only() {
    let t = two_orgs().await;
    let app = &t.app;
    let in_a = create_member(app, ORG_A, MemberSpec::new("both@example.com")).await;
    let in_b = create_member(app, ORG_B, MemberSpec::new("both@example.com")).await;
    assert_eq!(in_a.identity_id, in_b.identity_id);
    let a_s = app.sign_in(&in_a).await;
    let b_s = app.sign_in(&in_b).await;
    let before = identity_row(app, in_a.identity_id).await;

    let (status, body) = app
        .call("PATCH", &format!("/org/users/{}", in_b.membership_id))
        .token(&t.b_admin_s.access)
        .org(ORG_B)
        .json(&json!({"platform_status": "DISABLED"}))
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .call("GET", "/auth/me")
        .token(&b_s.access)
        .org(ORG_B)
        .fetch()
        .await;
    assert_eq!(
        (status, body["message"].clone()),
        (403, json!("Membership is not active"))
    );
    let (status, body) = app
        .call("GET", "/auth/me")
        .token(&a_s.access)
        .org(ORG_A)
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(identity_row(app, in_a.identity_id).await, before);
}
