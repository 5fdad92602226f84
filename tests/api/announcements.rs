//! `/announcements*` REST endpoints (contract/announcements-and-summary.md Part 1, samples
//! `announcements.json`), plus the issue-7 fixes: ordering, 400 for duplicate/over-long titles.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::announcement_support::{Org, create, org_with_members};
use crate::fixtures::{MemberSpec, create_member, create_org};
use crate::helpers::{TestApp, assert_same_keys, json, sample, spawn_app};

fn ids(body: &Value) -> Vec<String> {
    body["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn create_list_and_get_match_the_legacy_shapes() {
    let Org {
        app,
        admin,
        employee,
        ..
    } = org_with_members(spawn_app().await, "acme").await;

    let (status, empty) = app
        .call("GET", "/announcements")
        .session(&employee)
        .fetch()
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        empty,
        sample("announcements.json", "list published (employee, none yet)")["response"]["body"]
    );

    let (status, draft) = app
        .call("POST", "/announcements")
        .session(&admin)
        .json(&json!({"title": "  Golden draft notice ", "body": " Draft body text. "}))
        .fetch()
        .await;
    assert_eq!(status, 201, "{draft}");
    let expected = sample("announcements.json", "create draft")["response"]["body"].clone();
    assert_same_keys(&draft, &expected);
    assert_same_keys(&draft["data"], &expected["data"]);
    assert_eq!(draft["code"], "created");
    let d = &draft["data"];
    assert_eq!(d["title"], "Golden draft notice");
    assert_eq!(d["body"], "Draft body text.");
    assert_eq!(d["status"], "DRAFT");
    assert_eq!(d["type"], "GENERAL");
    assert_eq!(d["org_id"], "acme");
    assert_eq!(d["published_at"], Value::Null);
    assert_eq!(d["scheduled_at"], Value::Null);
    assert_eq!(d["read_count"], 0);
    assert_eq!(d["target_count"], 2);
    assert!(d["created_at"].as_str().unwrap().ends_with('Z'));

    let published = create(
        &app,
        &admin,
        json!({"title": "Golden maintenance window", "body": "Line one.\nLine two.",
               "status": " published ", "type": "maintenance", "scheduled_at": "2026-12-01T10:30"}),
    )
    .await;
    assert_eq!(published["status"], "PUBLISHED");
    assert_eq!(published["type"], "MAINTENANCE");
    assert_eq!(published["scheduled_at"], "2026-12-01T10:30:00Z");
    assert!(published["published_at"].as_str().unwrap().ends_with('Z'));
    let draft_id = d["id"].as_str().unwrap();
    let published_id = published["id"].as_str().unwrap();

    // Members see PUBLISHED only; managers see everything on /admin.
    let (status, list) = app
        .call("GET", "/announcements?status=PUBLISHED&page=1&page_size=10")
        .session(&employee)
        .fetch()
        .await;
    assert_eq!(status, 200);
    assert_eq!(ids(&list), vec![published_id]);
    assert_eq!(list["data"]["total"], 1);
    assert_same_keys(
        &list["data"],
        &sample("announcements.json", "list published (employee)")["response"]["body"]["data"],
    );
    let (_, list) = app
        .call("GET", "/announcements")
        .session(&admin)
        .fetch()
        .await;
    assert_eq!(ids(&list), vec![published_id]);
    let (status, all) = app
        .call("GET", "/announcements/admin")
        .session(&admin)
        .fetch()
        .await;
    assert_eq!(status, 200);
    assert_eq!(all["data"]["total"], 2);
    assert_eq!(ids(&all), vec![published_id, draft_id]);

    // Detail.
    let (status, one) = app
        .call("GET", &format!("/announcements/{published_id}"))
        .session(&employee)
        .fetch()
        .await;
    assert_eq!(status, 200);
    assert_eq!(one["data"], published);
    let (status, hidden) = app
        .call("GET", &format!("/announcements/{draft_id}"))
        .session(&employee)
        .fetch()
        .await;
    assert_eq!(
        (status, hidden),
        (
            404,
            sample(
                "announcements.json",
                "get draft 404 (employee lacks announcement.manage)"
            )["response"]["body"]
                .clone()
        )
    );
    let (status, _) = app
        .call("GET", &format!("/announcements/{draft_id}"))
        .session(&admin)
        .fetch()
        .await;
    assert_eq!(status, 200);
    let (status, unknown) = app
        .call("GET", "/announcements/00000000-0000-4000-8000-000000000000")
        .session(&admin)
        .fetch()
        .await;
    assert_eq!(
        (status, unknown["message"].as_str()),
        (404, Some("Announcement not found"))
    );
    let (status, bad) = app
        .call("GET", "/announcements/not-a-uuid")
        .session(&admin)
        .fetch()
        .await;
    assert_eq!(status, 422);
    assert!(
        bad["message"]
            .as_str()
            .unwrap()
            .starts_with("announcement_id: Input should be a valid UUID"),
        "{bad}"
    );
    assert_eq!(
        bad["details"]["errors"][0]["loc"],
        json!(["path", "announcement_id"])
    );

    // The audit row of a creation.
    let (old, new, summary): (Option<Value>, Value, String) = sqlx::query_as(
        "SELECT old_value, new_value, summary FROM audit_logs \
         WHERE action = 'announcement.created' AND resource_id = $1 AND resource_type = 'announcement'",
    )
    .bind(published_id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(old, None);
    assert_eq!(new["title"], "Golden maintenance window");
    assert!(new["published_at"].as_str().unwrap().ends_with("+00:00"));
    assert!(summary.starts_with("announcement.created: "), "{summary}");
}

#[tokio::test]
async fn validation_errors_use_the_legacy_messages() {
    let Org { app, admin, .. } = org_with_members(spawn_app().await, "acme").await;
    for name in [
        "create 422 invalid status",
        "create 422 invalid type",
        "create 422 blank title",
        "create 422 missing body",
        "create 422 blank body",
        "create 422 missing title",
    ] {
        let ex = sample("announcements.json", name);
        let (status, body) = app
            .call("POST", "/announcements")
            .session(&admin)
            .json(&ex["request"]["body"].clone())
            .fetch()
            .await;
        let expected = &ex["response"]["body"];
        assert_eq!(status, 422, "{name}: {body}");
        assert_eq!(body["code"], "validation_error", "{name}");
        assert_eq!(body["message"], expected["message"], "{name}");
        assert_eq!(
            body["details"]["errors"][0]["loc"], expected["details"]["errors"][0]["loc"],
            "{name}"
        );
        assert_eq!(
            body["details"]["errors"][0]["type"], expected["details"]["errors"][0]["type"],
            "{name}"
        );
    }
    let (status, body) = app
        .call("GET", "/announcements?page_size=101")
        .session(&admin)
        .fetch()
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        body["message"],
        sample("announcements.json", "list 422 page_size over 100")["response"]["body"]["message"]
    );
    let (status, body) = app
        .call("GET", "/announcements/unread?page=0")
        .session(&admin)
        .fetch()
        .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (
            422,
            Some("page: Input should be greater than or equal to 1")
        )
    );
    let (status, body) = app
        .call("POST", "/announcements")
        .session(&admin)
        .json(&json!({"title": "t", "body": "b", "scheduled_at": "next week"}))
        .fetch()
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("scheduled_at: ")
    );

    let a = create(&app, &admin, json!({"title": "x", "body": "y"})).await;
    let (status, body) = app
        .call(
            "PATCH",
            &format!("/announcements/{}", a["id"].as_str().unwrap()),
        )
        .session(&admin)
        .json(&json!({"type": "NEWS"}))
        .fetch()
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        body["message"],
        sample("announcements.json", "patch 422 invalid type")["response"]["body"]["message"]
    );
}

#[tokio::test]
async fn guard_and_permission_errors_come_before_validation() {
    let Org {
        app,
        admin,
        employee,
        ..
    } = org_with_members(spawn_app().await, "acme").await;
    let a = create(&app, &admin, json!({"title": "Draft", "body": "b"})).await;
    let path = format!("/announcements/{}", a["id"].as_str().unwrap());
    let forbidden =
        sample("announcements.json", "create 403 (employee)")["response"]["body"].clone();

    for (method, p, body) in [
        (
            "POST",
            "/announcements",
            Some(json!({"title": "x", "body": "y"})),
        ),
        // An invalid body still answers 403 first (the legacy dependency order).
        ("POST", "/announcements", Some(json!({"title": " "}))),
        ("GET", "/announcements/admin?page_size=500", None),
        ("PATCH", path.as_str(), Some(json!({"status": "PUBLISHED"}))),
    ] {
        let (status, out) = app
            .call(method, p)
            .session(&employee)
            .maybe_json(body)
            .fetch()
            .await;
        assert_eq!((status, &out), (403, &forbidden), "{method} {p}");
    }

    // No token: 401 with X-Org-Id, 400 tenant resolution without it (tenant first).
    for p in [
        "/announcements",
        "/announcements/unread",
        "/announcements/unread/count",
        "/announcements/stream",
    ] {
        let resp = app
            .call("GET", p)
            .header("X-Org-Id", "acme")
            .response()
            .await;
        let (status, body) = json(resp).await;
        assert_eq!(
            (status, body["message"].as_str()),
            (401, Some("Not authenticated")),
            "{p}"
        );
        let (status, body) = json(app.get(p).await).await;
        assert_eq!(
            (status, body["message"].as_str()),
            (
                400,
                Some("Tenant resolution failed: provide X-Org-Id header")
            ),
            "{p}"
        );
    }
    // The refresh token is not an access token.
    let resp = app
        .call("GET", "/announcements/unread/count")
        .token(&employee.refresh)
        .header("X-Org-Id", "acme")
        .response()
        .await;
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn duplicate_and_over_long_titles_are_400s_not_500s() {
    let Org { app, admin, .. } = org_with_members(spawn_app().await, "acme").await;
    create(&app, &admin, json!({"title": "Taken", "body": "b"})).await;
    let other = create(&app, &admin, json!({"title": "Other", "body": "b"})).await;

    let (status, body) = app
        .call("POST", "/announcements")
        .session(&admin)
        .json(&json!({"title": " Taken ", "body": "dup"}))
        .fetch()
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["message"],
        "An announcement with this title already exists"
    );
    let (status, body) = app
        .call(
            "PATCH",
            &format!("/announcements/{}", other["id"].as_str().unwrap()),
        )
        .session(&admin)
        .json(&json!({"title": "Taken"}))
        .fetch()
        .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (400, Some("An announcement with this title already exists"))
    );
    // Case-sensitive, like the constraint.
    create(&app, &admin, json!({"title": "taken", "body": "b"})).await;

    let long = "é".repeat(256);
    let (status, body) = app
        .call("POST", "/announcements")
        .session(&admin)
        .json(&json!({"title": long, "body": "b"}))
        .fetch()
        .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (
            400,
            Some("Announcement title must be at most 255 characters")
        )
    );
    // 255 characters fit, however many bytes they take.
    create(&app, &admin, json!({"title": "é".repeat(255), "body": "b"})).await;
    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM announcements")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 4);
}

async fn audit_summaries(app: &TestApp, id: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT summary FROM audit_logs WHERE resource_id = $1 AND action = 'announcement.updated' \
         ORDER BY created_at, id",
    )
    .bind(id)
    .fetch_all(&app.db)
    .await
    .unwrap()
}

#[tokio::test]
async fn updates_follow_the_legacy_publish_rules_and_are_audited() {
    let Org { app, admin, .. } = org_with_members(spawn_app().await, "acme").await;
    let draft = create(&app, &admin, json!({"title": "Draft", "body": "b"})).await;
    let id = draft["id"].as_str().unwrap().to_owned();
    let path = format!("/announcements/{id}");
    let patch = |body: Value| {
        let (app, admin, path) = (&app, &admin, path.clone());
        async move {
            let (status, out) = app
                .call("PATCH", &path)
                .session(admin)
                .json(&body)
                .fetch()
                .await;
            assert_eq!(status, 200, "{out}");
            out["data"].clone()
        }
    };

    let live = patch(json!({"status": "published", "title": "Draft (now live)"})).await;
    assert_eq!(live["status"], "PUBLISHED");
    assert_eq!(live["title"], "Draft (now live)");
    let first_published = live["published_at"].as_str().unwrap().to_owned();

    // A no-op keeps updated_at and published_at; a blank title is ignored; null clears the schedule.
    let same = patch(json!({})).await;
    assert_eq!(same, live);
    let scheduled = patch(json!({"scheduled_at": "2026-12-01T10:30:00+02:00"})).await;
    assert_eq!(scheduled["scheduled_at"], "2026-12-01T08:30:00Z");
    let cleared = patch(json!({"title": "  ", "body": null, "scheduled_at": null})).await;
    assert_eq!(cleared["title"], "Draft (now live)");
    assert_eq!(cleared["body"], "b");
    assert_eq!(cleared["scheduled_at"], Value::Null);
    assert_eq!(cleared["published_at"], first_published.as_str());

    // Unpublish clears published_at; re-publishing gets a fresh one; ARCHIVED → PUBLISHED works.
    let unpublished = patch(json!({"status": "UNPUBLISHED"})).await;
    assert_eq!(unpublished["published_at"], Value::Null);
    let archived = patch(json!({"status": "ARCHIVED", "type": "policy"})).await;
    assert_eq!(
        (archived["status"].as_str(), archived["type"].as_str()),
        (Some("ARCHIVED"), Some("POLICY"))
    );
    let again = patch(json!({"status": "PUBLISHED"})).await;
    assert!(again["published_at"].as_str().unwrap() > first_published.as_str());

    let summaries = audit_summaries(&app, &id).await;
    assert_eq!(summaries.len(), 7, "{summaries:?}");
    assert!(
        summaries[0].starts_with("announcement.updated: "),
        "{summaries:?}"
    );
    assert_eq!(
        summaries[1], "announcement.updated",
        "the no-op is audited too"
    );

    let (status, _) = app
        .call(
            "PATCH",
            "/announcements/00000000-0000-4000-8000-000000000000",
        )
        .session(&admin)
        .json(&json!({"status": "ARCHIVED"}))
        .fetch()
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn unread_and_mark_read_are_per_user_and_idempotent() {
    let Org {
        app,
        admin,
        employee,
        employee_member,
    } = org_with_members(spawn_app().await, "acme").await;
    let published = create(
        &app,
        &admin,
        json!({"title": "Live", "body": "b", "status": "PUBLISHED"}),
    )
    .await;
    let draft = create(&app, &admin, json!({"title": "Draft", "body": "b"})).await;
    let pid = published["id"].as_str().unwrap();
    let did = draft["id"].as_str().unwrap();

    let (status, unread) = app
        .call("GET", "/announcements/unread")
        .session(&employee)
        .fetch()
        .await;
    assert_eq!(status, 200);
    assert_eq!(ids(&unread), vec![pid]);
    let (_, count) = app
        .call("GET", "/announcements/unread/count")
        .session(&employee)
        .fetch()
        .await;
    assert_eq!(
        count,
        sample("announcements.json", "unread count (employee)")["response"]["body"]
    );

    let read_path = format!("/announcements/{pid}/read");
    let (status, ok) = app
        .call("POST", &read_path)
        .session(&employee)
        .fetch()
        .await;
    assert_eq!(
        (status, ok),
        (
            200,
            sample("announcements.json", "mark read")["response"]["body"].clone()
        )
    );
    let first_read: time::OffsetDateTime =
        sqlx::query_scalar("SELECT read_at FROM announcement_reads WHERE user_id = $1")
            .bind(employee_member.user_id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    let (status, _) = app
        .call("POST", &read_path)
        .session(&employee)
        .fetch()
        .await;
    assert_eq!(status, 200);
    let reads: Vec<time::OffsetDateTime> =
        sqlx::query_scalar("SELECT read_at FROM announcement_reads WHERE user_id = $1")
            .bind(employee_member.user_id)
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(reads, vec![first_read], "idempotent: one row, read_at kept");

    for p in [
        format!("/announcements/{did}/read"),
        "/announcements/00000000-0000-4000-8000-000000000000/read".to_owned(),
    ] {
        let (status, body) = app.call("POST", &p).session(&employee).fetch().await;
        assert_eq!(
            (status, body["message"].as_str()),
            (404, Some("Announcement not found"))
        );
    }

    let (_, count) = app
        .call("GET", "/announcements/unread/count")
        .session(&employee)
        .fetch()
        .await;
    assert_eq!(count["data"]["unread"], 0);
    let (_, count) = app
        .call("GET", "/announcements/unread/count")
        .session(&admin)
        .fetch()
        .await;
    assert_eq!(count["data"]["unread"], 1, "reads are per user");
    let (_, all) = app
        .call("GET", "/announcements/admin")
        .session(&admin)
        .fetch()
        .await;
    let item = all["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == pid)
        .unwrap()
        .clone();
    assert_eq!(item["read_count"], 1);

    // Read marks survive unpublish and re-publish.
    let path = format!("/announcements/{pid}");
    app.call("PATCH", &path)
        .session(&admin)
        .json(&json!({"status": "DRAFT"}))
        .fetch()
        .await;
    app.call("PATCH", &path)
        .session(&admin)
        .json(&json!({"status": "PUBLISHED"}))
        .fetch()
        .await;
    let (_, count) = app
        .call("GET", "/announcements/unread/count")
        .session(&employee)
        .fetch()
        .await;
    assert_eq!(count["data"]["unread"], 0);
}

#[tokio::test]
async fn lists_are_newest_first_with_stable_ties() {
    let Org {
        app,
        admin,
        employee,
        ..
    } = org_with_members(spawn_app().await, "acme").await;
    let mut made = Vec::new();
    for n in 0..5 {
        let a = create(
            &app,
            &admin,
            json!({"title": format!("n{n}"), "body": "b", "status": "PUBLISHED"}),
        )
        .await;
        made.push(Uuid::parse_str(a["id"].as_str().unwrap()).unwrap());
    }
    let draft = create(&app, &admin, json!({"title": "draft", "body": "b"})).await;
    // n0 newest by published_at; n1..n4 share one published_at: created_at decides, then id.
    sqlx::query("UPDATE announcements SET published_at = '2030-01-01T00:00:00Z' WHERE id = $1")
        .bind(made[0])
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE announcements SET published_at = '2029-01-01T00:00:00Z', created_at = \
         CASE WHEN title IN ('n3', 'n4') THEN '2020-01-01T00:00:00Z'::timestamptz ELSE created_at END \
         WHERE id = ANY($1)",
    )
    .bind(&made[1..])
    .execute(&app.db)
    .await
    .unwrap();
    let mut tie = [made[3], made[4]];
    tie.sort();
    tie.reverse();
    let expected: Vec<String> = [made[0], made[2], made[1], tie[0], tie[1]]
        .iter()
        .map(Uuid::to_string)
        .collect();

    let (_, list) = app
        .call("GET", "/announcements")
        .session(&employee)
        .fetch()
        .await;
    assert_eq!(ids(&list), expected);
    let (_, page2) = app
        .call("GET", "/announcements?page=2&page_size=2")
        .session(&employee)
        .fetch()
        .await;
    assert_eq!(ids(&page2), expected[2..4].to_vec());
    assert_eq!(page2["data"]["total"], 5);
    let (_, unread) = app
        .call("GET", "/announcements/unread?page_size=3")
        .session(&employee)
        .fetch()
        .await;
    assert_eq!(ids(&unread), expected[..3].to_vec());
    // Managers: never-published items after the published ones.
    let (_, all) = app
        .call("GET", "/announcements/admin")
        .session(&admin)
        .fetch()
        .await;
    let mut with_draft = expected.clone();
    with_draft.push(draft["id"].as_str().unwrap().to_owned());
    assert_eq!(ids(&all), with_draft);
}

#[tokio::test]
async fn another_org_never_sees_or_touches_these_announcements() {
    let Org { app, admin, .. } = org_with_members(spawn_app().await, "acme").await;
    let a = create(
        &app,
        &admin,
        json!({"title": "Acme only", "body": "b", "status": "PUBLISHED"}),
    )
    .await;
    let id = a["id"].as_str().unwrap();
    create_org(&app, "globex", "Globex").await;
    let b_admin = create_member(&app, "globex", MemberSpec::admin("admin@globex.test")).await;
    let b = app.sign_in(&b_admin).await;

    for p in [
        "/announcements",
        "/announcements/admin",
        "/announcements/unread",
    ] {
        let (status, list) = app.call("GET", p).session(&b).fetch().await;
        assert_eq!(status, 200);
        assert_eq!(list["data"]["total"], 0, "{p}");
    }
    let (_, count) = app
        .call("GET", "/announcements/unread/count")
        .session(&b)
        .fetch()
        .await;
    assert_eq!(count["data"]["unread"], 0);
    for (method, p, body) in [
        ("GET", format!("/announcements/{id}"), None),
        (
            "PATCH",
            format!("/announcements/{id}"),
            Some(json!({"title": "mine"})),
        ),
        ("POST", format!("/announcements/{id}/read"), None),
    ] {
        let (status, _) = app
            .call(method, &p)
            .session(&b)
            .maybe_json(body)
            .fetch()
            .await;
        assert_eq!(status, 404, "{method} {p}");
    }
    // The same title is free in another org.
    create(&app, &b, json!({"title": "Acme only", "body": "b"})).await;
    // A token of org A with org B's header is refused.
    let resp = app
        .call("GET", "/announcements")
        .token(&admin.access)
        .header("X-Org-Id", "globex")
        .response()
        .await;
    assert!(resp.status().is_client_error());
}

#[tokio::test]
async fn announcement_routes_are_in_the_openapi_document() {
    let app = spawn_app().await;
    let spec: Value = app
        .call("GET", "")
        .url(format!("{}/openapi.json", app.address))
        .response()
        .await
        .json()
        .await
        .unwrap();
    for (path, methods) in [
        ("/api/v1/announcements", &["get", "post"][..]),
        ("/api/v1/announcements/stream", &["get"]),
        ("/api/v1/announcements/admin", &["get"]),
        ("/api/v1/announcements/unread", &["get"]),
        ("/api/v1/announcements/unread/count", &["get"]),
        ("/api/v1/announcements/{announcement_id}", &["get", "patch"]),
        ("/api/v1/announcements/{announcement_id}/read", &["post"]),
    ] {
        for method in methods {
            assert!(spec["paths"][path][method].is_object(), "{method} {path}");
        }
    }
}
