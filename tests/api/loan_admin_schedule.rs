//! The admin's schedule, what-if and CSV export of a loan (loan-admin §5.11, §7.1–§7.5;
//! scenarios 15, 16 and 17 of §15) against the legacy goldens: loan A activated and paid off
//! as in the recording, loan B still SUBMITTED.

use serde_json::json;
use uuid::Uuid;

use crate::helpers::sample;
use crate::loan_admin_support::{FILE, ORG, World, activate};

const FINANCE: Option<&str> = Some("finance");
const HR: Option<&str> = Some("hr");

/// Loan A's three recorded repayments (`repayments list` sample), written directly.
async fn recorded_repayments(w: &World, loan: Uuid) {
    for (amount, principal, interest, day, created) in [
        (
            "678.38",
            "658.38",
            "20.00",
            "2026-12-07",
            "2026-12-07T00:36:27.575240Z",
        ),
        (
            "778.38",
            "761.67",
            "16.71",
            "2026-12-07",
            "2026-12-07T00:36:27.678949Z",
        ),
        (
            "2613.53",
            "2579.95",
            "33.58",
            "2027-03-07",
            "2026-12-07T00:36:27.949160Z",
        ),
    ] {
        sqlx::query(
            "INSERT INTO loan_repayments (id, org_id, loan_application_id, amount, \
             principal_amount, interest_amount, payment_date, recorded_by_user_id, created_at) \
             VALUES ($1, $2, $3, $4::numeric, $5::numeric, $6::numeric, $7::date, $8, \
             $9::timestamptz)",
        )
        .bind(Uuid::new_v4())
        .bind(ORG)
        .bind(loan)
        .bind(amount)
        .bind(principal)
        .bind(interest)
        .bind(day)
        .bind(w.member("finance").user_id)
        .bind(created)
        .execute(&w.app.db)
        .await
        .unwrap();
    }
}

async fn paid_off_world() -> World {
    let w = World::new().await;
    let a = w.loan('A');
    activate(&w, a).await;
    recorded_repayments(&w, a).await;
    w
}

#[tokio::test]
async fn the_schedule_shows_what_remains_like_the_legacy() {
    let w = paid_off_world().await;
    w.replay("schedule (remaining, default as_of today)", FINANCE)
        .await;
    w.replay("schedule include_paid=true", FINANCE).await;
    w.replay("schedule as_of before any repayment", FINANCE)
        .await;
    // BALLOON: interest-only periods, then the principal (from the quote date: not active).
    w.replay(
        "schedule of a SUBMITTED BALLOON loan (starts at as_of_date)",
        FINANCE,
    )
    .await;
    w.replay("schedule 403 HR user", HR).await;
    let a = w.loan('A');
    let (status, body) = w
        .as_(
            "finance",
            "GET",
            &format!("/org/loans/{a}/schedule?as_of=2026-13-01"),
            None,
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["details"]["errors"][0]["loc"],
        json!(["query", "as_of"])
    );
    let (status, _) = w
        .as_(
            "finance",
            "GET",
            &format!("/org/loans/{}/schedule", Uuid::new_v4()),
            None,
        )
        .await;
    assert_eq!(status, 404);
    // After the pay-off date nothing remains.
    let (status, body) = w
        .as_(
            "finance",
            "GET",
            &format!("/org/loans/{a}/schedule?as_of=2027-03-07"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["entries"], json!([]));
    assert_eq!(body["data"]["term_months"], 0);
}

#[tokio::test]
async fn what_if_recomputes_from_the_given_terms_and_stores_nothing() {
    let w = paid_off_world().await;
    w.replay("what-if (as the SPA sends it)", FINANCE).await;
    w.replay("what-if with principal override", FINANCE).await;
    w.replay("what-if 422 term_months 0 and negative rate", FINANCE)
        .await;
    let b = w.loan('B');
    let (status, body) = w
        .as_(
            "hr",
            "POST",
            &format!("/org/loans/{b}/schedule/what-if"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(body["message"], "Missing permission: loan.what_if.simulate");
    // Nothing was stored: the loan's own schedule is unchanged.
    w.replay(
        "schedule of a SUBMITTED BALLOON loan (starts at as_of_date)",
        FINANCE,
    )
    .await;
}

/// `GET …/schedule/export` as `who`: status, content type, disposition and body.
async fn export(w: &World, who: &str, loan: Uuid, query: &str) -> (u16, String, String, String) {
    let resp = w
        .app
        .call("GET", "")
        .url(
            w.app
                .url(&format!("/org/loans/{loan}/schedule/export{query}")),
        )
        .token(w.session(who).await.access)
        .header("X-Org-Id", ORG)
        .response()
        .await;
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let (ct, cd) = (header("content-type"), header("content-disposition"));
    (resp.status().as_u16(), ct, cd, resp.text().await.unwrap())
}

#[tokio::test]
async fn the_export_is_the_schedule_as_crlf_csv() {
    let w = paid_off_world().await;
    for (name, letter, query) in [
        ("schedule export CSV", 'B', ""),
        (
            "schedule export CSV include_paid for paid-off loan",
            'A',
            "?include_paid=true",
        ),
    ] {
        let loan = w.loan(letter);
        let recorded = &sample(FILE, name)["response"];
        let (status, ct, cd, body) = export(&w, "finance", loan, query).await;
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(ct, recorded["headers"]["content-type"], "{name}");
        assert_eq!(
            cd,
            format!("attachment; filename=\"loan_schedule_{loan}.csv\"")
        );
        assert_eq!(body, recorded["body"].as_str().unwrap(), "{name}");
        assert!(body.ends_with("\r\n") && !body.replace("\r\n", "").contains('\n'));
    }
    w.replay("schedule export 403 HR user", HR).await;
    let (status, _, _, _) = export(&w, "finance", w.loan('A'), "?as_of=tomorrow").await;
    assert_eq!(status, 422);
}
