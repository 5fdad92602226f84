//! Loan quotes and the borrower's applications (contract `domain-loans.md` §2.1–§2.7), checked
//! against the golden samples recorded from the legacy service, plus idempotency, optimistic
//! version and reservation races.

use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::loan_apply_support::{LoanWorld, ORG};

async fn audit_actions(app: &TestApp, loan_id: &str) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT action, resource_id FROM audit_logs WHERE org_id = $1 \
         AND resource_type = 'loan_application' AND resource_id = $2 ORDER BY created_at, id",
    )
    .bind(ORG)
    .bind(loan_id)
    .fetch_all(&app.db)
    .await
    .unwrap()
}

#[tokio::test]
async fn loan_quotes_answer_as_recorded() {
    let w = LoanWorld::new().await;
    let b = Some("borrower");
    // Default settings: fixed 0 %, no PBGC rate, no margin.
    w.replay("quote 400 variable_rate_missing (no desired type; VARIABLE allowed, no PBGC rate, no margin)", b).await;
    w.replay("quote 200 zero-rate FIXED P&I (principal / term)", b)
        .await;
    // The legacy create answered 500 here (CHECK violation); the quote numbers are kept and
    // the create is refused with a domain error instead.
    let (status, body, _) = w
        .send("create draft 500: zero-rate P&I with negative total_interest violates a CHECK constraint", b)
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "invalid_quote");
    assert_eq!(body["message"], "Quote produces a negative total interest");

    w.loan_policy().await;
    for name in [
        "quote 200 SHARES 3500 FIXED P&I 12 (allocation across two grants)",
        "quote 200 PERCENT 50, no desired terms (all type x method options, term = min)",
        "quote 200 VARIABLE BALLOON 24 (rate = PBGC + margin, displayed rounded)",
        "quote 200 future as_of_date counts future vesting",
        "quote 400 invalid_selection percent > 100",
        "quote 400 invalid_selection shares not whole",
        "quote 400 invalid_selection results in zero shares",
        "quote 400 shares_exceed_eligibility",
        "quote 400 invalid_term below min",
        "quote 422 selection_value 0",
        "quote 422 bad enum desired_repayment_method",
    ] {
        w.replay(name, b).await;
    }
    w.replay("quote 400 exercise_ineligible (no grants)", Some("nogrant"))
        .await;
    w.replay("quote 403 missing permission loan.apply", Some("noperm"))
        .await;
    w.replay("quote 401 no token", None).await;
    w.replay("quote 400 no X-Org-Id and no token", None).await;
    w.replay("quote 403 X-Org-Id of another org", b).await;

    w.settings(
        "enforce_service_duration_rule = true, min_service_duration_years = 10, \
         enforce_min_vested_to_exercise = true, min_vested_shares_to_exercise = 100000",
    )
    .await;
    w.replay(
        "quote 400 exercise_ineligible (service duration + min vested)",
        b,
    )
    .await;
    w.settings(
        "enforce_service_duration_rule = false, enforce_min_vested_to_exercise = false, \
         allowed_interest_types = '[\"FIXED\"]'",
    )
    .await;
    w.replay("quote 400 interest_type_not_allowed", b).await;
    w.settings(
        "allowed_interest_types = '[\"FIXED\", \"VARIABLE\"]', allowed_repayment_methods = '[\"BALLOON\"]'",
    )
    .await;
    w.replay("quote 400 repayment_method_not_allowed", b).await;

    // A quote writes nothing.
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM loan_applications")
        .fetch_one(&w.app.db)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn drafts_are_created_listed_updated_and_cancelled_as_recorded() {
    let w = LoanWorld::new().await;
    w.loan_policy().await;
    let b = Some("borrower");
    let first = w.replay("create draft 201 with Idempotency-Key", b).await;
    let replayed = w
        .replay(
            "create draft 201 replay same Idempotency-Key returns the same draft",
            b,
        )
        .await;
    assert_eq!(first["data"]["id"], replayed["data"]["id"]);
    assert_eq!(replayed["data"]["shares_to_exercise"], 1000);
    w.replay("create draft 400 Idempotency-Key longer than 100", b)
        .await;
    w.replay(
        "create draft 201 without key, no desired terms (first allowed option is stored)",
        b,
    )
    .await;
    w.replay("create draft 422 spouse_phone with fewer than 7 digits", b)
        .await;
    w.replay("create draft 422 spouse_email invalid", b).await;
    w.replay("create draft 422 marital_status_snapshot invalid", b)
        .await;
    w.replay(
        "create draft 403 missing permission loan.apply",
        Some("noperm"),
    )
    .await;

    w.replay("list 200", b).await;
    w.replay("list 200 status=DRAFT&limit=1&offset=1", b).await;
    w.replay("list 422 status=BOGUS", b).await;
    w.replay("list 403 missing permission loan.view_own", Some("noperm"))
        .await;
    w.replay("list 401 no token (no X-Org-Id either)", None)
        .await;
    w.replay("list 200 token without X-Org-Id (tenant from token)", b)
        .await;

    w.replay("get draft 200", b).await;
    w.replay("get 404 unknown id", b).await;
    w.replay("get 422 non-uuid id", b).await;
    w.replay(
        "get 404 superuser in another org (no membership there for this user id)",
        Some("admin"),
    )
    .await;

    w.replay("patch draft 200 recalc (term 24)", b).await;
    w.replay("patch draft 200 spouse/marital fields only (no recalc)", b)
        .await;
    w.replay("patch 404 another employee's draft", Some("married"))
        .await;

    let cancelled = w.replay("cancel draft 200", b).await;
    w.replay("cancel 400 invalid_status (already CANCELLED)", b)
        .await;
    w.replay("patch 400 invalid_status (CANCELLED)", b).await;
    w.replay("submit 400 invalid_status (CANCELLED)", b).await;
    w.replay("cancel 403 missing permission loan.apply", Some("noperm"))
        .await;

    // One audit row per change, with the real id, in the order made.
    let id = cancelled["data"]["id"].as_str().unwrap();
    let rows = audit_actions(&w.app, id).await;
    let actions: Vec<&str> = rows.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        ["loan_application.created", "loan_application.cancelled"]
    );
    assert!(rows.iter().all(|(_, r)| r == id));
    let first_id = first["data"]["id"].as_str().unwrap();
    let actions: Vec<String> = audit_actions(&w.app, first_id)
        .await
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    assert_eq!(
        actions,
        [
            "loan_application.created",
            "loan_application.updated",
            "loan_application.updated"
        ]
    );
}

#[tokio::test]
async fn submission_reserves_shares_and_checks_policy_and_spouse_as_recorded() {
    let w = LoanWorld::new().await;
    w.loan_policy().await;
    let b = Some("borrower");
    let m = Some("married");
    w.replay("create draft 201 with Idempotency-Key", b).await;
    w.replay("patch draft 200 recalc (term 24)", b).await;
    w.replay("patch draft 200 spouse/marital fields only (no recalc)", b)
        .await;
    w.replay(
        "create draft 201 without key, no desired terms (first allowed option is stored)",
        b,
    )
    .await;
    w.replay("cancel draft 200", b).await;
    // The recording moved the draft back to 12 months off the record before submitting it.
    let id = w.ours("2bbf2c20-8763-434a-a6c9-9ae3b088addf");
    let (status, body) = w
        .call(
            b,
            Some(ORG),
            "PATCH",
            &format!("/me/loan-applications/{id}"),
            Some(json!({"desired_term_months": 12})),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    w.replay(
        "submit 200 with Idempotency-Key (reserves shares, creates core stages)",
        b,
    )
    .await;
    w.replay("submit 200 replay with the same Idempotency-Key", b)
        .await;
    w.replay("submit 400 invalid_status with a different key", b)
        .await;
    w.replay(
        "quote 400 shares_exceed_eligibility after reservation (available = vested - reserved)",
        b,
    )
    .await;
    w.replay(
        "create draft 201 as_of_date in the future (counts future vesting)",
        b,
    )
    .await;
    w.replay(
        "submit 400 insufficient_available_shares (reservation checks today's vesting)",
        b,
    )
    .await;

    w.replay("create draft 201 (to be overtaken by a policy change)", b)
        .await;
    w.settings(
        "fixed_interest_rate_annual_percent = 7.0, require_down_payment = true, \
         down_payment_percent = 10, policy_version = policy_version + 1",
    )
    .await;
    let patched = w
        .replay_skipping(
            "patch 400 policy_out_of_date (no recalc fields)",
            b,
            &["/details"],
        )
        .await;
    assert_eq!(patched["details"]["policy_version"], 4);
    assert_eq!(patched["details"]["policy_version_snapshot"], 3);
    w.replay_skipping("submit 400 policy_out_of_date", b, &["/details"])
        .await;
    w.replay(
        "patch 200 recalc refreshes policy snapshot (down payment applied)",
        b,
    )
    .await;
    w.replay("submit 200 after refresh", b).await;
    w.replay("quote 200 with 10 % down payment", b).await;

    // The recording turned the down payment off again before the married employee's loans.
    w.settings(
        "require_down_payment = false, down_payment_percent = NULL, \
         policy_version = policy_version + 1",
    )
    .await;
    w.replay("create draft 201 married employee without spouse info", m)
        .await;
    w.replay(
        "submit 400 spouse_info_required (profile MARRIED, snapshot empty)",
        m,
    )
    .await;
    w.replay(
        "patch 200 marital_status_snapshot SINGLE (differs from profile)",
        m,
    )
    .await;
    w.replay("submit 400 marital_status_mismatch", m).await;
    w.replay("patch 200 MARRIED + partial spouse info", m).await;
    w.replay(
        "submit 400 spouse_info_required lists the missing fields",
        m,
    )
    .await;
    w.replay("patch 200 complete spouse info", m).await;
    w.replay("submit 200 married employee", m).await;
    w.replay("create draft 201 married employee, all remaining shares", m)
        .await;
    w.replay("submit 200 (every vested share now reserved)", m)
        .await;
    w.replay("quote 400 no_exercisable_shares (everything reserved)", m)
        .await;

    // The reservations follow the allocations; the married employee holds all 500 shares.
    let held: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT u.email, sum(r.shares_reserved)::bigint, min(r.status) FROM stock_grant_reservations r \
         JOIN org_memberships m ON m.id = r.org_membership_id JOIN users u ON u.id = m.user_id \
         GROUP BY u.email ORDER BY u.email",
    )
    .fetch_all(&w.app.db)
    .await
    .unwrap();
    assert_eq!(
        held,
        [
            (
                "golden.borrower@example.com".to_owned(),
                1200,
                "SUBMITTED".to_owned()
            ),
            (
                "golden.married@example.com".to_owned(),
                500,
                "SUBMITTED".to_owned()
            ),
        ]
    );
}

#[tokio::test]
async fn submission_needs_step_up_when_the_org_requires_it() {
    let w = LoanWorld::new().await;
    w.loan_policy().await;
    let b = Some("borrower");
    // Signed in before the org starts requiring MFA at login.
    w.session("borrower").await;
    w.settings("require_two_factor = true, mfa_required_actions = '[\"LOAN_SUBMISSION\"]'")
        .await;
    // The recorded draft came later in the story (other shares were reserved by then); here
    // only its status matters.
    let (status, created, _) = w
        .send(
            "create draft 201 (LOAN_SUBMISSION step-up is not required for create)",
            b,
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let recorded = created["data"]["id"].as_str().unwrap().to_owned();
    w.ids
        .lock()
        .unwrap()
        .insert("ead70cbc-e6f0-4b7f-889f-e1b85ced7b5e".to_owned(), recorded);
    w.replay("submit 403 step_up_mfa_required", b).await;
    // Cancel needs no step-up.
    let id = created["data"]["id"].as_str().unwrap();
    let (status, body) = w
        .call(
            b,
            Some(ORG),
            "POST",
            &format!("/me/loan-applications/{id}/cancel"),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

fn draft_body(shares: u32) -> Value {
    json!({
        "selection_mode": "SHARES", "selection_value": shares.to_string(),
        "desired_interest_type": "FIXED", "desired_repayment_method": "BALLOON",
        "desired_term_months": 6
    })
}

#[tokio::test]
async fn concurrent_creates_with_one_key_make_one_application() {
    let w = LoanWorld::new().await;
    w.loan_policy().await;
    w.session("borrower").await;
    let calls = (0..6).map(|i| {
        w.call(
            Some("borrower"),
            Some(ORG),
            "POST",
            "/me/loan-applications",
            Some(draft_body(100 + i)),
            &[("Idempotency-Key", "same-key")],
        )
    });
    let answers = futures_util::future::join_all(calls).await;
    let ids: std::collections::HashSet<String> = answers
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, 201, "{body}");
            body["data"]["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "every duplicate answers the one application");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM loan_applications")
        .fetch_one(&w.app.db)
        .await
        .unwrap();
    assert_eq!(count, 1);
    let id = ids.into_iter().next().unwrap();
    assert_eq!(audit_actions(&w.app, &id).await.len(), 1);
    // Another member's identical key is theirs alone.
    let (status, body) = w
        .call(
            Some("married"),
            Some(ORG),
            "POST",
            "/me/loan-applications",
            Some(draft_body(100)),
            &[("Idempotency-Key", "same-key")],
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_ne!(body["data"]["id"], json!(id));
}

#[tokio::test]
async fn concurrent_submissions_cannot_oversubscribe_the_vested_shares() {
    let w = LoanWorld::new().await;
    w.loan_policy().await;
    // Four drafts of 1500 shares each over 4000 available: at most two fit.
    let mut ids = Vec::new();
    for _ in 0..4 {
        let (status, body) = w
            .call(
                Some("borrower"),
                Some(ORG),
                "POST",
                "/me/loan-applications",
                Some(draft_body(1500)),
                &[],
            )
            .await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["data"]["id"].as_str().unwrap().to_owned());
    }
    let paths: Vec<String> = ids
        .iter()
        .map(|id| format!("/me/loan-applications/{id}/submit"))
        .collect();
    let calls = paths
        .iter()
        .map(|path| w.call(Some("borrower"), Some(ORG), "POST", path, None, &[]));
    let answers = futures_util::future::join_all(calls).await;
    let ok = answers.iter().filter(|(s, _)| *s == 200).count();
    for (status, body) in &answers {
        assert!(
            // Refused under the grant locks, or by the re-quote when the winners had already
            // committed their reservations.
            *status == 200
                || (*status == 400
                    && (body["code"] == "insufficient_available_shares"
                        || body["code"] == "shares_exceed_eligibility")),
            "{status} {body}"
        );
    }
    assert_eq!(ok, 2, "{answers:?}");
    let reserved: i64 = sqlx::query_scalar(
        "SELECT COALESCE(sum(shares_reserved), 0)::bigint FROM stock_grant_reservations",
    )
    .fetch_one(&w.app.db)
    .await
    .unwrap();
    assert_eq!(reserved, 3000);
    // Refused submissions left their drafts untouched.
    let drafts: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM loan_applications WHERE status = 'DRAFT' AND version = 1",
    )
    .fetch_one(&w.app.db)
    .await
    .unwrap();
    assert_eq!(drafts, 2);
}

#[tokio::test]
async fn a_stale_version_loses_with_409() {
    let w = LoanWorld::new().await;
    w.loan_policy().await;
    let (_, body) = w
        .call(
            Some("borrower"),
            Some(ORG),
            "POST",
            "/me/loan-applications",
            Some(draft_body(100)),
            &[],
        )
        .await;
    let id = body["data"]["id"].as_str().unwrap().to_owned();
    // Two PATCHes racing on one version: every answer is 200 or the legacy 409.
    let path = format!("/me/loan-applications/{id}");
    let calls = (0..4).map(|i| {
        w.call(
            Some("borrower"),
            Some(ORG),
            "PATCH",
            &path,
            Some(json!({"desired_term_months": 6 + i})),
            &[],
        )
    });
    let answers = futures_util::future::join_all(calls).await;
    let mut ok = 0;
    for (status, body) in &answers {
        match status {
            200 => ok += 1,
            409 => assert_eq!(
                body,
                &json!({"code": "concurrent_update", "message": "The loan application was updated by another request. Please refresh and retry.", "data": null, "details": {}})
            ),
            _ => panic!("{status} {body}"),
        }
    }
    assert!(ok >= 1);
    let version: i32 =
        sqlx::query_scalar("SELECT version FROM loan_applications WHERE id = $1::uuid")
            .bind(&id)
            .fetch_one(&w.app.db)
            .await
            .unwrap();
    assert_eq!(version, 1 + ok);
    // Ids of the replayed world stay consistent.
    assert_eq!(w.ours("x"), "x");
}

#[tokio::test]
async fn the_list_filters_by_date_and_refuses_bad_bounds() {
    let w = LoanWorld::new().await;
    w.loan_policy().await;
    let b = Some("borrower");
    let (_, first) = w
        .call(
            b,
            Some(ORG),
            "POST",
            "/me/loan-applications",
            Some(draft_body(100)),
            &[],
        )
        .await;
    let (_, second) = w
        .call(
            b,
            Some(ORG),
            "POST",
            "/me/loan-applications",
            Some(draft_body(200)),
            &[],
        )
        .await;
    let since = second["data"]["created_at"].as_str().unwrap();
    let (status, body) = w
        .call(
            b,
            Some(ORG),
            "GET",
            &format!("/me/loan-applications?created_from={since}"),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["total"], 1);
    assert_eq!(body["data"]["items"][0]["id"], second["data"]["id"]);
    let until = first["data"]["created_at"].as_str().unwrap();
    let (_, body) = w
        .call(
            b,
            Some(ORG),
            "GET",
            &format!("/me/loan-applications?created_to={until}"),
            None,
            &[],
        )
        .await;
    assert_eq!(body["data"]["total"], 1);
    assert_eq!(body["data"]["items"][0]["id"], first["data"]["id"]);
    for query in [
        "limit=0",
        "limit=201",
        "offset=-1",
        "created_from=yesterday",
    ] {
        let (status, body) = w
            .call(
                b,
                Some(ORG),
                "GET",
                &format!("/me/loan-applications?{query}"),
                None,
                &[],
            )
            .await;
        assert_eq!(status, 422, "{query}: {body}");
        assert_eq!(body["code"], "validation_error");
    }
    // Another member sees neither application.
    let id = first["data"]["id"].as_str().unwrap();
    let (status, body) = w
        .call(
            Some("married"),
            Some(ORG),
            "GET",
            &format!("/me/loan-applications/{id}"),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["message"], "Loan application not found");
    let (_, body) = w
        .call(
            Some("married"),
            Some(ORG),
            "GET",
            "/me/loan-applications",
            None,
            &[],
        )
        .await;
    assert_eq!(body["data"], json!({"items": [], "total": 0}));
}
