//! The recorded loan-admin exchanges of the finance and legal leg, the audit rows they leave,
//! and the workflow reset of an edit, replayed by name (loan-admin §16). Where `sole` differs
//! from the recording on purpose the test names the sample and cites the quirk (§13).

use serde_json::{Value, json};

use crate::helpers::{assert_like, sample};
use crate::loan_admin_support::{FILE, ORG, World};

const HR: Option<&str> = Some("hr");
const FINANCE: Option<&str> = Some("finance");
const LEGAL: Option<&str> = Some("legal");
const ADMIN: Option<&str> = Some("admin");

const HR_DOCS: [&str; 2] = ["NOTICE_OF_STOCK_OPTION_GRANT", "SPOUSE_PARTNER_CONSENT"];
const LEGAL_DOCS: [&str; 4] = [
    "STOCK_OPTION_EXERCISE_AND_LOAN_AGREEMENT",
    "SECURED_PROMISSORY_NOTE",
    "STOCK_POWER_AND_ASSIGNMENT",
    "INVESTMENT_REPRESENTATION_STATEMENT",
];

fn recorded(name: &str) -> Value {
    sample(FILE, name)
}

#[tokio::test]
async fn the_finance_and_legal_leg_replays_the_recording() {
    let w = World::new().await;
    let a = w.loan('A');

    // HR as recorded before: self-assign, documents, complete; then no reassignment.
    w.replay("assign HR stage to self (HR user, empty body)", HR)
        .await;
    w.file_stage_documents("hr", a, &HR_DOCS).await;
    let (status, body) = w
        .as_(
            "hr",
            "PATCH",
            &format!("/org/loans/{a}/hr"),
            Some(json!({"status": "COMPLETED"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    w.replay("assign 400 stage_completed", HR).await;

    // Finance.
    w.replay(
        "assign FINANCE stage to finance user (admin with assign.any)",
        ADMIN,
    )
    .await;
    w.replay(
        "finance stage PATCH 400 COMPLETED without PAYMENT_INSTRUCTIONS",
        FINANCE,
    )
    .await;
    w.file_stage_documents("finance", a, &["PAYMENT_INSTRUCTIONS"])
        .await;
    w.replay("finance stage PATCH COMPLETED", FINANCE).await;

    // Legal: the queue (loan B's HR stage had been re-opened in the recording, so its
    // current stage differs from ours), self-assignment, my queue.
    w.replay_with(
        "legal queue",
        LEGAL,
        &[],
        &[
            "/data/items/0/current_stage_type",
            "/data/items/0/current_stage_status",
            "/data/items/0/current_stage_assignee",
            "/data/items/0/current_stage_assigned_at",
        ],
    )
    .await;
    w.replay("assign LEGAL stage to self", LEGAL).await;
    w.replay("my legal queue", LEGAL).await;

    // Completion behind step-up activates the loan.
    crate::fixtures::set_org_settings(
        &w.app,
        ORG,
        "require_two_factor = true, mfa_required_actions = '[\"WORKFLOW_COMPLETE\", \"LOAN_PAYMENT_RECORD\"]'",
    )
    .await;
    w.file_stage_documents("legal", a, &LEGAL_DOCS).await;
    let denied = w
        .replay(
            "legal stage PATCH COMPLETED (activates the loan) (403 step-up required)",
            LEGAL,
        )
        .await;
    let token = crate::auth_support::step_up_token(
        &w.app,
        &w.session("legal").await,
        w.member("legal"),
        denied["details"]["challenge_token"].as_str().unwrap(),
    )
    .await;
    w.replay_with(
        "legal stage PATCH COMPLETED (activates the loan) (replayed with X-Step-Up-Token)",
        LEGAL,
        &[("X-Step-Up-Token", &token)],
        &[],
    )
    .await;
    assert_eq!(w.loan_row(a).await.0, "ACTIVE");

    // The activation's audit row as recorded. The recording's other two rows come from the
    // employee's create and submit routes, which this world does not go through.
    let name = "audit log rows for the loan application";
    let (status, body) = w
        .as_(
            "admin",
            "GET",
            &format!("/org/audit-logs?resource_type=loan_application&resource_id={a}"),
            None,
        )
        .await;
    assert_eq!(json!(status), recorded(name)["response"]["status"]);
    let expected: Value =
        serde_json::from_str(&w.translate(&recorded(name)["response"]["body"].to_string()))
            .unwrap();
    crate::helpers::assert_same_keys(&body, &expected);
    crate::helpers::assert_same_keys(&body["data"], &expected["data"]);
    assert_eq!(body["data"]["total"], 1, "{body}");
    let mut learned = Vec::new();
    // The activation time is the real one (Python's isoformat, compared by form below). The
    // legacy ordered `changes` and the summary's names by a Python set (no fixed order), so
    // those are compared as sets.
    let at = ["/new_value/activation_date", "/changes", "/summary"];
    assert_like(
        &body["data"]["items"][0],
        &expected["data"]["items"][0],
        "",
        &at,
        &mut learned,
        name,
    );
    let item = &body["data"]["items"][0];
    let theirs = &expected["data"]["items"][0];
    let names = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(names(&item["changes"]), names(&theirs["changes"]));
    for (k, v) in theirs["changes"].as_object().unwrap() {
        crate::helpers::assert_same_keys(&item["changes"][k], v);
        if k != "activation_date" {
            assert_eq!(&item["changes"][k], v, "{name}: changes.{k}");
        }
    }
    let listed = |v: &Value| {
        let (action, fields) = v.as_str().unwrap().split_once(": ").unwrap();
        let mut fields: Vec<String> = fields.split(", ").map(str::to_owned).collect();
        fields.sort();
        (action.to_owned(), fields)
    };
    assert_eq!(listed(&item["summary"]), listed(&theirs["summary"]));
    for t in [
        &item["new_value"]["activation_date"],
        &item["changes"]["activation_date"]["to"],
    ] {
        let t = t.as_str().unwrap();
        assert!(t.ends_with("+00:00") && t.len() == 32, "{t}");
    }

    // Document rows: Q6 fixed, `resource_id` and the snapshot's id are the real document id
    // (the legacy wrote "None" and nulls), so those and the per-upload values are not
    // compared; the rest is.
    let name = "audit log rows for loan documents";
    let (status, body) = w
        .as_(
            "admin",
            "GET",
            "/org/audit-logs?resource_type=loan_document&page_size=3",
            None,
        )
        .await;
    assert_eq!(json!(status), recorded(name)["response"]["status"]);
    let expected = &recorded(name)["response"]["body"];
    assert_eq!(expected["data"]["items"][0]["resource_id"], "None");
    crate::helpers::assert_same_keys(&body, expected);
    let items = body["data"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{body}");
    for (ours, theirs) in items
        .iter()
        .zip(expected["data"]["items"].as_array().unwrap())
    {
        crate::helpers::assert_same_keys(ours, theirs);
        crate::helpers::assert_same_keys(&ours["new_value"], &theirs["new_value"]);
        for k in ["action", "resource_type", "old_value"] {
            assert_eq!(ours[k], theirs[k], "{name}: {k}");
        }
        assert_eq!(ours["actor"]["email"], theirs["actor"]["email"]);
        assert_eq!(ours["new_value"]["stage_type"], "LEGAL_EXECUTION");
        assert_eq!(ours["resource_id"], ours["new_value"]["id"]);
        assert!(ours["new_value"]["created_at"].is_string());
    }

    // Q22 fixed: a stage change on an ACTIVE loan is a 400 `invalid_status`, not a 500.
    let name = "HR stage PATCH IN_PROGRESS on an ACTIVE loan -> 500";
    assert_eq!(recorded(name)["response"]["status"], 500);
    let (status, body) = w
        .as_(
            "hr",
            "PATCH",
            &format!("/org/loans/{a}/hr"),
            Some(recorded(name)["request"]["body"].clone()),
        )
        .await;
    assert_eq!(status, 400, "{name}: {body}");
    crate::helpers::assert_same_keys(&body, &recorded(name)["response"]["body"]);
    assert_eq!(body["code"], "invalid_status");
}

#[tokio::test]
async fn a_workflow_reset_and_a_document_delete_are_committed() {
    let w = World::new().await;
    let b = w.loan('B');
    // The recording's reset answered IN_REVIEW with three fresh core stages but was not
    // committed (Q1); ours is stored. Its stages were re-opened by HR before, ours are new.
    let body = w
        .replay_with(
            "edit reset_workflow on SUBMITTED loan",
            ADMIN,
            &[],
            // The recording's loan B held three HR documents by then; ours holds none.
            &["/data/workflow_stages", "/data/documents"],
        )
        .await;
    assert_eq!(body["data"]["status"], "IN_REVIEW");
    let stages = w.stages(b).await;
    assert_eq!(stages.len(), 3);
    assert!(stages.iter().all(|s| s.1 == "PENDING" && s.2.is_none()));
    assert_eq!(w.loan_row(b).await.0, "IN_REVIEW");

    // Q11 fixed: deleting the documents works (the legacy answered 500 once the loan had one).
    let name = "edit delete_documents 500";
    assert_eq!(recorded(name)["response"]["status"], 500);
    w.add_document(b, "HR_REVIEW", "SPOUSE_PARTNER_CONSENT")
        .await;
    let (status, body) = w
        .as_(
            "admin",
            "PATCH",
            &format!("/org/loans/{b}/edit"),
            Some(recorded(name)["request"]["body"].clone()),
        )
        .await;
    assert_eq!(status, 200, "{name}: {body}");
    crate::helpers::assert_same_keys(
        &body["data"],
        &recorded("edit reset_workflow on SUBMITTED loan")["response"]["body"]["data"],
    );
    assert_eq!(body["data"]["documents"], json!([]));
    let (_, docs) = w
        .as_("admin", "GET", &format!("/org/loans/{b}/documents"), None)
        .await;
    assert_eq!(docs["data"]["total"], 0);
}
