//! The black-box scenarios of contract `domain-stock.md` §16 that the replays of the other
//! stock modules do not already cover: GrantOut figures, schedule edges, cancelled grants in
//! the totals, reservations seen through the caches, the landing page with loans, the org
//! dashboard's buckets and percentages, and the profile completion.
//!
//! Loans are not served yet, so the loan rows (application, workflow stages, repayment) are
//! written with SQL as the loan domain will write them.

use serde_json::{Value, json};
use sole::services::stock::reservations;
use time::macros::date;
use uuid::Uuid;

use crate::stock_support::{ORG, TODAY, World, grant_of, loan, replay_grant_history, reserve};

const ADMIN: Option<&str> = Some("admin");
const EMPLOYEE: Option<&str> = Some("priya.sharma");

async fn get(w: &World, who: Option<&str>, path: &str) -> Value {
    let (status, out) = w.call(who, Some(ORG), "GET", path, None, &[]).await;
    assert_eq!(status, 200, "{path}: {out}");
    out["data"].clone()
}

async fn post(w: &World, path: &str, body: Value) -> (u16, Value) {
    w.call(ADMIN, Some(ORG), "POST", path, Some(body), &[])
        .await
}

/// Scenarios 2, 5, 7, 11, 13, 23.
#[tokio::test]
async fn grant_figures_and_the_edges_of_the_schedule_rules() {
    let w = World::new().await;
    let evan = w.member("evan.chen").membership_id;
    let grants = format!("/org/users/{evan}/stock/grants");

    // 7. A SCHEDULED grant half vested: figures relative to the app's today.
    let (status, out) = post(
        &w,
        &grants,
        json!({"grant_date": "2024-12-01", "total_shares": 200, "exercise_price": "2",
            "vesting_strategy": "SCHEDULED", "vesting_events": [
                {"vest_date": "2099-01-01", "shares": 100}, {"vest_date": "2025-01-01", "shares": 100}]}),
    )
    .await;
    assert_eq!(status, 201, "{out}");
    let id = out["data"]["id"].as_str().unwrap().to_owned();
    let got = get(&w, ADMIN, &format!("/org/stock/grants/{id}")).await;
    assert_eq!(got["vested_shares"], 100);
    assert_eq!(got["unvested_shares"], 100);
    assert_eq!(
        got["next_vesting_event"],
        json!({"vest_date": "2099-01-01", "shares": 100})
    );
    assert_eq!(
        got["next_vesting_summary"],
        "Next vesting on 2099-01-01 (100 shares)"
    );
    let dates: Vec<&str> = got["vesting_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["vest_date"].as_str().unwrap())
        .collect();
    assert_eq!(dates, ["2025-01-01", "2099-01-01"]);
    // An IMMEDIATE grant in the future: nothing vested, the grant itself is next.
    let (status, out) = post(
        &w,
        &grants,
        json!({"grant_date": "2099-01-01", "total_shares": 50, "exercise_price": 1, "vesting_strategy": "IMMEDIATE"}),
    )
    .await;
    assert_eq!(status, 201, "{out}");
    let d = &out["data"];
    assert_eq!(
        (d["vested_shares"].clone(), d["unvested_shares"].clone()),
        (json!(0), json!(50))
    );
    assert_eq!(
        d["next_vesting_event"],
        json!({"vest_date": "2099-01-01", "shares": 50})
    );
    assert_eq!(
        d["next_vesting_summary"],
        "Next vesting on 2099-01-01 (50 shares)"
    );
    // … and in the past: fully vested, nothing next.
    let (status, out) = post(
        &w,
        &grants,
        json!({"grant_date": "2020-01-01", "total_shares": 50, "exercise_price": 1, "vesting_strategy": "IMMEDIATE"}),
    )
    .await;
    assert_eq!(status, 201, "{out}");
    assert_eq!(out["data"]["vested_shares"], 50);
    assert_eq!(out["data"]["next_vesting_event"], Value::Null);
    assert_eq!(out["data"]["next_vesting_summary"], Value::Null);

    // 11. An event on the grant date, an event of 0 shares, a grant of 0 shares.
    for body in [
        json!({"grant_date": "2025-01-01", "total_shares": 10, "exercise_price": 1, "vesting_strategy": "SCHEDULED",
            "vesting_events": [{"vest_date": "2025-01-01", "shares": 10}, {"vest_date": "2026-01-01", "shares": 0}]}),
        json!({"grant_date": "2025-01-01", "total_shares": 0, "exercise_price": 1, "vesting_strategy": "SCHEDULED",
            "vesting_events": [{"vest_date": "2025-01-01", "shares": 0}]}),
    ] {
        let (status, out) = post(&w, &format!("{grants}/preview"), body.clone()).await;
        assert_eq!(status, 200, "{body}: {out}");
        let (status, out) = post(&w, &grants, body.clone()).await;
        assert_eq!(status, 201, "{body}: {out}");
    }

    // 2. page=0 is refused like page_size=0.
    let (status, out) = w
        .call(
            ADMIN,
            Some(ORG),
            "GET",
            &format!("{grants}?page=0"),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 422, "{out}");
    assert_eq!(out["code"], "validation_error");
    // The paging counts every grant, 2 seeded + 5 made here.
    let list = get(&w, ADMIN, &format!("{grants}?page=2&page_size=3")).await;
    assert_eq!(list["total"], 7);
    assert_eq!(list["items"].as_array().unwrap().len(), 3);

    // 23. Free transitions, but only the three statuses.
    let path = format!("/org/stock/grants/{id}");
    for status in ["CANCELLED", "ACTIVE", "EXERCISED_OUT"] {
        let (code, out) = w
            .call(
                ADMIN,
                Some(ORG),
                "PATCH",
                &path,
                Some(json!({"status": status})),
                &[],
            )
            .await;
        assert_eq!(code, 200, "{status}: {out}");
        assert_eq!(out["data"]["status"], status);
    }
    let (code, out) = w
        .call(
            ADMIN,
            Some(ORG),
            "PATCH",
            &path,
            Some(json!({"status": "VOID"})),
            &[],
        )
        .await;
    assert_eq!(code, 422, "{out}");
    assert_eq!(
        out["message"],
        "status: Input should be 'ACTIVE', 'CANCELLED' or 'EXERCISED_OUT'"
    );

    // 13. A create for a TERMINATED member is refused like one for an INVITED member.
    let daniel = w.member("daniel.okafor").membership_id;
    sqlx::query("UPDATE org_memberships SET employment_status = 'TERMINATED' WHERE id = $1")
        .bind(daniel)
        .execute(&w.app.db)
        .await
        .unwrap();
    let body = json!({"grant_date": "2026-01-15", "total_shares": 5, "exercise_price": 2, "vesting_strategy": "IMMEDIATE"});
    for suffix in ["", "/preview"] {
        let (status, out) = post(
            &w,
            &format!("/org/users/{daniel}/stock/grants{suffix}"),
            body.clone(),
        )
        .await;
        assert_eq!(status, 400, "{suffix}: {out}");
        assert_eq!(
            out["message"],
            "Membership must be ACTIVE to assign stock grants"
        );
    }
    let (status, out) = post(
        &w,
        &format!(
            "/org/users/{}/stock/grants",
            w.member("pending").membership_id
        ),
        body,
    )
    .await;
    assert_eq!(status, 400, "{out}");

    // 5. A token of another org with this org's X-Org-Id.
    crate::fixtures::create_org(&w.app, "acme-corp", "Acme Corp").await;
    let other = crate::fixtures::create_member(
        &w.app,
        "acme-corp",
        crate::fixtures::MemberSpec::admin("acme-admin@example.com"),
    )
    .await;
    let session = w.app.sign_in(&other).await;
    let (status, out) = w
        .app
        .call("GET", &grants)
        .token(&session.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        out,
        crate::helpers::sample(
            crate::stock_support::FILE,
            "list grants 403 token of another org with X-Org-Id of this org"
        )["response"]["body"]
    );
}

/// Scenario 24.
#[tokio::test]
async fn a_cancelled_grant_is_listed_but_left_out_of_every_total() {
    let w = World::new().await;
    let priya = w.member("priya.sharma").membership_id;
    let summary_path = format!("/org/users/{priya}/stock/summary");
    let before = get(&w, ADMIN, &summary_path).await;
    let landing_before = get(&w, EMPLOYEE, "/me/dashboard/summary").await;
    let org_before = get(&w, ADMIN, "/org/dashboard/stock-summary").await;
    assert_eq!(before["grant_count"], 2);

    let bonus = grant_of(&w, "priya.sharma", date!(2025 - 02 - 01)).await;
    let (status, out) = w
        .call(
            ADMIN,
            Some(ORG),
            "PATCH",
            &format!("/org/stock/grants/{bonus}"),
            Some(json!({"status": "CANCELLED"})),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{out}");

    let list = get(&w, ADMIN, &format!("/org/users/{priya}/stock/grants")).await;
    assert_eq!(list["total"], 2);
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["id"] == json!(bonus.to_string()) && g["status"] == "CANCELLED")
    );
    let after = get(&w, ADMIN, &summary_path).await;
    assert_eq!(after["grant_count"], 1);
    assert_eq!(after["total_granted_shares"], 7500);
    assert_eq!(
        after["total_vested_shares"],
        json!(before["total_vested_shares"].as_i64().unwrap() - 1500)
    );
    assert!(
        after["grants"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["grant_id"] != json!(bonus.to_string()))
    );
    let landing = get(&w, EMPLOYEE, "/me/dashboard/summary").await;
    assert_eq!(landing["stock_totals"]["grant_count"], 1);
    assert_eq!(
        landing["stock_totals"]["total_granted_shares"],
        json!(
            landing_before["stock_totals"]["total_granted_shares"]
                .as_i64()
                .unwrap()
                - 1500
        )
    );
    assert_eq!(landing["grants_total"], 1);
    let org = get(&w, ADMIN, "/org/dashboard/stock-summary").await;
    let n = |v: &Value, k: &str| v["totals"][k].as_i64().unwrap();
    assert_eq!(n(&org, "grant_count"), n(&org_before, "grant_count") - 1);
    assert_eq!(
        n(&org, "total_granted_shares"),
        n(&org_before, "total_granted_shares") - 1500
    );
    assert_eq!(org["grant_mix"]["by_status"]["CANCELLED"], 1);
    assert_eq!(
        org["grant_mix"]["by_status"]["ACTIVE"],
        json!(n(&org_before, "grant_count") - 1)
    );
}

/// Scenarios 43, 44 and the first half of 47, replayed from the recording: robert's loan is
/// submitted (2000 shares reserved), read, then activated by a write that does not drop the
/// cached summaries (the legacy loan activation; Q9), so the day's entry shared by the admin
/// view and `/me/stock/summary` stays SUBMITTED while another day is computed fresh.
#[tokio::test]
async fn a_reservation_shows_in_the_summaries_through_the_shared_cache() {
    let w = World::new().await;
    let robert = w.member("robert.kim").membership_id;
    // (Another day than the one read below: reservations do not drop the cached dashboards.)
    let dash_before = get(&w, ADMIN, "/org/dashboard/stock-summary?as_of=2026-12-10").await;
    assert_eq!(dash_before["totals"]["total_reserved_shares"], 0);
    let loan_id = loan(&w, robert, 2000, "SUBMITTED").await;
    let grant = grant_of(&w, "robert.kim", date!(2021 - 02 - 01)).await;
    reserve(&w, "robert.kim", loan_id, grant, 2000).await;

    // 43.
    w.replay(
        "member stock summary before the loan is activated (SUBMITTED; now cached for 300 s)",
        ADMIN,
    )
    .await;
    let dash = get(&w, ADMIN, "/org/dashboard/stock-summary?as_of=2026-12-09").await;
    assert_eq!(dash["totals"]["total_reserved_shares"], 2000);
    assert_eq!(
        dash["reservation_pressure"]["reserved_by_status"],
        json!({"SUBMITTED": 2000})
    );

    // 44. The activation (reservation → ACTIVE), with nothing invalidated.
    let mut tx = w.app.db.begin().await.unwrap();
    let changed = reservations::set_status_for_application(&mut tx, ORG, loan_id, "ACTIVE")
        .await
        .unwrap();
    assert_eq!(changed, 1);
    tx.commit().await.unwrap();
    w.replay(
        "member stock summary right after the activation: cached copy, reservation still shown SUBMITTED",
        ADMIN,
    )
    .await;
    w.replay(
        "my stock summary as_of today: same cache entry as the admin view, same stale copy",
        Some("robert.kim"),
    )
    .await;
    // 47. ACTIVE still holds the shares.
    w.replay(
        "member stock summary as_of tomorrow: new cache key, computed fresh (reservation ACTIVE)",
        ADMIN,
    )
    .await;

    // The invalidation the loan domain runs after its commit makes today's entry fresh too.
    sole::services::stock::cache::invalidate_member(&w.app.cache, ORG, robert).await;
    let fresh = get(&w, ADMIN, &format!("/org/users/{robert}/stock/summary")).await;
    assert_eq!(fresh["active_reservations"][0]["status"], "ACTIVE");
    assert_eq!(fresh["total_reserved_shares"], 2000);
}

/// Scenario 47, second half: the admin's `PATCH /org/loans/{id} {"status":"IN_REVIEW"}`. The
/// legacy service answered 200 and rolled the change back, so the reservation stayed SUBMITTED
/// (Q28); `sole` commits it (README, deliberate differences): the loan and its reservation are
/// IN_REVIEW and the shares stay reserved, and the member's summary shows it at once.
#[tokio::test]
async fn a_loan_set_in_review_keeps_its_shares_reserved_and_says_so() {
    let w = World::new().await;
    let robert = w.member("robert.kim").membership_id;
    let loan_id = loan(&w, robert, 2000, "SUBMITTED").await;
    let grant = grant_of(&w, "robert.kim", date!(2021 - 02 - 01)).await;
    reserve(&w, "robert.kim", loan_id, grant, 2000).await;
    let summary_path = format!("/org/users/{robert}/stock/summary");
    let before = get(&w, ADMIN, &summary_path).await;
    assert_eq!(before["active_reservations"][0]["status"], "SUBMITTED");

    let (status, body) = w
        .call(
            ADMIN,
            Some(ORG),
            "PATCH",
            &format!("/org/loans/{loan_id}"),
            Some(json!({"status": "IN_REVIEW"})),
            &[],
        )
        .await;
    // The recorded answer's shape: 200 with the loan, now IN_REVIEW.
    let recorded = crate::helpers::sample(
        crate::stock_support::FILE,
        "context (loans): PATCH /org/loans/{id} to IN_REVIEW answers 200 ...",
    );
    assert_eq!(status, recorded["response"]["status"], "{body}");
    assert_eq!(body["data"]["status"], "IN_REVIEW", "{body}");
    assert_eq!(body["data"]["id"], json!(loan_id.to_string()));

    // Read through the cache the summary above filled: the decision dropped it.
    let after = get(&w, ADMIN, &summary_path).await;
    assert_eq!(after["active_reservations"][0]["status"], "IN_REVIEW");
    assert_eq!(
        after["active_reservations"][0]["loan_application_id"],
        json!(loan_id.to_string())
    );
    assert_eq!(
        after["total_reserved_shares"],
        before["total_reserved_shares"]
    );
    assert_eq!(
        after["total_available_vested_shares"],
        before["total_available_vested_shares"]
    );
    let mine = w
        .call(
            Some("robert.kim"),
            Some(ORG),
            "GET",
            "/me/stock/summary",
            None,
            &[],
        )
        .await;
    assert_eq!(mine.0, 200, "{}", mine.1);
    assert_eq!(
        mine.1["data"]["active_reservations"][0]["status"],
        "IN_REVIEW"
    );
}

/// Scenarios 45, 46 and 51, replayed from the recording where they can be: evan's SUBMITTED
/// loan of 3000 shares on the grant that is then cancelled.
#[tokio::test]
async fn cancelling_the_grant_behind_a_reservation_keeps_the_legacy_sums() {
    let w = World::new().await;
    replay_grant_history(&w).await;
    let evan = w.member("evan.chen").membership_id;
    let loan_id = loan(&w, evan, 3000, "SUBMITTED").await;
    let grant = grant_of(&w, "evan.chen", date!(2021 - 04 - 01)).await;
    reserve(&w, "evan.chen", loan_id, grant, 3000).await;
    w.replay(
        "member stock summary: evan with a SUBMITTED loan of 3000 shares",
        ADMIN,
    )
    .await;
    let dash = get(&w, ADMIN, "/org/dashboard/stock-summary").await;
    // 51. reserved / vested × 100, two places, half up.
    let vested = dash["totals"]["total_vested_shares"].as_i64().unwrap();
    let expected = rust_decimal::Decimal::from(3000 * 100) / rust_decimal::Decimal::from(vested);
    let expected =
        expected.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    assert_eq!(
        dash["reservation_pressure"]["reserved_share_percent_of_vested"],
        format!("{expected:.2}")
    );
    assert_eq!(dash["totals"]["total_reserved_shares"], 3000);

    // 45. Cancelling the grant is allowed (Q7); the reservation is still listed, not counted.
    w.replay("cancel the grant that backs a reservation (allowed)", ADMIN)
        .await;
    w.replay(
        "member stock summary after cancelling the reserved grant (reservation listed, not counted)",
        ADMIN,
    )
    .await;
    // 46. The org dashboard leaves it out of the totals but its reserved_by_status counts it.
    let dash = get(&w, ADMIN, "/org/dashboard/stock-summary").await;
    assert_eq!(dash["totals"]["total_reserved_shares"], 0);
    assert_eq!(
        dash["reservation_pressure"]["reserved_by_status"],
        json!({"SUBMITTED": 3000})
    );
    assert_eq!(
        dash["reservation_pressure"]["reserved_share_percent_of_vested"],
        "0.00"
    );
    w.replay("reactivate the grant", ADMIN).await;
    let dash = get(&w, ADMIN, "/org/dashboard/stock-summary").await;
    assert_eq!(dash["totals"]["total_reserved_shares"], 3000);

    // 51. Nothing vested yet: "0.00".
    let early = get(&w, ADMIN, "/org/dashboard/stock-summary?as_of=2019-01-01").await;
    assert_eq!(early["totals"]["total_vested_shares"], 0);
    assert_eq!(
        early["reservation_pressure"]["reserved_share_percent_of_vested"],
        "0.00"
    );
}

/// Scenarios 56 and 57, replayed: an HR user assigned to a workflow stage, and robert with
/// an ACTIVE loan, one repayment and the two post-activation stages (created together, Q30).
#[tokio::test]
async fn the_landing_page_shows_loans_repayments_and_pending_actions_as_recorded() {
    let w = World::new().await;
    let robert = w.member("robert.kim").membership_id;
    let loan_id = loan(&w, robert, 2000, "SUBMITTED").await;
    let grant = grant_of(&w, "robert.kim", date!(2021 - 02 - 01)).await;
    reserve(&w, "robert.kim", loan_id, grant, 2000).await;
    let mut tx = w.app.db.begin().await.unwrap();
    reservations::set_status_for_application(&mut tx, ORG, loan_id, "ACTIVE")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    sqlx::query(
        "UPDATE loan_applications SET status = 'ACTIVE', activation_date = $2, \
         election_83b_due_date = $3 WHERE id = $1",
    )
    .bind(loan_id)
    .bind(TODAY)
    .bind(date!(2027 - 01 - 06))
    .execute(&w.app.db)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO loan_workflow_stages (id, org_id, loan_application_id, stage_type, status) \
         VALUES ($1, $3, $4, 'LEGAL_POST_ISSUANCE', 'PENDING'), \
                ($2, $3, $4, 'BORROWER_83B_ELECTION', 'PENDING')",
    )
    .bind(Uuid::new_v4())
    .bind(Uuid::new_v4())
    .bind(ORG)
    .bind(loan_id)
    .execute(&w.app.db)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO loan_repayments (id, org_id, loan_application_id, amount, principal_amount, \
         interest_amount, payment_date) VALUES ($1, $2, $3, 1635.26, 1540.26, 95, $4)",
    )
    .bind(Uuid::new_v4())
    .bind(ORG)
    .bind(loan_id)
    .bind(TODAY)
    .execute(&w.app.db)
    .await
    .unwrap();
    // The recording counted a DRAFT announcement; sole counts published ones only (Q13).
    let unread = &["/data/attention/unread_announcements_count"];
    w.replay_skipping(
        "self dashboard with an ACTIVE loan and one repayment",
        Some("robert.kim"),
        unread,
    )
    .await;
    // sole counts the days to the 83(b) deadline from `as_of` (Q17; the recording used today).
    let later = w
        .replay_skipping(
            "self dashboard of the same user 95 days later (missed payments)",
            Some("robert.kim"),
            &[unread[0], "/data/loan_summary/days_until_83b_due"],
        )
        .await;
    assert_eq!(later["data"]["loan_summary"]["days_until_83b_due"], -65);

    // 56. harper reviews evan's submitted loan.
    let evans = loan(&w, w.member("evan.chen").membership_id, 1000, "SUBMITTED").await;
    sqlx::query(
        "INSERT INTO loan_workflow_stages (id, org_id, loan_application_id, stage_type, status, \
         assigned_to_user_id) VALUES ($1, $2, $3, 'HR_REVIEW', 'IN_PROGRESS', $4)",
    )
    .bind(Uuid::new_v4())
    .bind(ORG)
    .bind(evans)
    .bind(w.member("harper.reed").user_id)
    .execute(&w.app.db)
    .await
    .unwrap();
    let ours = w
        .replay_skipping(
            "self dashboard of an HR user with an assigned workflow stage (pending action)",
            Some("harper.reed"),
            unread,
        )
        .await;
    assert_eq!(
        ours["data"]["attention"]["pending_actions"][0]["label"],
        format!("Review loan {evans} (HR_REVIEW)")
    );
    assert_eq!(
        ours["data"]["attention"]["pending_actions"][0]["related_id"],
        evans.to_string()
    );
}

/// Scenarios 50 and 52: the eligibility buckets agree with the members' own summaries (a
/// member failing both rules counts under `service`), and the membership snapshot counts
/// every membership.
#[tokio::test]
async fn the_org_dashboard_buckets_agree_with_the_member_summaries() {
    let w = World::new().await;
    w.settings(
        "enforce_service_duration_rule = true, min_service_duration_years = 3, \
         enforce_min_vested_to_exercise = true, min_vested_shares_to_exercise = 6000",
    )
    .await;
    let as_of = "2025-06-01";
    let dash = get(
        &w,
        ADMIN,
        &format!("/org/dashboard/stock-summary?as_of={as_of}"),
    )
    .await;
    let holders: Vec<Uuid> = sqlx::query_scalar(
        "SELECT DISTINCT org_membership_id FROM employee_stock_grants WHERE org_id = $1 AND status = 'ACTIVE'",
    )
    .bind(ORG)
    .fetch_all(&w.app.db)
    .await
    .unwrap();
    assert_eq!(dash["totals"]["program_employees"], json!(holders.len()));
    let (mut eligible, mut service, mut min_vested, mut other, mut both) = (0, 0, 0, 0, 0);
    for m in &holders {
        let s = get(
            &w,
            ADMIN,
            &format!("/org/users/{m}/stock/summary?as_of={as_of}"),
        )
        .await;
        let codes: Vec<&str> = s["eligibility_result"]["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["code"].as_str().unwrap())
            .collect();
        let has = |c: &str| codes.contains(&c);
        if s["eligibility_result"]["eligible_to_exercise"] == true {
            eligible += 1;
        } else if has("INSUFFICIENT_SERVICE_DURATION") {
            service += 1;
            both += usize::from(has("BELOW_MIN_VESTED_THRESHOLD"));
        } else if has("BELOW_MIN_VESTED_THRESHOLD") {
            min_vested += 1;
        } else {
            other += 1;
        }
    }
    assert!(both > 0, "some member fails both rules");
    let e = &dash["eligibility"];
    assert_eq!(
        [
            &e["eligible_to_exercise_count"],
            &e["not_eligible_due_to_service_count"],
            &e["not_eligible_due_to_min_vested_count"],
            &e["not_eligible_due_to_other_count"],
        ],
        [
            &json!(eligible),
            &json!(service),
            &json!(min_vested),
            &json!(other)
        ]
    );
    // 52. Every membership, with or without grants, invited ones included.
    let memberships: i64 =
        sqlx::query_scalar("SELECT count(*) FROM org_memberships WHERE org_id = $1")
            .bind(ORG)
            .fetch_one(&w.app.db)
            .await
            .unwrap();
    assert!(memberships > holders.len() as i64);
    for section in ["by_platform_status", "by_employment_status"] {
        let sum: i64 = dash["membership_snapshot"][section]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_i64().unwrap())
            .sum();
        assert_eq!(sum, memberships, "{section}");
    }
    assert_eq!(
        dash["membership_snapshot"]["by_platform_status"]["INVITED"],
        1
    );
}

/// Scenario 54: the required fields follow the country; the percent is rounded.
#[tokio::test]
async fn profile_completion_follows_the_country() {
    let w = World::new().await;
    let priya = w.member("priya.sharma").membership_id;
    let set = |sql: &'static str| {
        let db = w.app.db.clone();
        async move {
            sqlx::query(sql).bind(priya).execute(&db).await.unwrap();
        }
    };
    set("UPDATE org_user_profiles SET country = 'US', state = 'CA', phone_number = NULL WHERE membership_id = $1").await;
    let p = get(&w, EMPLOYEE, "/me/dashboard/summary").await["profile_completion"].clone();
    assert_eq!(p["missing_fields"], json!(["phone_number"]));
    assert_eq!(p["total_required_fields"], 7);
    assert_eq!(p["missing_count"], 1);
    assert_eq!(p["completion_percent"], 86);
    assert_eq!(p["is_complete"], false);
    set("UPDATE org_user_profiles SET country = NULL, state = NULL WHERE membership_id = $1").await;
    let p = get(&w, EMPLOYEE, "/me/dashboard/summary").await["profile_completion"].clone();
    assert_eq!(
        p["required_fields"],
        json!([
            "phone_number",
            "timezone",
            "marital_status",
            "country",
            "address_line1",
            "postal_code"
        ])
    );
    assert_eq!(p["total_required_fields"], 6);
    assert_eq!(p["missing_fields"], json!(["phone_number", "country"]));
    assert_eq!(p["completion_percent"], 67);
}

/// Scenario 62 and the remaining settings samples, after the recorded rule history.
#[tokio::test]
async fn the_self_policy_shows_the_stock_rules_as_recorded() {
    let w = World::new().await;
    w.settings("fixed_interest_rate_annual_percent = 6, policy_version = 2")
        .await;
    for name in [
        "settings: enforce both stock rules (3 years of service, 6000 vested shares)",
        "settings: only the service rule with 2.5 years",
    ] {
        w.replay(name, ADMIN).await;
    }
    let policy = get(&w, EMPLOYEE, "/self/policy").await;
    assert_eq!(policy["min_service_duration_years"], "2.50");
    assert_eq!(policy["enforce_service_duration_rule"], true);
    // The recording re-sent 2.5 here, which bumped policy_version (Q12): sole does not.
    let ours = w
        .replay_skipping(
            "settings: min vested rule with 0 shares (allowed)",
            ADMIN,
            &["/data/policy_version"],
        )
        .await;
    let version = ours["data"]["policy_version"].as_i64().unwrap();
    let ours = w
        .replay_skipping(
            "self policy (stock fields)",
            EMPLOYEE,
            &["/data/policy_version"],
        )
        .await;
    assert_eq!(ours["data"]["policy_version"], version);
    assert_eq!(ours["data"]["min_vested_shares_to_exercise"], 0);
    let ours = w
        .replay_skipping(
            "settings: turn the stock rules off (values auto-nulled)",
            ADMIN,
            &["/data/policy_version"],
        )
        .await;
    assert_eq!(ours["data"]["policy_version"], version + 1);
    // The admin's own summary without grants.
    w.replay("my stock summary of the superuser admin (no grants)", ADMIN)
        .await;
}

/// Issue 15 §5: without Redis the summaries are cached in the process under the same keys and
/// dropped by the same writes (a grant write, a settings update).
#[tokio::test]
async fn without_redis_the_summaries_are_cached_and_invalidated_in_process() {
    let w = World::without_redis().await;
    assert_eq!(w.app.cache.backend_name(), "memory");
    let priya = w.member("priya.sharma").membership_id;
    let path = format!("/org/users/{priya}/stock/summary");
    let key = sole::services::stock::cache::summary_key(&w.app.cache, ORG, priya, TODAY);
    let first = get(&w, ADMIN, &path).await;
    assert!(
        w.app.cache.get(&key).await.unwrap().is_some(),
        "cached in the process"
    );
    assert_eq!(get(&w, EMPLOYEE, "/me/stock/summary").await, first);
    let dash_key = sole::services::stock::cache::dashboard_key(&w.app.cache, ORG, TODAY);
    get(&w, ADMIN, "/org/dashboard/stock-summary").await;
    assert!(w.app.cache.get(&dash_key).await.unwrap().is_some());

    // A settings update drops the org's entries at once.
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
    assert!(w.app.cache.get(&key).await.unwrap().is_none());
    assert!(w.app.cache.get(&dash_key).await.unwrap().is_none());
    let ruled = get(&w, ADMIN, &path).await;
    assert_eq!(
        ruled["eligibility_result"]["reasons"][0]["code"],
        "BELOW_MIN_VESTED_THRESHOLD"
    );
    // A new grant drops the member's entries.
    let (status, _) = post(
        &w,
        &format!("/org/users/{priya}/stock/grants"),
        json!({"grant_date": "2026-01-01", "total_shares": 10, "exercise_price": "1", "vesting_strategy": "IMMEDIATE"}),
    )
    .await;
    assert_eq!(status, 201);
    assert!(w.app.cache.get(&key).await.unwrap().is_none());
    assert_eq!(get(&w, ADMIN, &path).await["grant_count"], 3);
}
