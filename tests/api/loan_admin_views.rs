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

#[tokio::test]
async fn documents_are_grouped_by_stage_and_repayments_listed_newest_first() {
    let w = World::new().await;
    let a = w.loan('A');
    w.replay("list loan documents 403 employee", Some("borrower"))
        .await;
    w.replay("repayments list 403 HR user", HR).await;
    let notice = w
        .add_document(a, "HR_REVIEW", "NOTICE_OF_STOCK_OPTION_GRANT")
        .await;
    let pay = w
        .add_document(a, "FINANCE_PROCESSING", "PAYMENT_INSTRUCTIONS")
        .await;
    let consent = w
        .add_document(a, "HR_REVIEW", "SPOUSE_PARTNER_CONSENT")
        .await;
    sqlx::query(
        "UPDATE loan_documents SET uploaded_at = now() + interval '1 minute' WHERE id = $1",
    )
    .bind(consent)
    .execute(&w.app.db)
    .await
    .unwrap();
    let (status, body) = w
        .as_("hr", "GET", &format!("/org/loans/{a}/documents"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    assert_eq!(data["total"], 3);
    let groups: Vec<(String, Vec<String>)> = data["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["stage_type"].as_str().unwrap().to_owned(),
                g["documents"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d["id"].as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        vec![
            ("FINANCE_PROCESSING".to_owned(), vec![pay.to_string()]),
            (
                "HR_REVIEW".to_owned(),
                vec![consent.to_string(), notice.to_string()]
            ),
        ]
    );
    let doc = &data["groups"][0]["documents"][0];
    let recorded = crate::helpers::sample(
        crate::loan_admin_support::FILE,
        "list loan documents (grouped by stage)",
    );
    let recorded_doc = &recorded["response"]["body"]["data"]["groups"][0]["documents"][0];
    let doc_keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
    let recorded_keys: Vec<&String> = recorded_doc.as_object().unwrap().keys().collect();
    assert_eq!(doc_keys, recorded_keys);
    assert_eq!(doc["uploaded_by_name"], w.member("admin").email);
    let (status, _) = w
        .as_(
            "hr",
            "GET",
            "/org/loans/00000000-0000-4000-8000-000000000000/documents",
            None,
        )
        .await;
    assert_eq!(status, 404);

    for (date, amount) in [("2027-01-07", "678.38"), ("2027-02-07", "100")] {
        sqlx::query(
            "INSERT INTO loan_repayments (id, org_id, loan_application_id, amount, principal_amount, \
             interest_amount, payment_date, recorded_by_user_id) \
             VALUES ($1, 'sole-llc', $2, $3::numeric, 0, 0, $4::date, $5)",
        )
        .bind(uuid::Uuid::new_v4())
        .bind(a)
        .bind(amount)
        .bind(date)
        .bind(w.member("finance").user_id)
        .execute(&w.app.db)
        .await
        .unwrap();
    }
    let (status, body) = w
        .as_(
            "finance",
            "GET",
            &format!("/org/loans/{a}/repayments"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let items = body["data"]["items"].as_array().unwrap();
    assert_eq!(body["data"]["total"], 2);
    assert_eq!(items[0]["payment_date"], "2027-02-07");
    assert_eq!(items[0]["amount"], "100.000000");
    assert_eq!(items[0]["principal_amount"], "0.000000");
    assert_eq!(items[1]["amount"], "678.380000");
    assert_eq!(items[1]["recorded_by_name"], w.member("finance").email);
    let recorded = crate::helpers::sample(crate::loan_admin_support::FILE, "repayments list");
    let keys =
        |v: &serde_json::Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(
        keys(&items[0]),
        keys(&recorded["response"]["body"]["data"]["items"][0])
    );
    assert_eq!(
        keys(&body["data"]),
        keys(&recorded["response"]["body"]["data"])
    );
}
