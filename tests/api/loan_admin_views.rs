//! The admin loan detail and the HR, finance and legal views against the legacy goldens
//! (loan-admin §3.4, §3.12, §5.2, §5.8; scenario 3 of §15).

use serde_json::json;

use crate::loan_admin_support::World;

const ADMIN: Option<&str> = Some("admin");
const HR: Option<&str> = Some("hr");

#[tokio::test]
async fn the_detail_has_the_55_keys_and_refuses_like_the_legacy() {
    let w = World::new().await;
    let body = w.replay("loan detail (SUBMITTED)", ADMIN).await;
    assert_eq!(body["data"].as_object().unwrap().len(), 55);
    w.replay("loan detail 422 non-uuid id", ADMIN).await;
    w.replay(
        "loan detail 404 cross-org (superuser with X-Org-Id other-org)",
        ADMIN,
    )
    .await;
    w.replay("loan detail 403 HR user with foreign X-Org-Id", HR)
        .await;
    let (status, body) = w
        .as_(
            "admin",
            "GET",
            "/org/loans/00000000-0000-4000-8000-000000000000",
            None,
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["message"], "Loan application not found");
    let (status, _) = w
        .as_(
            "borrower",
            "GET",
            &format!("/org/loans/{}", w.loan('A')),
            None,
        )
        .await;
    assert_eq!(status, 403);
    // A draft has no stages and still a payment status from its quote date.
    let (status, body) = w
        .as_("admin", "GET", &format!("/org/loans/{}", w.loan('C')), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["workflow_stages"], json!([]));
    assert_eq!(body["data"]["next_payment_date"], "2027-01-07");
    assert_eq!(body["data"]["missed_payment_amount_total"], "0");
}

#[tokio::test]
async fn stage_views_show_the_loan_its_stage_and_for_hr_the_stock_summary() {
    let w = World::new().await;
    w.replay("assign HR stage to self (HR user, empty body)", HR)
        .await;
    w.replay(
        "assign FINANCE stage to finance user (admin with assign.any)",
        ADMIN,
    )
    .await;
    // workflow_stages come in creation then canonical order; the recording shows the
    // database's physical order, which moves a row on every update.
    w.replay_with(
        "HR review view",
        HR,
        &[],
        &["/data/loan_application/workflow_stages"],
    )
    .await;
    w.replay("HR review view 403 finance user", Some("finance"))
        .await;
    // The recording registered documents before these views; compare the rest.
    w.replay_with(
        "finance view",
        Some("finance"),
        &[],
        &[
            "/data/loan_application/documents",
            "/data/finance_stage",
            "/data/loan_application/workflow_stages",
        ],
    )
    .await;
    let (status, body) = w
        .as_(
            "legal",
            "GET",
            &format!("/org/loans/{}/legal", w.loan('A')),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["legal_stage"]["stage_type"], "LEGAL_EXECUTION");
    assert_eq!(body["data"]["legal_stage"]["status"], "PENDING");
    // A draft has no stage: null, not 404.
    let (status, body) = w
        .as_(
            "legal",
            "GET",
            &format!("/org/loans/{}/legal", w.loan('C')),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["legal_stage"], json!(null));
    let (status, _) = w
        .as_(
            "legal",
            "GET",
            &format!("/org/loans/{}/hr", w.loan('A')),
            None,
        )
        .await;
    assert_eq!(status, 403);
}
