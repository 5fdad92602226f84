//! The org loan dashboard (`GET /org/dashboard/loan-summary`, loans contract §2.16/§10) and
//! the loan figures of the workspace landing page (`GET /me/dashboard/summary`).

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::json as read_json;
use crate::loan_view_support::{LoanRow, LoanWorld, ORG, OTHER_ORG, TODAY, sample};

async fn summary(w: &LoanWorld, who: Option<&str>, org: Option<&str>, query: &str) -> (u16, Value) {
    read_json(
        w.request(
            who,
            org,
            "GET",
            &format!("/org/dashboard/loan-summary{query}"),
            None,
        )
        .await,
    )
    .await
}

fn recorded(name: &str) -> (u16, Value) {
    let s = sample(name);
    (
        s["response"]["status"].as_u64().unwrap() as u16,
        s["response"]["body"].clone(),
    )
}

#[tokio::test]
async fn the_dashboard_of_the_recorded_portfolio_matches_the_recording() {
    let w = LoanWorld::new().await;
    w.recorded_portfolio().await;
    let got = summary(&w, Some("admin"), Some(ORG), "").await;
    assert_eq!(got, recorded("loan-summary 200"));
    // `as_of` only moves the 30-day windows.
    let got = summary(&w, Some("admin"), Some(ORG), "?as_of=2026-01-01").await;
    assert_eq!(got, recorded("loan-summary 200 as_of=2026-01-01"));
}

#[tokio::test]
async fn another_org_sees_bare_zeros() {
    let w = LoanWorld::new().await;
    w.recorded_portfolio().await;
    let got = summary(&w, Some("admin"), Some(OTHER_ORG), "").await;
    assert_eq!(got, recorded("loan-summary 200 other org (zeros)"));
}

#[tokio::test]
async fn guards_and_validation_answer_as_recorded() {
    let w = LoanWorld::new().await;
    assert_eq!(
        summary(&w, Some("borrower"), Some(ORG), "").await,
        recorded("loan-summary 403 employee (loan.dashboard.view)")
    );
    assert_eq!(
        summary(&w, Some("admin"), Some(ORG), "?as_of=2026-13-01").await,
        recorded("loan-summary 422 as_of invalid")
    );
    assert_eq!(
        summary(&w, None, None, "").await,
        recorded("loan-summary 400 no token and no X-Org-Id")
    );
    let (status, body) = summary(&w, None, Some(ORG), "").await;
    assert_eq!(
        (status, body["message"].clone()),
        (401, json!("Not authenticated"))
    );
}

#[tokio::test]
async fn the_dashboard_counts_completed_draft_and_balloon_loans() {
    let w = LoanWorld::new().await;
    // A completed loan paid a cent above its quoted total: its shares move to the completed
    // total and its payments stay in the paid and interest sums.
    let mut done = LoanRow::l1().with_status("COMPLETED");
    done.id = Uuid::new_v4();
    let done = w.insert_loan(&done).await;
    w.insert_repayment(
        &crate::loan_view_support::RepaymentRow {
            id: Uuid::new_v4(),
            loan: done,
            amount: "2588.890000",
            principal: "2500.000000",
            interest: "88.890000",
            payment_date: TODAY,
            created_at: "2026-12-07T01:00:00Z".to_owned(),
        },
        None,
    )
    .await;
    let mut draft = LoanRow::submitted("married").with_status("DRAFT");
    draft.interest_type = "VARIABLE";
    draft.created_at = "2026-10-01T00:00:00Z";
    w.insert_loan(&draft).await;
    let mut balloon = LoanRow::lb();
    balloon.method = "BALLOON";
    balloon.interest_type = "VARIABLE";
    w.insert_loan(&balloon).await;

    let (status, body) = summary(&w, Some("admin"), Some(ORG), "").await;
    assert_eq!(status, 200, "{body}");
    let d = &body["data"];
    assert_eq!(
        d["status_counts"],
        json!({"ACTIVE": 1, "COMPLETED": 1, "DRAFT": 1})
    );
    assert_eq!(d["total_loans"], 3);
    assert_eq!(d["approved_count"], 2);
    assert_eq!(d["draft_count"], 1);
    assert_eq!(d["created_last_30_days"], 2);
    assert_eq!(d["activated_last_30_days"], 2);
    assert_eq!(d["active_loan_principal_sum"], "450.000000");
    assert_eq!(d["sum_amount_paid"], "2588.890000");
    assert_eq!(d["sum_amount_owed"], "459.230000");
    assert_eq!(d["interest_earned_total"], "88.890000");
    assert_eq!(d["active_loan_total_shares"], 150);
    assert_eq!(d["completed_loan_total_shares"], 1000);
    assert_eq!(d["active_fixed_count"], 0);
    assert_eq!(d["active_variable_count"], 1);
    assert_eq!(d["active_balloon_count"], 1);
    assert_eq!(d["active_principal_and_interest_count"], 0);
    assert_eq!(d["open_stage_counts"], json!({}));
}

// ---------------------------------------------------------------------------------------------
// The loan figures of `GET /me/dashboard/summary`
// ---------------------------------------------------------------------------------------------

const STOCK: &str = "domain-stock.json";

/// robert of the stock samples: a loan for 2000 shares (12 months, 6 % fixed, P&I) activated
/// on the recording day, its first instalment paid the same day.
#[tokio::test]
async fn the_landing_page_shows_the_active_loan_as_recorded() {
    let w = crate::stock_support::World::new().await;
    let robert = w.member("robert.kim").membership_id;
    let loan = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO loan_applications (id, org_id, org_membership_id, status, version, as_of_date, \
         selection_mode, selection_value_snapshot, shares_to_exercise, total_exercisable_shares_snapshot, \
         purchase_price, down_payment_amount, loan_principal, interest_type, repayment_method, term_months, \
         nominal_annual_rate_percent, estimated_monthly_payment, total_payable_amount, total_interest_amount, \
         quote_inputs_snapshot, quote_option_snapshot, allocation_strategy, allocation_snapshot, \
         org_settings_snapshot, eligibility_result_snapshot, activation_date, election_83b_due_date) \
         VALUES ($1, $2, $3, 'ACTIVE', 4, '2026-12-07', 'SHARES', 2000, 2000, 13000, 19000, 0, 19000, \
         'FIXED', 'PRINCIPAL_AND_INTEREST', 12, 6, 1635.26, 19623.12, 623.12, '{}', '{}', \
         'OLDEST_VESTED_FIRST', '[]', '{}', '{}', '2026-12-07T00:37:02Z', '2027-01-06')",
    )
    .bind(loan)
    .bind(ORG)
    .bind(robert)
    .execute(&w.app.db)
    .await
    .unwrap();
    for (stage, status, at) in [
        ("HR_REVIEW", "COMPLETED", "2026-12-07T00:37:00Z"),
        ("FINANCE_PROCESSING", "COMPLETED", "2026-12-07T00:37:00Z"),
        ("LEGAL_EXECUTION", "COMPLETED", "2026-12-07T00:37:00Z"),
        ("LEGAL_POST_ISSUANCE", "PENDING", "2026-12-07T00:37:02Z"),
        ("BORROWER_83B_ELECTION", "PENDING", "2026-12-07T00:37:02Z"),
    ] {
        sqlx::query(
            "INSERT INTO loan_workflow_stages (id, org_id, loan_application_id, stage_type, status, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6::timestamptz, $6::timestamptz)",
        )
        .bind(Uuid::new_v4())
        .bind(ORG)
        .bind(loan)
        .bind(stage)
        .bind(status)
        .bind(at)
        .execute(&w.app.db)
        .await
        .unwrap();
    }
    sqlx::query(
        "INSERT INTO loan_repayments (id, org_id, loan_application_id, amount, principal_amount, \
         interest_amount, payment_date) VALUES ($1, $2, $3, 1635.26, 1540.26, 95, '2026-12-07')",
    )
    .bind(Uuid::new_v4())
    .bind(ORG)
    .bind(loan)
    .execute(&w.app.db)
    .await
    .unwrap();

    let session = w.session("robert.kim").await;
    let (status, out) = w
        .app
        .call("GET", "/me/dashboard/summary")
        .token(&session.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 200, "{out}");
    let expected = crate::helpers::sample(
        STOCK,
        "self dashboard with an ACTIVE loan and one repayment",
    );
    let expected = &expected["response"]["body"]["data"];
    let mut want = expected["loan_summary"].clone();
    want["active_loan_id"] = json!(loan.to_string());
    assert_eq!(out["data"]["loan_summary"], want);
    assert_eq!(
        out["data"]["repayment_activity"],
        expected["repayment_activity"]
    );

    // A month later the first open instalment is missed.
    let (status, out) = w
        .app
        .call("GET", "/me/dashboard/summary?as_of=2027-02-08")
        .token(&session.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 200, "{out}");
    let s = &out["data"]["loan_summary"];
    assert_eq!(s["missed_payment_count"], 1);
    assert_eq!(s["missed_payment_dates"], json!(["2027-02-07"]));
    assert_eq!(s["missed_payment_amount_total"], "1635.26");
    assert_eq!(s["next_payment_date"], "2027-02-07");
}
