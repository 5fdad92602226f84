//! The org stock dashboard and the workspace landing page (contract §3.10–§3.11, §9).

use serde_json::json;

use crate::fixtures::{MemberSpec, create_member, create_org};
use crate::stock_support::{ORG, World, replay_grant_history};

const ADMIN: Option<&str> = Some("admin");
const HR: Option<&str> = Some("harper.reed");
const EMPLOYEE: Option<&str> = Some("priya.sharma");

#[tokio::test]
async fn the_org_dashboard_answers_as_recorded() {
    let w = World::new().await;
    replay_grant_history(&w).await;
    w.replay("org stock dashboard", ADMIN).await;
    w.replay("org stock dashboard 403 employee", EMPLOYEE).await;
    w.replay("org stock dashboard 400 no token and no X-Org-Id", None)
        .await;
    w.replay("org stock dashboard 422 bad as_of", ADMIN).await;
    let (status, out) = w
        .call(
            HR,
            Some(ORG),
            "GET",
            "/org/dashboard/stock-summary?as_of=2030-01-01",
            None,
            &[],
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let d = &out["data"];
    // Eligibility buckets sum to the program employees; every share has vested by 2030.
    let e = &d["eligibility"];
    let buckets: i64 = [
        "eligible_to_exercise_count",
        "not_eligible_due_to_service_count",
        "not_eligible_due_to_min_vested_count",
        "not_eligible_due_to_other_count",
    ]
    .iter()
    .map(|k| e[*k].as_i64().unwrap())
    .sum();
    assert_eq!(json!(buckets), d["totals"]["program_employees"]);
    assert_eq!(d["totals"]["total_unvested_shares"], 0);
    assert_eq!(
        d["vesting_timeline"]["next_vesting_date"],
        serde_json::Value::Null
    );
    // Cached under the legacy key.
    let key = format!("{}:stock_dashboard:{ORG}:2030-01-01", w.app.redis_prefix);
    assert!(w.app.cache.get(&key).await.unwrap().is_some());
}

#[tokio::test]
async fn the_landing_page_answers_as_recorded() {
    let w = World::new().await;
    w.deny("lisa.martinez", "stock.self.view").await;
    // A DRAFT announcement: counted by the legacy landing page, not by sole (Q13).
    sqlx::query(
        "INSERT INTO announcements (id, org_id, title, body, status, type) \
         VALUES ($1, $2, 'Draft', 'Not yet', 'DRAFT', 'GENERAL')",
    )
    .bind(uuid::Uuid::new_v4())
    .bind(ORG)
    .execute(&w.app.db)
    .await
    .unwrap();
    let ours = w
        .replay_skipping(
            "self dashboard (employee with grants, no loans; one DRAFT announcement exists)",
            EMPLOYEE,
            &["/data/attention/unread_announcements_count"],
        )
        .await;
    assert_eq!(ours["data"]["attention"]["unread_announcements_count"], 0);
    w.replay(
        "announcements unread count for the same employee (PUBLISHED only, for contrast)",
        EMPLOYEE,
    )
    .await;
    w.replay(
        "self dashboard 403 without stock.self.view",
        Some("lisa.martinez"),
    )
    .await
    .to_string();
    w.replay("self dashboard 401 no token", None).await;
    w.replay("self dashboard 422 bad as_of", EMPLOYEE).await;
    w.replay_skipping(
        "self dashboard of the superuser admin (no grants; profile without address)",
        ADMIN,
        &["/data/attention/unread_announcements_count"],
    )
    .await;
    create_org(&w.app, "acme-corp", "Acme Corp").await;
    create_member(
        &w.app,
        "acme-corp",
        MemberSpec::new("someone@acme.example.com"),
    )
    .await;
    w.replay(
        "self dashboard of a superuser in an org where it has no membership (empty branch)",
        ADMIN,
    )
    .await;
}

#[tokio::test]
async fn the_landing_page_of_a_member_without_grants_loads() {
    let w = World::new().await;
    let newbie = create_member(
        &w.app,
        ORG,
        MemberSpec::new("new.hire@sole-llc.example.com"),
    )
    .await;
    let session = w.app.sign_in(&newbie).await;
    let (status, out) = w
        .app
        .call("GET", "/me/dashboard/summary")
        .token(&session.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 200, "{out}");
    let d = &out["data"];
    assert_eq!(d["as_of_date"], "2026-12-07");
    assert_eq!(d["stock_totals"]["grant_count"], 0);
    assert_eq!(
        d["stock_totals"]["weighted_avg_exercise_price"],
        serde_json::Value::Null
    );
    assert_eq!(d["stock_eligibility"]["eligible_to_exercise"], false);
    assert_eq!(
        d["stock_eligibility"]["reasons"][0]["code"],
        "NO_VESTED_SHARES"
    );
    assert_eq!(d["reservations"]["reserved_share_percent_of_vested"], "0");
    assert_eq!(d["grants"], json!([]));
    assert_eq!(d["loan_summary"]["total_loan_applications"], 0);
    assert_eq!(d["loan_summary"]["missed_payment_dates"], json!([]));
    assert_eq!(d["repayment_activity"]["repayment_history"], json!([]));
    // Same keys, in the same order, as the recorded landing page.
    let recorded = crate::helpers::sample(
        crate::stock_support::FILE,
        "self dashboard of the superuser admin (no grants; profile without address)",
    );
    crate::helpers::assert_same_keys(d, &recorded["response"]["body"]["data"]);
    crate::helpers::assert_same_keys(
        &d["loan_summary"],
        &recorded["response"]["body"]["data"]["loan_summary"],
    );
}
