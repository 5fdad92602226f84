//! The borrower views of a loan (`/me/loans/*`, loans contract §2.8–§2.15): loans, stages,
//! documents and repayments are written under the recording's ids, so every golden answer is
//! compared verbatim.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::json as read_json;
use crate::loan_view_support::{CANCELLED, L1, LB, LoanRow, LoanWorld, ORG, sample};

/// The recorded `(status, body)` of a sample.
fn recorded(name: &str) -> (u16, Value) {
    let s = sample(name);
    (
        s["response"]["status"].as_u64().unwrap() as u16,
        s["response"]["body"].clone(),
    )
}

/// Sends the recorded request of `name` as `who` in `sole-llc`.
async fn replay(w: &LoanWorld, name: &str, who: &str) -> (u16, Value) {
    let s = sample(name);
    let req = &s["request"];
    let mut path = req["path"]
        .as_str()
        .unwrap()
        .trim_start_matches("/api/v1")
        .to_owned();
    if let Some(q) = req["query"].as_object().filter(|q| !q.is_empty()) {
        let pairs: Vec<String> = q
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap()))
            .collect();
        path = format!("{path}?{}", pairs.join("&"));
    }
    let body = (!req["body"].is_null()).then(|| req["body"].clone());
    w.call(who, req["method"].as_str().unwrap(), &path, body)
        .await
}

async fn assert_replays(w: &LoanWorld, name: &str, who: &str) {
    assert_eq!(replay(w, name, who).await, recorded(name), "{name}");
}

/// L1 active, with its five stages.
async fn active_l1(w: &LoanWorld) -> Uuid {
    let id = w.insert_loan(&LoanRow::l1()).await;
    w.activated_stages(id, false).await;
    id
}

// ---------------------------------------------------------------------------------------------
// Schedules, repayments, what-if, export
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_submitted_loan_has_a_schedule_from_its_quote_date() {
    let w = LoanWorld::new().await;
    let mut row = LoanRow::l1().with_status("SUBMITTED");
    row.activation = None;
    row.due_83b = None;
    w.insert_loan(&row).await;
    assert_replays(
        &w,
        "get SUBMITTED loan schedule 200 (no status check; starts from as_of_date)",
        "borrower",
    )
    .await;
}

#[tokio::test]
async fn repayments_and_the_remaining_schedule_follow_the_recording() {
    let w = LoanWorld::new().await;
    active_l1(&w).await;
    assert_replays(
        &w,
        "schedule 200 ACTIVE loan (default as_of = today)",
        "borrower",
    )
    .await;
    assert_replays(&w, "repayments 200 empty", "borrower").await;
    w.l1_repayments().await;
    assert_replays(
        &w,
        "repayments 200 two rows (payment_date desc, created_at desc)",
        "borrower",
    )
    .await;
    assert_replays(
        &w,
        "schedule 200 after repayments (remaining entries, re-amortized estimate)",
        "borrower",
    )
    .await;
    assert_replays(&w, "schedule 200 include_paid=true", "borrower").await;
    assert_replays(
        &w,
        "schedule 200 as_of before the repayments (they are ignored)",
        "borrower",
    )
    .await;
    assert_replays(&w, "schedule 422 as_of not a date", "borrower").await;
}

#[tokio::test]
async fn a_repayment_dated_after_as_of_does_not_count_yet() {
    let w = LoanWorld::new().await;
    let loan = active_l1(&w).await;
    w.insert_repayment(
        &crate::loan_view_support::RepaymentRow {
            id: Uuid::new_v4(),
            loan,
            amount: "215.740000",
            principal: "202.200000",
            interest: "13.540000",
            payment_date: time::macros::date!(2027 - 01 - 07),
            created_at: "2026-12-07T01:00:00Z".to_owned(),
        },
        None,
    )
    .await;
    let (_, today) = w.get("borrower", &format!("/me/loans/{L1}/schedule")).await;
    assert_eq!(today["data"]["term_months"], 12);
    let (_, later) = w
        .get(
            "borrower",
            &format!("/me/loans/{L1}/schedule?as_of=2027-01-07&include_paid=yes"),
        )
        .await;
    assert_eq!(later["data"]["term_months"], 12);
    assert_eq!(later["data"]["entries"][0]["payment"], "0.00");
    assert_eq!(later["data"]["principal"], "2297.80");
    // The list shows it whatever its date, with no recorder.
    let (_, list) = w
        .get("borrower", &format!("/me/loans/{L1}/repayments"))
        .await;
    assert_eq!(list["data"]["total"], 1);
    assert_eq!(list["data"]["items"][0]["recorded_by_name"], Value::Null);
}

#[tokio::test]
async fn what_if_schedules_follow_the_recording() {
    let w = LoanWorld::new().await;
    active_l1(&w).await;
    w.l1_repayments().await;
    assert_replays(
        &w,
        "what-if 200 empty body (remaining principal, original terms, start = activation date)",
        "borrower",
    )
    .await;
    assert_replays(&w, "what-if 200 term 24 at 5 %", "borrower").await;
    assert_replays(
        &w,
        "what-if 200 BALLOON with explicit principal",
        "borrower",
    )
    .await;
    assert_replays(&w, "what-if 422 negative principal", "borrower").await;

    let path = format!("/me/loans/{L1}/schedule/what-if");
    let (status, body) = w
        .call("borrower", "POST", &path, Some(json!({"term_months": 0})))
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        body["message"],
        "term_months: Input should be greater than or equal to 1"
    );
    let (status, body) = w
        .call(
            "borrower",
            "POST",
            &path,
            Some(json!({"repayment_method": "INTEREST_ONLY", "annual_rate_percent": "abc"})),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["details"]["errors"].as_array().unwrap().len(), 2);
    // Zero rate: principal over the term; a term beyond 100 years is a 400, not a stuck worker.
    let (status, body) = w
        .call(
            "borrower",
            "POST",
            &path,
            Some(json!({"annual_rate_percent": 0, "principal": "1200", "term_months": 12})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["estimated_monthly_payment"], "100.00");
    let (status, body) = w
        .call(
            "borrower",
            "POST",
            &path,
            Some(json!({"term_months": 100000})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "invalid_schedule");
}

#[tokio::test]
async fn the_export_is_the_recorded_csv() {
    let w = LoanWorld::new().await;
    active_l1(&w).await;
    w.l1_repayments().await;
    let expected = sample("export 200 CSV");
    let resp = w
        .request(
            Some("borrower"),
            Some(ORG),
            "GET",
            &format!("/me/loans/{L1}/export"),
            None,
        )
        .await;
    assert_eq!(resp.status(), 200);
    for h in ["content-type", "content-disposition"] {
        assert_eq!(
            resp.headers()[h].to_str().unwrap(),
            expected["response"]["headers"][h].as_str().unwrap(),
            "{h}"
        );
    }
    assert_eq!(
        resp.text().await.unwrap(),
        expected["response"]["body"].as_str().unwrap()
    );
}

#[tokio::test]
async fn a_loan_paid_by_its_schedule_has_nothing_left() {
    let w = LoanWorld::new().await;
    let lb = w.insert_loan(&LoanRow::lb()).await;
    w.activated_stages(lb, false).await;
    w.lb_paid_in_full().await;
    assert_replays(
        &w,
        "schedule 200 fully paid (no entries, term 0)",
        "married",
    )
    .await;
    assert_replays(&w, "schedule 200 fully paid include_paid=true", "married").await;
    let expected = sample("export 200 fully paid (header only)");
    let resp = w
        .request(
            Some("married"),
            Some(ORG),
            "GET",
            &format!("/me/loans/{LB}/export"),
            None,
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.text().await.unwrap(),
        expected["response"]["body"].as_str().unwrap()
    );
}

// ---------------------------------------------------------------------------------------------
// Guards
// ---------------------------------------------------------------------------------------------

/// `(method, path suffix, permission)` of every `/me/loans/{id}` route of this file.
const ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "/repayments", "loan.payment.self.view"),
    ("GET", "/schedule", "loan.schedule.self.view"),
    ("POST", "/schedule/what-if", "loan.what_if.self.simulate"),
    ("GET", "/export", "loan.export.self"),
];

#[tokio::test]
async fn every_route_checks_token_permission_ownership_and_id() {
    let w = LoanWorld::new().await;
    active_l1(&w).await;
    let mut cancelled = LoanRow::l1().with_status("CANCELLED");
    cancelled.id = Uuid::parse_str(CANCELLED).unwrap();
    cancelled.activation = None;
    w.insert_loan(&cancelled).await;
    for (method, suffix, code) in ROUTES {
        let body = (*method == "POST").then(|| json!({}));
        let path = format!("/me/loans/{L1}{suffix}");
        // 401 before anything else, even without X-Org-Id.
        let (status, out) =
            read_json(w.request(None, None, method, &path, body.clone()).await).await;
        assert_eq!(
            (status, out["message"].clone()),
            (401, json!("Not authenticated")),
            "{path}"
        );
        let (status, out) = w.call("noperm", method, &path, body.clone()).await;
        assert_eq!(status, 403, "{path}");
        assert_eq!(out["message"], format!("Missing permission: {code}"));
        // Another employee's loan and an unknown loan are both "not found".
        let (status, out) = w.call("other", method, &path, body.clone()).await;
        assert_eq!(
            (status, out["message"].clone()),
            (404, json!("Loan application not found"))
        );
        let unknown = format!("/me/loans/00000000-0000-4000-8000-000000000000{suffix}");
        let (status, _) = w.call("borrower", method, &unknown, body.clone()).await;
        assert_eq!(status, 404, "{unknown}");
        let (status, out) = w
            .call(
                "borrower",
                method,
                &format!("/me/loans/not-a-uuid{suffix}"),
                body.clone(),
            )
            .await;
        assert_eq!(status, 422, "{out}");
        assert_eq!(
            out["details"]["errors"][0]["loc"],
            json!(["path", "loan_id"])
        );
        // A superuser acting in an org where its user id has no membership.
        let (status, out) = w.call("admin", method, &path, body.clone()).await;
        assert_eq!(status, 404, "{out}");
        // Any status has a schedule (a cancelled draft included).
        let (status, _) = w
            .call(
                "borrower",
                method,
                &format!("/me/loans/{CANCELLED}{suffix}"),
                body,
            )
            .await;
        assert_eq!(status, 200, "{suffix}");
    }
    assert_replays(
        &w,
        "repayments 403 missing permission loan.payment.self.view",
        "noperm",
    )
    .await;
    assert_replays(
        &w,
        "schedule 403 missing permission loan.schedule.self.view",
        "noperm",
    )
    .await;
    assert_replays(
        &w,
        "what-if 403 missing permission loan.what_if.self.simulate",
        "noperm",
    )
    .await;
    assert_replays(
        &w,
        "export 403 missing permission loan.export.self",
        "noperm",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Documents and the 83(b) election
// ---------------------------------------------------------------------------------------------

/// The documents the HR, Finance and Legal stages uploaded to L1 (the recording's rows).
async fn stage_documents(w: &LoanWorld) {
    let after = crate::loan_view_support::sample_data("documents 200 after 83(b)");
    for group in after["groups"].as_array().unwrap() {
        if group["stage_type"] == "BORROWER_83B_ELECTION" {
            continue;
        }
        for doc in group["documents"].as_array().unwrap() {
            w.insert_document(doc, "admin").await;
        }
    }
}

/// Writes `bytes` under `key` in the local store.
fn store_file(w: &LoanWorld, key: &str, bytes: &[u8]) {
    let path = w.store.path().join(key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test]
async fn documents_are_listed_by_stage_and_downloaded_as_recorded() {
    let w = LoanWorld::new().await;
    active_l1(&w).await;
    stage_documents(&w).await;
    assert_replays(&w, "documents 200 grouped by stage", "borrower").await;
    assert_replays(&w, "documents 404 unknown loan", "borrower").await;
    assert_replays(&w, "documents 404 another employee's loan", "other").await;
    assert_replays(
        &w,
        "documents 403 missing permission loan.document.self_view",
        "noperm",
    )
    .await;

    let recorded_download = sample("document download 200 (local storage file)");
    let bytes = recorded_download["response"]["body"].as_str().unwrap();
    let doc = &crate::loan_view_support::sample_data("documents 200 grouped by stage")["groups"][0]
        ["documents"][0];
    store_file(
        &w,
        doc["storage_path_or_url"].as_str().unwrap(),
        bytes.as_bytes(),
    );
    let path = recorded_download["request"]["path"]
        .as_str()
        .unwrap()
        .trim_start_matches("/api/v1");
    let resp = w
        .request(Some("borrower"), Some(ORG), "GET", path, None)
        .await;
    assert_eq!(resp.status(), 200);
    for h in ["content-type", "content-disposition"] {
        assert_eq!(
            resp.headers()[h].to_str().unwrap(),
            recorded_download["response"]["headers"][h]
                .as_str()
                .unwrap()
        );
    }
    assert_eq!(resp.text().await.unwrap(), bytes);
    assert_replays(&w, "document download 404 unknown", "borrower").await;
    // Another employee cannot download it; nor can someone without the permission.
    let (status, out) = w.get("other", path).await;
    assert_eq!(
        (status, out["message"].clone()),
        (404, json!("Loan document not found"))
    );
    let (status, out) = w.get("noperm", path).await;
    assert_eq!(status, 403, "{out}");
    // A registered file that is gone from the store.
    std::fs::remove_file(
        w.store
            .path()
            .join(doc["storage_path_or_url"].as_str().unwrap()),
    )
    .unwrap();
    let (status, out) = w.get("borrower", path).await;
    assert_eq!(status, 404);
    assert_eq!(out["code"], "document_missing");
    assert_eq!(
        out["details"]["storage_path_or_url"],
        doc["storage_path_or_url"]
    );
}

#[tokio::test]
async fn an_83b_election_is_uploaded_registered_and_completes_its_stage() {
    let w = LoanWorld::new().await;
    active_l1(&w).await;
    stage_documents(&w).await;
    let mut cancelled = LoanRow::l1().with_status("CANCELLED");
    cancelled.id = Uuid::parse_str(CANCELLED).unwrap();
    cancelled.activation = None;
    w.insert_loan(&cancelled).await;

    assert_replays(&w, "83b upload-url 400 invalid_document_type", "borrower").await;
    assert_replays(&w, "83b upload-url 400 invalid_file_type", "borrower").await;
    assert_replays(
        &w,
        "83b upload-url 400 invalid_status (loan not ACTIVE)",
        "borrower",
    )
    .await;

    // The ticket: a token-free signed PUT to this server, for a key of this loan.
    let (status, ticket) = replay(&w, "83b upload-url 200 (local storage)", "borrower").await;
    assert_eq!(status, 200, "{ticket}");
    let t = &ticket["data"];
    let recorded_ticket =
        crate::loan_view_support::sample_data("83b upload-url 200 (local storage)");
    crate::helpers::assert_same_keys(t, &recorded_ticket);
    assert_eq!(
        t["required_headers_or_fields"],
        recorded_ticket["required_headers_or_fields"]
    );
    assert_eq!(
        (&t["storage_provider"], &t["storage_bucket"]),
        (&json!("local"), &json!("local"))
    );
    assert_eq!(t["file_name"], "My 83b Election.PDF");
    let key = t["storage_key"].as_str().unwrap().to_owned();
    let prefix = format!("orgs/{ORG}/loans/{L1}/documents/");
    let name = key.strip_prefix(&prefix).expect("key of this loan");
    assert!(name.len() == 36 && name.ends_with(".pdf"), "{key}");
    let url = t["upload_url"].as_str().unwrap();
    assert!(url.starts_with(&format!(
        "http://localhost:8311/api/v1/assets/local-content?key={}",
        key.replace('/', "%2F")
    )));

    // Registration refusals, in the legacy order.
    for name in [
        "83b register 400 missing_storage_key",
        "83b register 400 invalid_storage_key (URL)",
        "83b register 400 invalid_storage_key (other org prefix)",
        "83b register 400 invalid_document_type",
    ] {
        assert_replays(&w, name, "borrower").await;
    }
    assert_replays(
        &w,
        "83b register 403 missing permission loan.document.self_upload_83b",
        "noperm",
    )
    .await;
    let register = |storage_key: &str| {
        json!({"document_type": "SECTION_83B_ELECTION", "file_name": "My 83b Election.PDF",
               "storage_key": storage_key, "storage_provider": "local", "storage_bucket": "local",
               "content_type": "application/pdf", "size_bytes": 2048})
    };
    let path = format!("/me/loans/{L1}/documents/83b");
    // Not uploaded yet: refused (the legacy registered it and the download then failed).
    let (status, out) = w
        .call("borrower", "POST", &path, Some(register(&key)))
        .await;
    assert_eq!(
        (status, out["code"].clone()),
        (400, json!("storage_object_missing")),
        "{out}"
    );
    // A key of another loan, even in this org, is not this upload's.
    let other_loan_key = format!(
        "orgs/{ORG}/loans/{CANCELLED}/documents/{}.pdf",
        Uuid::new_v4().simple()
    );
    store_file(&w, &other_loan_key, b"%PDF-1.4 other");
    let (status, out) = w
        .call("borrower", "POST", &path, Some(register(&other_loan_key)))
        .await;
    assert_eq!(
        (status, out["code"].clone()),
        (400, json!("invalid_storage_key")),
        "{out}"
    );

    // The SPA's PUT: no token, only the content type.
    let pdf = b"%PDF-1.4\n% 83(b) election\n%%EOF\n".to_vec();
    let put = w
        .app
        .call("PUT", "")
        .url(url.replacen("http://localhost:8311", &w.app.address, 1))
        .header("Content-Type", "application/pdf")
        .body(pdf.clone())
        .response()
        .await;
    assert_eq!(put.status(), 200);

    let (status, out) = w
        .call("borrower", "POST", &path, Some(register(&key)))
        .await;
    assert_eq!(status, 201, "{out}");
    let recorded = sample("83b register 201 (completes BORROWER_83B_ELECTION stage)");
    assert_eq!(out["code"], recorded["response"]["body"]["code"]);
    let mut want = recorded["response"]["body"]["data"].clone();
    let doc = &out["data"];
    for k in ["id", "uploaded_at", "created_at"] {
        want[k] = doc[k].clone();
    }
    for k in ["storage_path_or_url", "storage_object_key"] {
        want[k] = json!(key);
    }
    // The stored size is the object's, not the declared one.
    want["size_bytes"] = json!(pdf.len());
    assert_eq!(doc, &want);
    let doc_id = doc["id"].as_str().unwrap().to_owned();

    // The stage is completed by the borrower; both audit rows name their resources.
    let (status, completed_by): (String, Option<Uuid>) = sqlx::query_as(
        "SELECT status, completed_by_user_id FROM loan_workflow_stages \
         WHERE loan_application_id = $1 AND stage_type = 'BORROWER_83B_ELECTION'",
    )
    .bind(Uuid::parse_str(L1).unwrap())
    .fetch_one(&w.app.db)
    .await
    .unwrap();
    assert_eq!(
        (status.as_str(), completed_by),
        ("COMPLETED", Some(w.member("borrower").user_id))
    );
    let audits: Vec<(String, String)> = sqlx::query_as(
        "SELECT action, resource_id FROM audit_logs WHERE org_id = $1 ORDER BY created_at, action",
    )
    .bind(ORG)
    .fetch_all(&w.app.db)
    .await
    .unwrap();
    assert!(
        audits.contains(&("loan_document.created".to_owned(), doc_id.clone())),
        "{audits:?}"
    );
    assert!(
        audits
            .iter()
            .any(|(a, _)| a == "loan_workflow_stage.updated"),
        "{audits:?}"
    );

    // The list now has the election first, named by its uploader's e-mail; it downloads.
    let (status, list) = w
        .get("borrower", &format!("/me/loans/{L1}/documents"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["data"]["total"], 8);
    let first = &list["data"]["groups"][0];
    assert_eq!(first["stage_type"], "BORROWER_83B_ELECTION");
    assert_eq!(
        first["documents"][0]["uploaded_by_name"],
        "golden.borrower@example.com"
    );
    let resp = w
        .request(
            Some("borrower"),
            Some(ORG),
            "GET",
            &format!("/me/loans/documents/{doc_id}/download"),
            None,
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-disposition"].to_str().unwrap(),
        "attachment; filename*=utf-8''My%2083b%20Election.PDF"
    );
    assert_eq!(resp.bytes().await.unwrap().to_vec(), pdf);
}
