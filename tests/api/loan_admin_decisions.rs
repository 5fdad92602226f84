//! The admin status decision and the activation backlog (loan-admin §5.3, §5.5; scenarios 12
//! and 18 of §15). Unlike the legacy service, the decision is committed (Q1).

use serde_json::json;

use crate::loan_admin_support::World;

const ADMIN: Option<&str> = Some("admin");

#[tokio::test]
async fn status_decisions_refuse_like_the_legacy_and_commit() {
    let w = World::new().await;
    w.replay("PATCH status 400 missing_status", ADMIN).await;
    w.replay("PATCH status 400 decision_reason_required", ADMIN)
        .await;
    w.replay("PATCH status 400 unsupported target ACTIVE", ADMIN)
        .await;
    w.replay("PATCH status 400 DRAFT cannot go IN_REVIEW", ADMIN)
        .await;
    w.replay("PATCH status 403 employee", Some("borrower"))
        .await;
    let b = w.loan('B');
    let path = format!("/org/loans/{b}");
    let (status, body) = w
        .as_("admin", "PATCH", &path, Some(json!({"status": "OPEN"})))
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = w
        .as_(
            "admin",
            "PATCH",
            "/org/loans/00000000-0000-4000-8000-000000000000",
            Some(json!({"status": "IN_REVIEW"})),
        )
        .await;
    assert_eq!(status, 404);
    assert!(w.audit("loan_application.admin_update").await.is_empty());

    // SUBMITTED → IN_REVIEW: answered and stored, reservations follow, one audit row.
    // (The recording had re-opened loan B's HR stage and filed its documents by then: its
    // stages and documents differ from ours.)
    let stages = ["/data/workflow_stages", "/data/documents"];
    let body = w
        .replay_with("PATCH status IN_REVIEW", ADMIN, &[], &stages)
        .await;
    assert_eq!(body["data"]["status"], "IN_REVIEW");
    assert_eq!(body["data"]["version"], 3);
    assert_eq!(body["data"].as_object().unwrap().len(), 55);
    // Q1 fixed: the legacy never committed the change (its next GET still showed SUBMITTED,
    // version 2); ours shows it stored, the rest of the detail as recorded.
    let name = "loan detail after PATCH IN_REVIEW (change was not committed)";
    let (status, detail) = w.as_("admin", "GET", &path, None).await;
    w.expect(
        name,
        status,
        &detail,
        &[
            "/data/workflow_stages",
            "/data/documents",
            "/data/status",
            "/data/version",
        ],
    );
    let recorded = &crate::helpers::sample(crate::loan_admin_support::FILE, name)["response"];
    assert_eq!(recorded["body"]["data"]["status"], "SUBMITTED");
    assert_eq!(
        (&detail["data"]["status"], &detail["data"]["version"]),
        (&json!("IN_REVIEW"), &json!(3)),
        "committed (Q1 fixed)"
    );
    assert_eq!(w.reservations(b).await, vec![("IN_REVIEW".to_owned(), 180)]);
    let rows = w.audit("loan_application.admin_update").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].4.as_ref().unwrap()["status"], "SUBMITTED");
    assert_eq!(rows[0].5.as_ref().unwrap()["status"], "IN_REVIEW");
    assert_eq!(rows[0].3, Some(w.member("admin").user_id));

    // IN_REVIEW → REJECTED with a reason: reservations stop holding shares.
    // The legacy rejected from the uncommitted SUBMITTED state (version 3); ours is the
    // committed IN_REVIEW one (Q1), so the version is one higher.
    let body = w
        .replay_with(
            "PATCH status REJECTED with reason",
            ADMIN,
            &[],
            &["/data/workflow_stages", "/data/documents", "/data/version"],
        )
        .await;
    assert_eq!(body["data"]["version"], 4);
    assert_eq!(body["data"]["status"], "REJECTED");
    assert_eq!(body["data"]["decision_reason"], "Exceeds exposure limits");
    assert_eq!(w.loan_row(b).await.0, "REJECTED");
    assert_eq!(w.reservations(b).await, vec![("REJECTED".to_owned(), 180)]);
    // Left the queues.
    let (_, body) = w.as_("admin", "GET", "/org/loans/queue/hr", None).await;
    assert_eq!(body["data"]["total"], 1);
    // Same status again is allowed and keeps the reason; a terminal loan cannot go back.
    let (status, body) = w
        .as_(
            "admin",
            "PATCH",
            &path,
            Some(json!({"status": "REJECTED", "decision_reason": "Still too high"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = w
        .as_(
            "admin",
            "PATCH",
            &path,
            Some(json!({"status": "IN_REVIEW"})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        "Only SUBMITTED loans can transition to IN_REVIEW"
    );
    assert_eq!(w.audit("loan_application.admin_update").await.len(), 3);
}

#[tokio::test]
async fn the_backlog_activates_finished_loans_and_completes_post_issuance() {
    let w = World::new().await;
    w.replay("activate backlog (nothing eligible)", ADMIN).await;
    w.replay("activate backlog 404 unknown loan_id", ADMIN)
        .await;
    let (status, _) = w
        .as_(
            "legal",
            "POST",
            "/org/loans/maintenance/activate-backlog",
            None,
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = w
        .as_(
            "admin",
            "POST",
            "/org/loans/maintenance/activate-backlog?limit=5001",
            None,
        )
        .await;
    assert_eq!(status, 422);
    // Loan B's core stages completed outside the review routes (a legacy database).
    let b = w.loan('B');
    sqlx::query(
        "UPDATE loan_workflow_stages SET status = 'COMPLETED' WHERE loan_application_id = $1",
    )
    .bind(b)
    .execute(&w.app.db)
    .await
    .unwrap();
    let (status, body) = w
        .as_(
            "admin",
            "POST",
            "/org/loans/maintenance/activate-backlog",
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!({"checked": 2, "activated": 1, "skipped": 1, "activated_ids": [b.to_string()],
               "post_issuance_completed": 0, "post_issuance_completed_ids": []})
    );
    assert_eq!(w.loan_row(b).await.0, "ACTIVE");
    assert_eq!(w.reservations(b).await, vec![("ACTIVE".to_owned(), 180)]);
    let activated = w.audit("loan_application.activated").await;
    assert_eq!(activated.len(), 1);
    assert_eq!(activated[0].3, Some(w.member("admin").user_id));
    // Two share certificates (the legacy answered 500, Q14) complete the stage once.
    w.add_document(b, "LEGAL_POST_ISSUANCE", "SHARE_CERTIFICATE")
        .await;
    w.add_document(b, "LEGAL_POST_ISSUANCE", "SHARE_CERTIFICATE")
        .await;
    let path = format!("/org/loans/maintenance/activate-backlog?loan_id={b}");
    let (status, body) = w.as_("admin", "POST", &path, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["post_issuance_completed"], 1);
    assert_eq!(body["data"]["activated"], 0);
    let (_, body) = w.as_("admin", "POST", &path, None).await;
    assert_eq!(
        body["data"]["post_issuance_completed"], 0,
        "already completed"
    );
    let stages = w.stages(b).await;
    assert_eq!(stages[3].0, "LEGAL_POST_ISSUANCE");
    assert_eq!(stages[3].1, "COMPLETED");
    assert_eq!(stages[3].3, Some(w.member("admin").user_id));
}
