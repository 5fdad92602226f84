//! Stock grants (contract `domain-stock.md` §3.1–§3.5): the recorded exchanges replayed in
//! order against a world seeded like the recording's, plus the deliberate differences.

use serde_json::{Value, json};

use crate::fixtures::{MemberSpec, create_member, create_org};
use crate::stock_support::{ORG, World, audit_rows};

const ADMIN: Option<&str> = Some("admin");
const HR: Option<&str> = Some("harper.reed");
const EMPLOYEE: Option<&str> = Some("priya.sharma");

#[tokio::test]
async fn list_read_and_preview_answer_as_recorded() {
    let w = World::new().await;
    w.replay(
        "list grants of a member (seeded SCHEDULED + IMMEDIATE grants, newest grant_date first)",
        ADMIN,
    )
    .await;
    w.replay(
        "list grants page_size=1 page=2 (total counts all grants)",
        ADMIN,
    )
    .await;
    for name in [
        "list grants 422 page_size=0",
        "list grants 422 page_size=101",
        "list grants 404 unknown membership",
        "list grants 422 membership id not a UUID",
    ] {
        w.replay(name, ADMIN).await;
    }
    w.replay("list grants 403 employee (no stock.view)", EMPLOYEE)
        .await;
    w.replay(
        "list grants 200 as HR (Human Resource role has stock.view)",
        HR,
    )
    .await;
    w.replay("list grants 401 no token (X-Org-Id sent)", None)
        .await;
    w.replay(
        "list grants 400 no token and no X-Org-Id (tenant resolved first)",
        None,
    )
    .await;

    // Preview: 200s, each schedule rule, 422 shapes, the membership gates, the permission.
    for name in [
        "preview SCHEDULED grant (events echoed in request order; next event relative to the server's today)",
        "preview IMMEDIATE grant with a future grant_date (event generated)",
        "preview IMMEDIATE grant in the past (no next event)",
        "preview 400 SCHEDULED without vesting_events",
        "preview 400 two events on the same vest_date",
        "preview 400 event before grant_date",
        "preview 400 sum of event shares != total_shares",
        "preview 400 IMMEDIATE with two events",
        "preview 400 IMMEDIATE event shares != total_shares",
        "preview 400 IMMEDIATE event date != grant_date",
        "preview 400 several rule violations: only the first is reported",
        "preview 422 empty body",
        "preview 422 negative total_shares",
        "preview 422 negative exercise_price",
        "preview 422 exercise_price not a number",
        "preview 422 lower-case vesting_strategy",
        "preview 422 bad grant_date",
        "preview 422 negative event shares",
        "preview 400 member not ACTIVE (onboarded user still INVITED)",
        "preview 404 unknown membership",
        "preview total_shares 0 IMMEDIATE (allowed)",
    ] {
        w.replay(name, ADMIN).await;
    }
    w.replay("preview 403 HR (no stock.manage)", HR).await;
    // Previews write nothing.
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM employee_stock_grants")
        .fetch_one(&w.app.db)
        .await
        .unwrap();
    assert_eq!(count, 16);
    let audits: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_logs WHERE resource_type = 'employee_stock_grant'",
    )
    .fetch_one(&w.app.db)
    .await
    .unwrap();
    assert_eq!(audits, 0);
}

#[tokio::test]
async fn create_and_patch_follow_the_recorded_history_with_audit_rows() {
    let w = World::new().await;
    let created = w
        .replay(
            "create SCHEDULED grant 201 (exercise_price echoed as sent, events sorted by vest_date)",
            ADMIN,
        )
        .await;
    let grant_id = created["data"]["id"].as_str().unwrap().to_owned();
    w.replay(
        "create IMMEDIATE grant 201 without events (one event generated at grant_date)",
        ADMIN,
    )
    .await;
    w.replay(
        "get grant after create (exercise_price now has the DB scale numeric(18,6))",
        ADMIN,
    )
    .await;
    for name in [
        "create 400 vesting rule violated",
        "create 400 member not ACTIVE",
        "create 404 unknown membership",
        "create 422 missing vesting_strategy",
        "get grant 404 unknown id",
    ] {
        w.replay(name, ADMIN).await;
    }
    w.replay("create 403 HR (no stock.manage)", HR).await;
    w.replay("get grant 403 employee", EMPLOYEE).await;
    for name in [
        "patch notes only",
        "patch empty body (no change, still 200 and audited)",
        "patch replace vesting_events",
        "patch 400 total_shares alone no longer matches the stored events",
        "patch total_shares together with new events",
        "patch 400 grant_date moved after the stored events",
        "patch 400 switch to IMMEDIATE while two events are stored",
        "patch switch to IMMEDIATE with a single matching event",
        "patch 400 IMMEDIATE grant: grant_date changed without events",
        "patch status CANCELLED",
        "patch status back to ACTIVE (no state machine)",
        "patch as the frontend edit dialog sends it for an IMMEDIATE grant (status + notes)",
        "patch 422 unknown status",
        "patch 404 unknown grant",
    ] {
        w.replay(name, ADMIN).await;
    }
    w.replay("patch 403 HR", HR).await;

    // The audit trail of the first grant: one creation, then one row per successful PATCH
    // (also the empty one, with no changes).
    let rows = audit_rows(&w.app, &grant_id).await;
    let actions: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(actions[0], "stock_grant.created");
    assert_eq!(actions.len(), 8, "{actions:?}");
    let (_, changes, summary, old, new) = &rows[0];
    assert!(old.is_none());
    assert_eq!(new.as_ref().unwrap()["exercise_price"], "1.25");
    assert_eq!(
        changes.as_ref().unwrap()["status"],
        json!({"from": null, "to": "ACTIVE"})
    );
    assert!(summary.starts_with("stock_grant.created: "));
    assert_eq!(
        rows[1]
            .1
            .as_ref()
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        vec!["notes"]
    );
    assert_eq!(rows[1].2, "stock_grant.updated: notes");
    assert_eq!(rows[2].1, None);
    assert_eq!(rows[2].2, "stock_grant.updated");
    assert!(
        rows[3]
            .1
            .as_ref()
            .unwrap()
            .as_object()
            .unwrap()
            .contains_key("vesting_events")
    );
}

#[tokio::test]
async fn explicit_nulls_and_overflows_are_422_not_500() {
    let w = World::new().await;
    let created = w
        .replay(
            "create IMMEDIATE grant 201 without events (one event generated at grant_date)",
            ADMIN,
        )
        .await;
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    let path = format!("/org/stock/grants/{id}");
    // §14 Q5: the recorded 500 for an explicit null becomes a 422.
    let null_price = crate::helpers::sample(
        crate::stock_support::FILE,
        "patch 500 explicit null exercise_price",
    )["request"]["body"]
        .clone();
    assert_eq!(null_price, json!({"exercise_price": null}));
    for (body, message) in [
        (
            null_price,
            "exercise_price: Decimal input should be an integer, float, string or Decimal object",
        ),
        (
            json!({"status": null}),
            "status: Input should be 'ACTIVE', 'CANCELLED' or 'EXERCISED_OUT'",
        ),
        (
            json!({"grant_date": null}),
            "grant_date: Input should be a valid date",
        ),
        (
            json!({"total_shares": null}),
            "total_shares: Input should be a valid integer",
        ),
        (
            json!({"exercise_price": "1000000000000"}),
            "exercise_price: Input should be less than 1000000000000",
        ),
    ] {
        let (status, out) = w
            .call(ADMIN, Some(ORG), "PATCH", &path, Some(body), &[])
            .await;
        assert_eq!(status, 422, "{out}");
        assert_eq!(out["message"], message);
    }
    // `notes: null` still clears the note; `vesting_events: null` counts as absent.
    let (status, out) = w
        .call(
            ADMIN,
            Some(ORG),
            "PATCH",
            &path,
            Some(json!({"notes": null, "vesting_events": null})),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["data"]["notes"], Value::Null);
    // total_shares beyond bigint: the recorded 500 becomes a 422 (§14 Q6).
    let evan = w.member("evan.chen").membership_id;
    let recorded = crate::helpers::sample(
        crate::stock_support::FILE,
        "create 500 total_shares beyond bigint",
    );
    assert_eq!(
        recorded["request"]["body"]["total_shares"],
        json!(10_000_000_000_000_000_000u64)
    );
    let (status, out) = w
        .call(
            ADMIN,
            Some(ORG),
            "POST",
            &format!("/org/users/{evan}/stock/grants"),
            Some(recorded["request"]["body"].clone()),
            &[],
        )
        .await;
    assert_eq!(status, 422, "{out}");
    assert_eq!(out["code"], "validation_error");
    assert!(
        out["message"]
            .as_str()
            .unwrap()
            .starts_with("total_shares: Input should be less than or equal to")
    );
    // Two identical creates give two grants (no idempotency, Q26).
    for _ in 0..2 {
        let (status, _) = w
            .call(
                ADMIN,
                Some(ORG),
                "POST",
                &format!("/org/users/{evan}/stock/grants"),
                Some(json!({"grant_date": "2026-01-15", "total_shares": 5, "exercise_price": 2, "vesting_strategy": "IMMEDIATE"})),
                &[],
            )
            .await;
        assert_eq!(status, 201);
    }
    let (_, list) = w
        .call(
            ADMIN,
            Some(ORG),
            "GET",
            &format!("/org/users/{evan}/stock/grants"),
            None,
            &[],
        )
        .await;
    assert_eq!(list["data"]["total"], 5);
}

#[tokio::test]
async fn a_terminated_members_grant_can_be_cancelled_but_not_rescheduled() {
    let w = World::new().await;
    let daniel = w.member("daniel.okafor").membership_id;
    sqlx::query("UPDATE org_memberships SET employment_status = 'TERMINATED' WHERE id = $1")
        .bind(daniel)
        .execute(&w.app.db)
        .await
        .unwrap();
    let (_, list) = w
        .call(
            ADMIN,
            Some(ORG),
            "GET",
            &format!("/org/users/{daniel}/stock/grants"),
            None,
            &[],
        )
        .await;
    let id = list["data"]["items"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/org/stock/grants/{id}");
    // The legacy service refused even this (Q4); sole lets status and notes change.
    let (status, out) = w
        .call(
            ADMIN,
            Some(ORG),
            "PATCH",
            &path,
            Some(json!({"status": "CANCELLED", "notes": "left"})),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["data"]["status"], "CANCELLED");
    let (status, out) = w
        .call(ADMIN, Some(ORG), "PATCH", &path, Some(json!({"total_shares": 4000, "vesting_events": [{"vest_date": "2023-09-01", "shares": 4000}]})), &[])
        .await;
    assert_eq!(status, 400, "{out}");
    assert_eq!(
        out["message"],
        "Membership must be ACTIVE to assign stock grants"
    );
    // Previews and creates for a TERMINATED member are refused as for an INVITED one.
    let (status, out) = w
        .call(
            ADMIN,
            Some(ORG),
            "POST",
            &format!("/org/users/{daniel}/stock/grants/preview"),
            Some(json!({"grant_date": "2026-01-15", "total_shares": 5, "exercise_price": 2, "vesting_strategy": "IMMEDIATE"})),
            &[],
        )
        .await;
    assert_eq!(status, 400, "{out}");
}

#[tokio::test]
async fn grants_of_another_org_are_not_found() {
    let w = World::new().await;
    create_org(&w.app, "acme-corp", "Acme Corp").await;
    let other = create_member(
        &w.app,
        "acme-corp",
        MemberSpec::admin("acme-admin@example.com"),
    )
    .await;
    let session = w.app.sign_in(&other).await;
    let evan = w.member("evan.chen").membership_id;
    let (_, list) = w
        .call(
            ADMIN,
            Some(ORG),
            "GET",
            &format!("/org/users/{evan}/stock/grants"),
            None,
            &[],
        )
        .await;
    let grant = list["data"]["items"][0]["id"].as_str().unwrap().to_owned();
    let get = |path: String| {
        let app = &w.app;
        let token = session.access.clone();
        async move {
            app.call("GET", &path)
                .token(token)
                .header("X-Org-Id", "acme-corp")
                .fetch()
                .await
        }
    };
    let (status, out) = get(format!("/org/users/{evan}/stock/grants")).await;
    assert_eq!(
        (status, out["message"].as_str()),
        (404, Some("Membership not found"))
    );
    let (status, out) = get(format!("/org/stock/grants/{grant}")).await;
    assert_eq!(
        (status, out["message"].as_str()),
        (404, Some("Grant not found"))
    );
    // Its token with the X-Org-Id of sole-llc: the tenant check refuses it.
    let (status, out) = w
        .app
        .call("GET", &format!("/org/users/{evan}/stock/grants"))
        .token(&session.access)
        .header("X-Org-Id", ORG)
        .fetch()
        .await;
    assert_eq!(status, 403, "{out}");
    // A superuser acting in the other org looks there.
    let (status, _) = w
        .call(
            ADMIN,
            Some("acme-corp"),
            "GET",
            &format!("/org/stock/grants/{grant}"),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn create_and_status_changes_ask_for_step_up_when_the_org_requires_it() {
    let w = World::new().await;
    w.settings(
        "require_two_factor = true, mfa_required_actions = '[\"STOCK_GRANT_ASSIGNMENT\", \"STOCK_STATUS_CHANGE\"]'",
    )
    .await;
    let denied = w
        .replay(
            "create 403 step-up required (STOCK_GRANT_ASSIGNMENT configured)",
            ADMIN,
        )
        .await;
    w.replay(
        "create 422 body invalid: validation runs before the step-up check",
        ADMIN,
    )
    .await;
    w.replay(
        "create 403 step-up checked before the membership lookup",
        ADMIN,
    )
    .await;
    let grants_before: i64 = sqlx::query_scalar("SELECT count(*) FROM employee_stock_grants")
        .fetch_one(&w.app.db)
        .await
        .unwrap();
    assert_eq!(grants_before, 16, "nothing created without step-up");
    let admin = w.member("admin").clone();
    let session = w.session("admin").await;
    let challenge = denied["details"]["challenge_token"].as_str().unwrap();
    let token = crate::auth_support::step_up_token(&w.app, &session, &admin, challenge).await;
    let evan = w.member("evan.chen").membership_id;
    let body = json!({"grant_date": "2026-02-01", "total_shares": 100, "exercise_price": "4.00", "vesting_strategy": "IMMEDIATE"});
    let create_path = format!("/org/users/{evan}/stock/grants");
    let (status, out) = w
        .call(
            ADMIN,
            Some(ORG),
            "POST",
            &create_path,
            Some(body.clone()),
            &[("X-Step-Up-Token", &token)],
        )
        .await;
    assert_eq!(status, 201, "{out}");
    // The token works again within its five minutes.
    let (status, _) = w
        .call(
            ADMIN,
            Some(ORG),
            "POST",
            &create_path,
            Some(body),
            &[("X-Step-Up-Token", &token)],
        )
        .await;
    assert_eq!(status, 201);
    let id = out["data"]["id"].as_str().unwrap().to_owned();
    let path = format!("/org/stock/grants/{id}");

    // Preview and a PATCH without `status` need no step-up.
    w.replay("preview needs no step-up", ADMIN).await;
    let (status, _) = w
        .call(
            ADMIN,
            Some(ORG),
            "PATCH",
            &path,
            Some(json!({"notes": "needs no MFA"})),
            &[],
        )
        .await;
    assert_eq!(status, 200);
    // `status`, even unchanged, asks for STOCK_STATUS_CHANGE; a token of another action fails.
    let (status, out) = w
        .call(
            ADMIN,
            Some(ORG),
            "PATCH",
            &path,
            Some(json!({"status": "ACTIVE"})),
            &[],
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(out["code"], "step_up_mfa_required");
    assert_eq!(out["details"]["action"], "STOCK_STATUS_CHANGE");
    let (status, out2) = w
        .call(
            ADMIN,
            Some(ORG),
            "PATCH",
            &path,
            Some(json!({"status": "ACTIVE"})),
            &[("X-Step-Up-Token", &token)],
        )
        .await;
    assert_eq!(status, 403, "{out2}");
    // A third MFA answer within one 30 s TOTP step (sign-in, first step-up, this one): the
    // server takes each TOTP step once per identity, so answer with a recovery code, as a person
    // who does not want to wait for the next code would.
    crate::auth_support::store_recovery_codes(&w.app, admin.identity_id, &["ABCD-EFGH"]).await;
    let verified = w
        .app
        .call("POST", "/auth/step-up/verify")
        .without_cookies()
        .token(&session.access)
        .org(&session.org_id)
        .json(&json!({
            "challenge_token": out["details"]["challenge_token"],
            "code": "ABCD-EFGH",
            "code_type": "recovery",
        }))
        .send()
        .await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    let status_token = verified.str("step_up_token");
    let (status, out) = w
        .call(
            ADMIN,
            Some(ORG),
            "PATCH",
            &path,
            Some(json!({"status": "EXERCISED_OUT"})),
            &[("X-Step-Up-Token", &status_token)],
        )
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["data"]["status"], "EXERCISED_OUT");
    // An unknown grant is 404 before the step-up check.
    w.replay("patch 404 unknown grant wins over the step-up check", ADMIN)
        .await;
    let rows = audit_rows(&w.app, &id).await;
    assert_eq!(rows.last().unwrap().2, "stock_grant.updated: status");

    // Without require_two_factor nothing asks for step-up.
    w.settings("require_two_factor = false, mfa_required_actions = '[]'")
        .await;
    let (status, _) = w
        .call(
            ADMIN,
            Some(ORG),
            "PATCH",
            &path,
            Some(json!({"status": "ACTIVE"})),
            &[],
        )
        .await;
    assert_eq!(status, 200);
}
