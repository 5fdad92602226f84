//! The admin edit of a loan (loan-admin §5.4; scenario 19 of §15) against the legacy goldens,
//! with the deliberate differences: the edit is committed (Q1), the re-quote does not count
//! the loan's own reservation (Q10), and `delete_documents` deletes instead of answering 500
//! (Q11).

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::sample;
use crate::loan_admin_support::{FILE, ORG, World, activate};

const ADMIN: Option<&str> = Some("admin");

async fn edit(w: &World, who: &str, loan: Uuid, body: Value) -> (u16, Value) {
    w.as_(who, "PATCH", &format!("/org/loans/{loan}/edit"), Some(body))
        .await
}

#[tokio::test]
async fn edits_are_refused_like_the_legacy() {
    let w = World::new().await;
    let b = w.loan('B');
    w.replay("edit 422 note too short", ADMIN).await;
    w.replay("edit 400 edit_note_required (whitespace note)", ADMIN)
        .await;
    let (status, body) = edit(&w, "admin", b, json!({"desired_term_months": 24})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["message"], "note: Field required");
    // Blank notes are refused before the loan is looked up.
    let (status, body) = edit(&w, "admin", Uuid::new_v4(), json!({"note": "   "})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("edit_note_required"))
    );
    let (status, body) = edit(&w, "admin", Uuid::new_v4(), json!({"note": "fine"})).await;
    assert_eq!(status, 404);
    assert_eq!(body["message"], "Loan application not found");
    let (status, body) = edit(&w, "borrower", b, json!({"note": "mine"})).await;
    assert_eq!(status, 403);
    assert_eq!(body["message"], "Missing permission: loan.manage");
    w.replay("edit 400 invalid_term from the quote engine", ADMIN)
        .await;
    w.replay("edit 400 interest_type_not_allowed", ADMIN).await;
    let (status, body) = edit(
        &w,
        "admin",
        b,
        json!({"note": "phone", "spouse_phone": "12-34"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["details"]["errors"][0]["msg"],
        "Value error, spouse_phone must include at least 7 digits"
    );
    // Nothing of the refused edits was stored.
    let (_, detail) = w
        .as_("admin", "GET", &format!("/org/loans/{b}"), None)
        .await;
    assert_eq!(detail["data"]["version"], 2);
    assert_eq!(detail["data"]["term_months"], 12);
    assert!(w.audit("loan_application.admin_edit").await.is_empty());
    // ACTIVE and COMPLETED loans cannot be edited.
    let a = w.loan('A');
    activate(&w, a).await;
    let (status, body) = edit(&w, "admin", a, json!({"note": "Too late"})).await;
    assert_eq!(status, 400);
    assert_eq!(body["details"], json!({"status": "ACTIVE"}));
    sqlx::query("UPDATE loan_applications SET status = 'COMPLETED' WHERE id = $1")
        .bind(a)
        .execute(&w.app.db)
        .await
        .unwrap();
    w.replay("edit 400 ACTIVE/COMPLETED loan not editable", ADMIN)
        .await;
    // After a loan-policy change a note-only edit must re-quote first.
    crate::fixtures::set_org_settings(&w.app, ORG, "policy_version = 3").await;
    w.replay(
        "edit 400 policy_out_of_date (loan policy changed after submit)",
        ADMIN,
    )
    .await;
}

#[tokio::test]
async fn a_term_change_requotes_without_the_loans_own_shares_and_is_committed() {
    let w = World::new().await;
    let b = w.loan('B');
    let (status, body) = edit(
        &w,
        "admin",
        b,
        json!({"note": "Extend term per HR request", "desired_term_months": 24}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let recorded = &sample(
        FILE,
        "edit recalculates the quote (term change on PERCENT loan)",
    )["response"]["body"]["data"];
    let data = &body["data"];
    for k in [
        "status",
        "version",
        "term_months",
        "selection_value_snapshot",
    ] {
        assert_eq!(data[k], recorded[k], "{k}");
    }
    // Q10 fixed: 30 % of the 600 shares available besides loan A, not of the 420 left
    // after the loan's own 180 (the legacy shrank it to 126 shares).
    assert_eq!(data["shares_to_exercise"], 180);
    assert_eq!(data["total_exercisable_shares_snapshot"], 600);
    assert_eq!(data["loan_principal"], "1800.000000");
    assert_eq!(data["estimated_monthly_payment"], "9.000000");
    assert_eq!(data["total_payable_amount"], "2016.000000");
    // Q1 fixed: the next GET shows it (the legacy's still showed the old terms).
    let name = "loan detail after edit (edit was not committed)";
    assert_eq!(
        sample(FILE, name)["response"]["body"]["data"]["term_months"],
        12
    );
    let (status, detail) = w
        .as_("admin", "GET", &format!("/org/loans/{b}"), None)
        .await;
    assert_eq!(status, 200, "{name}");
    crate::helpers::assert_same_keys(
        &detail["data"],
        &sample(FILE, name)["response"]["body"]["data"],
    );
    assert_eq!(detail["data"]["term_months"], 24);
    assert_eq!(detail["data"]["version"], 3);
    // The reservation was written again in the same transaction.
    assert_eq!(
        w.reservations(b).await,
        vec![("SUBMITTED".to_owned(), 180_i64)]
    );
    let rows = w.audit("loan_application.admin_edit").await;
    assert_eq!(rows.len(), 1);
    let (_, kind, id, actor, old, new) = &rows[0];
    assert_eq!(
        (kind.as_str(), id.as_str()),
        ("loan_application", b.to_string().as_str())
    );
    assert_eq!(*actor, Some(w.member("admin").user_id));
    assert_eq!(old.as_ref().unwrap()["term_months"], 12);
    let new = new.as_ref().unwrap();
    assert_eq!(new["term_months"], 24);
    assert_eq!(new["edit_note"], "Extend term per HR request");
    assert_eq!(new["workflow_reset"], false);
    assert_eq!(new["documents_deleted"], 0);

    // Spouse fields only: echoed and stored, the quote untouched.
    let (status, body) = edit(
        &w,
        "admin",
        b,
        json!({"note": "Fix spouse name", "marital_status_snapshot": "married",
               "spouse_first_name": "Sam", "spouse_last_name": "Borrower",
               "spouse_email": null}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let recorded = &sample(FILE, "edit spouse fields only")["response"]["body"]["data"];
    for k in [
        "marital_status_snapshot",
        "spouse_first_name",
        "spouse_last_name",
        "spouse_email",
    ] {
        assert_eq!(body["data"][k], recorded[k], "{k}");
    }
    assert_eq!(body["data"]["term_months"], 24);
    assert_eq!(body["data"]["version"], 4);
}

#[tokio::test]
async fn reset_workflow_and_delete_documents_restart_the_review() {
    let w = World::new().await;
    let b = w.loan('B');
    let (status, _) = w
        .as_(
            "hr",
            "POST",
            &format!("/org/loans/{b}/workflow/HR_REVIEW/assign"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200);
    // A document whose object really exists, and one whose object never arrived.
    let storage = sole::storage::Storage::from_settings(&w.app.settings).unwrap();
    let key = format!(
        "orgs/{ORG}/loans/{b}/documents/{}.pdf",
        Uuid::new_v4().simple()
    );
    let object = sole::storage::key::ObjectKey::parse(&key).unwrap();
    let backend = storage.default_backend().unwrap();
    backend
        .put_stream(
            &object,
            futures_util::stream::once(async {
                Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"%PDF-1.4\n"))
            }),
            &sole::storage::PutOptions::new(1024),
        )
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO loan_documents (id, org_id, loan_application_id, stage_type, document_type, \
         file_name, storage_path_or_url, storage_provider, storage_object_key) \
         VALUES ($1, $2, $3, 'HR_REVIEW', 'NOTICE_OF_STOCK_OPTION_GRANT', 'n.pdf', $4, 'local', $4)",
    )
    .bind(Uuid::new_v4())
    .bind(ORG)
    .bind(b)
    .bind(&key)
    .execute(&w.app.db)
    .await
    .unwrap();
    w.add_document(b, "HR_REVIEW", "SPOUSE_PARTNER_CONSENT")
        .await;

    let (status, body) = edit(
        &w,
        "admin",
        b,
        json!({"note": "Restart the review", "reset_workflow": true, "delete_documents": true}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "IN_REVIEW");
    assert_eq!(body["data"]["documents"], json!([]));
    let stages = w.stages(b).await;
    let kinds: Vec<(&str, &str, Option<Uuid>)> = stages
        .iter()
        .map(|s| (s.0.as_str(), s.1.as_str(), s.2))
        .collect();
    assert_eq!(
        kinds,
        [
            ("HR_REVIEW", "PENDING", None),
            ("FINANCE_PROCESSING", "PENDING", None),
            ("LEGAL_EXECUTION", "PENDING", None),
        ]
    );
    // Q11 fixed: rows gone, the stored object deleted too; the missing one did not matter.
    let (_, docs) = w
        .as_("admin", "GET", &format!("/org/loans/{b}/documents"), None)
        .await;
    assert_eq!(docs["data"]["total"], 0);
    assert!(backend.head(&object).await.unwrap().is_none());
    let rows = w.audit("loan_application.admin_edit").await;
    let new = rows[0].5.as_ref().unwrap();
    assert_eq!(
        (
            &new["workflow_reset"],
            &new["documents_deleted"],
            &new["status"]
        ),
        (&json!(true), &json!(2), &json!("IN_REVIEW"))
    );
    // Not a re-quote: the reservation stays as it was.
    assert_eq!(
        w.reservations(b).await,
        vec![("SUBMITTED".to_owned(), 180_i64)]
    );
    // The reset loan is back in the HR queue, unassigned.
    let (_, queue) = w.as_("hr", "GET", "/org/loans/queue/me/hr", None).await;
    assert_eq!(queue["data"]["total"], 0);
}

#[tokio::test]
async fn a_draft_is_requoted_and_stays_a_draft() {
    let w = World::new().await;
    // The org's settings as they were when this was recorded (the re-quote snapshots them).
    crate::loan_admin_support::require_step_up(&w).await;
    let body = w.replay("edit DRAFT loan", ADMIN).await;
    assert_eq!(body["data"]["status"], "DRAFT");
    let c = w.loan('C');
    assert!(w.reservations(c).await.is_empty());
    let (_, detail) = w
        .as_("admin", "GET", &format!("/org/loans/{c}"), None)
        .await;
    assert_eq!(detail["data"]["shares_to_exercise"], 20);
}
