//! The recorded document exchanges the other `doc_*` files do not replay: the library as the
//! recording built it (folders, template lists, gets, downloads), the other orgs' scenarios,
//! the asset byte store and the CORS preflight. Where `sole` answers differently on purpose,
//! the test still names the sample, asserts the fixed behaviour and cites the contract.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::doc_support::{
    DOCX, Docs, PDF, PNG, Upload, assert_like, doc_sample, docs_app, raw_get, sample_body, upload,
};
use crate::fixtures::org;
use crate::helpers::{assert_same_keys, json};

const SECRET: &[u8] = b"test-secret-key-0123456789abcdef0123456789";

/// Our list answer matches the recorded one item by item (ids, times and the fields in
/// `ignore` aside).
fn assert_list_like(ours: &Value, name: &str, ignore: &[&str]) {
    let expected = sample_body(name);
    assert_same_keys(ours, &expected);
    assert_same_keys(&ours["data"], &expected["data"]);
    assert_eq!(ours["data"]["total"], expected["data"]["total"], "{name}");
    let (a, b) = (
        ours["data"]["items"].as_array().unwrap(),
        expected["data"]["items"].as_array().unwrap(),
    );
    assert_eq!(a.len(), b.len(), "{name}: {ours}");
    for (x, y) in a.iter().zip(b) {
        assert_like(x, y, ignore);
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The recorded binary body's hash.
fn recorded_sha(name: &str) -> String {
    doc_sample(name)["response"]["body"]["binary"]["sha256"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A template key minted by the server: `<prefix><32 hex><ext>`.
fn minted(key: &Value, prefix: &str, ext: &str) -> bool {
    key.as_str()
        .and_then(|k| k.strip_prefix(prefix))
        .and_then(|rest| rest.strip_suffix(ext))
        .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

async fn create_folder(docs: &Docs, name: &str) -> (u16, Value) {
    docs.admin(
        "POST",
        "/org/documents/folders",
        Some(json!({"name": name})),
    )
    .await
}

/// A request body recorded for `name`.
fn recorded_request(name: &str) -> Value {
    doc_sample(name)["request"]["body"].clone()
}

#[tokio::test]
async fn the_recorded_library_is_listed_got_and_downloaded_like_the_samples() {
    let docs = docs_app(&[]).await;
    let app = &docs.app;
    let admin_email = docs.a.admin.email.clone();

    let (status, body) = docs
        .call("GET", "/org/documents/folders", &docs.viewer, None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_list_like(
        &body,
        "list folders as viewer (org.document.view only)",
        &[],
    );

    let (status, packs) = create_folder(&docs, "Golden Board Packs").await;
    assert_eq!(status, 201, "{packs}");
    let packs = packs["data"]["id"].as_str().unwrap().to_owned();
    // Contract §12 quirk 4: a duplicate name was a 500; `sole` answers 400 with a message.
    let name = "create folder duplicate name (unique violation -> 500)";
    let (status, body) = docs
        .admin(
            "POST",
            "/org/documents/folders",
            Some(recorded_request(name)),
        )
        .await;
    assert_eq!(doc_sample(name)["response"]["status"], 500);
    assert_eq!(status, 400, "{body}");
    assert_same_keys(&body, &sample_body(name));
    assert_eq!(body["code"], "bad_request");
    assert_eq!(body["message"], "A folder with this name already exists");
    let (status, _) = create_folder(&docs, "Golden Offer Letters").await;
    assert_eq!(status, 201);

    // Upload URLs: the file name's directories are dropped; missing fields are 422s.
    let name = "upload-url file_name with directories (basename kept)";
    let (status, body) = docs
        .admin(
            "POST",
            "/org/documents/templates/upload-url",
            Some(recorded_request(name)),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let expected = sample_body(name);
    assert_same_keys(&body, &expected);
    assert_like(
        &body["data"],
        &expected["data"],
        &["upload_url", "storage_key"],
    );
    assert!(minted(
        &body["data"]["storage_key"],
        "orgs/sole-llc/templates/unassigned/",
        ".pdf"
    ));
    let name = "upload-url missing content_type and size_bytes";
    let (status, body) = docs
        .admin(
            "POST",
            "/org/documents/templates/upload-url",
            Some(recorded_request(name)),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(body, sample_body(name));

    // Board Pack Q1 through the signed URL, the PUT sent with the token as the recorder did.
    let (status, ticket) = docs
        .admin(
            "POST",
            "/org/documents/templates/upload-url",
            Some(json!({"folder_id": packs, "file_name": "Board Pack Q1.pdf", "content_type": "application/pdf", "size_bytes": 60})),
        )
        .await;
    assert_eq!(status, 200, "{ticket}");
    let ticket = ticket["data"].clone();
    // Contract §12 quirk 1: the legacy wanted an `assets` row (404 "Asset not found"); the
    // signature of a URL `sole` minted is the capability, with or without a token.
    let name =
        "PUT file to upload URL with Authorization and X-Org-Id (no assets row for template keys)";
    assert_eq!(doc_sample(name)["response"]["status"], 404);
    let resp = app
        .call("PUT", "")
        .url(crate::doc_support::rebase(
            app,
            ticket["upload_url"].as_str().unwrap(),
        ))
        .token(&docs.a.admin_s.access)
        .header("X-Org-Id", "sole-llc")
        .header("Content-Type", "application/pdf")
        .body(PDF.to_vec())
        .response()
        .await;
    assert_eq!(resp.status(), 200, "{name}");
    assert!(resp.bytes().await.unwrap().is_empty());
    let (status, body) = docs
        .admin(
            "POST",
            "/org/documents/templates",
            Some(
                json!({"folder_id": packs, "description": "Quarterly board pack",
                "file_name": "Board Pack Q1.pdf", "storage_key": ticket["storage_key"],
                "storage_provider": "local", "storage_bucket": "local",
                "content_type": "application/pdf", "size_bytes": 60}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // A `gcs` row on this local server. Contract §12 quirks 3, 9 and 11: the legacy registered
    // it unchecked; `sole` accepts only keys it minted for this org (and would then check the
    // object on the row's own backend), so the registration is refused.
    let name = "create template with provider gcs and a bucket (server runs the local backend)";
    let (status, body) = docs
        .admin(
            "POST",
            "/org/documents/templates",
            Some(recorded_request(name)),
        )
        .await;
    assert_eq!(doc_sample(name)["response"]["status"], 201);
    assert_eq!(status, 400, "{body}");
    assert_same_keys(&body, &sample_body(name));
    assert_eq!(body["code"], "invalid_storage_key");
    // The row as a legacy database holds it.
    let gcs_id: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO org_document_templates (id, org_id, name, file_name, storage_path_or_url, \
         storage_object_key, storage_provider, storage_bucket, uploaded_by_user_id) \
         VALUES (gen_random_uuid(), 'sole-llc', 'Golden GCS row', 'remote.pdf', $1, $1, 'gcs', \
         'golden-bucket', $2) RETURNING id",
    )
    .bind("orgs/sole-llc/templates/unassigned/remote.pdf")
    .bind(docs.a.admin.user_id)
    .fetch_one(&app.db)
    .await
    .unwrap();

    // The multipart uploads of the recording.
    let (status, minutes) = upload(
        app,
        &docs.a.admin_s,
        Upload::new("Board Minutes.pdf", Some("application/pdf"), PDF)
            .field("folder_id", &packs)
            .field("name", "Golden Minutes")
            .field("description", "Signed minutes"),
    )
    .await;
    assert_eq!(status, 201, "{minutes}");
    let minutes_id = minutes["data"]["id"].as_str().unwrap().to_owned();
    let name = "multipart upload without folder or name (name = file name)";
    let (status, body) = upload(
        app,
        &docs.a.admin_s,
        Upload::new(
            "Offer Letter – ñ.docx",
            Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
            DOCX,
        )
        .field("folder_id", "")
        .field("name", "")
        .field("description", ""),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_same_keys(&body, &sample_body(name));
    assert_like(
        &body["data"],
        &sample_body(name)["data"],
        &["storage_path_or_url", "storage_object_key"],
    );
    assert!(minted(
        &body["data"]["storage_object_key"],
        "orgs/sole-llc/templates/unassigned/",
        ".docx"
    ));
    let name = "multipart upload of an empty .pdf (no magic-byte check on empty files)";
    let (status, body) = upload(
        app,
        &docs.a.admin_s,
        Upload::new("empty.pdf", Some("application/pdf"), b""),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_like(
        &body["data"],
        &sample_body(name)["data"],
        &["storage_path_or_url", "storage_object_key"],
    );
    let (_, folders) = docs.admin("GET", "/org/documents/folders", None).await;
    let legal = folders["data"]["items"][3]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = upload(
        app,
        &docs.a.admin_s,
        Upload::new("logo.PNG", None, PNG).field("folder_id", &legal),
    )
    .await;
    assert_eq!(status, 201, "{body}");

    // Lists, get, downloads.
    let (status, body) = docs.admin("GET", "/org/documents/folders", None).await;
    assert_eq!(status, 200);
    assert_list_like(&body, "list folders with template counts", &[]);

    let keys = [
        "folder_id",
        "storage_path_or_url",
        "storage_object_key",
        "uploaded_by_name",
    ];
    let (status, body) = docs.admin("GET", "/org/documents/templates", None).await;
    assert_eq!(status, 200);
    assert_list_like(&body, "list templates (all)", &keys);
    let folder_of = |v: &Value| v["folder_id"].as_str().map(str::to_owned);
    let items = body["data"]["items"].as_array().unwrap();
    assert_eq!(
        items.iter().map(folder_of).collect::<Vec<_>>(),
        [
            Some(legal.clone()),
            None,
            None,
            Some(packs.clone()),
            None,
            Some(packs.clone())
        ]
    );
    for item in items {
        assert_eq!(item["uploaded_by_name"], admin_email.as_str());
        assert_eq!(item["storage_path_or_url"], item["storage_object_key"]);
    }
    assert!(minted(
        &items[0]["storage_object_key"],
        &format!("orgs/sole-llc/templates/{legal}/"),
        ".png"
    ));
    let (status, body) = docs
        .admin(
            "GET",
            &format!("/org/documents/templates?folder_id={packs}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_list_like(&body, "list templates of a folder", &keys);

    let (status, body) = docs
        .admin(
            "GET",
            &format!("/org/documents/templates/{minutes_id}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let expected = sample_body("get template");
    assert_same_keys(&body, &expected);
    assert_like(&body["data"], &expected["data"], &keys);
    assert_eq!(body["data"]["folder_id"], packs.as_str());

    let (status, body) = app
        .call(
            "GET",
            &format!("/org/documents/templates/{minutes_id}/download"),
        )
        .session(&docs.a.emp_s)
        .fetch()
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        sample_body("download template as employee without permission")
    );

    // Contract §12 quirk 9: the legacy redirected a `gcs` row to a local URL (307); `sole`
    // dispatches on the row's provider and bucket, which this server does not serve.
    let name =
        "download the gcs-provider row: 307 to a signed URL of the *global* adapter (local here)";
    assert_eq!(doc_sample(name)["response"]["status"], 307);
    let resp = raw_get(
        app,
        &format!("/org/documents/templates/{gcs_id}/download"),
        &docs.a.admin_s,
    )
    .await;
    assert!(resp.headers().get("location").is_none());
    let (status, body) = json(resp).await;
    assert_eq!(status, 400, "{name}: {body}");
    assert_eq!(
        (&body["code"], &body["message"]),
        (
            &json!("bad_request"),
            &json!("GCS bucket is not configured")
        )
    );
    // Contract §12 quirk 10: the legacy delete escaped a credential error as a 500 and kept
    // the row; `sole` deletes the row (the object delete is best effort).
    let name = "delete template whose provider is gcs (no GCP credentials on this host -> 500)";
    assert_eq!(doc_sample(name)["response"]["status"], 500);
    let (status, body) = docs
        .admin(
            "DELETE",
            &format!("/org/documents/templates/{gcs_id}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{name}: {body}");
    let (_, body) = docs.admin("GET", "/org/documents/templates", None).await;
    assert_eq!(body["data"]["total"], 5);
}

#[tokio::test]
async fn other_orgs_see_only_their_folders_and_templates() {
    let docs = docs_app(&[]).await;
    let app = &docs.app;
    let b = org(app, "golden-docs-b").await;
    let (status, body) = app
        .call("GET", "/org/documents/folders")
        .session(&b.admin_s)
        .fetch()
        .await;
    assert_eq!(status, 200);
    assert_list_like(
        &body,
        "org B: list folders (superuser acting in another org via X-Org-Id)",
        &[],
    );
    let secret: &[u8] = b"%PDF-1.4\n%org B confidential\n%%EOF\n";
    let name = "org B: multipart upload";
    let (status, body) = upload(
        app,
        &b.admin_s,
        Upload::new("b-secret.pdf", Some("application/pdf"), secret),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_same_keys(&body, &sample_body(name));
    assert_like(
        &body["data"],
        &sample_body(name)["data"],
        &["storage_path_or_url", "storage_object_key"],
    );
    let b_key = body["data"]["storage_object_key"].clone();
    assert!(minted(
        &b_key,
        "orgs/golden-docs-b/templates/unassigned/",
        ".pdf"
    ));
    let b_id = body["data"]["id"].as_str().unwrap().to_owned();

    let path = format!("/org/documents/templates/{b_id}");
    let (status, body) = docs.admin("GET", &path, None).await;
    assert_eq!(status, 404);
    assert_eq!(body, sample_body("org A: get org B's template by id"));
    let (status, body) = docs.admin("DELETE", &path, None).await;
    assert_eq!(status, 404);
    assert_eq!(body, sample_body("org A: delete org B's template by id"));

    // Contract §12 quirk 3: the legacy registered a key that climbs into org B with `..`,
    // then served org B's bytes to org A, and its delete answered 500. `sole` refuses the key,
    // so there is no row to download or delete and org B's file stays untouched.
    let name = "org A: register a storage_key with '..' that points into org B";
    assert_eq!(doc_sample(name)["response"]["status"], 201);
    let attack = b_key.as_str().unwrap().replacen(
        "orgs/golden-docs-b/",
        "orgs/sole-llc/../golden-docs-b/",
        1,
    );
    let (status, body) = docs
        .admin(
            "POST",
            "/org/documents/templates",
            Some(json!({"file_name": "stolen.pdf", "storage_key": attack})),
        )
        .await;
    assert_eq!(status, 400, "{name}: {body}");
    assert_eq!(body["code"], "invalid_storage_key");
    let name = "org A: download it -> org B's bytes (cross-org read through path traversal)";
    assert_eq!(
        recorded_sha(name),
        sha256_hex(secret),
        "the legacy leaked org B's file"
    );
    let name = "org A: delete it -> 500 (local delete refuses '..', error not caught)";
    assert_eq!(doc_sample(name)["response"]["status"], 500);
    let (_, list) = docs.admin("GET", "/org/documents/templates", None).await;
    assert_eq!(list["data"]["total"], 0, "nothing registered in org A");
    assert_eq!(
        std::fs::read(docs.file(b_key.as_str().unwrap())).unwrap(),
        secret
    );
}

#[tokio::test]
async fn a_custom_folder_named_legal_is_refused_or_renamed_as_recorded() {
    let docs = docs_app(&[]).await;
    let app = &docs.app;
    // Contract §12 quirk 5: the legacy created the system folders in the first listing, so a
    // custom "Legal" made before it then broke every listing (500). `sole` creates them
    // before any custom folder, so the same request is a duplicate name (quirk 4: 400).
    let d = org(app, "golden-docs-d").await;
    let name = "org C (never listed): create a custom folder named 'Legal'";
    assert_eq!(doc_sample(name)["response"]["status"], 201);
    let (status, body) = app
        .call("POST", "/org/documents/folders")
        .session(&d.admin_s)
        .json(&recorded_request(name))
        .fetch()
        .await;
    assert_eq!(status, 400, "{body}");
    assert_same_keys(&body, &sample_body(name));
    assert_eq!(body["message"], "A folder with this name already exists");

    // A legacy database can hold such a folder; the listing still works.
    let c = org(app, "golden-docs-c").await;
    let custom: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO org_document_folders (id, org_id, name, system_key, is_system) \
         VALUES (gen_random_uuid(), 'golden-docs-c', 'Legal', NULL, false) RETURNING id",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    let name = "org C: list folders -> 500 (system folder 'Legal' collides on (org_id,name))";
    assert_eq!(doc_sample(name)["response"]["status"], 500);
    let (status, body) = app
        .call("GET", "/org/documents/folders")
        .session(&c.admin_s)
        .fetch()
        .await;
    assert_eq!(status, 200, "{name}: {body}");
    assert_same_keys(&body, &sample_body("org C: list folders works again"));
    assert_eq!(body["data"]["items"][3]["id"], custom.to_string());

    let name = "org C: rename the custom folder";
    let (status, body) = app
        .call("PATCH", &format!("/org/documents/folders/{custom}"))
        .session(&c.admin_s)
        .json(&recorded_request(name))
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    assert_same_keys(&body, &sample_body(name));
    assert_like(&body["data"], &sample_body(name)["data"], &[]);
    let (status, body) = app
        .call("GET", "/org/documents/folders")
        .session(&c.admin_s)
        .fetch()
        .await;
    assert_eq!(status, 200);
    assert_list_like(&body, "org C: list folders works again", &[]);
}

#[tokio::test]
async fn the_preflight_of_the_upload_put_answers_as_recorded() {
    let docs = docs_app(&[("ALLOWED_ORIGINS", "http://127.0.0.1:5173")]).await;
    let app = &docs.app;
    let s = doc_sample("CORS preflight for the SPA's PUT to the upload URL");
    let q = &s["request"]["query"];
    let url = sole::storage::signing::read_url(
        &app.address,
        q["key"].as_str().unwrap(),
        q["expires"].as_str().unwrap().parse().unwrap(),
        q["signature"].as_str().unwrap(),
    );
    let mut req = app.call("OPTIONS", "").url(url);
    for (k, v) in s["request"]["headers"].as_object().unwrap() {
        req = req.header(k, v.as_str().unwrap());
    }
    let resp = req.response().await;
    assert_eq!(resp.status().as_u16(), s["response"]["status"]);
    for (k, v) in s["response"]["headers"].as_object().unwrap() {
        // `sole` also allows `Idempotency-Key`, which the loan create and submit routes accept
        // (contract domain-loans §7.6: the legacy CORS list blocked it).
        let v = if k == "access-control-allow-headers" {
            json!(
                v.as_str()
                    .unwrap()
                    .replace("Content-Type, ", "Content-Type, Idempotency-Key, ")
            )
        } else {
            v.clone()
        };
        assert_eq!(
            resp.headers()
                .get(k.as_str())
                .map(|h| h.to_str().unwrap().to_owned()),
            Some(v.as_str().unwrap().to_owned()),
            "{k}"
        );
    }
    assert_eq!(resp.text().await.unwrap(), s["response"]["body"]);
}

#[tokio::test]
async fn the_asset_byte_store_answers_as_recorded() {
    let docs = docs_app(&[]).await;
    let app = &docs.app;
    let b = org(app, "golden-docs-b").await;

    // An employee opens a session for their thumbnail (no permission needed) and reads it back.
    let name =
        "asset upload session as a plain employee (display_image_thumb; no permission check)";
    let mut req = recorded_request(name);
    req["owner_refs"]["user_id"] = json!(docs.a.emp.user_id.to_string());
    let (status, body) = app
        .call("POST", "/assets/upload-sessions")
        .session(&docs.a.emp_s)
        .json(&req)
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    assert_same_keys(&body, &sample_body(name));
    assert_like(
        &body["data"],
        &sample_body(name)["data"],
        &["asset_id", "upload_url", "object_key"],
    );
    let thumb = body["data"].clone();
    assert_eq!(
        thumb["object_key"],
        format!(
            "orgs/sole-llc/users/{}/display-image/{}/thumb.PNG",
            docs.a.emp.user_id,
            thumb["asset_id"].as_str().unwrap()
        )
    );
    let (status, _, _) = crate::doc_support::spa_put(
        app,
        thumb["upload_url"].as_str().unwrap(),
        "image/png",
        PNG.to_vec(),
    )
    .await;
    assert_eq!(status, 200);
    let url = download_url(&docs, &docs.a.emp_s, &thumb).await;
    let name = "local-content GET of a .PNG key (media type guessed from the name)";
    let resp = get_with(&docs, &url, &docs.a.emp_s).await;
    assert_binary_like(resp, name, PNG).await;

    // A loan document: PUT with the token (the row exists), GET with it.
    let req = doc_sample("asset upload session (loan_document)")["request"]["body"].clone();
    let (status, body) = docs
        .admin("POST", "/assets/upload-sessions", Some(req))
        .await;
    assert_eq!(status, 200, "{body}");
    let note = body["data"].clone();
    let name = "local-content PUT (authenticated, asset row exists)";
    let resp = put_with(&docs, note["upload_url"].as_str().unwrap(), PDF).await;
    let expected = &doc_sample(name)["response"];
    assert_eq!(resp.status().as_u16(), expected["status"]);
    assert_eq!(
        resp.headers()["content-length"].to_str().unwrap(),
        expected["headers"]["content-length"].as_str().unwrap()
    );
    assert_eq!(resp.text().await.unwrap(), expected["body"]);
    let url = download_url(&docs, &docs.a.admin_s, &note).await;
    let resp = get_with(&docs, &url, &docs.a.admin_s).await;
    assert_binary_like(resp, "local-content GET (authenticated)", PDF).await;
    // `accept-ranges: bytes` holds its promise (contract §5.10: a Range gets a 206).
    let resp = docs
        .app
        .call("GET", "")
        .url(&url)
        .header("Range", "bytes=0-7")
        .response()
        .await;
    assert_eq!(resp.status(), 206);
    assert_eq!(resp.headers()["content-range"], "bytes 0-7/60");
    assert_eq!(resp.headers()["content-length"], "8");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &PDF[..8]);
    // Contract §12 quirk 1 and §14: `sole` treats a signed URL as the capability (as a GCS
    // signed URL is), so the legacy's per-tenant asset lookup (404 for another org's token)
    // no longer applies to a valid signature; tampering is still refused.
    let name = "local-content GET from another org (asset lookup is per tenant)";
    assert_eq!(doc_sample(name)["response"]["status"], 404);
    let resp = get_with(&docs, &url, &b.admin_s).await;
    assert_eq!(resp.status(), 200, "{name}");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), PDF);
    let resp = get_with(&docs, &url.replace("signature=", "signature=0"), &b.admin_s).await;
    assert_eq!(resp.status(), 403);

    // Two org_template sessions share one key (§12 quirk 13); the PUT to it no longer fails.
    let first = "asset upload session org_template";
    let (status, _) = docs
        .admin(
            "POST",
            "/assets/upload-sessions",
            Some(recorded_request(first)),
        )
        .await;
    assert_eq!(status, 200);
    let name = "asset upload session org_template again (same object_key)";
    let (status, body) = docs
        .admin(
            "POST",
            "/assets/upload-sessions",
            Some(recorded_request(name)),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_like(
        &body["data"],
        &sample_body(name)["data"],
        &["asset_id", "upload_url"],
    );
    let name = "local-content PUT when two assets share the key (-> 500)";
    assert_eq!(doc_sample(name)["response"]["status"], 500);
    let resp = put_with(&docs, body["data"]["upload_url"].as_str().unwrap(), PDF).await;
    assert_eq!(
        resp.status(),
        200,
        "{name}: contract §12 quirk 13, never a 500"
    );
    assert_eq!(
        std::fs::read(docs.file(body["data"]["object_key"].as_str().unwrap())).unwrap(),
        PDF
    );

    // `..` in owner_refs: contract §12 quirk 3/13, the key is refused when the session is
    // opened (the legacy minted it and refused only the PUT).
    let name = "asset upload session with '..' in owner_refs";
    assert_eq!(doc_sample(name)["response"]["status"], 200);
    let (status, body) = docs
        .admin(
            "POST",
            "/assets/upload-sessions",
            Some(recorded_request(name)),
        )
        .await;
    assert_eq!(status, 400, "{name}: {body}");
    assert_eq!(body["message"], "Invalid object key");
    // The PUT to such a key, signed as the legacy signed it, answers as recorded.
    let name = "local-content PUT to a key containing '..'";
    let key = doc_sample(name)["request"]["query"]["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let expires = time::OffsetDateTime::now_utc().unix_timestamp() + 600;
    let sig = sole::storage::signing::read_signature(SECRET, &key, expires);
    let url = sole::storage::signing::read_url(&app.address, &key, expires, &sig);
    let resp = put_with(&docs, &url, PDF).await;
    let (status, body) = json(resp).await;
    assert_eq!(status, 400);
    assert_eq!(body, sample_body(name));
}

/// Finalizes the asset and returns its download URL (pointed at the test server).
async fn download_url(docs: &Docs, s: &crate::fixtures::Session, ticket: &Value) -> String {
    let id = ticket["asset_id"].as_str().unwrap();
    let (status, body) = docs
        .app
        .call("POST", &format!("/assets/{id}/finalize"))
        .session(s)
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = docs
        .app
        .call("GET", &format!("/assets/{id}/download-url"))
        .session(s)
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    crate::doc_support::rebase(&docs.app, body["data"]["download_url"].as_str().unwrap())
}

async fn get_with(docs: &Docs, url: &str, s: &crate::fixtures::Session) -> reqwest::Response {
    docs.app
        .call("GET", "")
        .url(url)
        .token(&s.access)
        .header("X-Org-Id", &s.org_id)
        .response()
        .await
}

/// A PUT as the recorder sent it: the admin's token and org, and `Content-Type`.
async fn put_with(docs: &Docs, url: &str, bytes: &[u8]) -> reqwest::Response {
    docs.app
        .call("PUT", "")
        .url(crate::doc_support::rebase(&docs.app, url))
        .token(&docs.a.admin_s.access)
        .header("X-Org-Id", "sole-llc")
        .header("Content-Type", "application/pdf")
        .body(bytes.to_vec())
        .response()
        .await
}

/// Status, media type, length, `accept-ranges` and the body's hash as recorded.
async fn assert_binary_like(resp: reqwest::Response, name: &str, sent: &[u8]) {
    let expected = &doc_sample(name)["response"];
    assert_eq!(resp.status().as_u16(), expected["status"], "{name}");
    for h in ["content-type", "content-length", "accept-ranges"] {
        assert_eq!(
            resp.headers()
                .get(h)
                .map(|v| v.to_str().unwrap().to_owned()),
            expected["headers"][h].as_str().map(str::to_owned),
            "{name}: {h}"
        );
    }
    let bytes = resp.bytes().await.unwrap();
    assert_eq!(bytes.as_ref(), sent);
    assert_eq!(sha256_hex(&bytes), recorded_sha(name), "{name}");
}

/// With `STORAGE_PROVIDER=gcs`, a bucket and a credentials file that does not exist.
#[tokio::test]
async fn a_gcs_server_without_credentials_answers_503_not_500() {
    let docs = docs_app(&[
        ("STORAGE_PROVIDER", "gcs"),
        ("GCS_BUCKET", "golden-bucket"),
        (
            "GOOGLE_APPLICATION_CREDENTIALS",
            "/nonexistent/sole-golden-credentials.json",
        ),
    ])
    .await;
    // DESIGN.md §2 (storage: "no 500s") and §4 (faults answer 503 with Retry-After): the
    // legacy answered 500 `internal_server_error`.
    let name = "gcs backend with a bucket but no credentials: upload-url";
    assert_eq!(doc_sample(name)["response"]["status"], 500);
    let resp = docs
        .app
        .call("POST", "")
        .url(docs.app.url("/org/documents/templates/upload-url"))
        .token(&docs.a.admin_s.access)
        .header("X-Org-Id", "sole-llc")
        .json(&recorded_request(name))
        .response()
        .await;
    assert!(resp.headers().get("retry-after").is_some());
    let (status, body) = json(resp).await;
    assert_eq!(status, 503, "{body}");
    assert_same_keys(&body, &sample_body(name));
    assert_eq!(body["code"], "storage_unavailable");
}
