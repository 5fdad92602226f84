//! Input that used to reach PostgreSQL or panic (issue 13, medium): NUL bytes in JSON strings
//! and query parameters are a 422 naming the field, non-ASCII datetimes never panic, and
//! look-alike e-mail addresses are refused.

use serde_json::{Value, json};

use crate::fixtures::{MemberSpec, create_member, create_org};
use crate::helpers::spawn_app;

const ORG: &str = "acme";

fn assert_nul_refused(status: u16, body: &Value, loc: Value) {
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "validation_error");
    assert_eq!(body["details"]["errors"][0]["loc"], loc, "{body}");
    assert_eq!(body["details"]["errors"][0]["type"], "string_contains_nul");
    let text = body.to_string().to_lowercase();
    assert!(
        !text.contains("postgres") && !text.contains("0x00"),
        "{text}"
    );
}

#[tokio::test]
async fn security_nul_bytes_are_a_422_naming_the_field() {
    let app = spawn_app().await;
    create_org(&app, ORG, "Acme Inc").await;
    let emp = create_member(&app, ORG, MemberSpec::new("emp@acme.example.com")).await;
    let admin = create_member(&app, ORG, MemberSpec::admin("admin@acme.example.com")).await;
    let emp_s = app.sign_in(&emp).await;
    let admin_s = app.sign_in(&admin).await;

    // Open to every user.
    let (status, body) = app
        .call("PATCH", "/self/profile")
        .token(&emp_s.access)
        .org(ORG)
        .json(&json!({"preferred_name": "Ev\u{0}e"}))
        .fetch()
        .await;
    assert_nul_refused(status, &body, json!(["body", "preferred_name"]));
    assert_eq!(
        body["message"],
        "preferred_name: String should not contain NUL characters"
    );

    // Nested and in an admin body.
    let (status, body) = app
        .call("POST", "/org/users")
        .token(&admin_s.access)
        .org(ORG)
        .json(&json!({
            "email": "new@acme.example.com", "first_name": "N\u{0}", "last_name": "X",
            "employee_id": "E-9", "employment_start_date": "2024-01-01",
        }))
        .fetch()
        .await;
    assert_nul_refused(status, &body, json!(["body", "first_name"]));

    // Query parameters.
    let (status, body) = app
        .call("GET", "/org/users?search=a%00b")
        .token(&admin_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_nul_refused(status, &body, json!(["query", "search"]));
    assert_eq!(
        body["message"],
        "search: String should not contain NUL characters"
    );
}

#[tokio::test]
async fn security_non_ascii_scheduled_at_never_panics() {
    let app = spawn_app().await;
    create_org(&app, ORG, "Acme Inc").await;
    let admin = create_member(&app, ORG, MemberSpec::admin("admin@acme.example.com")).await;
    let s = app.sign_in(&admin).await;
    for raw in ["2026-12-01é10:30:00+02:00", "ééééééééééééééééé"] {
        let (status, body) = app
            .call("POST", "/announcements")
            .token(&s.access)
            .org(ORG)
            .json(&json!({"title": "T", "body": "B", "scheduled_at": raw}))
            .fetch()
            .await;
        assert_eq!(status, 422, "{raw}: {body}");
        assert_eq!(body["code"], "validation_error");
    }
}

#[tokio::test]
async fn security_lookalike_emails_are_refused() {
    let app = spawn_app().await;
    create_org(&app, ORG, "Acme Inc").await;
    let admin = create_member(&app, ORG, MemberSpec::admin("admin@acme.example.com")).await;
    let s = app.sign_in(&admin).await;
    for email in [
        "\u{FF41}dmin@acme.example.com",
        "admin@acme.\u{FF45}xample.com",
        "ad\u{202E}min@acme.example.com",
        "ad\u{200B}min@acme.example.com",
    ] {
        let (status, body) = app
            .call("POST", "/org/users")
            .token(&s.access)
            .org(ORG)
            .json(&json!({
                "email": email, "first_name": "Look", "last_name": "Alike",
                "employee_id": "E-2", "employment_start_date": "2024-01-01",
            }))
            .fetch()
            .await;
        assert_eq!(status, 422, "{email}: {body}");
        assert_eq!(
            body["message"],
            "email: value is not a valid email address: The email address contains invalid characters."
        );
    }
    let identities: i64 = sqlx::query_scalar("SELECT count(*) FROM identities")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(identities, 1);
}
