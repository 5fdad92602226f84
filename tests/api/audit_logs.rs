//! `GET /org/audit-logs`.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{MemberSpec, Session, create_member, create_org};
use crate::helpers::{TestApp, assert_same_keys, sample, spawn_app};

async fn insert(
    app: &TestApp,
    org: &str,
    actor: Option<Uuid>,
    action: &str,
    resource: (&str, &str),
    at: &str,
) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO audit_logs (id, org_id, actor_id, action, resource_type, resource_id, old_value, \
         new_value, changes, summary, created_at) VALUES ($1, $2, $3, $4, $5, $6, NULL, \
         '{\"b\": 1, \"a\": 2}', '{\"a\": {\"from\": null, \"to\": 2}}', $4, $7::timestamptz)",
    )
    .bind(id)
    .bind(org)
    .bind(actor)
    .bind(action)
    .bind(resource.0)
    .bind(resource.1)
    .bind(at)
    .execute(&app.db)
    .await
    .unwrap();
    id
}

async fn list(app: &TestApp, s: &Session, query: &str) -> (u16, Value) {
    app.call("GET", &format!("/org/audit-logs{query}"))
        .token(&s.access)
        .org(&s.org_id)
        .fetch()
        .await
}

fn actions(body: &Value) -> Vec<String> {
    body["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["action"].as_str().unwrap().to_owned())
        .collect()
}

struct World {
    app: TestApp,
    session: Session,
    admin: Uuid,
    no_profile: Uuid,
}

async fn world() -> World {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme Inc").await;
    create_org(&app, "beta", "Beta Inc").await;
    let admin = create_member(
        &app,
        "acme",
        MemberSpec::admin("admin@acme.example.com").full_name("Ada Admin"),
    )
    .await;
    let bare = create_member(&app, "acme", MemberSpec::new("bare@acme.example.com")).await;
    sqlx::query("DELETE FROM org_user_profiles WHERE membership_id = $1")
        .bind(bare.membership_id)
        .execute(&app.db)
        .await
        .unwrap();
    let outsider = create_member(&app, "beta", MemberSpec::new("out@beta.example.com")).await;
    let a = Some(admin.user_id);
    insert(
        &app,
        "acme",
        a,
        "role.created",
        ("role", "r1"),
        "2026-01-01T10:00:00Z",
    )
    .await;
    insert(
        &app,
        "acme",
        a,
        "role.assigned",
        ("user_role", "u:r1"),
        "2026-01-02T10:00:00Z",
    )
    .await;
    insert(
        &app,
        "acme",
        Some(bare.user_id),
        "user.data.exported",
        ("org_membership", "m1"),
        "2026-01-03T10:00:00Z",
    )
    .await;
    insert(
        &app,
        "acme",
        a,
        "org_settings.updated",
        ("org_settings", "acme"),
        "2026-01-04T10:00:00Z",
    )
    .await;
    insert(
        &app,
        "acme",
        Some(outsider.user_id),
        "department.created",
        ("department", "d1"),
        "2026-01-05T10:00:00Z",
    )
    .await;
    insert(
        &app,
        "acme",
        None,
        "roles.special",
        ("role", "r2"),
        "2026-01-05T10:00:00Z",
    )
    .await;
    insert(
        &app,
        "beta",
        Some(outsider.user_id),
        "role.created",
        ("role", "secret"),
        "2026-01-06T10:00:00Z",
    )
    .await;
    let session = app.sign_in(&admin).await;
    World {
        app,
        session,
        admin: admin.user_id,
        no_profile: bare.user_id,
    }
}

#[tokio::test]
async fn listing_has_the_legacy_shape_newest_first_and_resolves_actors() {
    let w = world().await;
    let (status, body) = list(&w.app, &w.session, "").await;
    assert_eq!(status, 200, "{body}");
    let expected =
        sample("audit.json", "list audit logs page 1 size 5")["response"]["body"].clone();
    assert_same_keys(&body, &expected);
    assert_same_keys(&body["data"], &expected["data"]);
    let items = body["data"]["items"].as_array().unwrap();
    assert_eq!(body["data"]["total"], 6, "org beta's row is not listed");
    assert_same_keys(&items[0], &expected["data"]["items"][0]);
    // Newest first; the two rows of the same instant in a stable order.
    let (a, b) = (&items[0], &items[1]);
    assert!(a["id"].as_str().unwrap() > b["id"].as_str().unwrap());
    assert_eq!(
        actions(&body)[2..],
        [
            "org_settings.updated",
            "user.data.exported",
            "role.assigned",
            "role.created"
        ]
    );
    let by_action = |name: &str| items.iter().find(|i| i["action"] == name).unwrap().clone();
    let settings = by_action("org_settings.updated");
    assert_eq!(
        settings["actor"],
        json!({"user_id": w.admin, "full_name": "Ada Admin", "email": "admin@acme.example.com"})
    );
    assert_same_keys(&settings["actor"], &expected["data"]["items"][0]["actor"]);
    assert_eq!(settings["created_at"], "2026-01-04T10:00:00Z");
    assert_eq!(
        settings["new_value"],
        json!({"b": 1, "a": 2}),
        "json kept as stored"
    );
    assert_eq!(settings["old_value"], Value::Null);
    assert_eq!(settings["changes"], json!({"a": {"from": null, "to": 2}}));
    assert_eq!(settings["summary"], "org_settings.updated");
    // DESIGN.md §4: no profile → full_name null, not an error.
    let exported = by_action("user.data.exported");
    assert_eq!(exported["actor"]["user_id"], json!(w.no_profile));
    assert_eq!(exported["actor"]["full_name"], Value::Null);
    assert_eq!(exported["actor"]["email"], "bare@acme.example.com");
    // An actor whose users row is in another org is not resolved; no actor at all is null.
    let dept = by_action("department.created");
    assert!(dept["actor_id"].is_string());
    assert_eq!(dept["actor"], Value::Null);
    assert_eq!(by_action("roles.special")["actor"], Value::Null);

    let (_, page) = list(&w.app, &w.session, "?page=2&page_size=4").await;
    assert_eq!(actions(&page), ["role.assigned", "role.created"]);
    assert_eq!(page["data"]["total"], 6);
    let (_, past) = list(&w.app, &w.session, "?page=99999999999999999999").await;
    assert_eq!(past["data"]["items"], json!([]));
}

#[tokio::test]
async fn every_filter_narrows_the_listing() {
    let w = world().await;
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            "?feature=role".into(),
            vec!["roles.special", "role.assigned", "role.created"],
        ),
        (
            "?feature=role.&feature=user".into(),
            vec!["user.data.exported", "role.assigned", "role.created"],
        ),
        (
            "?action=role.created&action=org_settings.updated".into(),
            vec!["org_settings.updated", "role.created"],
        ),
        ("?action=role".into(), vec![]),
        (
            "?resource_type=role".into(),
            vec!["roles.special", "role.created"],
        ),
        (
            "?resource_type=org_settings&resource_id=acme".into(),
            vec!["org_settings.updated"],
        ),
        (
            format!("?actor_id={}", w.no_profile),
            vec!["user.data.exported"],
        ),
        (
            "?created_from=2026-01-02T10:00:00Z&created_to=2026-01-04T10:00:00%2B00:00".into(),
            vec![
                "org_settings.updated",
                "user.data.exported",
                "role.assigned",
            ],
        ),
        (
            "?created_from=2026-01-03&created_to=2026-01-03".into(),
            vec![],
        ),
        ("?created_to=2026-01-01".into(), vec![]),
        (
            "?created_to=2026-01-01T10:00:00Z".into(),
            vec!["role.created"],
        ),
        ("?feature=secret&resource_id=secret".into(), vec![]),
        (format!("?actor_id={}", Uuid::new_v4()), vec![]),
    ];
    for (query, expected) in cases {
        let (status, body) = list(&w.app, &w.session, &query).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(actions(&body), expected, "{query}");
        assert_eq!(body["data"]["total"], expected.len(), "{query}");
    }
}

#[tokio::test]
async fn bad_queries_are_422_and_permissions_are_checked_first() {
    let w = world().await;
    let recorded = [
        ("?page_size=201", "422 page_size over 200"),
        ("?actor_id=nope", "422 invalid actor_id"),
        ("?created_from=yesterday", "422 invalid created_from"),
    ];
    for (query, name) in recorded {
        let (status, body) = list(&w.app, &w.session, query).await;
        let exp = sample("audit.json", name)["response"]["body"].clone();
        assert_eq!(status, 422, "{query}");
        assert_eq!(body["message"], exp["message"], "{query}");
        assert_eq!(
            body["details"]["errors"][0]["loc"],
            exp["details"]["errors"][0]["loc"]
        );
        assert_eq!(
            body["details"]["errors"][0]["type"],
            exp["details"]["errors"][0]["type"]
        );
    }
    for (query, message) in [
        (
            "?page_size=0",
            "page_size: Input should be greater than or equal to 1",
        ),
        (
            "?page_size=-3",
            "page_size: Input should be greater than or equal to 1",
        ),
        (
            "?page_size=1000000000",
            "page_size: Input should be less than or equal to 200",
        ),
        (
            "?page=0",
            "page: Input should be greater than or equal to 1",
        ),
        (
            "?page=abc",
            "page: Input should be a valid integer, unable to parse string as an integer",
        ),
        (
            "?created_to=2026-13-01",
            "created_to: Input should be a valid datetime or date, month value is outside expected range of 1-12",
        ),
    ] {
        let (status, body) = list(&w.app, &w.session, query).await;
        assert_eq!(status, 422, "{query}: {body}");
        assert_eq!(body["message"], message, "{query}");
    }

    let employee = create_member(&w.app, "acme", MemberSpec::new("emp@acme.example.com")).await;
    let s = w.app.sign_in(&employee).await;
    let (status, body) = list(&w.app, &s, "?page_size=0").await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        sample("audit.json", "403 (employee)")["response"]["body"]
    );

    let resp = w
        .app
        .call("GET", "")
        .url(w.app.url("/org/audit-logs"))
        .header("X-Org-Id", "acme")
        .response()
        .await;
    let (status, body) = crate::helpers::json(resp).await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        sample("audit.json", "401 no token")["response"]["body"]
    );
}

#[tokio::test]
async fn another_orgs_rows_stay_invisible() {
    let w = world().await;
    let beta_admin =
        create_member(&w.app, "beta", MemberSpec::admin("admin@beta.example.com")).await;
    let s = w.app.sign_in(&beta_admin).await;
    let (status, body) = list(&w.app, &s, "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["total"], 1);
    assert_eq!(body["data"]["items"][0]["org_id"], "beta");
    assert_eq!(
        body["data"]["items"][0]["actor"]["email"],
        "out@beta.example.com"
    );
    // The acme admin's token cannot be pointed at beta.
    let (status, _) = w
        .app
        .call("GET", "/org/audit-logs")
        .token(&w.session.access)
        .org("beta")
        .fetch()
        .await;
    assert!(status == 401 || status == 403, "{status}");
}
