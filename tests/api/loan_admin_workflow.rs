//! The HR, finance and legal stage updates and activation (loan-admin §4.3, §4.4, §5.8;
//! scenarios 6, 9, 10, 20 and 21 of §15), with the legacy goldens where the state allows.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::loan_admin_support::World;

const HR: Option<&str> = Some("hr");

const HR_DOCS: [&str; 2] = ["NOTICE_OF_STOCK_OPTION_GRANT", "SPOUSE_PARTNER_CONSENT"];
const LEGAL_DOCS: [&str; 4] = [
    "STOCK_OPTION_EXERCISE_AND_LOAN_AGREEMENT",
    "SECURED_PROMISSORY_NOTE",
    "STOCK_POWER_AND_ASSIGNMENT",
    "INVESTMENT_REPRESENTATION_STATEMENT",
];

async fn patch(w: &World, who: &str, loan: Uuid, stage: &str, body: Value) -> (u16, Value) {
    w.as_(
        who,
        "PATCH",
        &format!("/org/loans/{loan}/{stage}"),
        Some(body),
    )
    .await
}

#[tokio::test]
async fn stage_updates_check_status_documents_and_reopen_like_the_legacy() {
    let w = World::new().await;
    w.replay("assign HR stage to self (HR user, empty body)", HR)
        .await;
    w.replay("HR stage PATCH 400 status PENDING", HR).await;
    w.replay("HR stage PATCH 422 unknown status", HR).await;
    w.replay("HR stage PATCH 404 DRAFT loan has no HR stage", HR)
        .await;
    w.replay("HR stage PATCH IN_PROGRESS with notes", HR).await;
    w.replay(
        "HR stage PATCH 400 COMPLETED without required documents",
        HR,
    )
    .await;
    let a = w.loan('A');
    w.file_stage_documents("hr", a, &HR_DOCS).await;
    w.replay(
        "HR stage PATCH COMPLETED (documents present, step-up not required by org)",
        HR,
    )
    .await;
    // Re-open a completed stage of a loan still under review (loan B's HR stage).
    let b = w.loan('B');
    w.file_stage_documents("hr", b, &HR_DOCS).await;
    let (status, _) = patch(
        &w,
        "hr",
        b,
        "hr",
        json!({"status": "COMPLETED", "notes": "ok"}),
    )
    .await;
    assert_eq!(status, 200);
    w.replay(
        "HR stage PATCH IN_PROGRESS re-opens a completed stage (loan still SUBMITTED)",
        HR,
    )
    .await;

    // Finance: the one required document (two of them are fine, Q14 fixed).
    let (status, body) = patch(&w, "finance", a, "finance", json!({"status": "COMPLETED"})).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"code": "document_required",
               "message": "Payment instructions document is required before completing Finance processing",
               "data": null, "details": {"document_type": "PAYMENT_INSTRUCTIONS"}})
    );
    w.file_stage_documents(
        "finance",
        a,
        &["PAYMENT_INSTRUCTIONS", "PAYMENT_INSTRUCTIONS"],
    )
    .await;
    let (status, body) = patch(&w, "finance", a, "finance", json!({"status": "COMPLETED"})).await;
    assert_eq!(status, 200, "{body}");
    // Permissions per stage; an unknown loan is the stage's 404.
    let (status, body) = patch(&w, "finance", a, "hr", json!({"status": "IN_PROGRESS"})).await;
    assert_eq!(status, 403);
    assert_eq!(
        body["message"],
        "Missing permission: loan.workflow.hr.manage"
    );
    let (status, body) = patch(
        &w,
        "legal",
        Uuid::nil(),
        "legal",
        json!({"status": "IN_PROGRESS"}),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["message"], "Legal workflow stage not found");
    // A legal document registered under the wrong stage does not count.
    let (status, body) = patch(&w, "legal", a, "legal", json!({"status": "COMPLETED"})).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["details"]["missing_document_types"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    // The loan is still SUBMITTED; nothing activated.
    assert_eq!(w.loan_row(a).await.0, "SUBMITTED");
}

/// Scenario 10 and the end-to-end walk: a SUBMITTED loan through HR, finance and legal to
/// ACTIVE, each stage by its own role holder, then a repayment recorded by finance with
/// step-up, with audit rows and reservations checked at every step.
#[tokio::test]
async fn a_loan_walks_through_hr_finance_and_legal_to_active() {
    let w = World::new().await;
    let a = w.loan('A');
    let (hr, finance, legal) = (
        w.member("hr").user_id,
        w.member("finance").user_id,
        w.member("legal").user_id,
    );
    let reserved = |status: &str| vec![(status.to_owned(), 400_i64)];
    assert_eq!(w.reservations(a).await, reserved("SUBMITTED"));

    // HR: self-assign, documents, complete.
    let (status, _) = w
        .as_(
            "hr",
            "POST",
            &format!("/org/loans/{a}/workflow/HR_REVIEW/assign"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200);
    w.file_stage_documents("hr", a, &HR_DOCS).await;
    let (status, body) = patch(
        &w,
        "hr",
        a,
        "hr",
        json!({"status": "COMPLETED", "notes": "HR ok"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["completed_by_user_id"], hr.to_string());
    assert_eq!(w.loan_row(a).await.0, "SUBMITTED");
    assert_eq!(w.reservations(a).await, reserved("SUBMITTED"));
    let updates = w.audit("loan_workflow_stage.updated").await;
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].3, Some(hr));
    assert_eq!(updates[0].4.as_ref().unwrap()["status"], "IN_PROGRESS");
    assert_eq!(updates[0].5.as_ref().unwrap()["status"], "COMPLETED");
    assert_eq!(updates[0].5.as_ref().unwrap()["notes"], "HR ok");
    // Left the HR queue, still in the other two.
    let (_, body) = w.as_("hr", "GET", "/org/loans/queue/hr", None).await;
    assert_eq!(body["data"]["total"], 1);

    // Finance.
    w.file_stage_documents("finance", a, &["PAYMENT_INSTRUCTIONS"])
        .await;
    let (status, body) = patch(&w, "finance", a, "finance", json!({"status": "COMPLETED"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["completed_by_user_id"], finance.to_string());
    assert_eq!(w.loan_row(a).await.0, "SUBMITTED");
    assert_eq!(w.reservations(a).await, reserved("SUBMITTED"));
    assert_eq!(w.audit("loan_workflow_stage.updated").await.len(), 2);

    // Legal, with the org requiring step-up for WORKFLOW_COMPLETE.
    crate::fixtures::set_org_settings(
        &w.app,
        crate::loan_admin_support::ORG,
        "require_two_factor = true, mfa_required_actions = '[\"WORKFLOW_COMPLETE\", \"LOAN_PAYMENT_RECORD\"]'",
    )
    .await;
    w.file_stage_documents("legal", a, &LEGAL_DOCS).await;
    let denied = w
        .replay(
            "legal stage PATCH COMPLETED (activates the loan) (403 step-up required)",
            Some("legal"),
        )
        .await;
    assert_eq!(denied["details"]["action"], "WORKFLOW_COMPLETE");
    assert_eq!(
        w.loan_row(a).await.0,
        "SUBMITTED",
        "nothing written without step-up"
    );
    let session = w.session("legal").await;
    let token = crate::auth_support::step_up_token(
        &w.app,
        &session,
        w.member("legal"),
        denied["details"]["challenge_token"].as_str().unwrap(),
    )
    .await;
    let (status, body) = w
        .call(
            Some("legal"),
            Some(crate::loan_admin_support::ORG),
            "PATCH",
            &format!("/org/loans/{a}/legal"),
            Some(json!({"status": "COMPLETED", "notes": "Executed"})),
            &[("X-Step-Up-Token", &token)],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["completed_by_user_id"], legal.to_string());

    // Activated in the same transaction.
    let (status, version, activation, due) = w.loan_row(a).await;
    assert_eq!(status, "ACTIVE");
    assert_eq!(version, 3);
    let activation = activation.expect("activation_date");
    assert_eq!(due, Some((activation + time::Duration::days(30)).date()));
    assert_eq!(w.reservations(a).await, reserved("ACTIVE"));
    let stages = w.stages(a).await;
    let kinds: Vec<(&str, &str)> = stages
        .iter()
        .map(|s| (s.0.as_str(), s.1.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("HR_REVIEW", "COMPLETED"),
            ("FINANCE_PROCESSING", "COMPLETED"),
            ("LEGAL_EXECUTION", "COMPLETED"),
            ("LEGAL_POST_ISSUANCE", "PENDING"),
            ("BORROWER_83B_ELECTION", "PENDING"),
        ]
    );
    assert_eq!(stages[0].3, Some(hr));
    assert_eq!(stages[1].3, Some(finance));
    assert_eq!(stages[2].3, Some(legal));
    let activated = w.audit("loan_application.activated").await;
    assert_eq!(activated.len(), 1);
    let (_, resource_type, resource_id, actor, old, new) = &activated[0];
    assert_eq!(resource_type, "loan_application");
    assert_eq!(resource_id, &a.to_string());
    assert_eq!(*actor, Some(legal));
    assert_eq!(old.as_ref().unwrap(), &json!({"status": "SUBMITTED"}));
    let new = new.as_ref().unwrap();
    assert_eq!(new["status"], "ACTIVE");
    assert!(new["activation_date"].as_str().unwrap().ends_with("+00:00"));
    assert_eq!(
        new["election_83b_due_date"],
        json!(due.map(|d| d.to_string()))
    );
    assert_eq!(w.audit("loan_workflow_stage.updated").await.len(), 3);
    // Every document came through the real upload routes, audited with its uploader and id.
    let documents = w.audit("loan_document.created").await;
    let uploaders: Vec<Option<Uuid>> = documents.iter().map(|d| d.3).collect();
    assert_eq!(
        uploaders,
        [hr, hr, finance, legal, legal, legal, legal].map(Some)
    );
    for (_, resource_type, resource_id, _, _, new) in &documents {
        assert_eq!(resource_type, "loan_document");
        assert_eq!(new.as_ref().unwrap()["id"], json!(resource_id));
    }
    // Gone from every queue.
    for q in ["hr", "finance", "legal"] {
        let (_, body) = w
            .as_("admin", "GET", &format!("/org/loans/queue/{q}"), None)
            .await;
        let ids: Vec<&str> = body["data"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap())
            .collect();
        assert!(!ids.contains(&a.to_string().as_str()), "{q}");
    }
    // The detail as the recording shows it (dates that follow the real activation day aside).
    let detail = w
        .replay_with(
            "loan detail after activation (ACTIVE)",
            Some("admin"),
            &[],
            &[
                "/data/documents",
                "/data/workflow_stages",
                "/data/election_83b_due_date",
                "/data/days_until_83b_due",
                "/data/next_payment_date",
            ],
        )
        .await;
    assert_eq!(
        detail["data"]["workflow_stages"].as_array().unwrap().len(),
        5
    );
    assert_eq!(detail["data"]["has_share_certificate"], false);
    // The list shows it ACTIVE with its post-activation stage as current.
    let (_, body) = w
        .as_("admin", "GET", "/org/loans?status=ACTIVE", None)
        .await;
    assert_eq!(
        body["data"]["items"][0]["current_stage_type"],
        "LEGAL_POST_ISSUANCE"
    );

    // Q22 fixed: a stage change after activation is a 400, and nothing is stored.
    let (status, body) = patch(
        &w,
        "hr",
        a,
        "hr",
        json!({"status": "IN_PROGRESS", "notes": "reopened"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "invalid_status");
    assert_eq!(body["details"], json!({"status": "ACTIVE"}));
    assert_eq!(w.stages(a).await[0].1, "COMPLETED");

    // Finance records the first instalment, behind step-up LOAN_PAYMENT_RECORD.
    use crate::loan_admin_support::{Part, post_form, token_for};
    let form = || {
        vec![(
            "payment_date".to_owned(),
            Part::Text("2026-12-07".to_owned()),
        )]
    };
    let (status, denied) = post_form(&w, "finance", a, None, form()).await;
    assert_eq!(status, 403, "{denied}");
    assert_eq!(denied["details"]["action"], "LOAN_PAYMENT_RECORD");
    assert!(w.audit("loan_repayment.").await.is_empty());
    let token = token_for(&w, "finance", &denied).await;
    let (status, body) = post_form(&w, "finance", a, Some(&token), form()).await;
    assert_eq!(status, 201, "{body}");
    let repayment = &body["data"]["repayment"];
    assert_eq!(
        (
            &repayment["amount"],
            &repayment["principal_amount"],
            &repayment["interest_amount"]
        ),
        (
            &json!("678.380000"),
            &json!("658.380000"),
            &json!("20.000000")
        )
    );
    assert_eq!(body["data"]["principal_remaining"], "3341.620000");
    let recorded = w.audit("loan_repayment.recorded").await;
    assert_eq!(recorded.len(), 1);
    let (_, resource_type, resource_id, actor, old, new) = &recorded[0];
    assert_eq!(resource_type, "loan_repayment");
    assert_eq!(resource_id, repayment["id"].as_str().unwrap());
    assert_eq!(*actor, Some(finance));
    assert!(old.is_none());
    let new = new.as_ref().unwrap();
    assert_eq!(new["loan_application_id"], a.to_string());
    assert_eq!(new["amount"], "678.380000");
    assert_eq!(new["recorded_by_user_id"], finance.to_string());
    // Still ACTIVE, the shares still reserved for it; no other loan audit row was written.
    assert_eq!(w.loan_row(a).await.0, "ACTIVE");
    assert_eq!(w.reservations(a).await, reserved("ACTIVE"));
    assert!(w.audit("loan_application.completed").await.is_empty());
    let (_, list) = w
        .as_(
            "finance",
            "GET",
            &format!("/org/loans/{a}/repayments"),
            None,
        )
        .await;
    assert_eq!(list["data"]["total"], 1);
    assert_eq!(
        list["data"]["items"][0]["recorded_by_name"],
        w.member("finance").email
    );
}

/// Two reviewers completing the last stage at once: one wins, the loan is activated once.
#[tokio::test]
async fn parallel_completions_activate_once() {
    let w = World::new().await;
    let a = w.loan('A');
    w.file_stage_documents("hr", a, &HR_DOCS).await;
    w.file_stage_documents("finance", a, &["PAYMENT_INSTRUCTIONS"])
        .await;
    w.file_stage_documents("legal", a, &LEGAL_DOCS).await;
    let (status, _) = patch(&w, "hr", a, "hr", json!({"status": "COMPLETED"})).await;
    assert_eq!(status, 200);
    // Finance and legal complete the last two stages concurrently, each twice (the admin holds
    // every permission).
    w.session("finance").await;
    w.session("legal").await;
    w.session("admin").await;
    let body = json!({"status": "COMPLETED"});
    let (r1, r2, r3, r4) = tokio::join!(
        patch(&w, "finance", a, "finance", body.clone()),
        patch(&w, "legal", a, "legal", body.clone()),
        patch(&w, "admin", a, "legal", body.clone()),
        patch(&w, "admin", a, "finance", body.clone()),
    );
    let statuses = [r1.0, r2.0, r3.0, r4.0];
    for (s, b) in [&r1, &r2, &r3, &r4].iter().map(|r| (r.0, &r.1)) {
        assert!(
            s == 200 || (s == 400 && b["code"] == "invalid_status"),
            "{s}: {b}"
        );
    }
    assert!(statuses.contains(&200));
    assert_eq!(w.loan_row(a).await.0, "ACTIVE");
    assert_eq!(w.audit("loan_application.activated").await.len(), 1);
    let stages = w.stages(a).await;
    assert_eq!(
        stages.len(),
        5,
        "post-activation stages created once: {stages:?}"
    );
    // Once active, every later completion is refused (400 invalid_status).
    let oks = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(
        w.audit("loan_workflow_stage.updated").await.len(),
        1 + oks,
        "one audit row per stored change"
    );
}
