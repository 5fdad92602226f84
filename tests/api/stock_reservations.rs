//! Reservations (contract §6): the loan side reserves vested shares through
//! `services::stock::reservations::reserve`; the stock endpoints show them.

use serde_json::json;
use sole::domain::stock::reservations::Allocation;
use sole::services::stock::reservations::{self, ReserveError};
use uuid::Uuid;

use crate::stock_support::{ORG, TODAY, World};

/// A SUBMITTED loan application of `membership_id` (only the NOT NULL columns).
async fn loan_application(w: &World, membership_id: Uuid, shares: i64) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO loan_applications (id, org_id, org_membership_id, status, version, as_of_date, \
         selection_mode, selection_value_snapshot, shares_to_exercise, total_exercisable_shares_snapshot, \
         purchase_price, down_payment_amount, loan_principal, interest_type, repayment_method, term_months, \
         nominal_annual_rate_percent, estimated_monthly_payment, total_payable_amount, total_interest_amount, \
         quote_inputs_snapshot, quote_option_snapshot, allocation_strategy, allocation_snapshot, \
         org_settings_snapshot, eligibility_result_snapshot) VALUES ($1, $2, $3, 'SUBMITTED', 1, $4, \
         'SHARES', $5, $5, $5, 1000, 0, 1000, 'FIXED', 'PRINCIPAL_AND_INTEREST', 12, 6, 86, 1032, 32, \
         '{}', '{}', 'OLDEST_VESTED_FIRST', '[]', '{}', '{}')",
    )
    .bind(id)
    .bind(ORG)
    .bind(membership_id)
    .bind(TODAY)
    .bind(shares)
    .execute(&w.app.db)
    .await
    .unwrap();
    id
}

#[tokio::test]
async fn two_concurrent_reservations_cannot_oversubscribe_a_grant() {
    let w = World::new().await;
    // robert: 9000 shares of the 2021 grant, all vested.
    let robert = w.member("robert.kim").membership_id;
    let grant: Uuid = sqlx::query_scalar(
        "SELECT id FROM employee_stock_grants WHERE org_membership_id = $1 AND grant_date = '2021-02-01'",
    )
    .bind(robert)
    .fetch_one(&w.app.db)
    .await
    .unwrap();
    let first_loan = loan_application(&w, robert, 6000).await;
    let second_loan = loan_application(&w, robert, 6000).await;
    let wanted = [Allocation {
        grant_id: grant,
        shares: 6000,
    }];

    // The first reservation holds the grant locks until it commits.
    let mut first = w.app.db.begin().await.unwrap();
    reservations::reserve(
        &mut first,
        ORG,
        robert,
        first_loan,
        &wanted,
        "SUBMITTED",
        TODAY,
    )
    .await
    .unwrap();
    let pool = w.app.db.clone();
    let second = tokio::spawn(async move {
        let mut tx = pool.begin().await.unwrap();
        let out = reservations::reserve(
            &mut tx,
            ORG,
            robert,
            second_loan,
            &wanted,
            "SUBMITTED",
            TODAY,
        )
        .await;
        if out.is_ok() {
            tx.commit().await.unwrap();
        }
        out.map(|_| ())
    });
    // Wait until the second one is blocked on the first one's row locks (the test pool's two
    // connections are both in use: watch from a third).
    let mut watcher = crate::helpers::connect(&w.app.db_name).await;
    let mut waits = 0;
    loop {
        let blocked: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock'",
        )
        .fetch_one(&mut watcher)
        .await
        .unwrap();
        if blocked > 0 {
            break;
        }
        waits += 1;
        assert!(
            waits < 500,
            "the second reservation never waited for the lock"
        );
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    first.commit().await.unwrap();
    match second.await.unwrap() {
        Err(ReserveError::Insufficient(e)) => {
            assert_eq!(e.grant_id, grant);
            assert_eq!(e.available_vested_shares, 3000);
            assert_eq!(e.requested_shares, 6000);
        }
        other => panic!("expected insufficient shares, got {other:?}"),
    }
    let reserved: i64 = sqlx::query_scalar(
        "SELECT COALESCE(sum(shares_reserved), 0)::bigint FROM stock_grant_reservations WHERE grant_id = $1",
    )
    .bind(grant)
    .fetch_one(&w.app.db)
    .await
    .unwrap();
    assert_eq!(reserved, 6000);
}

#[tokio::test]
async fn summaries_and_dashboards_show_reservations() {
    let w = World::new().await;
    let robert = w.member("robert.kim").membership_id;
    let grant: Uuid = sqlx::query_scalar(
        "SELECT id FROM employee_stock_grants WHERE org_membership_id = $1 AND grant_date = '2021-02-01'",
    )
    .bind(robert)
    .fetch_one(&w.app.db)
    .await
    .unwrap();
    let loan = loan_application(&w, robert, 2000).await;
    let mut tx = w.app.db.begin().await.unwrap();
    reservations::reserve(
        &mut tx,
        ORG,
        robert,
        loan,
        &[Allocation {
            grant_id: grant,
            shares: 2000,
        }],
        "SUBMITTED",
        TODAY,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // Worked example C of the contract.
    let (status, out) = w
        .call(
            Some("admin"),
            Some(ORG),
            "GET",
            &format!("/org/users/{robert}/stock/summary"),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let d = &out["data"];
    assert_eq!(d["total_reserved_shares"], 2000);
    assert_eq!(d["total_available_vested_shares"], 11000);
    assert_eq!(d["active_reservations"][0]["status"], "SUBMITTED");
    assert_eq!(d["active_reservations"][0]["shares_reserved"], 2000);
    let oldest = &d["grants"][1];
    assert_eq!(
        (
            oldest["reserved_shares"].clone(),
            oldest["available_vested_shares"].clone()
        ),
        (json!(2000), json!(7000))
    );
    let (_, landing) = w
        .call(
            Some("robert.kim"),
            Some(ORG),
            "GET",
            "/me/dashboard/summary",
            None,
            &[],
        )
        .await;
    let r = &landing["data"]["reservations"];
    assert_eq!(r["reserved_share_percent_of_vested"], "15.38");
    assert_eq!(r["reserved_by_status"], json!({"SUBMITTED": 2000}));
    assert_eq!(
        landing["data"]["stock_totals"]["weighted_avg_exercise_price"],
        "12.42"
    );
    assert_eq!(
        landing["data"]["loan_summary"]["total_loan_applications"],
        1
    );
    assert_eq!(landing["data"]["loan_summary"]["pending_loans_count"], 1);
    let (_, dash) = w
        .call(
            Some("admin"),
            Some(ORG),
            "GET",
            "/org/dashboard/stock-summary",
            None,
            &[],
        )
        .await;
    assert_eq!(dash["data"]["totals"]["total_reserved_shares"], 2000);
    assert_eq!(
        dash["data"]["reservation_pressure"]["reserved_by_status"],
        json!({"SUBMITTED": 2000})
    );

    // A completed loan releases its shares (the legacy service kept them reserved, Q11).
    let mut tx = w.app.db.begin().await.unwrap();
    reservations::set_status_for_application(&mut tx, ORG, loan, "COMPLETED")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let (_, out) = w
        .call(
            Some("admin"),
            Some(ORG),
            "GET",
            &format!("/org/users/{robert}/stock/summary?as_of=2026-12-08"),
            None,
            &[],
        )
        .await;
    assert_eq!(out["data"]["total_reserved_shares"], 0);
    assert_eq!(out["data"]["active_reservations"], json!([]));
}
