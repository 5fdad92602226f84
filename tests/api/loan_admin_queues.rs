//! `GET /org/loans`, the six review queues and stage assignment against the legacy goldens
//! (loan-admin §5.1, §5.6, §5.7; scenarios 1, 2, 4 and 5 of §15).

use serde_json::json;

use crate::loan_admin_support::{ORG, World};

const ADMIN: Option<&str> = Some("admin");
const HR: Option<&str> = Some("hr");

#[tokio::test]
async fn the_list_matches_the_recording_and_filters_pages_and_refuses_like_the_legacy() {
    let w = World::new().await;
    // Q8 fixed: a fresh loan's current stage is HR_REVIEW (the recording picked any of the
    // three core stages, which share one created_at).
    let body = w
        .replay_with(
            "list loans (admin, defaults)",
            ADMIN,
            &[],
            &[
                "/data/items/1/current_stage_type",
                "/data/items/2/current_stage_type",
            ],
        )
        .await;
    let items = body["data"]["items"].as_array().unwrap();
    assert_eq!(items[1]["current_stage_type"], "HR_REVIEW");
    assert_eq!(items[2]["current_stage_type"], "HR_REVIEW");
    w.replay_with(
        "list loans filtered by repeated status",
        ADMIN,
        &[],
        &[
            "/data/items/1/current_stage_type",
            "/data/items/2/current_stage_type",
        ],
    )
    .await;
    w.replay_with(
        "list loans filtered by stage_type with limit/offset",
        ADMIN,
        &[],
        &["/data/items/0/current_stage_type"],
    )
    .await;
    w.replay("list loans 400 invalid_date_range", ADMIN).await;
    w.replay("list loans 422 unknown status value", ADMIN).await;
    w.replay(
        "list loans 403 employee lacks loan.view_all",
        Some("borrower"),
    )
    .await;
    w.replay("list loans without token and without X-Org-Id", None)
        .await;

    // Q13 fixed: a naive and an aware datetime compare (naive is UTC), so the recorded 500
    // becomes the range check's 400.
    let name = "list loans 500 naive vs aware datetimes";
    let recorded = crate::helpers::sample(crate::loan_admin_support::FILE, name);
    assert_eq!(recorded["response"]["status"], 500);
    let q = &recorded["request"]["query"];
    let (status, body) = w
        .as_(
            "admin",
            "GET",
            &format!(
                "/org/loans?created_from={}&created_to={}",
                q["created_from"].as_str().unwrap(),
                q["created_to"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(status, 400, "{name}: {body}");
    crate::helpers::assert_same_keys(&body, &recorded["response"]["body"]);
    assert_eq!(body["code"], "invalid_date_range");
    // A window around loan B only.
    let (status, body) = w
        .as_(
            "admin",
            "GET",
            "/org/loans?created_from=2026-12-07T00:36:14.9Z&created_to=2026-12-07T00:36:15Z",
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["total"], 1);
    assert_eq!(body["data"]["items"][0]["id"], w.loan('B').to_string());
    // Paging: total ignores limit/offset; offset walks newest first.
    let (_, body) = w
        .as_("admin", "GET", "/org/loans?limit=1&offset=2", None)
        .await;
    assert_eq!(body["data"]["total"], 3);
    assert_eq!(body["data"]["items"][0]["id"], w.loan('A').to_string());
    for bad in ["limit=201", "limit=0", "offset=-1", "limit=x"] {
        let (status, body) = w
            .as_("admin", "GET", &format!("/org/loans?{bad}"), None)
            .await;
        assert_eq!(status, 422, "{bad}: {body}");
    }
    // A superuser switching tenant sees only that org's loans.
    let (status, body) = w
        .call(ADMIN, Some("other-org"), "GET", "/org/loans", None, &[])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["total"], 0);
}

#[tokio::test]
async fn queues_list_open_stages_of_loans_under_review_and_my_queues_follow_assignment() {
    let w = World::new().await;
    w.replay("HR queue", HR).await;
    w.replay("HR queue 403 finance user", Some("finance")).await;
    for path in ["/org/loans/queue/finance", "/org/loans/queue/legal"] {
        let (status, body) = w.as_("admin", "GET", path, None).await;
        assert_eq!(status, 200);
        assert_eq!(body["data"]["total"], 2, "{path}");
    }
    let (status, _) = w
        .as_("hr", "GET", "/org/loans/queue/hr?limit=500", None)
        .await;
    assert_eq!(status, 422);
    let (_, body) = w.as_("hr", "GET", "/org/loans/queue/me/hr", None).await;
    assert_eq!(body["data"], json!({"items": [], "total": 0}));
    let (status, _) = w.as_("legal", "GET", "/org/loans/queue/me/hr", None).await;
    assert_eq!(status, 403);

    w.replay("assign HR stage to self (HR user, empty body)", HR)
        .await;
    w.replay("my HR queue (after self-assignment)", HR).await;
    w.replay(
        "assign FINANCE stage to finance user (admin with assign.any)",
        ADMIN,
    )
    .await;
    w.replay("my finance queue", Some("finance")).await;
    // The finance queue shows the assignee of its own stage.
    w.replay_with("finance queue", Some("finance"), &[], &[])
        .await;
    // A queue row's applicant and assignee resolve in this org only.
    let (_, body) = w.as_("admin", "GET", "/org/loans/queue/me/hr", None).await;
    assert_eq!(body["data"]["total"], 0, "admin assigned nothing to self");
}

#[tokio::test]
async fn assignment_checks_permissions_assignee_and_stage_like_the_legacy() {
    let w = World::new().await;
    w.replay(
        "assign 403 assigning someone else without loan.workflow.assign.any",
        HR,
    )
    .await;
    w.replay(
        "assign 403 employee self-assign lacks stage permission",
        Some("borrower"),
    )
    .await;
    w.replay("assign 400 assignee_missing_permission", ADMIN)
        .await;
    w.replay("assign 404 assignee user not found", ADMIN).await;
    w.replay(
        "assign 404 assignee has no membership in this org (user row of another org)",
        ADMIN,
    )
    .await;
    w.replay("assign 400 unsupported_stage_type", ADMIN).await;
    w.replay("assign 422 missing body", HR).await;
    w.replay(
        "assign 404 workflow stage not found (DRAFT loan has no stages)",
        HR,
    )
    .await;
    let a = w.loan('A');
    let (status, body) = w
        .as_(
            "hr",
            "POST",
            &format!("/org/loans/{a}/workflow/BOGUS/assign"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["details"]["errors"][0]["type"], "enum");
    let (status, _) = w
        .as_(
            "hr",
            "POST",
            "/org/loans/00000000-0000-4000-8000-000000000000/workflow/HR_REVIEW/assign",
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 404);
    // Nothing was written by the refusals.
    assert!(w.audit("loan_workflow_stage.").await.is_empty());

    // Self-assign: IN_PROGRESS, assigned to/by the caller, one audit row with snapshots.
    let hr = w.member("hr").user_id;
    let (status, body) = w
        .as_(
            "hr",
            "POST",
            &format!("/org/loans/{a}/workflow/HR_REVIEW/assign"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "IN_PROGRESS");
    assert_eq!(body["data"]["assigned_to_user_id"], hr.to_string());
    let rows = w.audit("loan_workflow_stage.assigned").await;
    assert_eq!(rows.len(), 1);
    let (_, resource_type, resource_id, actor, old, new) = &rows[0];
    assert_eq!(resource_type, "loan_workflow_stage");
    assert_eq!(resource_id, body["data"]["id"].as_str().unwrap());
    assert_eq!(*actor, Some(hr));
    assert_eq!(old.as_ref().unwrap()["status"], "PENDING");
    assert_eq!(new.as_ref().unwrap()["status"], "IN_PROGRESS");
    assert_eq!(new.as_ref().unwrap()["assigned_to_user_id"], hr.to_string());
    assert!(
        new.as_ref().unwrap()["assigned_at"]
            .as_str()
            .unwrap()
            .ends_with("+00:00")
    );

    // A completed stage cannot be reassigned.
    sqlx::query(
        "UPDATE loan_workflow_stages SET status = 'COMPLETED' WHERE loan_application_id = $1 \
         AND stage_type = 'HR_REVIEW'",
    )
    .bind(a)
    .execute(&w.app.db)
    .await
    .unwrap();
    w.replay("assign 400 stage_completed", HR).await;
    // Tenancy: another org's loan is not found.
    let (status, _) = w
        .call(
            ADMIN,
            Some("other-org"),
            "POST",
            &format!("/org/loans/{a}/workflow/FINANCE_PROCESSING/assign"),
            Some(json!({})),
            &[],
        )
        .await;
    assert_eq!(status, 404);
    let _ = ORG;
}
