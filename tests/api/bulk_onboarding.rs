//! `GET /org/users/bulk/template` and `POST /org/users/bulk` (CSV onboarding).

use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::helpers::{assert_same_keys, audit_count, error_body, json, sample};
use crate::people_support::{
    ORG, TEMP_PASSWORD, World, complete_first_login, fail_commit_after_audit, world,
};

const HEADER: &str = "email,first_name,middle_name,last_name,preferred_name,timezone,phone_number,marital_status,country,state,address_line1,address_line2,postal_code,temporary_password,employee_id,employment_start_date,employment_status";

async fn upload_as(w: &World, token: &str, bytes: Vec<u8>) -> (u16, Value) {
    let form = Form::new().part(
        "file",
        Part::bytes(bytes)
            .file_name("people.csv")
            .mime_str("text/csv")
            .unwrap(),
    );
    let resp = w
        .app
        .call("POST", "")
        .url(w.app.url("/org/users/bulk"))
        .token(token)
        .header("X-Org-Id", ORG)
        .multipart(form)
        .response()
        .await;
    json(resp).await
}

async fn upload(w: &World, csv: &str) -> (u16, Value) {
    upload_as(w, &w.admin_s.access, csv.as_bytes().to_vec()).await
}

fn row(email: &str, first: &str, last: &str, employee_id: &str) -> String {
    format!("{email},{first},,{last},,,,,US,,,,,,{employee_id},2026-02-01,ACTIVE")
}

fn errors(body: &Value) -> Vec<(u64, String)> {
    body["data"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row_number"].as_u64().unwrap(),
                e["error"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn assert_no_nulls(value: &Value) {
    for entry in value["data"]["errors"].as_array().unwrap() {
        for (k, v) in entry.as_object().unwrap() {
            assert!(!v.is_null(), "error entry {k} is null: {entry}");
        }
    }
    for entry in value["data"]["successes"].as_array().unwrap() {
        for key in ["row_number", "user_status", "membership_status"] {
            assert!(!entry[key].is_null());
        }
    }
}

#[tokio::test]
async fn template_is_the_header_only_csv() {
    let w = world().await;
    let resp = w
        .app
        .call("GET", "")
        .url(w.app.url("/org/users/bulk/template"))
        .token(&w.admin_s.access)
        .header("X-Org-Id", ORG)
        .response()
        .await;
    assert_eq!(resp.status(), 200);
    let expected = sample("users.json", "bulk CSV template");
    let headers = resp.headers().clone();
    assert_eq!(
        headers["content-disposition"],
        expected["response"]["headers"]["content-disposition"]
            .as_str()
            .unwrap()
    );
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        resp.text().await.unwrap(),
        expected["response"]["body"].as_str().unwrap()
    );
}

#[tokio::test]
async fn mixed_upload_isolates_rows_and_never_fails_the_request() {
    let w = world().await;
    // The sample's mixed file, plus an invalid e-mail, an empty e-mail, a duplicate e-mail with
    // another employee id, formula-injection cells, an Excel date and a BOM.
    let sample_file = sample(
        "users.json",
        "bulk upload good row plus rows failing validation (200 with successes and errors)",
    );
    let content = sample_file["request"]["body"]["multipart"]["file"]["content"]
        .as_str()
        .unwrap()
        .replace("<temporary password>", TEMP_PASSWORD);
    let mut csv = String::from("\u{feff}");
    csv.push_str(&content);
    csv.push_str(&row("not-an-email", "Bad", "Email", "GOLD-B20"));
    csv.push('\n');
    csv.push_str(&row("", "No", "Email", "GOLD-B21"));
    csv.push('\n');
    csv.push_str(&row(
        "golden.bulk1@example.com",
        "Dup",
        "Licate",
        "GOLD-B22",
    ));
    csv.push('\n');
    csv.push_str(
        "golden.formula@example.com,=HYPERLINK(\"http://x\"),,@SUM(1+1),+cmd,,-2+3,,United Kingdom,,\"=1,2\",,sw1a 1aa,,GOLD-B23,45658,ACTIVE\r\n",
    );
    let (status, body) = upload(&w, &csv).await;
    assert_eq!(status, 200, "{body}");
    assert_no_nulls(&body);
    let expected = &sample_file["response"]["body"]["data"];
    let successes = body["data"]["successes"].as_array().unwrap();
    assert_eq!(successes.len(), 2, "{body}");
    assert_same_keys(&successes[0], &expected["successes"][0]);
    assert_same_keys(&successes[0]["user"], &expected["successes"][0]["user"]);
    assert_same_keys(
        &successes[0]["membership"],
        &expected["successes"][0]["membership"],
    );
    let first = &successes[0];
    assert_eq!(first["row_number"], 2);
    assert_eq!(first["user"]["first_name"], "Bulk");
    assert_eq!(first["user"]["state"], "IL");
    assert_eq!(first["user"]["marital_status"], "MARRIED");
    let formula = &successes[1];
    assert_eq!(formula["row_number"], 12);
    assert_eq!(formula["user"]["country"], "GB");
    assert_eq!(formula["user"]["postal_code"], "SW1A 1AA");
    assert_eq!(formula["user"]["address_line1"], "=1,2");
    assert_eq!(formula["membership"]["employment_start_date"], "2025-01-01");
    assert!(!body.to_string().contains(TEMP_PASSWORD));

    let got = errors(&body);
    let mut want: Vec<(u64, String)> = expected["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row_number"].as_u64().unwrap(),
                e["error"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    want.push((
        9,
        "email: value is not a valid email address: An email address must have an @-sign.".into(),
    ));
    want.push((10, "email is required".into()));
    want.push((
        11,
        "User already onboarded with a different employee_id".into(),
    ));
    assert_eq!(got, want);
    // The legacy error entry shape; an invalid e-mail is left out rather than sent.
    let error_entries = body["data"]["errors"].as_array().unwrap();
    assert_same_keys(&error_entries[0], &expected["errors"][0]);
    assert!(error_entries[6].get("email").is_none());
    assert_eq!(error_entries[0]["employee_id"], "");

    // Every created row has its audit row; the failing rows wrote nothing.
    assert_eq!(audit_count(&w.app, ORG, "user.onboarded").await, 2);
    let created: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM users WHERE org_id = $1 AND email LIKE 'golden.%'",
    )
    .bind(ORG)
    .fetch_one(&w.app.db)
    .await
    .unwrap();
    assert_eq!(created, 2);

    // The CSV member with a known temporary password completes the first-login journey.
    let membership = first["membership"]["id"].as_str().unwrap();
    complete_first_login(&w, "golden.bulk1@example.com", membership).await;

    // Uploading the same file again: existing rows succeed as already_exists.
    let (status, again) = upload(&w, &csv).await;
    assert_eq!(status, 200);
    let statuses: Vec<&str> = again["data"]["successes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["membership_status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["already_exists", "already_exists"]);
    assert_eq!(audit_count(&w.app, ORG, "user.onboarded").await, 2);
}

#[tokio::test]
async fn header_errors_have_the_special_body() {
    let w = world().await;
    for (name, csv) in [
        ("bulk upload 400 empty file", ""),
        (
            "bulk upload 400 missing required header",
            "email,first_name\nx@example.com,X\n",
        ),
        (
            "bulk upload 400 unknown header",
            &format!("{HEADER},shoe_size\n") as &str,
        ),
        (
            "bulk upload 400 header only (no rows)",
            &format!("{HEADER}\n"),
        ),
    ] {
        let (status, body) = upload(&w, csv).await;
        let expected = sample("users.json", name);
        assert_eq!(status, 400, "{name}");
        assert_eq!(body, expected["response"]["body"], "{name}");
    }
    let (status, body) = upload_as(
        &w,
        &w.admin_s.access.clone(),
        b"email,first_name\xff\xfe\n".to_vec(),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            400,
            error_body("bad_request", "Invalid encoding; expected UTF-8")
        )
    );
}

#[tokio::test]
async fn size_row_limit_missing_file_and_permission() {
    let w = world().await;
    // 6 MB.
    let mut big = format!("{HEADER}\n");
    while big.len() < 6_000_000 {
        big.push_str(&row("filler@example.com", "F", "F", "F-1"));
        big.push('\n');
    }
    let too_large = json!({"code": "http_error", "message": "CSV too large (max 5MB)", "data": null, "details": {"detail": "CSV too large (max 5MB)"}});
    let (status, body) = upload(&w, &big).await;
    assert_eq!((status, &body), (413, &too_large));
    // Beyond the server-wide body limit too, the answer is the same.
    big.push_str(&"x".repeat(2_000_000));
    let (status, body) = upload(&w, &big).await;
    assert_eq!((status, &body), (413, &too_large));
    assert_eq!(audit_count(&w.app, ORG, "user.onboarded").await, 0);

    // 31 rows: 30 processed, the 31st is an error entry and processing stops.
    let mut csv = format!("{HEADER}\n");
    for i in 0..32 {
        csv.push_str(&row(
            &format!("r{i}@acme.example.com"),
            "Row",
            &format!("N{i}"),
            &format!("R-{i}"),
        ));
        csv.push('\n');
    }
    let (status, body) = upload(&w, &csv).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["successes"].as_array().unwrap().len(), 30);
    let errs = errors(&body);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].0, 32);
    assert!(errs[0].1.contains("30"), "{}", errs[0].1);
    assert_eq!(audit_count(&w.app, ORG, "user.onboarded").await, 30);

    // No file field.
    let resp = w
        .app
        .call("POST", "")
        .url(w.app.url("/org/users/bulk"))
        .token(&w.admin_s.access)
        .header("X-Org-Id", ORG)
        .response()
        .await;
    let (status, body) = json(resp).await;
    assert_eq!(status, 422);
    assert_eq!(body["message"], "file: Field required");
    let form = Form::new().text("other", "x");
    let resp = w
        .app
        .call("POST", "")
        .url(w.app.url("/org/users/bulk"))
        .token(&w.admin_s.access)
        .header("X-Org-Id", ORG)
        .multipart(form)
        .response()
        .await;
    let (status, _) = json(resp).await;
    assert_eq!(status, 422);

    let (status, body) = upload_as(&w, &w.emp_s.access.clone(), HEADER.as_bytes().to_vec()).await;
    assert_eq!(
        (status, body),
        (
            403,
            error_body("forbidden", "Missing permission: user.onboard")
        )
    );
}

#[tokio::test]
async fn a_row_whose_commit_fails_is_an_error_entry_and_other_rows_stay() {
    let w = world().await;
    fail_commit_after_audit(&w.app, "user.onboarded").await;
    let csv = format!(
        "{HEADER}\n{}\n",
        row("fails@acme.example.com", "Fail", "Commit", "FC-1")
    );
    let (status, body) = upload(&w, &csv).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(errors(&body).len(), 1);
    assert_eq!(body["data"]["successes"], json!([]));
    let users: i64 =
        sqlx::query_scalar("SELECT count(*) FROM users WHERE email = 'fails@acme.example.com'")
            .fetch_one(&w.app.db)
            .await
            .unwrap();
    assert_eq!(users, 0);
    assert_eq!(audit_count(&w.app, ORG, "user.onboarded").await, 0);
}
