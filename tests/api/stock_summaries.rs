//! The member stock summary and the caller's own stock (contract §3.6–§3.9, §5, §7).

use serde_json::json;

use crate::fixtures::{MemberSpec, create_member, create_org};
use crate::stock_support::{ORG, World, replay_grant_history};

const ADMIN: Option<&str> = Some("admin");
const HR: Option<&str> = Some("harper.reed");
const EMPLOYEE: Option<&str> = Some("priya.sharma");

/// The recording had loans (and so reservations) by then; the loan endpoints are not part of
/// this world, so the reservation figures are not compared.
const WITHOUT_LOANS: &[&str] = &[
    "/data/total_reserved_shares",
    "/data/total_available_vested_shares",
    "/data/active_reservations",
    "/data/grants",
];

#[tokio::test]
async fn member_summaries_answer_as_recorded() {
    let w = World::new().await;
    w.deny("sarah.johnson", "stock.eligibility.view").await;
    w.deny("lisa.martinez", "stock.self.view").await;
    replay_grant_history(&w).await;
    for name in [
        "member stock summary as_of 2025-01-01",
        "member stock summary (as_of defaults to the server's today)",
        "member stock summary as_of before any vesting",
        "member stock summary of a member without grants",
        "member stock summary 404 unknown membership",
        "member stock summary 422 bad as_of",
    ] {
        w.replay(name, ADMIN).await;
    }
    w.replay(
        "member stock summary 403 employee (first missing permission reported)",
        EMPLOYEE,
    )
    .await;
    w.replay(
        "member stock summary 403 HR denied stock.eligibility.view",
        Some("sarah.johnson"),
    )
    .await;
    w.replay("member stock summary as HR", HR).await;

    // The caller's own stock.
    w.replay("my stock summary (employee)", EMPLOYEE).await;
    w.replay("my stock summary as_of 2025-06-01", EMPLOYEE)
        .await;
    w.replay("my grants (employee)", EMPLOYEE).await;
    w.replay("my grant by id", EMPLOYEE).await;
    w.replay("my grant 404 for a grant of another member", EMPLOYEE)
        .await;
    w.replay("my grant 404 unknown id", EMPLOYEE).await;
    w.replay(
        "my stock summary 403 without stock.self.view",
        Some("lisa.martinez"),
    )
    .await;
    w.replay(
        "my stock summary 401 no token and no X-Org-Id (auth resolved first)",
        None,
    )
    .await;
}

#[tokio::test]
async fn a_superuser_without_membership_gets_404_and_the_admin_view_shares_the_cache() {
    let w = World::new().await;
    create_org(&w.app, "acme-corp", "Acme Corp").await;
    create_member(
        &w.app,
        "acme-corp",
        MemberSpec::new("someone@acme.example.com"),
    )
    .await;
    w.replay(
        "my stock summary as superuser in an org where the token user has no membership -> 404",
        ADMIN,
    )
    .await;
    w.replay("my grants as superuser in another org -> 404", ADMIN)
        .await;

    // The admin's view and the employee's view of one day are one cache entry, dropped when
    // a grant of the member changes.
    let priya = w.member("priya.sharma").membership_id;
    let path = format!("/org/users/{priya}/stock/summary?as_of=2026-12-07");
    let (status, admin_view) = w.call(ADMIN, Some(ORG), "GET", &path, None, &[]).await;
    assert_eq!(status, 200);
    let (_, own) = w
        .call(
            EMPLOYEE,
            Some(ORG),
            "GET",
            "/me/stock/summary?as_of=2026-12-07",
            None,
            &[],
        )
        .await;
    assert_eq!(admin_view["data"], own["data"]);
    let key = format!(
        "{}:stock_summary:{ORG}:{priya}:2026-12-07",
        w.app.redis_prefix
    );
    assert!(
        w.app.cache.get(&key).await.unwrap().is_some(),
        "cached under the legacy key"
    );
    // A garbage cached value is ignored and overwritten.
    w.app
        .cache
        .setex(&key, "not json", std::time::Duration::from_secs(300))
        .await
        .unwrap();
    let (status, again) = w.call(ADMIN, Some(ORG), "GET", &path, None, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(again["data"], admin_view["data"]);
    assert!(
        w.app
            .cache
            .get(&key)
            .await
            .unwrap()
            .unwrap()
            .starts_with('{')
    );
    // A new grant invalidates at once.
    let (status, _) = w
        .call(
            ADMIN,
            Some(ORG),
            "POST",
            &format!("/org/users/{priya}/stock/grants"),
            Some(json!({"grant_date": "2026-01-01", "total_shares": 10, "exercise_price": "1", "vesting_strategy": "IMMEDIATE"})),
            &[],
        )
        .await;
    assert_eq!(status, 201);
    let (_, after) = w.call(ADMIN, Some(ORG), "GET", &path, None, &[]).await;
    assert_eq!(after["data"]["grant_count"], 3);
    // A settings update invalidates the org's summaries too.
    w.call(ADMIN, Some(ORG), "GET", &path, None, &[]).await;
    let (status, out) = w
        .call(
            ADMIN,
            Some(ORG),
            "PUT",
            "/org/settings",
            Some(json!({"enforce_min_vested_to_exercise": true, "min_vested_shares_to_exercise": 100000})),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let (_, ruled) = w.call(ADMIN, Some(ORG), "GET", &path, None, &[]).await;
    assert_eq!(
        ruled["data"]["eligibility_result"]["reasons"][0]["code"],
        "BELOW_MIN_VESTED_THRESHOLD"
    );
}

#[tokio::test]
async fn eligibility_rules_answer_as_recorded() {
    let w = World::new().await;
    // The recording's set-up: a 6 % fixed rate (policy_version 2), the admin's grant and
    // daniel's termination.
    w.settings("fixed_interest_rate_annual_percent = 6, policy_version = 2")
        .await;
    replay_grant_history(&w).await;
    let admin = w.member("admin").membership_id;
    let (status, _) = w
        .call(
            ADMIN,
            Some(ORG),
            "POST",
            &format!("/org/users/{admin}/stock/grants"),
            Some(json!({"grant_date": "2024-01-01", "total_shares": 8000, "exercise_price": 1, "vesting_strategy": "IMMEDIATE"})),
            &[],
        )
        .await;
    assert_eq!(status, 201);
    sqlx::query("UPDATE org_memberships SET employment_status = 'TERMINATED' WHERE id = $1")
        .bind(w.member("daniel.okafor").membership_id)
        .execute(&w.app.db)
        .await
        .unwrap();
    w.replay(
        "settings: enforce both stock rules (3 years of service, 6000 vested shares)",
        ADMIN,
    )
    .await;
    for name in [
        "summary under both rules: employee below both thresholds",
        "summary under both rules: eligible employee",
        "summary under the service rule: membership without employment_start_date",
        "summary of a TERMINATED member (EMPLOYMENT_INACTIVE)",
    ] {
        w.replay_skipping(name, ADMIN, WITHOUT_LOANS).await;
    }
    w.replay("settings: only the service rule with 2.5 years", ADMIN)
        .await;
    w.replay_skipping(
        "summary: 913 days after the 2023-02-01 start is still below 2.5 years (2.4997)",
        ADMIN,
        WITHOUT_LOANS,
    )
    .await;
    w.replay_skipping(
        "summary: service 2.5 years exactly reached (913.125 days -> day 914)",
        ADMIN,
        WITHOUT_LOANS,
    )
    .await;
    for name in [
        "settings 400 enforce_min_vested_to_exercise without a value",
        "settings 400 both stock rules broken (joined with '; ')",
        "settings 422 negative min_vested_shares_to_exercise",
    ] {
        w.replay(name, ADMIN).await;
    }
    // Re-sending 2.5 when 2.50 is stored is no change: policy_version stays (the legacy service
    // bumped it, Q12).
    let (_, before) = w
        .call(ADMIN, Some(ORG), "GET", "/org/settings", None, &[])
        .await;
    let (status, after) = w
        .call(
            ADMIN,
            Some(ORG),
            "PUT",
            "/org/settings",
            Some(json!({"enforce_service_duration_rule": true, "min_service_duration_years": 2.5})),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["data"]["min_service_duration_years"], "2.50");
    assert_eq!(
        after["data"]["policy_version"],
        before["data"]["policy_version"]
    );
    // One bump fewer than recorded: the equal re-send above did not count (Q12).
    let ours = w
        .replay_skipping(
            "settings: min vested rule with 0 shares (allowed)",
            ADMIN,
            &["/data/policy_version"],
        )
        .await;
    assert_eq!(ours["data"]["policy_version"], 5);
    w.replay_skipping(
        "summary: min-vested rule with 0 and nothing vested yet -> eligible",
        ADMIN,
        WITHOUT_LOANS,
    )
    .await;
}
