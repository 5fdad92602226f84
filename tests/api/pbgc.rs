//! The PBGC mid-term rates (contract `domain-loans.md` §2.17–§2.19, §9): the list, the refresh
//! with its per-org cooldown, the settings override and `sole pbgc refresh`, against the
//! fixture page served by a local HTTP server the test starts.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Value, json};

use crate::fixtures::{MemberSpec, create_member, create_org};
use crate::helpers::{TestApp, assert_like, expect_sample, sample, spawn_app_with, url_for};

const ORG: &str = "sole-llc";

/// What the local PBGC page answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Page {
    Fixture,
    Unavailable,
    /// The page without any year heading (a changed layout).
    Reshaped,
}

struct PbgcServer {
    url: String,
    page: Arc<Mutex<Page>>,
}

impl PbgcServer {
    fn set(&self, page: Page) {
        *self.page.lock().unwrap() = page;
    }
}

/// The fixture of §9.7 with its years moved to the current UTC year (and the one before), so
/// the refresh finds "its" year whatever the date.
fn fixture_page() -> String {
    let html = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/pbgc/mid-term-rates.html"),
    )
    .unwrap();
    let year = time::OffsetDateTime::now_utc().year();
    html.replace("2025", &(year - 1).to_string())
        .replace("2026", &year.to_string())
}

async fn serve(State(page): State<Arc<Mutex<Page>>>) -> Response {
    let current = *page.lock().unwrap();
    match current {
        Page::Fixture => Html(fixture_page()).into_response(),
        Page::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "down").into_response(),
        Page::Reshaped => Html(
            "<html><body><h1>Interest rates</h1><p>Moved to a PDF.</p></body></html>".to_owned(),
        )
        .into_response(),
    }
}

async fn pbgc_server() -> PbgcServer {
    let page = Arc::new(Mutex::new(Page::Fixture));
    let app = axum::Router::new()
        .route("/mid-term", axum::routing::get(serve))
        .with_state(page.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    PbgcServer {
        url: format!("http://{addr}/mid-term"),
        page,
    }
}

async fn rows(app: &TestApp) -> Vec<(i32, i32, Option<String>)> {
    sqlx::query_as(
        "SELECT year, month, annual_rate_percent::text FROM pbgc_mid_term_rates ORDER BY year, month",
    )
    .fetch_all(&app.db)
    .await
    .unwrap()
}

fn expect(name: &str) -> Value {
    sample("domain-loans.json", name)["response"].clone()
}

/// `(status, body)` is the recorded answer `name`: same status, same keys in the same order,
/// same values except ids and times, and except at the JSON pointers in `skip`.
fn like(name: &str, status: u16, body: &Value, skip: &[&str]) {
    expect_sample("domain-loans.json", name, status, body, skip);
}

#[tokio::test]
async fn pbgc_rates_are_refreshed_listed_and_shown_as_the_variable_base_rate() {
    let server = pbgc_server().await;
    let app = spawn_app_with(&[("PBGC_MID_TERM_RATES_URL", server.url.as_str())]).await;
    create_org(&app, ORG, "SOLE LLC").await;
    create_org(&app, "acme-corp", "Acme").await;
    create_org(&app, "beta-corp", "Beta").await;
    let admin = create_member(
        &app,
        ORG,
        MemberSpec::admin("admin@example.com").superuser(),
    )
    .await;
    let employee = create_member(&app, ORG, MemberSpec::new("golden.borrower@example.com")).await;
    let admin = app.sign_in(&admin).await.access;
    let employee = app.sign_in(&employee).await.access;
    let year = time::OffsetDateTime::now_utc().year();

    let (status, body) = app
        .call("GET", "/self/policy")
        .token(&employee)
        .org(ORG)
        .fetch()
        .await;
    like(
        "GET /self/policy (defaults, no PBGC rate yet)",
        status,
        &body,
        &[],
    );
    // The recorded loan policy, then the same values as JSON numbers: the legacy bumped
    // policy_version again (string comparison, §15 Q22); sole compares numerically.
    for name in [
        "PUT /org/settings loan policy (fixed 6.5, margin 1.125, 6..60 months)",
        "PUT /org/settings same values as JSON numbers still bumps policy_version",
    ] {
        let body = sample("domain-loans.json", name)["request"]["body"].clone();
        let (status, body) = app
            .call("PUT", "/org/settings")
            .token(&admin)
            .org(ORG)
            .json(&body)
            .fetch()
            .await;
        like(name, status, &body, &["/data/policy_version"]);
        assert_eq!(body["data"]["policy_version"], 2, "{name}");
    }

    let (status, body) = app
        .call("GET", "/org/settings/pbgc-rates")
        .token(&admin)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(
        (status, &body),
        (200, &expect("GET pbgc-rates 200 empty table")["body"])
    );
    let (status, body) = app
        .call("GET", "/org/settings/pbgc-rates")
        .token(&employee)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(
        (status, &body),
        (
            403,
            &expect("GET pbgc-rates 403 employee (org.settings.view)")["body"]
        )
    );
    let refresh = "/org/settings/pbgc-rates/refresh";
    let (status, body) = app
        .call("POST", refresh)
        .token(&employee)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(
        (status, &body),
        (
            403,
            &expect("POST pbgc-rates/refresh 403 employee (org.settings.manage)")["body"]
        )
    );
    let (status, body) = app.call("POST", refresh).fetch().await;
    assert_eq!(
        (status, &body),
        (
            400,
            &expect("POST pbgc-rates/refresh 400 no token and no X-Org-Id")["body"]
        )
    );

    // The page is down: a clear 502 with a domain code instead of the legacy's unhandled 500
    // (§15 Q11); nothing stored, no cooldown started.
    let recorded = expect("POST pbgc-rates/refresh 500 when the PBGC page answers 503");
    assert_eq!(recorded["status"], 500);
    server.set(Page::Unavailable);
    let (status, body) = app
        .call("POST", refresh)
        .token(&admin)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["code"], "pbgc_refresh_failed");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("HTTP status 503"),
        "{body}"
    );
    assert!(rows(&app).await.is_empty());

    server.set(Page::Fixture);
    let (status, body) = app
        .call("POST", refresh)
        .token(&admin)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    let recorded = expect("POST pbgc-rates/refresh 200");
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&body["data"]), keys(&recorded["body"]["data"]));
    // The real count of upserted months (the legacy always said -1).
    assert_eq!(body["data"]["updated_rows"], 12);

    let (status, body) = app
        .call("POST", refresh)
        .token(&admin)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(
        (status, &body),
        (429, &expect("POST pbgc-rates/refresh 429 cooldown")["body"])
    );

    // The cooldown is per org. A reshaped page names what is missing and changes nothing.
    server.set(Page::Reshaped);
    let before = rows(&app).await;
    let (status, body) = app
        .call("POST", refresh)
        .token(&admin)
        .org("acme-corp")
        .fetch()
        .await;
    assert_eq!(status, 502, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains(&format!("Unable to locate PBGC table for year {year}")),
        "{body}"
    );
    assert_eq!(rows(&app).await, before);
    server.set(Page::Fixture);
    let (status, body) = app
        .call("POST", refresh)
        .token(&admin)
        .org("acme-corp")
        .fetch()
        .await;
    // The real count of upserted rows instead of the legacy's -1 (§15 Q31).
    like(
        "POST pbgc-rates/refresh 200 in another org (cooldown is per org, data is global)",
        status,
        &body,
        &["/data/updated_rows"],
    );
    assert_eq!(body["data"]["updated_rows"], 12);

    // Two refreshes of one org at once: the cooldown is claimed before the fetch, one wins.
    let (a, b) = tokio::join!(
        app.call("POST", refresh)
            .token(&admin)
            .org("beta-corp")
            .fetch(),
        app.call("POST", refresh)
            .token(&admin)
            .org("beta-corp")
            .fetch(),
    );
    let mut statuses = [a.0, b.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 429], "{a:?} {b:?}");

    // 12 months of the year and 12 placeholders of the next, newest first.
    let (status, body) = app
        .call("GET", "/org/settings/pbgc-rates")
        .token(&admin)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 200);
    let items = body["data"].as_array().unwrap();
    assert_eq!(items.len(), 24);
    let recorded = expect("GET pbgc-rates 200 all years");
    assert_eq!(keys(&items[0]), keys(&recorded["body"]["data"][0]));
    assert_eq!(
        (
            &items[0]["year"],
            &items[0]["month"],
            &items[0]["annual_rate_percent"]
        ),
        (&json!(year + 1), &json!(12), &Value::Null)
    );
    assert_eq!(items[12]["year"], year);
    assert_eq!(items[12]["month"], 12);
    assert_eq!(items[12]["annual_rate_percent"], "3.8100");
    assert_eq!(items[12]["monthly_rate_percent"], "3.7500");
    assert_eq!(items[12]["source_url"], server.url.as_str());
    let (_, body) = app
        .call("GET", &format!("/org/settings/pbgc-rates?year={year}"))
        .token(&admin)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(body["data"].as_array().unwrap().len(), 12);
    // The recorded year's rows, with the fixture's year moved to this one and this server's
    // page as the source.
    let name = "GET pbgc-rates?year=2026";
    let mut recorded = expect(name);
    for item in recorded["body"]["data"].as_array_mut().unwrap() {
        item["year"] = json!(year);
        item["source_url"] = json!(server.url);
    }
    assert_eq!(recorded["status"], 200);
    assert_like(&body, &recorded["body"], "", &[], &mut Vec::new(), name);
    let (status, body) = app
        .call("GET", "/org/settings/pbgc-rates?year=abc")
        .token(&admin)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(
        (status, &body),
        (422, &expect("GET pbgc-rates 422 year=abc")["body"])
    );

    // The views show the newest rate as the variable base rate.
    // (policy_version: 2 here, 3 in the recording, see the PUTs above.)
    let (status, body) = app
        .call("GET", "/org/settings")
        .token(&admin)
        .org(ORG)
        .fetch()
        .await;
    like(
        "GET /org/settings variable_base_rate overridden by latest PBGC rate",
        status,
        &body,
        &["/data/policy_version"],
    );
    assert_eq!(body["data"]["variable_base_rate_annual_percent"], "3.8100");
    let (status, body) = app
        .call("GET", "/self/policy")
        .token(&employee)
        .org(ORG)
        .fetch()
        .await;
    like(
        "GET /self/policy (PBGC override)",
        status,
        &body,
        &["/data/policy_version"],
    );
    assert_eq!(body["data"]["variable_base_rate_annual_percent"], "3.8100");
    let stored: Option<String> = sqlx::query_scalar(
        "SELECT variable_base_rate_annual_percent::text FROM org_settings WHERE org_id = $1",
    )
    .bind(ORG)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(stored, None, "the stored column is left alone");
}

#[tokio::test]
async fn the_pbgc_refresh_command_stores_the_year_or_names_what_is_missing() {
    let server = pbgc_server().await;
    let app = spawn_app_with(&[]).await;
    let db_url = url_for(&app.db_name);
    let run = |url: String| {
        let db_url = db_url.clone();
        async move {
            tokio::process::Command::new(env!("CARGO_BIN_EXE_sole"))
                .args(["--no-dotenv", "pbgc", "refresh", "--url", &url])
                .env_clear()
                .env("DATABASE_URL", &db_url)
                .kill_on_drop(true)
                .output()
                .await
                .unwrap()
        }
    };
    server.set(Page::Reshaped);
    let out = run(server.url.clone()).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Unable to locate PBGC table"), "{stderr}");
    assert!(rows(&app).await.is_empty());

    server.set(Page::Fixture);
    let out = run(server.url.clone()).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("stored 12 PBGC rate row(s)"));
    assert_eq!(rows(&app).await.len(), 24);
}
