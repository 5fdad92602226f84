//! Stage documents as reviewers handle them (loan-admin §5.9, §8; scenarios 6, 7, 8, 10 and 12
//! of §15): the upload URL and the frontend's signed PUT, registration, the multipart uploads,
//! downloads and share certificates, replayed against the legacy goldens where the state
//! allows (recorded ids and storage keys are mapped to ours as they appear).

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::sample;
use crate::loan_admin_support::{FILE, ORG, PDF, World};

const HR_DOCS: [&str; 2] = ["NOTICE_OF_STOCK_OPTION_GRANT", "SPOUSE_PARTNER_CONSENT"];
const LEGAL_DOCS: [&str; 4] = [
    "STOCK_OPTION_EXERCISE_AND_LOAN_AGREEMENT",
    "SECURED_PROMISSORY_NOTE",
    "STOCK_POWER_AND_ASSIGNMENT",
    "INVESTMENT_REPRESENTATION_STATEMENT",
];

fn object_name(key: &str) -> &str {
    key.rsplit('/').next().unwrap()
}

/// From now on the recorded object name of `recorded` stands for ours.
fn learn_key(w: &World, recorded: &Value, ours: &Value) {
    w.learn(
        object_name(recorded.as_str().unwrap()),
        object_name(ours.as_str().unwrap()),
    );
}

fn recorded(name: &str) -> Value {
    sample(FILE, name)
}

fn translated(w: &World, v: &Value) -> Value {
    serde_json::from_str(&w.translate(&v.to_string())).unwrap()
}

/// Sends the recorded request `name` (ids and keys translated to ours) as `who`.
async fn resend(w: &World, name: &str, who: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let req = &recorded(name)["request"];
    let mut path = w.translate(req["path"].as_str().unwrap().trim_start_matches("/api/v1"));
    if let Some(q) = req["query"].as_object().filter(|q| !q.is_empty()) {
        let pairs: Vec<String> = q
            .iter()
            .map(|(k, v)| format!("{k}={}", w.translate(v.as_str().unwrap())))
            .collect();
        path = format!("{path}?{}", pairs.join("&"));
    }
    let body = match &req["body"] {
        Value::Null => None,
        b => Some(translated(w, b)),
    };
    w.call(
        Some(who),
        Some(ORG),
        req["method"].as_str().unwrap(),
        &path,
        body,
        headers,
    )
    .await
}

/// [`resend`], then the answer checked against the recording.
async fn check(w: &World, name: &str, who: &str, skip: &[&str]) -> Value {
    let (status, body) = resend(w, name, who, &[]).await;
    w.expect(name, status, &body, skip);
    body
}

/// The recorded multipart body's file bytes (the recorder wrote a PNG's 0x89 as U+FFFD).
fn recorded_bytes(content: &str) -> Vec<u8> {
    match content.strip_prefix('\u{fffd}') {
        Some(rest) => [&[0x89_u8][..], rest.as_bytes()].concat(),
        None => content.as_bytes().to_vec(),
    }
}

/// Sends the recorded multipart request `name` as `who`.
async fn resend_multipart(
    w: &World,
    name: &str,
    who: &str,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let req = &recorded(name)["request"];
    let path = w.translate(req["path"].as_str().unwrap().trim_start_matches("/api/v1"));
    let form = &req["body"]["multipart"];
    let file = &form["file"];
    let part = reqwest::multipart::Part::bytes(recorded_bytes(file["content"].as_str().unwrap()))
        .file_name(file["filename"].as_str().unwrap().to_owned())
        .mime_str(file["content_type"].as_str().unwrap())
        .unwrap();
    let form = reqwest::multipart::Form::new()
        .text(
            "document_type",
            form["document_type"].as_str().unwrap().to_owned(),
        )
        .part("file", part);
    let mut r = w
        .app
        .call("POST", "")
        .url(w.app.url(&path))
        .token(w.session(who).await.access)
        .header("X-Org-Id", ORG)
        .multipart(form);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.fetch().await
}

/// A stored multipart upload checked against its recording (our key learned first).
async fn check_upload(w: &World, name: &str, who: &str, headers: &[(&str, &str)]) -> Value {
    let (status, body) = resend_multipart(w, name, who, headers).await;
    assert_eq!(status, 201, "{name}: {body}");
    let theirs = &recorded(name)["response"]["body"]["data"];
    learn_key(
        w,
        &theirs["storage_path_or_url"],
        &body["data"]["storage_path_or_url"],
    );
    w.expect(name, status, &body, &[]);
    body
}

/// Upload URL and the frontend's PUT for the recorded registration `name` (its file name,
/// declared size and object name), so that replaying it registers a real object.
async fn put_recorded_object(w: &World, name: &str, who: &str) {
    let req = &recorded(name)["request"];
    let body = &req["body"];
    let loan =
        Uuid::parse_str(&w.translate(req["path"].as_str().unwrap().split('/').nth(5).unwrap()))
            .unwrap();
    let size = body["size_bytes"].as_u64().unwrap_or(PDF.len() as u64) as usize;
    let mut bytes = PDF.to_vec();
    bytes.resize(size.max(PDF.len()), b'\n');
    let ticket = w
        .spa_put(
            who,
            loan,
            body["document_type"].as_str().unwrap(),
            body["file_name"].as_str().unwrap(),
            &bytes,
        )
        .await;
    learn_key(w, &body["storage_key"], &ticket["storage_key"]);
}

fn stored_files(w: &World) -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(w.uploads.path(), &mut out);
    out
}

/// Scenarios 6 (document parts) and 7, with the recorded HR, finance and legal document calls.
#[tokio::test]
async fn stage_documents_are_uploaded_registered_and_listed_like_the_legacy() {
    let w = World::new().await;
    let a = w.loan('A');
    w.replay("assign HR stage to self (HR user, empty body)", Some("hr"))
        .await;
    w.replay(
        "HR stage PATCH 400 COMPLETED without required documents",
        Some("hr"),
    )
    .await;

    // The frontend's flow: upload URL, token-free PUT (the legacy answered 401, Q4), register.
    let name = "document upload-url (HR, NOTICE_OF_STOCK_OPTION_GRANT, local storage)";
    let (status, ticket) = resend(&w, name, "hr", &[]).await;
    assert_eq!(status, 200, "{ticket}");
    let theirs = &recorded(name)["response"]["body"]["data"];
    let t = &ticket["data"];
    learn_key(&w, &theirs["storage_key"], &t["storage_key"]);
    w.expect(name, status, &ticket, &["/data/upload_url"]);
    let key = t["storage_key"].as_str().unwrap();
    let object = object_name(key);
    assert!(
        key.starts_with(&format!("orgs/{ORG}/loans/{a}/documents/"))
            && object.len() == 36
            && object.ends_with(".pdf"),
        "{key}"
    );
    let url = t["upload_url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!(
            "http://localhost:8000/api/v1/assets/local-content?key={}&expires=",
            key.replace('/', "%2F")
        )) && url.contains("&signature="),
        "{url}"
    );
    let put = &recorded(
        "signed PUT to local-content as the SPA sends it (no Authorization/X-Org-Id)",
    )["request"]["body"];
    let bytes = put.as_str().unwrap().as_bytes().to_vec();
    let resp = w
        .app
        .call("PUT", "")
        .url(format!(
            "{}{}",
            w.app.address,
            &url[url.find("/api/v1/").unwrap()..]
        ))
        .header("Content-Type", "application/pdf")
        .body(bytes.clone())
        .response()
        .await;
    assert_eq!(resp.status(), 200);
    // Q4 (and documents §12 quirk 1): the legacy wanted an `assets` row even with a token
    // (404 "Asset not found"); the URL's signature is the capability, the token changes
    // nothing.
    let name = "signed PUT to local-content with Authorization and X-Org-Id";
    assert_eq!(recorded(name)["response"]["status"], 404);
    let resp = w
        .app
        .call("PUT", "")
        .url(format!(
            "{}{}",
            w.app.address,
            &url[url.find("/api/v1/").unwrap()..]
        ))
        .token(w.session("hr").await.access)
        .header("X-Org-Id", ORG)
        .header("Content-Type", "application/pdf")
        .body(bytes.clone())
        .response()
        .await;
    assert_eq!(resp.status(), 200, "{name}");
    assert!(resp.bytes().await.unwrap().is_empty());
    let notice = check(&w, "register HR document from storage key", "hr", &[]).await;
    let notice_id = notice["data"]["id"].as_str().unwrap().to_owned();

    // Registration refusals in the legacy order (type, key, URL, org scope, bucket).
    for name in [
        "register HR document 400 invalid_document_type",
        "register HR document 400 missing_storage_key",
        "register HR document 400 storage_key is a URL",
        "register HR document 400 storage_key not scoped to org",
        "register HR document 400 gcs without bucket",
    ] {
        w.replay(name, Some("hr")).await;
    }
    // Q3: only an existing object minted for this loan's documents.
    let register = |key: &str| {
        json!({"document_type": "SPOUSE_PARTNER_CONSENT", "file_name": "consent.pdf",
               "storage_key": key, "storage_provider": "local", "storage_bucket": "local"})
    };
    let b = w.loan('B');
    let other_loan = w
        .spa_put("hr", b, "SPOUSE_PARTNER_CONSENT", "consent.pdf", PDF)
        .await;
    let never_uploaded = format!(
        "orgs/{ORG}/loans/{a}/documents/{}.pdf",
        Uuid::new_v4().simple()
    );
    for (key, code, message) in [
        (
            other_loan["storage_key"].as_str().unwrap(),
            "invalid_storage_key",
            "storage_key was not issued for this upload",
        ),
        (
            "orgs/sole-llc/templates/unassigned/0123456789abcdef0123456789abcdef.pdf",
            "invalid_storage_key",
            "storage_key was not issued for this upload",
        ),
        (
            "orgs/sole-llc/loans/../../other-org/x.pdf",
            "invalid_storage_key",
            "storage_key is not a valid object key",
        ),
        (
            never_uploaded.as_str(),
            "storage_object_missing",
            "Uploaded file not found in storage",
        ),
    ] {
        let (status, body) = w
            .as_(
                "hr",
                "POST",
                &format!("/org/loans/{a}/documents/hr"),
                Some(register(key)),
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str(), body["message"].as_str()),
            (400, Some(code), Some(message)),
            "{key}: {body}"
        );
    }
    // Body, permission and loan checks.
    let (status, body) = w
        .as_(
            "hr",
            "POST",
            &format!("/org/loans/{a}/documents/hr"),
            Some(json!({"document_type": "SPOUSE_PARTNER_CONSENT", "file_name": ""})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["details"]["errors"][0]["loc"],
        json!(["body", "file_name"])
    );
    assert_eq!(body["details"]["errors"][0]["type"], "string_too_short");
    let (status, body) = w
        .as_(
            "finance",
            "POST",
            &format!("/org/loans/{a}/documents/hr"),
            Some(register(key)),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        body["message"],
        "Missing permission: loan.document.manage_hr"
    );
    let (status, body) = w
        .as_(
            "hr",
            "POST",
            &format!("/org/loans/{}/documents/hr", Uuid::new_v4()),
            Some(register(key)),
        )
        .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (404, Some("Loan application not found"))
    );

    // Upload URL refusals: borrower-only type, certificate before activation, file type,
    // permission by document type (Q2).
    for name in [
        "upload-url 400 SECTION_83B_ELECTION is borrower-only",
        "upload-url 400 SHARE_CERTIFICATE before ACTIVE",
        "upload-url 400 invalid_file_type",
    ] {
        w.replay(name, Some("hr")).await;
    }
    w.replay(
        "upload-url 403 finance user asks for an HR document type",
        Some("finance"),
    )
    .await;

    // Multipart: the consent, then the file rules (nothing stored for a refused file).
    let before = stored_files(&w).len();
    check_upload(
        &w,
        "HR document multipart upload (SPOUSE_PARTNER_CONSENT, PDF)",
        "hr",
        &[],
    )
    .await;
    assert_eq!(stored_files(&w).len(), before + 1);
    for name in [
        "HR document multipart 400 extension not allowed",
        "HR document multipart 400 content does not match extension",
        "HR document multipart 400 wrong document type for HR",
    ] {
        let (status, body) = resend_multipart(&w, name, "hr", &[]).await;
        w.expect(name, status, &body, &[]);
    }
    assert_eq!(
        stored_files(&w).len(),
        before + 1,
        "refused files are not kept"
    );
    check(&w, "list loan documents (grouped by stage)", "hr", &[]).await;
    w.replay(
        "HR stage PATCH COMPLETED (documents present, step-up not required by org)",
        Some("hr"),
    )
    .await;

    // Finance.
    put_recorded_object(
        &w,
        "register finance document (PAYMENT_INSTRUCTIONS)",
        "finance",
    )
    .await;
    check(
        &w,
        "register finance document (PAYMENT_INSTRUCTIONS)",
        "finance",
        &[],
    )
    .await;
    w.replay(
        "register finance document 400 invalid_document_type",
        Some("finance"),
    )
    .await;
    check_upload(
        &w,
        "finance document multipart upload (PAYMENT_CONFIRMATION, PNG)",
        "finance",
        &[],
    )
    .await;
    let name = "finance document multipart 400 wrong type";
    let (status, body) = resend_multipart(&w, name, "finance", &[]).await;
    w.expect(name, status, &body, &[]);

    // Legal (the promissory note was registered off the record).
    let name = "register legal document (STOCK_OPTION_EXERCISE_AND_LOAN_AGREEMENT)";
    put_recorded_object(&w, name, "legal").await;
    check(&w, name, "legal", &[]).await;
    let (status, body) = w
        .upload_via_url("legal", a, "SECURED_PROMISSORY_NOTE", &[])
        .await;
    assert_eq!(status, 201, "{body}");
    w.replay(
        "legal stage PATCH 400 COMPLETED with documents missing",
        Some("legal"),
    )
    .await;
    w.replay(
        "register legal document 400 invalid_document_type",
        Some("legal"),
    )
    .await;
    check_upload(
        &w,
        "legal document multipart upload (STOCK_POWER_AND_ASSIGNMENT)",
        "legal",
        &[],
    )
    .await;
    // Registered without provider, bucket, type or size: the defaults, and the real size.
    let name = "register legal document (INVESTMENT_REPRESENTATION_STATEMENT)";
    put_recorded_object(&w, name, "legal").await;
    let irs = check(&w, name, "legal", &["/data/size_bytes"]).await;
    assert_eq!(irs["data"]["size_bytes"], json!(PDF.len()));

    // Every creation wrote `loan_document.created` with the document's real id (Q6 fixed).
    let (_, list) = w
        .as_("admin", "GET", &format!("/org/loans/{a}/documents"), None)
        .await;
    assert_eq!(list["data"]["total"], 8, "{list}");
    let mut listed: Vec<String> = list["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["documents"].as_array().unwrap().clone())
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    listed.sort();
    let rows = w.audit("loan_document.created").await;
    let mut audited: Vec<String> = rows.iter().map(|r| r.2.clone()).collect();
    audited.sort();
    assert_eq!(audited, listed);
    for (_, resource_type, resource_id, actor, old, new) in &rows {
        assert_eq!(resource_type, "loan_document");
        assert!(actor.is_some());
        assert_eq!(old, &None);
        let new = new.as_ref().unwrap();
        assert_eq!(&new["id"], &json!(resource_id));
        assert!(new["created_at"].as_str().unwrap().ends_with("+00:00"));
    }
    let first = rows.iter().find(|r| r.2 == notice_id).unwrap();
    assert_eq!(first.3, Some(w.member("hr").user_id));
    assert_eq!(first.5.as_ref().unwrap()["size_bytes"], json!(bytes.len()));
    // The org's audit log shows the same (resource_id is the real document id).
    let (status, log) = w
        .as_(
            "admin",
            "GET",
            &format!("/org/audit-logs?resource_type=loan_document&resource_id={notice_id}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{log}");
    assert_eq!(log["data"]["items"][0]["action"], "loan_document.created");
    assert_eq!(log["data"]["items"][0]["new_value"]["id"], json!(notice_id));
}

/// Scenario 8: downloads serve the stored bytes of the row's backend.
#[tokio::test]
async fn documents_download_with_their_name_and_exact_bytes() {
    let w = World::new().await;
    let a = w.loan('A');
    let (status, body) = resend_multipart(
        &w,
        "HR document multipart upload (SPOUSE_PARTNER_CONSENT, PDF)",
        "hr",
        &[],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let recorded_id =
        recorded("HR document multipart upload (SPOUSE_PARTNER_CONSENT, PDF)")["response"]["body"]
            ["data"]["id"]
            .clone();
    w.learn(
        recorded_id.as_str().unwrap(),
        body["data"]["id"].as_str().unwrap(),
    );
    let name = "download document stored by multipart upload";
    let s = recorded(name);
    let path = w.translate(
        s["request"]["path"]
            .as_str()
            .unwrap()
            .trim_start_matches("/api/v1"),
    );
    let session = w.session("finance").await;
    let resp = crate::doc_support::raw_get(&w.app, &path, &session).await;
    assert_eq!(resp.status(), 200);
    let headers = resp.headers().clone();
    let want = &s["response"]["headers"];
    for h in ["content-type", "content-disposition", "content-length"] {
        assert_eq!(json!(headers[h].to_str().unwrap()), want[h], "{h}");
    }
    assert!(headers.contains_key("etag") && headers.contains_key("last-modified"));
    assert_eq!(
        resp.bytes().await.unwrap().as_ref(),
        s["response"]["body"].as_str().unwrap().as_bytes()
    );

    // A row whose object was never stored (a legacy registration): document_missing.
    let missing = w
        .add_document(a, "HR_REVIEW", "NOTICE_OF_STOCK_OPTION_GRANT")
        .await;
    let (status, out) = w
        .as_(
            "hr",
            "GET",
            &format!("/org/loans/documents/{missing}/download"),
            None,
        )
        .await;
    w.expect(
        "download 404 document_missing (registered key, file never uploaded)",
        status,
        &out,
        &["/details/storage_path_or_url"],
    );
    assert_eq!(
        out["details"]["storage_path_or_url"],
        json!(format!(
            "orgs/{ORG}/loans/{a}/documents/{}.pdf",
            missing.simple()
        ))
    );
    w.replay("download 404 unknown document", Some("hr")).await;
    let (status, out) = w
        .as_(
            "borrower",
            "GET",
            &format!("/org/loans/documents/{missing}/download"),
            None,
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(out["message"], "Missing permission: loan.document.view");
    let (status, _) = w
        .as_(
            "hr",
            "GET",
            "/org/loans/documents/not-a-uuid/download",
            None,
        )
        .await;
    assert_eq!(status, 422);
    // Another org's member never sees it.
    let (status, _) = w
        .call(
            Some("outsider"),
            Some(crate::loan_admin_support::OTHER_ORG),
            "GET",
            &format!("/org/loans/documents/{missing}/download"),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 403);
}

/// Walks loan A to ACTIVE through the real document routes (the admin completes the stages).
async fn activate(w: &World, loan: Uuid) {
    w.file_stage_documents("hr", loan, &HR_DOCS).await;
    w.file_stage_documents("finance", loan, &["PAYMENT_INSTRUCTIONS"])
        .await;
    w.file_stage_documents("legal", loan, &LEGAL_DOCS).await;
    for stage in ["hr", "finance", "legal"] {
        let (status, body) = w
            .as_(
                "admin",
                "PATCH",
                &format!("/org/loans/{loan}/{stage}"),
                Some(json!({"status": "COMPLETED"})),
            )
            .await;
        assert_eq!(status, 200, "{stage}: {body}");
    }
    assert_eq!(w.loan_row(loan).await.0, "ACTIVE");
}

fn post_issuance(
    stages: &[(String, String, Option<Uuid>, Option<Uuid>)],
) -> (String, Option<Uuid>) {
    let s = stages
        .iter()
        .find(|s| s.0 == "LEGAL_POST_ISSUANCE")
        .expect("post-issuance stage");
    (s.1.clone(), s.3)
}

async fn certificates(w: &World, loan: Uuid) -> usize {
    let (_, list) = w
        .as_(
            "admin",
            "GET",
            &format!("/org/loans/{loan}/documents"),
            None,
        )
        .await;
    list["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["stage_type"] == "LEGAL_POST_ISSUANCE")
        .map(|g| g["documents"].as_array().unwrap().len())
        .sum()
}

/// Scenario 12 (and the document side of 10): share certificates need an ACTIVE loan, the
/// post-issuance permission and the step-up, which is checked before anything is stored
/// (Q5 fixed); several certificates break nothing (Q14 fixed).
#[tokio::test]
async fn share_certificates_complete_post_issuance_after_step_up() {
    let w = World::new().await;
    let a = w.loan('A');
    activate(&w, a).await;
    assert_eq!(post_issuance(&w.stages(a).await).0, "PENDING");
    crate::fixtures::set_org_settings(
        &w.app,
        ORG,
        "require_two_factor = true, mfa_required_actions = '[\"WORKFLOW_COMPLETE\", \"LOAN_PAYMENT_RECORD\"]'",
    )
    .await;

    // The frontend's flow: upload URL (manage_legal, Q2) and PUT, then register.
    let name = "legal-issuance register 403 step-up required (document already committed)";
    put_recorded_object(&w, name, "legal").await;
    // Refusals before the step-up: loan status, type, permission.
    w.replay("legal-issuance register 400 loan not ACTIVE", Some("legal"))
        .await;
    w.replay(
        "legal-issuance register 400 wrong document type",
        Some("legal"),
    )
    .await;
    w.replay("legal-issuance register 403 finance user", Some("finance"))
        .await;
    let (status, denied) = resend(&w, name, "legal", &[]).await;
    w.expect(name, status, &denied, &[]);
    // Nothing was stored (the legacy kept the certificate, Q5).
    assert_eq!(certificates(&w, a).await, 0);
    // Q5 fixed: the recorded list shows the refused certificate; ours has none.
    let listed = "documents after the refused legal-issuance call (certificate present)";
    let (status, docs) = w
        .as_("admin", "GET", &format!("/org/loans/{a}/documents"), None)
        .await;
    assert_eq!(status, 200);
    let expected = &recorded(listed)["response"]["body"];
    crate::helpers::assert_same_keys(&docs, expected);
    crate::helpers::assert_same_keys(&docs["data"], &expected["data"]);
    let has_certificate = |body: &Value| {
        body["data"]["groups"].as_array().unwrap().iter().any(|g| {
            g["documents"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["document_type"] == "SHARE_CERTIFICATE")
        })
    };
    assert!(has_certificate(expected));
    assert!(!has_certificate(&docs), "{docs}");
    crate::helpers::assert_same_keys(
        &docs["data"]["groups"][0]["documents"][0],
        &expected["data"]["groups"][0]["documents"][0],
    );
    assert_eq!(post_issuance(&w.stages(a).await).0, "PENDING");
    assert!(w.audit("loan_document.created").await.len() == 7);

    // The frontend replays the identical request with the step-up token.
    let token = crate::auth_support::step_up_token(
        &w.app,
        &w.session("legal").await,
        w.member("legal"),
        denied["details"]["challenge_token"].as_str().unwrap(),
    )
    .await;
    let (status, cert) = resend(&w, name, "legal", &[("X-Step-Up-Token", &token)]).await;
    assert_eq!(status, 201, "{cert}");
    w.expect(
        "legal-issuance register with step-up (second certificate)",
        status,
        &cert,
        &[
            "/data/storage_path_or_url",
            "/data/storage_object_key",
            "/data/size_bytes",
        ],
    );
    assert_eq!(cert["data"]["size_bytes"], json!(4096));
    let legal = w.member("legal").user_id;
    assert_eq!(
        post_issuance(&w.stages(a).await),
        ("COMPLETED".to_owned(), Some(legal))
    );
    assert_eq!(certificates(&w, a).await, 1);
    let updates = w.audit("loan_workflow_stage.updated").await;
    let last = updates.last().unwrap();
    assert_eq!(last.3, Some(legal));
    assert_eq!(
        last.4.as_ref().unwrap()["stage_type"],
        "LEGAL_POST_ISSUANCE"
    );
    assert_eq!(last.4.as_ref().unwrap()["status"], "PENDING");
    assert_eq!(last.5.as_ref().unwrap()["status"], "COMPLETED");
    assert_eq!(&json!(last.2), &last.5.as_ref().unwrap()["id"]);
    let created = w.audit("loan_document.created").await;
    assert_eq!(
        created.last().unwrap().2,
        cert["data"]["id"].as_str().unwrap()
    );

    // The multipart twin: without the token nothing is read or stored.
    let files = stored_files(&w).len();
    let name = "legal-issuance multipart upload with step-up";
    let (status, out) = resend_multipart(&w, name, "legal", &[]).await;
    assert_eq!(
        (status, out["code"].as_str()),
        (403, Some("step_up_mfa_required"))
    );
    assert_eq!(stored_files(&w).len(), files);
    // With it: a second certificate, stored with its provider, key, type and size.
    let (status, second) =
        resend_multipart(&w, name, "legal", &[("X-Step-Up-Token", &token)]).await;
    assert_eq!(status, 201, "{second}");
    w.expect(
        name,
        status,
        &second,
        &[
            "/data/storage_path_or_url",
            "/data/storage_provider",
            "/data/storage_object_key",
            "/data/content_type",
            "/data/size_bytes",
        ],
    );
    let d = &second["data"];
    assert_eq!(
        (&d["storage_provider"], &d["content_type"], &d["size_bytes"]),
        (
            &json!("local"),
            &json!("application/pdf"),
            &json!(PDF.len())
        )
    );
    assert_eq!(d["storage_path_or_url"], d["storage_object_key"]);
    assert_eq!(stored_files(&w).len(), files + 1);
    assert_eq!(certificates(&w, a).await, 2);
    // The second certificate downloads like any document.
    let (status, _) = w
        .as_(
            "legal",
            "GET",
            &format!(
                "/org/loans/documents/{}/download",
                d["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(status, 200);

    // Q14 fixed: a full backlog run with several certificates answers (nothing left to do);
    // the legacy answered 500.
    let name = "activate backlog 500 with several share certificates";
    assert_eq!(recorded(name)["response"]["status"], 500);
    let (status, out) = w
        .as_(
            "admin",
            "POST",
            "/org/loans/maintenance/activate-backlog",
            None,
        )
        .await;
    assert_eq!(status, 200, "{name}: {out}");
    crate::helpers::assert_same_keys(
        &out["data"],
        &recorded("activate backlog (nothing eligible)")["response"]["body"]["data"],
    );
    assert_eq!(out["data"]["post_issuance_completed"], 0);
    // The detail now shows the certificate.
    let (_, detail) = w
        .as_("admin", "GET", &format!("/org/loans/{a}"), None)
        .await;
    assert_eq!(detail["data"]["has_share_certificate"], true);
}

/// Scenario 12's backlog case: a certificate the legacy service stored without completing the
/// post-issuance stage (its Q5) is picked up by `activate-backlog` with `loan_id`.
#[tokio::test]
async fn activate_backlog_completes_post_issuance_for_a_legacy_certificate() {
    let w = World::new().await;
    let a = w.loan('A');
    activate(&w, a).await;
    w.add_document(a, "LEGAL_POST_ISSUANCE", "SHARE_CERTIFICATE")
        .await;
    assert_eq!(post_issuance(&w.stages(a).await).0, "PENDING");
    check(
        &w,
        "activate backlog for one loan (completes post-issuance stage)",
        "admin",
        &[],
    )
    .await;
    assert_eq!(
        post_issuance(&w.stages(a).await),
        ("COMPLETED".to_owned(), Some(w.member("admin").user_id))
    );
}

/// Q14: two payment instructions never break the finance completion.
#[tokio::test]
async fn finance_completes_with_two_payment_instructions() {
    let w = World::new().await;
    let a = w.loan('A');
    for _ in 0..2 {
        let (status, body) = w
            .upload_via_url("finance", a, "PAYMENT_INSTRUCTIONS", &[])
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = w
        .as_(
            "finance",
            "PATCH",
            &format!("/org/loans/{a}/finance"),
            Some(json!({"status": "COMPLETED"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "COMPLETED");
}

/// Scenario 11: a step-up token is bound to its action. The admin's WORKFLOW_COMPLETE token
/// (from the certificate challenge) does not pass the grant status change (a new challenge
/// for STOCK_STATUS_CHANGE), yet completes the certificate it was issued for.
#[tokio::test]
async fn a_workflow_complete_token_does_not_satisfy_another_action() {
    let w = World::new().await;
    let a = w.loan('A');
    activate(&w, a).await;
    crate::fixtures::set_org_settings(
        &w.app,
        ORG,
        "require_two_factor = true, \
         mfa_required_actions = '[\"WORKFLOW_COMPLETE\", \"STOCK_STATUS_CHANGE\"]'",
    )
    .await;
    let ticket = w
        .spa_put("admin", a, "SHARE_CERTIFICATE", "certificate.pdf", PDF)
        .await;
    let path = format!("/org/loans/{a}/documents/legal-issuance");
    let body = World::register_body(&ticket, "SHARE_CERTIFICATE", PDF.len());
    let (status, denied) = w.as_("admin", "POST", &path, Some(body.clone())).await;
    assert_eq!(status, 403, "{denied}");
    assert_eq!(denied["details"]["action"], "WORKFLOW_COMPLETE");
    let token = crate::auth_support::step_up_token(
        &w.app,
        &w.session("admin").await,
        w.member("admin"),
        denied["details"]["challenge_token"].as_str().unwrap(),
    )
    .await;
    let grant = format!("/org/stock/grants/{}", w.grant_id);
    let (status, other) = w
        .call(
            Some("admin"),
            Some(ORG),
            "PATCH",
            &grant,
            Some(json!({"status": "ACTIVE"})),
            &[("X-Step-Up-Token", &token)],
        )
        .await;
    assert_eq!(
        (status, other["code"].as_str()),
        (403, Some("step_up_mfa_required")),
        "{other}"
    );
    assert_eq!(other["details"]["action"], "STOCK_STATUS_CHANGE");
    assert_ne!(other["details"]["challenge_token"], json!(token));
    assert_eq!(certificates(&w, a).await, 0);
    let (status, cert) = w
        .call(
            Some("admin"),
            Some(ORG),
            "POST",
            &path,
            Some(body),
            &[("X-Step-Up-Token", &token)],
        )
        .await;
    assert_eq!(status, 201, "{cert}");
    assert_eq!(certificates(&w, a).await, 1);
}

/// The multipart size cap (`MAX_UPLOAD_SIZE_MB`, 1 here): equal passes, one byte more is the
/// legacy 400 and leaves nothing behind; so does a declared size over the cap on the upload URL.
#[tokio::test]
async fn uploads_over_the_size_cap_are_refused_and_leave_nothing() {
    let w = World::new().await;
    let a = w.loan('A');
    let mut big = PDF.to_vec();
    big.resize(1_048_576, b'\n');
    let (status, body) = w
        .upload_multipart(
            "hr",
            a,
            "hr",
            "SPOUSE_PARTNER_CONSENT",
            "consent.pdf",
            "application/pdf",
            &big,
            &[],
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["size_bytes"], 1_048_576);
    let files = stored_files(&w).len();
    big.push(b'\n');
    let (status, body) = w
        .upload_multipart(
            "hr",
            a,
            "hr",
            "SPOUSE_PARTNER_CONSENT",
            "consent.pdf",
            "application/pdf",
            &big,
            &[],
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["message"], "File exceeds maximum allowed size of 1 MB");
    assert_eq!(stored_files(&w).len(), files);
    let (status, body) = w
        .as_(
            "hr",
            "POST",
            &format!("/org/loans/{a}/documents/upload-url"),
            Some(
                json!({"document_type": "SPOUSE_PARTNER_CONSENT", "file_name": "c.pdf",
                        "content_type": "application/pdf", "size_bytes": 1_048_577}),
            ),
        )
        .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (400, Some("File exceeds maximum allowed size of 1 MB"))
    );
    let (_, list) = w
        .as_("hr", "GET", &format!("/org/loans/{a}/documents"), None)
        .await;
    assert_eq!(list["data"]["total"], 1);
}

/// A multipart body that sends the file before its `document_type`: the file is streamed in
/// first, and a wrong type still refuses the upload without leaving the file behind.
#[tokio::test]
async fn a_file_sent_before_its_type_is_removed_when_the_type_is_refused() {
    let w = World::new().await;
    let a = w.loan('A');
    let send = |document_type: &'static str| {
        let part = reqwest::multipart::Part::bytes(PDF.to_vec())
            .file_name("late-type.pdf")
            .mime_str("application/pdf")
            .unwrap();
        reqwest::multipart::Form::new()
            .part("file", part)
            .text("document_type", document_type)
    };
    let post = |form: reqwest::multipart::Form| async {
        let req = w
            .app
            .call("POST", "")
            .url(w.app.url(&format!("/org/loans/{a}/documents/hr/upload")))
            .token(w.session("hr").await.access)
            .header("X-Org-Id", ORG)
            .multipart(form);
        req.fetch().await
    };
    let (status, body) = post(send("PAYMENT_INSTRUCTIONS")).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "invalid_document_type");
    assert!(stored_files(&w).is_empty());
    let (status, body) = post(send("NOTICE_OF_STOCK_OPTION_GRANT")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(stored_files(&w).len(), 1);
    // Without a type at all: 422, and nothing kept.
    let part = reqwest::multipart::Part::bytes(PDF.to_vec()).file_name("x.pdf");
    let (status, body) = post(reqwest::multipart::Form::new().part("file", part)).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["details"]["errors"][0]["loc"],
        json!(["body", "document_type"])
    );
    assert_eq!(stored_files(&w).len(), 1);
}
