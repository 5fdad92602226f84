//! The loans golden samples the other loan modules do not replay: the rest of the recorded
//! story (the submitted loan's stages, the policy change, activation by the legal stage,
//! repayments, the 83(b) election, the fully paid loan, step-up on submission, the admin
//! rejection) in the recorded order, and the two CORS preflights.
//!
//! Stage documents are written as rows (the admin upload routes are `loan_admin_documents`'
//! subject); stages are completed and loans activated and repaid through the API.

use serde_json::{Value, json};

use crate::helpers::{json as read_json, sample};
use crate::loan_apply_support::{FILE, LoanWorld, ORG};

const B: Option<&str> = Some("borrower");
const M: Option<&str> = Some("married");
const ADMIN: Option<&str> = Some("admin");

/// The stage a document type is filed under.
fn stage_of(document_type: &str) -> &'static str {
    match document_type {
        "NOTICE_OF_STOCK_OPTION_GRANT" | "SPOUSE_PARTNER_CONSENT" => "HR_REVIEW",
        "PAYMENT_INSTRUCTIONS" => "FINANCE_PROCESSING",
        "SECTION_83B_ELECTION" => "BORROWER_83B_ELECTION",
        _ => "LEGAL_EXECUTION",
    }
}

/// Writes the `documents` of a recorded SelfLoan answer (`name`) to our loan `loan`, with the
/// recorded paths and times: the stage documents, or with `election` only the 83(b) election,
/// under that recorded id.
async fn file_documents(w: &LoanWorld, name: &str, loan: &str, election: Option<&str>) {
    let docs = sample(FILE, name)["response"]["body"]["data"]["documents"].clone();
    for doc in docs.as_array().unwrap() {
        let kind = doc["document_type"].as_str().unwrap();
        let id = match (kind == "SECTION_83B_ELECTION", election) {
            (true, Some(id)) => uuid::Uuid::parse_str(id).unwrap(),
            (false, None) => uuid::Uuid::new_v4(),
            _ => continue,
        };
        let uploader = if kind == "SECTION_83B_ELECTION" {
            "borrower"
        } else {
            "admin"
        };
        let path = doc["storage_path_or_url"].as_str().unwrap();
        sqlx::query(
            "INSERT INTO loan_documents (id, org_id, loan_application_id, stage_type, document_type, \
             file_name, storage_path_or_url, storage_provider, storage_bucket, storage_object_key, \
             content_type, size_bytes, uploaded_by_user_id, uploaded_at, created_at) VALUES \
             ($1, $2, $3::uuid, $4, $5, $6, $7, 'local', 'local', $7, 'application/pdf', 45, $8, \
             $9::timestamptz, $9::timestamptz)",
        )
        .bind(id)
        .bind(ORG)
        .bind(loan)
        .bind(stage_of(kind))
        .bind(kind)
        .bind(doc["file_name"].as_str().unwrap())
        .bind(path)
        .bind(w.members[uploader].user_id)
        .bind(doc["uploaded_at"].as_str().unwrap())
        .execute(&w.app.db)
        .await
        .unwrap();
    }
}

/// A PATCH of a core stage of `loan` to COMPLETED, as the admin.
async fn complete_stage(w: &LoanWorld, loan: &str, route: &str) {
    let (status, body) = w
        .call(
            ADMIN,
            Some(ORG),
            "PATCH",
            &format!("/org/loans/{loan}/{route}"),
            Some(json!({"status": "COMPLETED", "notes": "golden"})),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{route}: {body}");
}

/// A `multipart/form-data` POST as the admin.
async fn post_form(
    w: &LoanWorld,
    path: &str,
    fields: &serde_json::Map<String, Value>,
) -> (u16, Value) {
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in fields {
        form = form.text(k.clone(), v.as_str().unwrap().to_owned());
    }
    let resp = w
        .app
        .call("POST", "")
        .url(w.app.url(path))
        .token(w.session("admin").await.access)
        .header("X-Org-Id", ORG)
        .multipart(form)
        .response()
        .await;
    read_json(resp).await
}

/// Replays the recorded multipart admin call `name`.
async fn replay_form(w: &LoanWorld, name: &str, skip: &[&str]) -> Value {
    let s = sample(FILE, name);
    let path = w.ours(
        s["request"]["path"]
            .as_str()
            .unwrap()
            .trim_start_matches("/api/v1"),
    );
    let fields = s["request"]["body"]["multipart"]
        .as_object()
        .unwrap()
        .clone();
    let (status, body) = post_form(w, &path, &fields).await;
    w.expect(name, status, &body, skip);
    body
}

#[tokio::test]
async fn the_rest_of_the_recorded_story_answers_as_recorded() {
    let w = LoanWorld::new().await;
    w.loan_policy().await;
    // The borrower's loan L1: created, edited, submitted.
    w.replay("create draft 201 with Idempotency-Key", B).await;
    w.replay("patch draft 200 recalc (term 24)", B).await;
    w.replay("patch draft 200 spouse/marital fields only (no recalc)", B)
        .await;
    let l1 = w.ours("2bbf2c20-8763-434a-a6c9-9ae3b088addf");
    // The recording moved the draft back to 12 months off the record before submitting it.
    let (status, body) = w
        .call(
            B,
            Some(ORG),
            "PATCH",
            &format!("/me/loan-applications/{l1}"),
            Some(json!({"desired_term_months": 12})),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    w.replay(
        "submit 200 with Idempotency-Key (reserves shares, creates core stages)",
        B,
    )
    .await;
    w.replay("get submitted 200 (stages, current stage)", B)
        .await;

    // A draft overtaken by a policy change, refreshed and submitted.
    w.replay("create draft 201 (to be overtaken by a policy change)", B)
        .await;
    let before: i32 =
        sqlx::query_scalar("SELECT policy_version FROM org_settings WHERE org_id = $1")
            .bind(ORG)
            .fetch_one(&w.app.db)
            .await
            .unwrap();
    // The recording's policy_version had been bumped by equal re-sends before (§15 Q22, fixed
    // here), so only the bump of this change is compared.
    let put = w
        .replay_skipping(
            "PUT /org/settings fixed 7.0 + 10 % down payment (policy_version + 1)",
            ADMIN,
            &["/data/policy_version"],
        )
        .await;
    assert_eq!(put["data"]["policy_version"], before + 1);
    w.replay(
        "patch 200 recalc refreshes policy snapshot (down payment applied)",
        B,
    )
    .await;
    w.replay("submit 200 after refresh", B).await;

    // Activation: HR and finance complete with their documents, then legal.
    file_documents(
        &w,
        "get ACTIVE loan 200 (post-activation stages, 83(b) countdown)",
        &l1,
        None,
    )
    .await;
    complete_stage(&w, &l1, "hr").await;
    complete_stage(&w, &l1, "finance").await;
    w.replay("admin PATCH legal COMPLETED (activates the loan)", ADMIN)
        .await;
    w.replay(
        "get ACTIVE loan 200 (post-activation stages, 83(b) countdown)",
        B,
    )
    .await;
    // The legacy list named LEGAL_EXECUTION as the current stage of the other SUBMITTED loan
    // (three core stages with one created_at, §15 Q13); sole breaks the tie by stage order,
    // like the detail answer does.
    let list = w
        .replay_skipping(
            "list 200 after activation",
            B,
            &["/data/items/0/current_stage_type"],
        )
        .await;
    assert_eq!(list["data"]["items"][0]["current_stage_type"], "HR_REVIEW");

    // Two repayments recorded by the admin.
    replay_form(&w, "admin POST repayment 201 (scheduled period 1)", &[]).await;
    replay_form(
        &w,
        "admin POST repayment 201 (period 2 + 100.00 extra principal)",
        &[],
    )
    .await;

    // The 83(b) election registered but never uploaded. sole refuses to register a missing
    // object (§15 Q16), so the row is written as a legacy database holds it.
    file_documents(
        &w,
        "get ACTIVE loan 200 after 83(b) (has_83b_election true)",
        &l1,
        Some("f636e1ac-f825-46c6-8685-796b20c6c081"),
    )
    .await;
    sqlx::query(
        "UPDATE loan_workflow_stages SET status = 'COMPLETED', completed_at = now(), updated_at = now() \
         WHERE loan_application_id = $1::uuid AND stage_type = 'BORROWER_83B_ELECTION'",
    )
    .bind(&l1)
    .execute(&w.app.db)
    .await
    .unwrap();
    w.replay(
        "document download 404 document_missing (registered but never uploaded)",
        B,
    )
    .await;
    w.replay("get ACTIVE loan 200 after 83(b) (has_83b_election true)", B)
        .await;

    // The married employee's loan LB, activated and paid by its six instalments.
    w.settings(
        "require_down_payment = false, down_payment_percent = NULL, \
         policy_version = policy_version + 1",
    )
    .await;
    for name in [
        "create draft 201 married employee without spouse info",
        "submit 400 spouse_info_required (profile MARRIED, snapshot empty)",
        "patch 200 marital_status_snapshot SINGLE (differs from profile)",
        "submit 400 marital_status_mismatch",
        "patch 200 MARRIED + partial spouse info",
        "submit 400 spouse_info_required lists the missing fields",
        "patch 200 complete spouse info",
        "submit 200 married employee",
        "create draft 201 married employee, all remaining shares",
        "submit 200 (every vested share now reserved)",
    ] {
        w.replay(name, M).await;
    }
    let lb = w.ours("1d8bf436-157b-4e48-971d-bda75eca50be");
    file_documents(
        &w,
        "get loan 200 still ACTIVE after the schedule is fully paid",
        &lb,
        None,
    )
    .await;
    for route in ["hr", "finance", "legal"] {
        complete_stage(&w, &lb, route).await;
    }
    let repay = format!("/org/loans/{lb}/repayments");
    let mut fields = serde_json::Map::new();
    fields.insert("payment_date".into(), json!("2026-12-07"));
    for n in 1..=6 {
        let (status, body) = post_form(&w, &repay, &fields).await;
        assert_eq!(status, 201, "instalment {n}: {body}");
    }
    // Deliberate difference (§15 Q7, §6.3): the schedule is fully paid, so sole completes the
    // loan (the legacy kept it ACTIVE, 0.01 short of total_payable_amount) and a further
    // repayment is refused because the loan is no longer ACTIVE.
    let name = "admin POST repayment 400 loan_fully_paid (schedule exhausted)";
    let (status, body) = post_form(&w, &repay, &fields).await;
    assert_eq!(status, 400, "{name}: {body}");
    let got = w
        .replay_skipping(
            "get loan 200 still ACTIVE after the schedule is fully paid",
            M,
            &["/data/status"],
        )
        .await;
    assert_eq!(got["data"]["status"], "COMPLETED");

    // Step-up on submission.
    w.settings("require_two_factor = true, mfa_required_actions = '[\"LOAN_SUBMISSION\"]'")
        .await;
    w.replay(
        "create draft 201 (LOAN_SUBMISSION step-up is not required for create)",
        B,
    )
    .await;
    let denied = w.replay("submit 403 step_up_mfa_required", B).await;
    let session = w.session("borrower").await;
    let secret = w.members["borrower"].totp_secret.clone().unwrap();
    let verified = w
        .app
        .call("POST", "/auth/step-up/verify")
        .without_cookies()
        .token(&session.access)
        .org(ORG)
        .json(&json!({
            "challenge_token": denied["details"]["challenge_token"],
            "code": crate::fixtures::totp_now(&secret),
            "code_type": "totp",
        }))
        .send()
        .await;
    w.expect(
        "POST /auth/step-up/verify 200 (core endpoint)",
        verified.status,
        &verified.body,
        &[],
    );
    let token = verified.str("step_up_token");
    let step_up = [("X-Step-Up-Token", token.as_str())];
    w.replay_with("submit 200 with X-Step-Up-Token", B, &[], &step_up)
        .await;
    w.replay_with(
        "submit 403 another user's X-Step-Up-Token is ignored (new challenge)",
        M,
        &[],
        &step_up,
    )
    .await;
    w.settings("require_two_factor = false, mfa_required_actions = '[]'")
        .await;

    // Deliberate difference (§15 Q32): the admin rejection is committed, so the borrower sees
    // it (the legacy answered 200 and rolled it back).
    w.replay_skipping(
        "admin PATCH /org/loans/{id} REJECTED answers 200 but is never committed",
        ADMIN,
        &[
            "/data/policy_version_snapshot",
            "/data/org_settings_snapshot/policy_version",
        ],
    )
    .await;
    let got = w
        .replay_skipping(
            "get 200 after the admin REJECTED call: still SUBMITTED",
            B,
            &["/data/status"],
        )
        .await;
    assert_eq!(got["data"]["status"], "REJECTED");
}

/// The loans recording's preflights of `POST /me/loan-applications` from the SPA's origin.
/// Deliberate difference (§15 Q9): `Idempotency-Key` is an allowed header, so both pass and
/// the allow-list names it.
#[tokio::test]
async fn loan_preflights_allow_the_idempotency_key() {
    let app = crate::helpers::spawn_app().await;
    for name in [
        "CORS preflight 400: Idempotency-Key is not an allowed header",
        "CORS preflight 200 without Idempotency-Key",
    ] {
        let exchange = sample(FILE, name);
        let req = &exchange["request"];
        let mut builder = app.call("OPTIONS", "").url(format!(
            "{}{}",
            app.address,
            req["path"].as_str().unwrap()
        ));
        for (k, v) in req["headers"].as_object().unwrap() {
            builder = builder.header(k, v.as_str().unwrap());
        }
        let resp = builder.response().await;
        assert_eq!(resp.status(), 200, "{name}");
        for (k, v) in exchange["response"]["headers"].as_object().unwrap() {
            let want = v
                .as_str()
                .unwrap()
                .replace("Content-Type, ", "Content-Type, Idempotency-Key, ");
            assert_eq!(
                resp.headers().get(k.as_str()).map(|h| h.to_str().unwrap()),
                Some(want.as_str()),
                "{name}: header {k}"
            );
        }
        assert_eq!(resp.text().await.unwrap(), "OK", "{name}");
    }
}
