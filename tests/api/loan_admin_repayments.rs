//! Recording repayments and their evidence upload URL (loan-admin §5.10, §7.3; scenarios 11,
//! 13 and 14 of §15), replaying the legacy goldens on loan A activated as in the recording.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{expect_recorded, sample};
use crate::loan_admin_support::{
    FILE, LOAN_A, LOAN_B, ORG, Part, World, activate, post_form, require_step_up, token_for,
};

/// The recorded exchange with our ids (and `swaps`, e.g. minted keys) in place of the
/// recorded ones.
fn translated(w: &World, name: &str, swaps: &[(&str, &str)]) -> Value {
    let mut text = sample(FILE, name).to_string();
    for (recorded, letter) in [(LOAN_A, 'A'), (LOAN_B, 'B')] {
        text = text.replace(recorded, &w.loan(letter).to_string());
    }
    for (from, to) in swaps {
        text = text.replace(from, to);
    }
    serde_json::from_str(&text).unwrap()
}

/// Replays a recorded multipart repayment as `who` and compares (ids and times by form, the
/// pointers in `skip` left out). Returns our body.
pub async fn replay_form(
    w: &World,
    name: &str,
    who: &str,
    token: &str,
    swaps: &[(&str, &str)],
    skip: &[&str],
) -> Value {
    let s = translated(w, name, swaps);
    let loan: Uuid = s["request"]["path"]
        .as_str()
        .unwrap()
        .split('/')
        .nth(5)
        .unwrap()
        .parse()
        .unwrap();
    let mut parts = Vec::new();
    for (k, v) in s["request"]["body"]["multipart"].as_object().unwrap() {
        let part = match v {
            Value::String(t) => Part::Text(t.clone()),
            f => Part::File(
                f["filename"].as_str().unwrap().to_owned(),
                f["content_type"].as_str().unwrap().to_owned(),
                f["content"].as_str().unwrap().as_bytes().to_vec(),
            ),
        };
        parts.push((k.clone(), part));
    }
    let (status, ours) = post_form(w, who, loan, Some(token), parts).await;
    expect_recorded(&s["response"], name, status, &ours, skip);
    ours
}

const PAYMENT_STATUS_KEYS: [&str; 10] = [
    "next_payment_date",
    "next_payment_amount",
    "next_principal_due",
    "next_interest_due",
    "principal_remaining",
    "interest_remaining",
    "total_remaining",
    "missed_payment_count",
    "missed_payment_amount_total",
    "missed_payment_dates",
];

/// The payment status of the admin detail equals the recorded one.
async fn assert_detail_status(w: &World, loan: Uuid, name: &str) -> Value {
    let (status, body) = w
        .as_("admin", "GET", &format!("/org/loans/{loan}"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let recorded = &sample(FILE, name)["response"]["body"]["data"];
    for k in PAYMENT_STATUS_KEYS {
        assert_eq!(body["data"][k], recorded[k], "{name}: {k}");
    }
    body
}

#[tokio::test]
async fn repayments_are_recorded_like_the_legacy_with_step_up_and_complete_the_loan() {
    let w = World::new().await;
    let a = w.loan('A');
    let b = w.loan('B');
    activate(&w, a).await;
    require_step_up(&w).await;
    w.replay("repayments list 403 HR user", Some("hr")).await;

    // Scenario 11: a WORKFLOW_COMPLETE token does not satisfy LOAN_PAYMENT_RECORD (the admin's:
    // each member's TOTP codes run out within one 30 s window after two uses).
    let (status, denied) = w
        .as_(
            "admin",
            "PATCH",
            &format!("/org/loans/{b}/finance"),
            Some(json!({"status": "COMPLETED"})),
        )
        .await;
    assert_eq!(status, 403, "{denied}");
    assert_eq!(denied["details"]["action"], "WORKFLOW_COMPLETE");
    let workflow_token = token_for(&w, "admin", &denied).await;
    let denied = w
        .replay_with(
            "step-up token for another action is not accepted (LOAN_PAYMENT_RECORD needed)",
            Some("admin"),
            &[("X-Step-Up-Token", &workflow_token)],
            &[],
        )
        .await;
    assert_eq!(denied["details"]["action"], "LOAN_PAYMENT_RECORD");

    // Evidence upload URL: step-up first, then the checks.
    let denied = w
        .replay(
            "repayment evidence upload-url (403 step-up required)",
            Some("finance"),
        )
        .await;
    let token = token_for(&w, "finance", &denied).await;
    let with = [("X-Step-Up-Token", token.as_str())];
    let url = w
        .replay_with(
            "repayment evidence upload-url (replayed with X-Step-Up-Token)",
            Some("finance"),
            &with,
            &["/data/upload_url", "/data/storage_key"],
        )
        .await;
    let key = url["data"]["storage_key"].as_str().unwrap().to_owned();
    let prefix = format!("orgs/{ORG}/loans/{a}/repayments/");
    assert!(key.starts_with(&prefix) && key.ends_with(".pdf"), "{key}");
    let upload_url = url["data"]["upload_url"].as_str().unwrap();
    assert!(
        upload_url.contains("/api/v1/assets/local-content?key="),
        "{upload_url}"
    );
    w.replay_with(
        "repayment evidence upload-url 400 invalid_evidence_type",
        Some("finance"),
        &with,
        &[],
    )
    .await;
    w.replay_with(
        "repayment evidence upload-url 400 invalid_file_type",
        Some("finance"),
        &with,
        &[],
    )
    .await;
    let (status, _) = w
        .call(
            Some("hr"),
            Some(ORG),
            "POST",
            &format!("/org/loans/{a}/repayments/upload-url"),
            Some(json!({"file_name": "r.pdf", "content_type": "application/pdf", "size_bytes": 1})),
            &with,
        )
        .await;
    assert_eq!(status, 403);

    // Refusals of the record route, in the legacy order; nothing is written.
    for name in [
        "record repayment 400 invalid_repayment_amount",
        "record repayment 400 invalid_principal_amount",
        "record repayment 400 invalid_interest_amount",
        "record repayment 400 principal_overpayment",
        "record repayment 400 interest_overpayment",
        "record repayment 400 both evidence_file and evidence_storage_key",
        "record repayment 400 evidence_storage_key not scoped",
        "record repayment 400 missing_evidence_content_type",
        "record repayment 400 evidence file type not allowed",
        "record repayment 422 missing payment_date",
        "record repayment 400 loan not ACTIVE (SUBMITTED loan)",
    ] {
        replay_form(&w, name, "finance", &token, &[], &[]).await;
    }
    // Q13 fixed: a non-numeric amount is a 422 naming the field (the legacy answered 500).
    let recorded = sample(FILE, "record repayment 500 non-numeric amount");
    assert_eq!(recorded["response"]["status"], 500);
    assert_eq!(recorded["request"]["body"]["multipart"]["amount"], "abc");
    let (status, body) = post_form(
        &w,
        "finance",
        a,
        Some(&token),
        vec![
            ("payment_date".into(), Part::Text("2026-12-07".into())),
            ("amount".into(), Part::Text("abc".into())),
        ],
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["details"]["errors"],
        json!([{"type": "decimal_parsing", "loc": ["body", "amount"],
                "msg": "Input should be a valid decimal", "input": "abc"}])
    );
    // A negative extra is a 400 (legacy 500), a bad date a 422, a URL key a 400.
    for (field, value, code) in [
        ("extra_principal_amount", "-5", "invalid_repayment"),
        (
            "evidence_storage_key",
            "https://evil.example/x.pdf",
            "invalid_storage_key",
        ),
    ] {
        let (status, body) = post_form(
            &w,
            "finance",
            a,
            Some(&token),
            vec![
                ("payment_date".into(), Part::Text("2026-12-07".into())),
                (field.into(), Part::Text(value.into())),
            ],
        )
        .await;
        assert_eq!((status, body["code"].as_str()), (400, Some(code)), "{body}");
    }
    let (status, body) = post_form(
        &w,
        "finance",
        a,
        Some(&token),
        vec![("payment_date".into(), Part::Text("07/12/2026".into()))],
    )
    .await;
    assert_eq!(status, 422, "{body}");
    // Without step-up, and as HR: refused before anything is read.
    let (status, body) = post_form(
        &w,
        "finance",
        a,
        None,
        vec![("payment_date".into(), Part::Text("2026-12-07".into()))],
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("step_up_mfa_required"))
    );
    let (status, body) = post_form(
        &w,
        "hr",
        a,
        None,
        vec![("payment_date".into(), Part::Text("2026-12-07".into()))],
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(body["message"], "Missing permission: loan.payment.record");
    let (status, _) = post_form(
        &w,
        "finance",
        Uuid::new_v4(),
        Some(&token),
        vec![("payment_date".into(), Part::Text("2026-12-07".into()))],
    )
    .await;
    assert_eq!(status, 404);
    assert!(w.audit("loan_repayment.recorded").await.is_empty());

    // Scenario 14: the scheduled instalment with the registered evidence key.
    let recorded_name = "ea9e16dba58b41f0bf0c2d9971501d8b.pdf";
    let our_key = key.clone();
    let our_name = key.rsplit('/').next().unwrap().to_owned();
    let first = replay_form(
        &w,
        "record scheduled repayment with registered evidence key",
        "finance",
        &token,
        &[(recorded_name, &our_name)],
        &[],
    )
    .await;
    assert_eq!(w.loan_row(a).await.0, "ACTIVE");
    // An extra principal payment, with an evidence file stored by the route.
    let second = replay_form(
        &w,
        "record repayment with explicit amounts and an evidence file",
        "finance",
        &token,
        &[],
        &[
            "/data/repayment/evidence_storage_path_or_url",
            "/data/repayment/evidence_storage_object_key",
        ],
    )
    .await;
    let stored = second["data"]["repayment"]["evidence_storage_object_key"]
        .as_str()
        .unwrap();
    assert!(
        stored.starts_with(&prefix) && stored.ends_with(".pdf"),
        "{stored}"
    );
    assert_eq!(
        second["data"]["repayment"]["evidence_storage_path_or_url"],
        stored
    );
    let on_disk = std::fs::read(w.uploads.path().join(stored)).unwrap();
    assert_eq!(on_disk, b"%PDF-1.4\n% loan admin sample document\n%%EOF\n");
    assert_eq!(w.loan_row(a).await.0, "ACTIVE");
    assert_detail_status(
        &w,
        a,
        "loan detail with payment status after two repayments",
    )
    .await;
    // Pay-off: principal and the remaining interest; nothing is due afterwards.
    let payoff = replay_form(
        &w,
        "record payoff repayment (extra principal and interest)",
        "finance",
        &token,
        &[],
        &[],
    )
    .await;
    assert_eq!(payoff["data"]["next_payment_date"], Value::Null);
    replay_form(
        &w,
        "record repayment 400 loan_fully_paid",
        "finance",
        &token,
        &[],
        &[],
    )
    .await;
    // The sum paid (4070.29) reached total_payable_amount (4070.28): COMPLETED.
    let (status, version, _, _) = w.loan_row(a).await;
    assert_eq!((status.as_str(), version), ("COMPLETED", 4));
    let list = w
        .replay_with(
            "repayments list",
            Some("finance"),
            &[],
            &[
                "/data/items/1/evidence_storage_path_or_url",
                "/data/items/1/evidence_storage_object_key",
                "/data/items/2/evidence_storage_path_or_url",
                "/data/items/2/evidence_storage_object_key",
            ],
        )
        .await;
    assert_eq!(
        list["data"]["items"][2]["evidence_storage_object_key"],
        our_key
    );
    let detail = assert_detail_status(&w, a, "loan detail after payoff").await;
    assert_eq!(detail["data"]["status"], "COMPLETED");
    // Audit rows with the real ids (the last two share their transaction's time).
    let finance = w.member("finance").user_id;
    let rows = w.audit("loan_").await;
    let mut ours: Vec<(&str, &str)> = rows.iter().map(|r| (r.0.as_str(), r.2.as_str())).collect();
    ours[2..].sort_unstable();
    let ids: Vec<String> = [&first, &second, &payoff]
        .iter()
        .map(|b| b["data"]["repayment"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ours,
        vec![
            ("loan_repayment.recorded", ids[0].as_str()),
            ("loan_repayment.recorded", ids[1].as_str()),
            ("loan_application.completed", a.to_string().as_str()),
            ("loan_repayment.recorded", ids[2].as_str()),
        ]
    );
    for row in &rows {
        assert_eq!(row.3, Some(finance));
    }
    let recorded_new = rows[0].5.as_ref().unwrap();
    assert_eq!(recorded_new["amount"], "678.380000");
    assert_eq!(
        recorded_new["evidence_storage_object_key"],
        our_key.as_str()
    );
    assert_eq!(recorded_new["recorded_by_user_id"], finance.to_string());
    let completed = rows
        .iter()
        .find(|r| r.0 == "loan_application.completed")
        .unwrap();
    assert_eq!(completed.1, "loan_application");
    assert_eq!(completed.4.as_ref().unwrap()["status"], "ACTIVE");
    assert_eq!(completed.5.as_ref().unwrap()["status"], "COMPLETED");
    // Q20 kept: the exercised shares stay reserved (ACTIVE) after completion.
    assert_eq!(
        w.reservations(a).await,
        vec![("ACTIVE".to_owned(), 400_i64)]
    );

    // Decisions on the completed loan: a rejection is refused; the same status is a no-op.
    w.replay(
        "PATCH status 400 COMPLETED loan cannot be rejected",
        Some("admin"),
    )
    .await;
    let name = "PATCH status same value on COMPLETED loan (no-op allowed)";
    let (status, same) = w
        .as_(
            "admin",
            "PATCH",
            &format!("/org/loans/{a}"),
            Some(json!({"status": "COMPLETED"})),
        )
        .await;
    assert_eq!(json!(status), sample(FILE, name)["response"]["status"]);
    let recorded = &sample(FILE, name)["response"]["body"];
    crate::helpers::assert_same_keys(&same, recorded);
    crate::helpers::assert_same_keys(&same["data"], &recorded["data"]);
    for k in PAYMENT_STATUS_KEYS.iter().copied().chain([
        "status",
        "version",
        "decision_reason",
        "election_83b_due_date",
    ]) {
        assert_eq!(same["data"][k], recorded["data"][k], "{name}: {k}");
    }
}

/// Q16 fixed: a repayment dated before one already recorded pays the next open instalment,
/// it does not charge the paid one again.
#[tokio::test]
async fn a_back_dated_repayment_does_not_recharge_a_paid_instalment() {
    let w = World::new().await;
    let a = w.loan('A');
    activate(&w, a).await;
    let date = |d: &str| vec![("payment_date".to_owned(), Part::Text(d.to_owned()))];
    let (status, body) = post_form(&w, "finance", a, None, date("2027-02-07")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["repayment"]["principal_amount"], "658.380000");
    let (status, body) = post_form(&w, "finance", a, None, date("2026-12-20")).await;
    assert_eq!(status, 201, "{body}");
    // Period 2, not period 1 again (the legacy charged 658.38 + 20.00 a second time).
    assert_eq!(body["data"]["repayment"]["principal_amount"], "661.670000");
    assert_eq!(body["data"]["repayment"]["interest_amount"], "16.710000");
    assert_eq!(body["data"]["next_payment_date"], "2027-03-07");
    assert_eq!(body["data"]["principal_remaining"], "2679.950000");
    // The list shows both, newest payment date first; no step-up needed by this org.
    let (_, list) = w
        .as_("admin", "GET", &format!("/org/loans/{a}/repayments"), None)
        .await;
    let dates: Vec<&str> = list["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["payment_date"].as_str().unwrap())
        .collect();
    assert_eq!(dates, ["2027-02-07", "2026-12-20"]);
}

/// Q17: the schedule's last instalment absorbs rounding, so a loan whose quoted total is
/// higher than its schedule's is complete once every instalment is paid (the legacy left it
/// ACTIVE and refused every further repayment), and the urlencoded form works too.
#[tokio::test]
async fn paying_every_instalment_completes_the_loan() {
    let w = World::new().await;
    let a = w.loan('A');
    activate(&w, a).await;
    // The schedule sums to 4070.29; make the quote say one cent more.
    sqlx::query("UPDATE loan_applications SET total_payable_amount = 4070.30 WHERE id = $1")
        .bind(a)
        .execute(&w.app.db)
        .await
        .unwrap();
    let due = [
        "2027-01-07",
        "2027-02-07",
        "2027-03-07",
        "2027-04-07",
        "2027-05-07",
        "2027-06-07",
    ];
    for (k, day) in due.iter().enumerate() {
        let resp = w
            .app
            .call("POST", "")
            .url(w.app.url(&format!("/org/loans/{a}/repayments")))
            .token(w.session("admin").await.access)
            .header("X-Org-Id", ORG)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("payment_date={day}&amount="))
            .response()
            .await;
        let (status, body) = crate::helpers::json(resp).await;
        assert_eq!(status, 201, "{body}");
        let expected = if k == 5 { "678.390000" } else { "678.380000" };
        assert_eq!(body["data"]["repayment"]["amount"], expected);
        let loan_status = w.loan_row(a).await.0;
        assert_eq!(loan_status, if k == 5 { "COMPLETED" } else { "ACTIVE" });
    }
    let (status, body) = post_form(
        &w,
        "admin",
        a,
        None,
        vec![("payment_date".into(), Part::Text("2027-07-07".into()))],
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("loan_fully_paid"))
    );
    assert_eq!(w.audit("loan_application.completed").await.len(), 1);
}

/// Two recordings of "the next instalment" at once: the loan row lock serialises them, so
/// they pay periods 1 and 2, never period 1 twice.
#[tokio::test]
async fn parallel_repayments_pay_consecutive_instalments() {
    let w = World::new().await;
    let a = w.loan('A');
    activate(&w, a).await;
    w.session("finance").await;
    let form = || {
        vec![(
            "payment_date".to_owned(),
            Part::Text("2026-12-07".to_owned()),
        )]
    };
    let (first, second) = tokio::join!(
        post_form(&w, "finance", a, None, form()),
        post_form(&w, "finance", a, None, form()),
    );
    assert_eq!((first.0, second.0), (201, 201), "{} {}", first.1, second.1);
    let mut principals: Vec<&str> = [&first.1, &second.1]
        .iter()
        .map(|b| b["data"]["repayment"]["principal_amount"].as_str().unwrap())
        .collect();
    principals.sort_unstable();
    assert_eq!(principals, ["658.380000", "661.670000"]);
}
