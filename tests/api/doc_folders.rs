//! `/org/documents/folders*`: the system folders, custom folders, order and counts, the guards,
//! and the legacy 500s replaced by 400s (contract §13 scenarios 1–8).

use serde_json::{Value, json};

use crate::doc_support::{
    Docs, PDF, Upload, assert_like, audit_rows, doc_sample, docs_app, sample_body, upload,
};
use crate::fixtures::org;
use crate::helpers::{UNKNOWN, assert_422, audit_count};

fn names(list: &Value) -> Vec<String> {
    list["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn create(docs: &Docs, name: &str) -> Value {
    let (status, body) = docs
        .admin(
            "POST",
            "/org/documents/folders",
            Some(json!({"name": name})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["data"].clone()
}

#[tokio::test]
async fn system_folders_appear_once_and_guards_answer_as_recorded() {
    let docs = docs_app(&[]).await;
    let app = &docs.app;

    let (status, first) = docs.admin("GET", "/org/documents/folders", None).await;
    assert_eq!(status, 200, "{first}");
    let expected = sample_body("list folders (first call: creates the 4 system folders)");
    crate::helpers::assert_same_keys(&first, &expected);
    assert_eq!(first["data"]["total"], 4);
    for (got, want) in first["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .zip(expected["data"]["items"].as_array().unwrap())
    {
        assert_like(got, want, &[]);
    }
    let (_, second) = docs.admin("GET", "/org/documents/folders", None).await;
    assert_eq!(first["data"]["items"], second["data"]["items"]);
    assert_eq!(
        audit_count(app, "sole-llc", "org_document_folder.created").await,
        4
    );

    // No token: 400 without X-Org-Id (tenant first), 401 with it.
    let resp = app.call("GET", "/org/documents/folders").response().await;
    let (status, body) = crate::helpers::json(resp).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        sample_body("list folders without token and without X-Org-Id")
    );
    let resp = app
        .call("GET", "/org/documents/folders")
        .header("X-Org-Id", "sole-llc")
        .response()
        .await;
    let (status, body) = crate::helpers::json(resp).await;
    assert_eq!(status, 401);
    assert_eq!(body, sample_body("list folders without token"));

    let (status, body) = docs
        .call("GET", "/org/documents/folders", &docs.a.emp_s, None)
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        sample_body("list folders as employee without org.document.view")
    );
    let (status, body) = docs
        .call("GET", "/org/documents/folders", &docs.viewer, None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["total"], 4);

    // A viewer may not write anything.
    let viewer_403 = sample_body("create folder as viewer");
    let finance = first["data"]["items"][0]["id"].as_str().unwrap().to_owned();
    for (method, path, body) in [
        (
            "POST",
            "/org/documents/folders".to_owned(),
            Some(json!({"name": "x"})),
        ),
        (
            "PATCH",
            format!("/org/documents/folders/{finance}"),
            Some(json!({"name": "x"})),
        ),
        ("DELETE", format!("/org/documents/folders/{finance}"), None),
    ] {
        let (status, got) = docs.call(method, &path, &docs.viewer, body).await;
        assert_eq!(status, 403, "{method} {path}");
        assert_eq!(got, viewer_403);
    }
}

#[tokio::test]
async fn custom_folders_are_created_renamed_deleted_and_audited() {
    let docs = docs_app(&[]).await;

    let (status, body) = docs
        .admin(
            "POST",
            "/org/documents/folders",
            Some(json!({"name": "Golden Board Packs"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_like(&body["data"], &sample_body("create folder")["data"], &[]);
    let packs = body["data"]["id"].as_str().unwrap().to_owned();
    let offers = create(&docs, "  Golden Offers  ").await;
    assert_like(
        &offers,
        &sample_body("create folder (name not trimmed)")["data"],
        &[],
    );
    let offers = offers["id"].as_str().unwrap().to_owned();

    // Validation (422 with pydantic's texts).
    let (status, body) = docs
        .admin("POST", "/org/documents/folders", Some(json!({"name": ""})))
        .await;
    assert_eq!(status, 422);
    assert_eq!(body, sample_body("create folder empty name"));
    assert_422(
        &docs
            .admin(
                "POST",
                "/org/documents/folders",
                Some(json!({"name": "x".repeat(256)})),
            )
            .await,
        "name: String should have at most 255 characters",
    );
    assert_422(
        &docs
            .admin("POST", "/org/documents/folders", Some(json!({})))
            .await,
        "name: Field required",
    );

    // Duplicates (legacy: 500) are a 400 and leave one row; so is a system folder's name,
    // even in an org whose folders were never listed.
    for name in ["Golden Board Packs", "Legal", "HR"] {
        let (status, body) = docs
            .admin(
                "POST",
                "/org/documents/folders",
                Some(json!({"name": name})),
            )
            .await;
        assert_eq!(status, 400, "{name}: {body}");
        assert_eq!(body["message"], "A folder with this name already exists");
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM org_document_folders WHERE org_id = 'sole-llc' AND name = $1",
        )
        .bind(name)
        .fetch_one(&docs.app.db)
        .await
        .unwrap();
        assert_eq!(n, 1, "{name}");
    }

    // Rename.
    let (status, body) = docs
        .admin(
            "PATCH",
            &format!("/org/documents/folders/{offers}"),
            Some(json!({"name": "Golden Offer Letters"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_like(&body["data"], &sample_body("rename folder")["data"], &[]);
    let (status, body) = docs
        .admin(
            "PATCH",
            &format!("/org/documents/folders/{offers}"),
            Some(json!({"name": "Golden Board Packs"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = docs
        .admin(
            "PATCH",
            &format!("/org/documents/folders/{UNKNOWN}"),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(body, sample_body("rename unknown folder"));
    let (status, body) = docs
        .admin(
            "PATCH",
            "/org/documents/folders/not-a-uuid",
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(status, 422, "{body}");

    // System folders cannot be renamed or deleted.
    let (_, list) = docs.admin("GET", "/org/documents/folders", None).await;
    let hr = list["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["system_key"] == "HR")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = docs
        .admin(
            "PATCH",
            &format!("/org/documents/folders/{hr}"),
            Some(json!({"name": "People"})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body, sample_body("rename system folder"));
    let (status, body) = docs
        .admin("DELETE", &format!("/org/documents/folders/{hr}"), None)
        .await;
    assert_eq!(status, 400);
    assert_eq!(body, sample_body("delete system folder"));

    // Order: system folders by name, then custom ones by name (byte order); counts per folder.
    let (status, _) = upload(
        &docs.app,
        &docs.a.admin_s,
        Upload::new("Board Minutes.pdf", Some("application/pdf"), PDF).field("folder_id", &packs),
    )
    .await;
    assert_eq!(status, 201);
    let (_, list) = docs.admin("GET", "/org/documents/folders", None).await;
    assert_eq!(
        names(&list),
        [
            "Finance",
            "General",
            "HR",
            "Legal",
            "Golden Board Packs",
            "Golden Offer Letters"
        ]
    );
    let counts: Vec<i64> = list["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["template_count"].as_i64().unwrap())
        .collect();
    assert_eq!(counts, [0, 0, 0, 0, 1, 0]);
    assert_eq!(list["data"]["total"], 6);

    // A folder with a template cannot go; an empty one can.
    let (status, body) = docs
        .admin("DELETE", &format!("/org/documents/folders/{packs}"), None)
        .await;
    assert_eq!(status, 400);
    assert_eq!(body, sample_body("delete folder that still has templates"));
    let (status, body) = docs
        .admin("DELETE", &format!("/org/documents/folders/{offers}"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, sample_body("delete an empty custom folder"));
    let (_, list) = docs.admin("GET", "/org/documents/folders", None).await;
    assert!(!names(&list).contains(&"Golden Offer Letters".to_owned()));

    let created = audit_rows(&docs.app, "sole-llc", "org_document_folder.created").await;
    assert_eq!(created.len(), 6, "4 system + 2 custom");
    let updated = audit_rows(&docs.app, "sole-llc", "org_document_folder.updated").await;
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0].1.as_ref().unwrap()["name"], "  Golden Offers  ");
    assert_eq!(
        updated[0].2.as_ref().unwrap()["name"],
        "Golden Offer Letters"
    );
    assert_eq!(
        audit_count(&docs.app, "sole-llc", "org_document_folder.deleted").await,
        1
    );
    let _ = doc_sample("rename folder to an existing name (-> 500)");
}

#[tokio::test]
async fn a_custom_folder_named_like_a_system_folder_no_longer_breaks_the_listing() {
    let docs = docs_app(&[]).await;
    let c = org(&docs.app, "golden-docs-c").await;
    // A legacy database can hold a custom "Legal" made before the first listing.
    sqlx::query(
        "INSERT INTO org_document_folders (id, org_id, name, system_key, is_system) \
         VALUES (gen_random_uuid(), 'golden-docs-c', 'Legal', NULL, false)",
    )
    .execute(&docs.app.db)
    .await
    .unwrap();
    let (status, list) = docs
        .app
        .call("GET", "/org/documents/folders")
        .session(&c.admin_s)
        .fetch()
        .await;
    assert_eq!(status, 200, "legacy: 500; {list}");
    assert_eq!(names(&list), ["Finance", "General", "HR", "Legal"]);
    let custom = list["data"]["items"][3].clone();
    assert_eq!(custom["is_system"], false);

    // Once the custom folder is renamed, the system folder appears.
    let (status, _) = docs
        .app
        .call(
            "PATCH",
            &format!("/org/documents/folders/{}", custom["id"].as_str().unwrap()),
        )
        .session(&c.admin_s)
        .json(&json!({"name": "Golden Legal Custom"}))
        .fetch()
        .await;
    assert_eq!(status, 200);
    let (_, list) = docs
        .app
        .call("GET", "/org/documents/folders")
        .session(&c.admin_s)
        .fetch()
        .await;
    assert_eq!(
        names(&list),
        ["Finance", "General", "HR", "Legal", "Golden Legal Custom"]
    );
    assert_eq!(list["data"]["items"][3]["system_key"], "LEGAL");

    // Another org's folder is not found.
    let (status, body) = docs
        .admin(
            "PATCH",
            &format!("/org/documents/folders/{}", custom["id"].as_str().unwrap()),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(body, sample_body("org A: rename org B's folder"));
}
