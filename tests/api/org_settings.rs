//! `GET /org/settings` and `PUT /org/settings`.

use serde_json::{Value, json};

use crate::fixtures::{
    Member, MemberSpec, Session, create_member, create_org, set_org_settings, totp_now,
};
use crate::helpers::{TestApp, assert_same_keys, audit_count, sample, spawn_app};

async fn admin(app: &TestApp, org: &str) -> (Member, Session) {
    let m = create_member(
        app,
        org,
        MemberSpec::admin(&format!("admin@{org}.example.com")),
    )
    .await;
    let s = app.sign_in(&m).await;
    (m, s)
}

#[tokio::test]
async fn get_creates_the_default_row_with_the_legacy_shape() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme Inc").await;
    let (_, s) = admin(&app, "acme").await;
    let (status, body) = app
        .call("GET", "/org/settings")
        .token(&s.access)
        .org("acme")
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    let mut expected = sample(
        "settings.json",
        "settings of a freshly created org (defaults)",
    )["response"]["body"]["data"]
        .clone();
    assert_same_keys(&body["data"], &expected);
    expected["org_id"] = json!("acme");
    expected["created_at"] = body["data"]["created_at"].clone();
    expected["updated_at"] = body["data"]["updated_at"].clone();
    assert_eq!(body["data"], expected);
    assert!(body["data"]["created_at"].as_str().unwrap().ends_with('Z'));
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM org_settings WHERE org_id = 'acme'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(rows, 1);
}

#[tokio::test]
async fn employees_are_refused_with_the_permission_name() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme Inc").await;
    let m = create_member(&app, "acme", MemberSpec::new("e@acme.example.com")).await;
    let s = app.sign_in(&m).await;
    let (status, body) = app
        .call("GET", "/org/settings")
        .token(&s.access)
        .org("acme")
        .fetch()
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        sample("settings.json", "get settings 403 (employee)")["response"]["body"]
    );
    // The permission check comes before body validation.
    let (status, body) = app
        .call("PUT", "/org/settings")
        .session(&s)
        .json(&json!({"session_timeout_minutes": 0}))
        .fetch()
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        sample("settings.json", "put settings 403 (employee)")["response"]["body"]
    );
    let (status, body) = app
        .call("GET", "/org/settings")
        .header("X-Org-Id", "acme")
        .fetch()
        .await;
    assert_eq!(status, 401);
    assert_eq!(body["message"], "Not authenticated");
    assert_eq!(audit_count(&app, "acme", "org_settings.updated").await, 0);
}

/// Every recorded 400/422 of settings.json, replayed: same status, code and message; nothing
/// changes and nothing is audited.
#[tokio::test]
async fn every_recorded_validation_error_is_reproduced() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme Inc").await;
    let (_, s) = admin(&app, "acme").await;
    let (_, before) = app
        .call("GET", "/org/settings")
        .token(&s.access)
        .org("acme")
        .fetch()
        .await;
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/contract/samples/settings.json"),
    )
    .unwrap();
    let all: Vec<Value> = serde_json::from_str(&text).unwrap();
    let mut replayed = 0;
    for ex in all.iter().filter(|e| {
        e["request"]["method"] == "PUT"
            && matches!(e["response"]["status"].as_u64(), Some(400 | 422))
    }) {
        let (status, body) = app
            .call("PUT", "/org/settings")
            .session(&s)
            .json(&ex["request"]["body"].clone())
            .fetch()
            .await;
        let exp = &ex["response"];
        assert_eq!(status, exp["status"], "{}: {body}", ex["name"]);
        assert_eq!(body["code"], exp["body"]["code"], "{}", ex["name"]);
        assert_eq!(body["message"], exp["body"]["message"], "{}", ex["name"]);
        if status == 422 {
            assert_eq!(
                body["details"]["errors"][0]["loc"], exp["body"]["details"]["errors"][0]["loc"],
                "{}",
                ex["name"]
            );
            assert_eq!(
                body["details"]["errors"][0]["type"],
                exp["body"]["details"]["errors"][0]["type"]
            );
        } else {
            assert_eq!(body["details"], exp["body"]["details"]);
        }
        replayed += 1;
    }
    assert_eq!(replayed, 11);
    let (_, after) = app
        .call("GET", "/org/settings")
        .token(&s.access)
        .org("acme")
        .fetch()
        .await;
    assert_eq!(before, after);
    assert_eq!(audit_count(&app, "acme", "org_settings.updated").await, 0);
}

#[tokio::test]
async fn bad_input_is_4xx_never_500() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme Inc").await;
    let (_, s) = admin(&app, "acme").await;
    for (body, status, message) in [
        (
            json!({"remember_device_days": 1_000_000_000_000_i64}),
            422,
            "remember_device_days: Input should be less than or equal to 2147483647",
        ),
        (
            json!({"remember_device_days": -1}),
            422,
            "remember_device_days: Input should be greater than or equal to 0",
        ),
        (
            json!({"session_timeout_minutes": 61}),
            422,
            "session_timeout_minutes: Input should be less than or equal to 60",
        ),
        (
            json!({"min_vested_shares_to_exercise": 1e30}),
            422,
            "min_vested_shares_to_exercise: Input should be less than or equal to 9223372036854775807",
        ),
        (
            json!({"down_payment_percent": "NaN"}),
            422,
            "down_payment_percent: Input should be a valid decimal",
        ),
        (
            json!({"fixed_interest_rate_annual_percent": 100.0001}),
            422,
            "fixed_interest_rate_annual_percent: Input should be less than or equal to 100",
        ),
        (
            json!({"enforce_service_duration_rule": true, "min_service_duration_years": "9999.999"}),
            422,
            "min_service_duration_years: Decimal input should have no more than 4 digits before the decimal point",
        ),
        (
            json!({"mfa_required_actions": "LOGIN"}),
            422,
            "mfa_required_actions: Input should be a valid list",
        ),
        (
            json!({"min_loan_term_months": null}),
            400,
            "min_loan_term_months and max_loan_term_months are required",
        ),
        (
            json!({"fixed_interest_rate_annual_percent": null}),
            400,
            "fixed_interest_rate_annual_percent is required",
        ),
        (
            json!({"require_down_payment": true, "down_payment_percent": 0}),
            400,
            "down_payment_percent must be > 0 when require_down_payment is true",
        ),
        (
            json!({"require_down_payment": false, "down_payment_percent": 5}),
            400,
            "down_payment_percent must be null when require_down_payment is false",
        ),
        (
            json!({"enforce_service_duration_rule": true}),
            400,
            "min_service_duration_years is required when enforce_service_duration_rule is true",
        ),
        (
            json!("nope"),
            422,
            "Input should be a valid dictionary or object to extract fields from",
        ),
    ] {
        let (got, resp) = app
            .call("PUT", "/org/settings")
            .session(&s)
            .json(&body.clone())
            .fetch()
            .await;
        assert_eq!(got, status, "{body}: {resp}");
        assert_eq!(resp["message"], message, "{body}");
    }
    let resp = app
        .call("PUT", "/org/settings")
        .token(&s.access)
        .header("X-Org-Id", "acme")
        .header("content-type", "application/json")
        .body("{not json")
        .response()
        .await;
    assert_eq!(resp.status(), 422);
    assert_eq!(audit_count(&app, "acme", "org_settings.updated").await, 0);
}

#[tokio::test]
async fn updates_follow_the_recorded_sequence() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme Inc").await;
    let (m, s) = admin(&app, "acme").await;
    let (_, base) = app
        .call("GET", "/org/settings")
        .token(&s.access)
        .org("acme")
        .fetch()
        .await;
    assert_eq!(base["data"]["policy_version"], 1);

    // Non-policy fields: policy_version unchanged.
    let (status, body) = app
        .call("PUT", "/org/settings")
        .session(&s)
        .json(&json!({"session_timeout_minutes": 10, "audit_log_retention_days": 365}))
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    let exp = sample(
        "settings.json",
        "put settings success (non-policy field; policy_version unchanged)",
    )["response"]["body"]
        .clone();
    assert_same_keys(&body, &exp);
    assert_same_keys(&body["data"], &exp["data"]);
    assert_eq!(body["data"]["session_timeout_minutes"], 10);
    assert_eq!(body["data"]["policy_version"], 1);

    // Stock rules: +1 and decimals with the column scale.
    let (status, body) = app
        .call("PUT", "/org/settings")
        .session(&s)
        .json(
            &json!({"enforce_service_duration_rule": true, "min_service_duration_years": 0.5,
               "enforce_min_vested_to_exercise": true, "min_vested_shares_to_exercise": 1000}),
        )
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["min_service_duration_years"], "0.50");
    assert_eq!(body["data"]["min_vested_shares_to_exercise"], 1000);
    assert_eq!(body["data"]["policy_version"], 2);

    // Loan rules.
    let (status, body) = app
        .call("PUT", "/org/settings")
        .session(&s)
        .json(
            &json!({"require_down_payment": true, "down_payment_percent": "12.5",
               "fixed_interest_rate_annual_percent": 4.25, "allowed_interest_types": ["FIXED"]}),
        )
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    let exp =
        sample("settings.json", "put settings success loan rules")["response"]["body"]["data"]
            .clone();
    for key in [
        "fixed_interest_rate_annual_percent",
        "down_payment_percent",
        "allowed_interest_types",
        "require_down_payment",
        "min_service_duration_years",
    ] {
        assert_eq!(body["data"][key], exp[key], "{key}");
    }
    assert_eq!(body["data"]["policy_version"], 3);
    let updated_at = body["data"]["updated_at"].clone();

    // Empty body: nothing changes, updated_at included; still audited.
    let (status, body) = app
        .call("PUT", "/org/settings")
        .session(&s)
        .json(&json!({}))
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["updated_at"], updated_at);
    assert_eq!(body["data"]["policy_version"], 3);

    // A policy value re-sent unchanged does not bump the version.
    let (_, body) = app
        .call("PUT", "/org/settings")
        .session(&s)
        .json(&json!({"fixed_interest_rate_annual_percent": "4.25"}))
        .fetch()
        .await;
    assert_eq!(body["data"]["policy_version"], 3);

    // Turning the flags off without values nulls them.
    let (status, body) = app
        .call("PUT", "/org/settings")
        .session(&s)
        .json(
            &json!({"enforce_service_duration_rule": false, "enforce_min_vested_to_exercise": false,
               "require_down_payment": false}),
        )
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["min_service_duration_years"], Value::Null);
    assert_eq!(body["data"]["min_vested_shares_to_exercise"], Value::Null);
    assert_eq!(body["data"]["down_payment_percent"], Value::Null);
    assert_eq!(body["data"]["policy_version"], 4);

    // GET returns what PUT stored.
    let (_, got) = app
        .call("GET", "/org/settings")
        .token(&s.access)
        .org("acme")
        .fetch()
        .await;
    assert_eq!(got["data"], body["data"]);

    // One audit row per successful PUT, with resource_id = org id and secret-free snapshots.
    assert_eq!(audit_count(&app, "acme", "org_settings.updated").await, 6);
    let (actor, resource_id, old, new): (Option<uuid::Uuid>, String, Value, Value) =
        sqlx::query_as(
            "SELECT actor_id, resource_id, old_value::jsonb, new_value::jsonb FROM audit_logs \
         WHERE org_id = 'acme' ORDER BY created_at DESC LIMIT 1",
        )
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(actor, Some(m.user_id));
    assert_eq!(resource_id, "acme");
    assert_eq!(old["policy_version"], 3);
    assert_eq!(new["policy_version"], 4);
    let recorded =
        sample("audit.json", "list audit logs page 1 size 5")["response"]["body"]["data"]["items"]
            [0]["new_value"]
            .clone();
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&new), keys(&recorded));
}

#[tokio::test]
async fn two_factor_off_clears_actions_and_zero_days_forgets_devices() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme Inc").await;
    create_org(&app, "other", "Other").await;
    let (m, s) = admin(&app, "acme").await;
    let other = create_member(&app, "other", MemberSpec::new("o@other.example.com")).await;
    for (org, user) in [("acme", m.user_id), ("other", other.user_id)] {
        sqlx::query(
            "INSERT INTO user_mfa_devices (id, org_id, user_id, token_hash, expires_at) \
             VALUES ($1, $2, $3, $4, now() + interval '1 day')",
        )
        .bind(uuid::Uuid::new_v4())
        .bind(org)
        .bind(user)
        .bind(format!("{:064}", org.len()))
        .execute(&app.db)
        .await
        .unwrap();
    }
    let (status, body) = app.call("PUT", "/org/settings").session(&s).json(&json!({"require_two_factor": true, "mfa_required_actions": ["ROLE_ASSIGNMENT", "LOGIN"]})).fetch().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["mfa_required_actions"],
        json!(["ROLE_ASSIGNMENT", "LOGIN"])
    );

    let (_, body) = app
        .call("PUT", "/org/settings")
        .session(&s)
        .json(&json!({"remember_device_days": 0}))
        .fetch()
        .await;
    assert_eq!(body["data"]["remember_device_days"], 0);
    let devices = |org: &'static str| {
        let db = app.db.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM user_mfa_devices WHERE org_id = $1")
                .bind(org)
                .fetch_one(&db)
                .await
                .unwrap()
        }
    };
    assert_eq!(devices("acme").await, 0);
    assert_eq!(devices("other").await, 1, "other orgs keep their devices");

    let (status, body) = app
        .call("PUT", "/org/settings")
        .session(&s)
        .json(&json!({"require_two_factor": false, "allow_impersonation": false}))
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["mfa_required_actions"], json!([]));
    assert_eq!(body["data"]["require_two_factor"], false);
}

#[tokio::test]
async fn step_up_is_required_when_the_org_lists_the_action() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme Inc").await;
    let (m, s) = admin(&app, "acme").await;
    set_org_settings(
        &app,
        "acme",
        "require_two_factor = true, mfa_required_actions = '[\"ORG_SETTINGS_CHANGE\"]'",
    )
    .await;
    let (status, body) = app
        .call("PUT", "/org/settings")
        .session(&s)
        .json(&json!({"session_timeout_minutes": 9}))
        .fetch()
        .await;
    assert_eq!(status, 403, "{body}");
    let exp =
        sample("settings.json", "put settings 403 step-up required")["response"]["body"].clone();
    assert_eq!(body["code"], exp["code"]);
    assert_eq!(body["message"], exp["message"]);
    assert_same_keys(&body["details"], &exp["details"]);
    assert_eq!(body["details"]["action"], "ORG_SETTINGS_CHANGE");
    assert_eq!(audit_count(&app, "acme", "org_settings.updated").await, 0);

    let (status, verified) = {
        let req = app
            .call("POST", "/auth/step-up/verify")
            .token(&s.access)
            .header("X-Org-Id", "acme")
            .json(
                &json!({"challenge_token": body["details"]["challenge_token"],
                          "code": totp_now(m.totp_secret.as_deref().unwrap())}),
            );
        req.fetch().await
    };
    assert_eq!(status, 200, "{verified}");
    let token = verified["data"]["step_up_token"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..2 {
        let (status, body) = app
            .call("PUT", "/org/settings")
            .session(&s)
            .json(&json!({"session_timeout_minutes": 9}))
            .step_up(&token)
            .fetch()
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["session_timeout_minutes"], 9);
    }
    assert_eq!(audit_count(&app, "acme", "org_settings.updated").await, 2);
}

#[tokio::test]
async fn orgs_are_isolated_and_a_failed_audit_write_rolls_the_change_back() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme Inc").await;
    create_org(&app, "beta", "Beta Inc").await;
    let (_, a) = admin(&app, "acme").await;
    let (_, b) = admin(&app, "beta").await;
    let (status, _) = app
        .call("PUT", "/org/settings")
        .session(&b)
        .json(&json!({"session_timeout_minutes": 42}))
        .fetch()
        .await;
    assert_eq!(status, 200);
    let (_, mine) = app
        .call("GET", "/org/settings")
        .token(&a.access)
        .org("acme")
        .fetch()
        .await;
    assert_eq!(mine["data"]["session_timeout_minutes"], 5);
    assert_eq!(mine["data"]["org_id"], "acme");
    // A's token cannot address B's settings.
    let (status, _) = app
        .call("GET", "/org/settings")
        .token(&a.access)
        .org("beta")
        .fetch()
        .await;
    assert!(status == 401 || status == 403, "{status}");
    assert_eq!(audit_count(&app, "acme", "org_settings.updated").await, 0);
    assert_eq!(audit_count(&app, "beta", "org_settings.updated").await, 1);

    // Without its audit partition the audit insert fails: the settings change must not stay.
    sqlx::query("DROP TABLE audit_logs_acme")
        .execute(&app.db)
        .await
        .unwrap();
    let (status, _) = app
        .call("PUT", "/org/settings")
        .session(&a)
        .json(&json!({"session_timeout_minutes": 33}))
        .fetch()
        .await;
    assert!(status >= 500, "{status}");
    let timeout: i32 = sqlx::query_scalar(
        "SELECT session_timeout_minutes FROM org_settings WHERE org_id = 'acme'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(timeout, 5);
}
