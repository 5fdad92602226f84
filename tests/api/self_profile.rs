//! `/self/profile` and `/self/export`.

use serde_json::{Value, json};

use crate::fixtures::{set_org_settings, totp_now};
use crate::helpers::{assert_same_keys, audit_count, error_body, json, sample};
use crate::people_support::{ORG, world};

fn profile_sample() -> Value {
    sample("self.json", "profile (employee)")["response"]["body"]["data"].clone()
}

#[tokio::test]
async fn profile_read_and_edit() {
    let w = world().await;
    let app = &w.app;
    let (status, body) = app
        .call("GET", "/self/profile")
        .token(&w.emp_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    let expected = profile_sample();
    assert_same_keys(&body["data"], &expected);
    assert_same_keys(&body["data"]["user"], &expected["user"]);
    assert_same_keys(&body["data"]["membership"], &expected["membership"]);
    assert_eq!(body["data"]["membership"]["id"], json!(w.emp.membership_id));
    assert_eq!(body["data"]["role_names"], json!(["EMPLOYEE"]));

    let resp = app.call("GET", "/self/profile").response().await;
    let (status, body) = json(resp).await;
    assert_eq!(
        (status, body),
        (401, error_body("unauthorized", "Not authenticated"))
    );

    let patch = |body: Value| {
        app.call("PATCH", "/self/profile")
            .token(&w.emp_s.access)
            .org(ORG)
            .json(&body)
            .fetch()
    };
    let (status, body) = patch(json!({"preferred_name": "  Ev  ", "phone_number": "+1-555-0199", "country": "us", "state": "wa", "first_name": "Ignored"})).await;
    assert_eq!(status, 200, "{body}");
    let user = &body["data"]["user"];
    assert_eq!(user["preferred_name"], "Ev");
    assert_eq!(user["phone_number"], "+1-555-0199");
    assert_eq!(user["country"], "United States of America");
    assert_eq!(user["state"], "Washington");
    assert_eq!(user["first_name"], "Eve", "first_name is not self-editable");
    assert_eq!(audit_count(app, ORG, "user.profile.self_updated").await, 1);

    let (status, body) = patch(json!({"preferred_name": ""})).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["user"]["preferred_name"], Value::Null);
    let (status, body) = patch(json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["user"]["phone_number"], "+1-555-0199");
    assert_eq!(audit_count(app, ORG, "user.profile.self_updated").await, 2);

    let (status, body) = patch(json!({"marital_status": "complicated"})).await;
    assert_eq!(status, 422);
    assert_eq!(
        body["message"],
        "marital_status: Value error, Invalid marital_status value"
    );
    let (status, body) = patch(json!({"marital_status": "n/a"})).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["user"]["marital_status"], "UNKNOWN");
    // Over-long or unknown values are 4xx, never a database error.
    let (status, body) = patch(json!({"country": "United States"})).await;
    assert_eq!(status, 200, "names resolve: {body}");
    assert_eq!(body["data"]["user"]["country_code"], "US");
    for bad in [
        json!({"country": "Atlantis"}),
        json!({"timezone": "x".repeat(51)}),
        json!({"address_line1": "x".repeat(256)}),
    ] {
        let (status, body) = patch(bad.clone()).await;
        assert_eq!(status, 422, "{bad}: {body}");
    }

    // Step-up, then the org switch.
    set_org_settings(
        app,
        ORG,
        "require_two_factor = true, mfa_required_actions = '[\"USER_PROFILE_EDIT\"]'",
    )
    .await;
    let (status, body) = app
        .call("PATCH", "/self/profile")
        .token(&w.admin_s.access)
        .org(ORG)
        .json(&json!({"preferred_name": "Ada"}))
        .fetch()
        .await;
    assert_eq!(status, 403);
    assert_eq!(body["code"], "step_up_mfa_required");
    let (status, verified) = app.call("POST", "/auth/step-up/verify").token(&w.admin_s.access).org(ORG).json(&json!({"challenge_token": body["details"]["challenge_token"], "code": totp_now(w.admin.totp_secret.as_deref().unwrap())})).fetch().await;
    assert_eq!(status, 200, "{verified}");
    let resp = app
        .call("PATCH", "/self/profile")
        .token(&w.admin_s.access)
        .header("X-Org-Id", ORG)
        .header(
            "X-Step-Up-Token",
            verified["data"]["step_up_token"].as_str().unwrap(),
        )
        .json(&json!({"preferred_name": "Ada"}))
        .response()
        .await;
    let (status, body) = json(resp).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["user"]["preferred_name"], "Ada");

    set_org_settings(
        app,
        ORG,
        "require_two_factor = false, allow_profile_edit = false",
    )
    .await;
    let (status, body) = patch(json!({"preferred_name": "X"})).await;
    assert_eq!(
        (status, body),
        (
            403,
            error_body(
                "forbidden",
                "Profile editing is disabled for this organization"
            )
        )
    );
    assert_eq!(audit_count(app, ORG, "user.profile.self_updated").await, 5);
}

#[tokio::test]
async fn impersonators_cannot_edit_the_profile() {
    let w = world().await;
    let app = &w.app;
    set_org_settings(app, ORG, "allow_impersonation = true").await;
    let (status, body) = app
        .call("POST", "/auth/impersonate/start")
        .token(&w.admin_s.access)
        .org(ORG)
        .json(&json!({"target_membership_id": w.emp.membership_id}))
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    let token = body["data"]["access_token"].as_str().unwrap().to_owned();
    let (status, body) = app
        .call("GET", "/self/profile")
        .token(&token)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["user"]["email"], "emp@acme.example.com");
    let (status, body) = app
        .call("PATCH", "/self/profile")
        .token(&token)
        .org(ORG)
        .json(&json!({"preferred_name": "X"}))
        .fetch()
        .await;
    assert_eq!(
        (status, body),
        (
            403,
            error_body("forbidden", "Cannot edit profile during impersonation")
        )
    );
}

#[tokio::test]
async fn export_is_the_legacy_csv_and_is_audited() {
    let w = world().await;
    let app = &w.app;
    app.call("PATCH", "/self/profile")
        .token(&w.emp_s.access)
        .org(ORG)
        .json(
            &json!({"country": "US", "state": "WA", "address_line1": "400 Broad St, Unit \"8C\""}),
        )
        .fetch()
        .await;
    let resp = app
        .call("GET", "/self/export")
        .token(&w.emp_s.access)
        .header("X-Org-Id", ORG)
        .response()
        .await;
    assert_eq!(resp.status(), 200);
    let expected = sample("self.json", "export CSV");
    let headers = resp.headers().clone();
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"my_data_export.csv\""
    );
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    let text = resp.text().await.unwrap();
    let fields = |csv: &str| -> Vec<String> {
        csv.split("\r\n")
            .filter(|l| !l.is_empty())
            .map(|l| l.split(',').next().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        fields(&text),
        fields(expected["response"]["body"].as_str().unwrap())
    );
    assert!(text.starts_with("Field,Value\r\nEmail,emp@acme.example.com\r\nFirst Name,Eve\r\n"));
    assert!(text.contains("\r\nCountry,United States of America\r\nState,Washington\r\n"));
    assert!(text.contains("\r\nAddress Line 1,\"400 Broad St, Unit \"\"8C\"\"\"\r\n"));
    assert!(text.contains("\r\nOrganization,Acme Inc\r\n"));
    assert!(text.contains("\r\nRoles,EMPLOYEE\r\nMFA Enabled,No\r\n"));
    assert!(text.contains("+00:00\r\n"));
    assert_eq!(audit_count(app, ORG, "user.data.exported").await, 1);

    set_org_settings(app, ORG, "allow_user_data_export = false").await;
    let (status, body) = app
        .call("GET", "/self/export")
        .token(&w.emp_s.access)
        .org(ORG)
        .fetch()
        .await;
    assert_eq!(
        (status, body),
        (
            403,
            error_body(
                "forbidden",
                "User data export is disabled for this organization"
            )
        )
    );
    assert_eq!(audit_count(app, ORG, "user.data.exported").await, 1);
}
