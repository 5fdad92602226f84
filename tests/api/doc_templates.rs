//! `/org/documents/templates*`: the browser's signed-URL upload flow on the local backend, the
//! multipart upload, registration checks, downloads, deletes, cross-org and traversal keys
//! (contract §13 scenarios 9–19, 24).

use futures_util::StreamExt;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::doc_support::{
    DOCX, Docs, PDF, PNG, Upload, assert_like, audit_rows, docs_app, raw_get, sample_body, spa_put,
    spa_upload, upload,
};
use crate::fixtures::org;
use crate::helpers::{UNKNOWN, assert_422, audit_count, fail_commit_when};

fn is_key(key: &str, prefix: &str, ext: &str) -> bool {
    key.strip_prefix(prefix)
        .and_then(|rest| rest.strip_suffix(ext))
        .is_some_and(|hex| {
            hex.len() == 32
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        })
}

async fn folder(docs: &Docs, name: &str) -> String {
    let (status, body) = docs
        .admin(
            "POST",
            "/org/documents/folders",
            Some(json!({"name": name})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["data"]["id"].as_str().unwrap().to_owned()
}

fn query(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

#[tokio::test]
async fn the_browser_upload_flow_works_on_the_local_backend() {
    let docs = docs_app(&[]).await;
    let app = &docs.app;
    let packs = folder(&docs, "Golden Board Packs").await;

    // 1. Upload URL (sample 15).
    let req = json!({"folder_id": packs, "file_name": "Board Pack Q1.pdf", "content_type": "application/pdf", "size_bytes": 60});
    let (status, body) = docs
        .admin("POST", "/org/documents/templates/upload-url", Some(req))
        .await;
    assert_eq!(status, 200, "{body}");
    let expected = sample_body("upload-url for a template in a folder");
    crate::helpers::assert_same_keys(&body, &expected);
    let d = body["data"].clone();
    assert_like(&d, &expected["data"], &["upload_url", "storage_key"]);
    let key = d["storage_key"].as_str().unwrap().to_owned();
    assert!(
        is_key(&key, &format!("orgs/sole-llc/templates/{packs}/"), ".pdf"),
        "{key}"
    );
    let url = d["upload_url"].as_str().unwrap();
    assert!(
        url.starts_with(
            "http://localhost:8000/api/v1/assets/local-content?key=orgs%2Fsole-llc%2Ftemplates%2F"
        ),
        "{url}"
    );
    let q = query(url);
    assert_eq!(q["key"], key);
    let expires: i64 = q["expires"].parse().unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        (now + 890..=now + 910).contains(&expires),
        "{expires} vs {now}"
    );
    assert_eq!(q["max_bytes"], "1048576");

    // 2. The PUT exactly as the SPA sends it: no token, no X-Org-Id (legacy: 401).
    let (status, headers, body) = spa_put(app, url, "application/pdf", PDF.to_vec()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(body.is_empty());
    assert!(headers.get("content-type").is_none());
    assert_eq!(std::fs::read(docs.file(&key)).unwrap(), PDF);

    // 3. Register (sample 24, with the real size).
    let reg = json!({"folder_id": packs, "name": null, "description": "Quarterly board pack",
        "file_name": "Board Pack Q1.pdf", "storage_key": key, "storage_provider": "local",
        "storage_bucket": "local", "content_type": "application/pdf", "size_bytes": 999});
    let (status, body) = docs
        .admin("POST", "/org/documents/templates", Some(reg.clone()))
        .await;
    assert_eq!(status, 201, "{body}");
    let expected =
        sample_body("create template from storage key (object never uploaded: not checked)");
    crate::helpers::assert_same_keys(&body, &expected);
    let t = body["data"].clone();
    assert_like(
        &t,
        &expected["data"],
        &["folder_id", "storage_path_or_url", "storage_object_key"],
    );
    assert_eq!(t["folder_id"], packs.as_str());
    assert_eq!(t["storage_path_or_url"], key);
    assert_eq!(t["storage_object_key"], key);
    assert_eq!(t["size_bytes"], 60, "the stored size, not the declared one");
    let id = t["id"].as_str().unwrap().to_owned();

    // Registering the same object twice would let one delete remove the other's file.
    let (status, body) = docs
        .admin("POST", "/org/documents/templates", Some(reg))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "storage_key_in_use");

    // 4. Listed first, in its folder, with the uploader's e-mail.
    let other = spa_upload(&docs, None, "Policy.pdf", "application/pdf", PDF).await;
    let (_, list) = docs.admin("GET", "/org/documents/templates", None).await;
    assert_eq!(list["data"]["total"], 2);
    assert_eq!(list["data"]["items"][0]["id"], other["id"]);
    assert_eq!(list["data"]["items"][1]["id"], id.as_str());
    assert_eq!(
        list["data"]["items"][1]["uploaded_by_name"],
        "admin@sole-llc.example.com"
    );
    let (_, list) = docs
        .admin(
            "GET",
            &format!("/org/documents/templates?folder_id={packs}"),
            None,
        )
        .await;
    assert_eq!(list["data"]["total"], 1);
    assert_eq!(list["data"]["items"][0]["id"], id.as_str());
    let (status, body) = docs
        .admin("GET", "/org/documents/templates?folder_id=general", None)
        .await;
    assert_eq!(status, 422);
    assert_eq!(body, sample_body("list templates: folder_id not a uuid"));
    let (status, got) = docs
        .admin("GET", &format!("/org/documents/templates/{id}"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(got["data"], list["data"]["items"][0]);

    // 5. Download: the exact bytes as an attachment (viewers may download).
    let resp = raw_get(
        app,
        &format!("/org/documents/templates/{id}/download"),
        &docs.viewer,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert_eq!(h["content-type"], "application/octet-stream");
    assert_eq!(
        h["content-disposition"],
        "attachment; filename*=utf-8''Board%20Pack%20Q1.pdf"
    );
    assert_eq!(h["content-length"], "60");
    assert!(h.contains_key("etag") && h.contains_key("last-modified"));
    let bytes = resp.bytes().await.unwrap();
    assert_eq!(
        json!(hex::encode(Sha256::digest(&bytes))),
        crate::doc_support::doc_sample("download template (local file)")["response"]["body"]["binary"]
            ["sha256"]
    );
    assert_eq!(bytes.as_ref(), PDF);
    let resp = raw_get(
        app,
        &format!("/org/documents/templates/{id}/download"),
        &docs.a.emp_s,
    )
    .await;
    assert_eq!(resp.status(), 403);

    // 6. Delete: the row, then the file.
    let (status, body) = docs
        .call(
            "DELETE",
            &format!("/org/documents/templates/{id}"),
            &docs.viewer,
            None,
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(body, sample_body("delete template as viewer"));
    let (status, body) = docs
        .admin("DELETE", &format!("/org/documents/templates/{id}"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, sample_body("delete template (file removed too)"));
    assert!(!docs.file(&key).exists());
    let (status, body) = docs
        .admin("GET", &format!("/org/documents/templates/{id}"), None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(body, sample_body("get unknown template"));
    let (status, body) = docs
        .admin(
            "DELETE",
            &format!("/org/documents/templates/{UNKNOWN}"),
            None,
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(body, sample_body("delete unknown template"));

    let created = audit_rows(app, "sole-llc", "org_document_template.created").await;
    assert_eq!(created.len(), 2);
    assert_eq!(created[0].2.as_ref().unwrap()["storage_object_key"], key);
    assert_eq!(
        audit_count(app, "sole-llc", "org_document_template.deleted").await,
        1
    );
}

#[tokio::test]
async fn upload_urls_validate_like_the_legacy_and_bind_what_they_sign() {
    let docs = docs_app(&[]).await;
    let app = &docs.app;
    let post = |body: Value| docs.admin("POST", "/org/documents/templates/upload-url", Some(body));

    let (status, body) = post(json!({"file_name": "../../etc/Policy.pdf", "content_type": "application/pdf", "size_bytes": -5})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["file_name"], "Policy.pdf");
    assert!(is_key(
        body["data"]["storage_key"].as_str().unwrap(),
        "orgs/sole-llc/templates/unassigned/",
        ".pdf"
    ));
    let url = body["data"]["upload_url"].as_str().unwrap().to_owned();

    for name in ["tool.exe", "notes.txt", "README"] {
        let (status, body) = post(json!({"file_name": name, "content_type": "application/octet-stream", "size_bytes": 10})).await;
        assert_eq!(status, 400, "{name}");
        assert_eq!(body, sample_body("upload-url extension not allowed"));
    }
    let (status, body) = post(json!({"folder_id": UNKNOWN, "file_name": "a.pdf", "content_type": "application/pdf", "size_bytes": 1})).await;
    assert_eq!(status, 404);
    assert_eq!(body, sample_body("upload-url unknown folder"));
    assert_422(
        &post(json!({"file_name": "a.pdf"})).await,
        "content_type: Field required",
    );
    assert_422(
        &post(json!({"file_name": "a.pdf", "content_type": "application/pdf"})).await,
        "size_bytes: Field required",
    );
    let (status, body) = post(
        json!({"file_name": "a.pdf", "content_type": "application/pdf", "size_bytes": 1_048_577}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["message"], "File exceeds maximum allowed size of 1 MB");
    let (status, body) = docs
        .call(
            "POST",
            "/org/documents/templates/upload-url",
            &docs.viewer,
            Some(json!({"file_name": "a.pdf", "content_type": "application/pdf", "size_bytes": 1})),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(body["message"], "Missing permission: org.document.manage");
    // Registering is a write too.
    let (status, body) = docs
        .call(
            "POST",
            "/org/documents/templates",
            &docs.viewer,
            Some(json!({"file_name": "a.pdf", "storage_key": "orgs/sole-llc/templates/unassigned/a.pdf"})),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(body["message"], "Missing permission: org.document.manage");

    // The URL is bound to its content type, its object, its expiry and its size cap.
    let (status, _, body) = spa_put(app, &url, "text/html", PDF.to_vec()).await;
    assert_eq!(status, 403);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["message"], "Invalid or expired URL signature");
    let other_key = url.replace("unassigned%2F", "unassigned%2F0");
    assert_eq!(
        spa_put(app, &other_key, "application/pdf", PDF.to_vec())
            .await
            .0,
        403
    );
    let bigger = url.replace("max_bytes=1048576", "max_bytes=2097152");
    assert_eq!(
        spa_put(app, &bigger, "application/pdf", PDF.to_vec())
            .await
            .0,
        403
    );
    let q = query(&url);
    let expired = url.replace(&format!("expires={}", q["expires"]), "expires=1000");
    assert_eq!(
        spa_put(app, &expired, "application/pdf", PDF.to_vec())
            .await
            .0,
        403
    );

    // A correctly signed but expired URL (signed here with the test secret).
    let key = q["key"].clone();
    let secret = b"test-secret-key-0123456789abcdef0123456789";
    let sig =
        sole::storage::signing::upload_signature(secret, &key, 1000, 1_048_576, "application/pdf");
    let stale = sole::storage::signing::upload_url(&app.address, &key, 1000, &sig, 1_048_576);
    let (status, _, body) = spa_put(app, &stale, "application/pdf", PDF.to_vec()).await;
    assert_eq!(status, 403);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap(),
        sample_body("PUT with a correctly signed but expired URL")
    );

    // Over the cap: 413 and nothing stored; a .pdf key refuses bytes that are no PDF.
    let mut big = b"%PDF-1.4\n".to_vec();
    big.resize(1_048_577, b'0');
    let (status, _, body) = spa_put(app, &url, "application/pdf", big).await;
    assert_eq!(status, 413);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap(),
        sample_body("local-content PUT over MAX_UPLOAD_SIZE_MB")
    );
    let (status, _, body) = spa_put(
        app,
        &url,
        "application/pdf",
        b"hello, this is not a pdf".to_vec(),
    )
    .await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    assert_eq!(docs.files(), Vec::<std::path::PathBuf>::new());

    // A URL in the legacy shape (no max_bytes) is only honoured with a token and an asset row.
    let legacy = url.split("&max_bytes").next().unwrap().to_owned();
    let (status, _, body) = spa_put(app, &legacy, "application/pdf", PDF.to_vec()).await;
    assert_eq!(status, 401);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap(),
        sample_body(
            "PUT file to upload URL exactly as the SPA does (no Authorization, no X-Org-Id)"
        )
    );

    // The preflight of the SPA's PUT is allowed from the configured origin.
    let resp = app
        .call("OPTIONS", "")
        .url(crate::doc_support::rebase(app, &url))
        .header("Origin", "http://localhost:5173")
        .header("Access-Control-Request-Method", "PUT")
        .header("Access-Control-Request-Headers", "content-type")
        .response()
        .await;
    assert_eq!(resp.status(), 200);
    let methods = resp.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(methods.contains("PUT"), "{methods}");
}

#[tokio::test]
async fn registration_refuses_foreign_traversing_missing_and_unminted_keys() {
    let docs = docs_app(&[]).await;
    let app = &docs.app;
    let b = org(app, "golden-docs-b").await;
    let reg = |body: Value| docs.admin("POST", "/org/documents/templates", Some(body));

    let (status, body) = reg(json!({"file_name": "a.pdf", "storage_key": "https://storage.googleapis.com/b/orgs/sole-llc/a.pdf"})).await;
    assert_eq!(status, 400);
    assert_eq!(body, sample_body("create template: storage_key is a URL"));
    let (status, body) = reg(json!({"file_name": "a.pdf", "storage_key": "orgs/golden-docs-b/templates/unassigned/a.pdf"})).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        sample_body("create template: storage_key of another org")
    );
    let (status, body) = reg(json!({"file_name": "a.pdf", "storage_key": "orgs/sole-llc/templates/unassigned/a.pdf", "storage_provider": "gcs"})).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        sample_body("create template: provider gcs without bucket (GCS_BUCKET unset)")
    );
    let (status, body) = reg(json!({"file_name": "notes.txt", "storage_key": "orgs/sole-llc/templates/unassigned/notes.txt"})).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        sample_body("create template: file_name extension not allowed")
    );
    let (status, body) = reg(json!({"name": "x"})).await;
    assert_eq!(status, 422);
    assert_eq!(
        body,
        sample_body("create template: missing storage_key and file_name")
    );
    let (status, body) = reg(json!({"folder_id": UNKNOWN, "file_name": "a.pdf", "storage_key": "orgs/sole-llc/templates/unassigned/a.pdf"})).await;
    assert_eq!(status, 404);
    assert_eq!(body["message"], "Folder not found");
    assert_422(
        &reg(json!({"file_name": "a.pdf", "storage_key": "orgs/sole-llc/x.pdf", "content_type": "x".repeat(101)})).await,
        "content_type: String should have at most 100 characters",
    );

    // Org B's file, reached through `..` (legacy: registered, then served org B's bytes).
    let (status, b_tpl) = upload(
        app,
        &b.admin_s,
        Upload::new("secret.pdf", Some("application/pdf"), PDF),
    )
    .await;
    assert_eq!(status, 201, "{b_tpl}");
    let b_key = b_tpl["data"]["storage_object_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let attack = b_key.replacen("orgs/golden-docs-b/", "orgs/sole-llc/../golden-docs-b/", 1);
    let (status, body) = reg(json!({"file_name": "stolen.pdf", "storage_key": attack})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "invalid_storage_key");
    let (status, body) = reg(json!({"file_name": "stolen.pdf", "storage_key": b_key})).await;
    assert_eq!(status, 400);
    assert_eq!(body["message"], "storage_key is not scoped to org");

    // A key the server minted but nobody uploaded (legacy: registered anyway).
    let (_, minted) = docs
        .admin(
            "POST",
            "/org/documents/templates/upload-url",
            Some(json!({"file_name": "a.pdf", "content_type": "application/pdf", "size_bytes": 1})),
        )
        .await;
    let (status, body) =
        reg(json!({"file_name": "a.pdf", "storage_key": minted["data"]["storage_key"]})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "storage_object_missing");
    // A key of another kind (a loan document) is no template, even when it exists.
    let loan_key =
        format!("orgs/sole-llc/loans/{UNKNOWN}/documents/0123456789abcdef0123456789abcdef.pdf");
    std::fs::create_dir_all(docs.file(&loan_key).parent().unwrap()).unwrap();
    std::fs::write(docs.file(&loan_key), PDF).unwrap();
    let (status, body) = reg(json!({"file_name": "a.pdf", "storage_key": loan_key})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "invalid_storage_key");
    assert_eq!(
        audit_count(app, "sole-llc", "org_document_template.created").await,
        0
    );
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM org_document_templates WHERE org_id = 'sole-llc'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(rows, 0);
}

#[tokio::test]
async fn multipart_uploads_store_check_and_download_like_the_samples() {
    let docs = docs_app(&[]).await;
    let app = &docs.app;
    let packs = folder(&docs, "Golden Board Packs").await;
    let admin = &docs.a.admin_s;

    let (status, body) = upload(
        app,
        admin,
        Upload::new("Board Minutes.pdf", Some("application/pdf"), PDF)
            .field("folder_id", &packs)
            .field("name", "Golden Minutes")
            .field("description", "Signed minutes"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let expected = sample_body("multipart upload into a folder with name and description");
    assert_like(
        &body["data"],
        &expected["data"],
        &["folder_id", "storage_path_or_url", "storage_object_key"],
    );
    let minutes = body["data"].clone();
    assert!(is_key(
        minutes["storage_object_key"].as_str().unwrap(),
        &format!("orgs/sole-llc/templates/{packs}/"),
        ".pdf"
    ));

    let (status, body) = upload(
        app,
        admin,
        Upload::new(
            "Offer Letter – ñ.docx",
            Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
            DOCX,
        ),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let offer = body["data"].clone();
    assert_eq!(offer["name"], "Offer Letter – ñ.docx");
    assert_eq!(offer["folder_id"], Value::Null);
    let (status, body) = upload(
        app,
        admin,
        Upload::new("empty.pdf", Some("application/pdf"), b""),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let empty = body["data"].clone();
    assert_eq!(empty["size_bytes"], 0);
    let (status, body) = upload(app, admin, Upload::new("logo.PNG", None, PNG)).await;
    assert_eq!(status, 201, "{body}");
    let expected = sample_body("multipart upload png into a system folder, no part content-type");
    assert_like(
        &body["data"],
        &expected["data"],
        &["folder_id", "storage_path_or_url", "storage_object_key"],
    );
    assert!(
        body["data"]["storage_object_key"]
            .as_str()
            .unwrap()
            .ends_with(".png")
    );

    // Refusals leave no file and no row behind.
    let before = docs.files();
    for (up, name) in [
        (
            Upload::new("notes.txt", Some("text/plain"), b"plain text"),
            "multipart upload: extension not allowed",
        ),
        (
            Upload::new(
                "fake.pdf",
                Some("application/pdf"),
                b"hello, this is not a pdf",
            ),
            "multipart upload: content does not match .pdf",
        ),
        (
            Upload::new("a.pdf", Some("application/pdf"), PDF)
                .field("folder_id", crate::helpers::UNKNOWN),
            "multipart upload: unknown folder (checked after the body is read)",
        ),
    ] {
        let (status, body) = upload(app, admin, up).await;
        let expected = crate::doc_support::doc_sample(name)["response"].clone();
        assert_eq!(status, expected["status"], "{name}: {body}");
        assert_eq!(body, expected["body"], "{name}");
    }
    let mut big = b"%PDF-1.4\n".to_vec();
    big.resize(1_048_577, b'0');
    let (status, body) = upload(
        app,
        admin,
        Upload::new("big.pdf", Some("application/pdf"), &big),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        sample_body("multipart upload: over MAX_UPLOAD_SIZE_MB (1 MB in this run)")
    );
    let mut exact = b"%PDF-1.4\n".to_vec();
    exact.resize(1_048_576, b'0');
    let (status, at_cap) = upload(
        app,
        admin,
        Upload::new("cap.pdf", Some("application/pdf"), &exact),
    )
    .await;
    assert_eq!(status, 201, "equal to the cap is allowed: {at_cap}");
    assert_eq!(docs.files().len(), before.len() + 1);

    // No file part; a viewer; no token at all (refused before the body is read).
    let form = reqwest::multipart::Form::new().text("name", "x");
    let resp = app
        .call("POST", "/org/documents/templates/upload")
        .token(&admin.access)
        .header("X-Org-Id", "sole-llc")
        .multipart(form)
        .response()
        .await;
    let (status, body) = crate::helpers::json(resp).await;
    assert_eq!(status, 422);
    assert_eq!(body, sample_body("multipart upload: no file part"));
    let (status, body) = upload(
        app,
        &docs.viewer,
        Upload::new("a.pdf", Some("application/pdf"), PDF),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(body, sample_body("multipart upload as viewer"));
    let resp = app
        .call("POST", "/org/documents/templates/upload")
        .header("X-Org-Id", "sole-llc")
        .multipart(reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(big.clone()).file_name("x.pdf"),
        ))
        .response()
        .await;
    assert_eq!(resp.status(), 401);
    // A declared length no valid upload can reach is refused before the body is read: the
    // body below sends its first bytes and then never ends, yet the answer comes.
    let boundary = "sole-early-refusal";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"huge.pdf\"\r\n\
         Content-Type: application/pdf\r\n\r\n%PDF-1.4\n"
    );
    let stream =
        futures_util::stream::once(
            async move { Ok::<_, std::io::Error>(bytes::Bytes::from(head)) },
        )
        .chain(futures_util::stream::pending());
    let resp = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        app.call("POST", "/org/documents/templates/upload")
            .token(&admin.access)
            .header("X-Org-Id", "sole-llc")
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .header("Content-Length", (1u64 << 40).to_string())
            .body(reqwest::Body::wrap_stream(stream))
            .response(),
    )
    .await
    .expect("answered without waiting for the body");
    let (status, body) = crate::helpers::json(resp).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["message"], "File exceeds maximum allowed size of 1 MB");
    assert_eq!(docs.files().len(), before.len() + 1);

    // Downloads (samples 49–51): exact bytes and Starlette's Content-Disposition.
    for (t, bytes, sample) in [
        (&minutes, PDF, "download template (local file)"),
        (
            &offer,
            DOCX,
            "download template with non-ASCII / space name",
        ),
        (&empty, b"".as_slice(), "download empty template"),
    ] {
        let resp = raw_get(
            app,
            &format!(
                "/org/documents/templates/{}/download",
                t["id"].as_str().unwrap()
            ),
            admin,
        )
        .await;
        assert_eq!(resp.status(), 200, "{sample}");
        let expected = crate::doc_support::doc_sample(sample)["response"]["headers"].clone();
        for h in ["content-type", "content-length", "content-disposition"] {
            assert_eq!(
                resp.headers()[h].to_str().unwrap(),
                expected[h].as_str().unwrap(),
                "{sample} {h}"
            );
        }
        assert_eq!(resp.bytes().await.unwrap().as_ref(), bytes, "{sample}");
    }

    assert_eq!(
        audit_count(app, "sole-llc", "org_document_template.created").await,
        5
    );
}

#[tokio::test]
async fn a_failed_commit_leaves_neither_row_nor_file() {
    let docs = docs_app(&[]).await;
    fail_commit_when(&docs.app, "org_document_templates", "name", "Boom").await;
    let (status, body) = upload(
        &docs.app,
        &docs.a.admin_s,
        Upload::new("a.pdf", Some("application/pdf"), PDF).field("name", "Boom"),
    )
    .await;
    assert!(status >= 500, "{status} {body}");
    assert_eq!(docs.files(), Vec::<std::path::PathBuf>::new());
    assert_eq!(
        audit_count(&docs.app, "sole-llc", "org_document_template.created").await,
        0
    );
}

#[tokio::test]
async fn rows_are_served_by_their_own_backend_and_other_orgs_see_nothing() {
    let docs = docs_app(&[]).await;
    let app = &docs.app;
    let b = org(app, "golden-docs-b").await;
    let (status, b_folders) = app
        .call("GET", "/org/documents/folders")
        .session(&b.admin_s)
        .fetch()
        .await;
    assert_eq!(status, 200);
    let b_folder = b_folders["data"]["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = upload(
        app,
        &b.admin_s,
        Upload::new("b.pdf", Some("application/pdf"), PDF).field("folder_id", &b_folder),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let b_id = body["data"]["id"].as_str().unwrap().to_owned();

    // Org A cannot reach org B's template or folder by id.
    for (method, path, body) in [
        ("GET", format!("/org/documents/templates/{b_id}"), None),
        (
            "GET",
            format!("/org/documents/templates/{b_id}/download"),
            None,
        ),
        ("DELETE", format!("/org/documents/templates/{b_id}"), None),
        (
            "PATCH",
            format!("/org/documents/folders/{b_folder}"),
            Some(json!({"name": "x"})),
        ),
        ("DELETE", format!("/org/documents/folders/{b_folder}"), None),
        (
            "POST",
            "/org/documents/templates/upload-url".to_owned(),
            Some(
                json!({"folder_id": b_folder, "file_name": "a.pdf", "content_type": "application/pdf", "size_bytes": 1}),
            ),
        ),
        (
            "POST",
            "/org/documents/templates".to_owned(),
            Some(
                json!({"folder_id": b_folder, "file_name": "a.pdf", "storage_key": "orgs/sole-llc/templates/unassigned/a.pdf"}),
            ),
        ),
    ] {
        let (status, got) = docs.admin(method, &path, body).await;
        assert_eq!(status, 404, "{method} {path}: {got}");
    }
    let (_, list) = docs
        .admin(
            "GET",
            &format!("/org/documents/templates?folder_id={b_folder}"),
            None,
        )
        .await;
    assert_eq!(list["data"]["total"], 0);
    // A non-superuser's token for org A with X-Org-Id of org B.
    let resp = app
        .call("GET", "/org/documents/folders")
        .token(&docs.viewer.access)
        .header("X-Org-Id", "golden-docs-b")
        .response()
        .await;
    let (status, body) = crate::helpers::json(resp).await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        sample_body("viewer (non-superuser, token for org A) sends X-Org-Id of org B")
    );

    // Rows written by the legacy service: a missing object, a `..` key, a `gcs` row on a
    // server without GCS. Downloads answer 4xx; deletes remove the row (best-effort object
    // delete), never a 500.
    let insert = |key: &str, provider: Option<&str>, bucket: Option<&str>| {
        let db = app.db.clone();
        let (key, provider, bucket) = (
            key.to_owned(),
            provider.map(str::to_owned),
            bucket.map(str::to_owned),
        );
        async move {
            sqlx::query_scalar::<_, uuid::Uuid>(
                "INSERT INTO org_document_templates (id, org_id, name, file_name, storage_path_or_url, storage_object_key, storage_provider, storage_bucket) \
                 VALUES (gen_random_uuid(), 'sole-llc', 'legacy', 'legacy.pdf', $1, $1, $2, $3) RETURNING id",
            )
            .bind(key)
            .bind(provider)
            .bind(bucket)
            .fetch_one(&db)
            .await
            .unwrap()
        }
    };
    let missing = insert(
        "orgs/sole-llc/templates/unassigned/0123456789abcdef0123456789abcdef.pdf",
        Some("local"),
        Some("local"),
    )
    .await;
    let resp = raw_get(
        app,
        &format!("/org/documents/templates/{missing}/download"),
        &docs.a.admin_s,
    )
    .await;
    let (status, body) = crate::helpers::json(resp).await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        sample_body("download a template whose object was never uploaded")
    );
    let b_key: String = sqlx::query_scalar(
        "SELECT storage_object_key FROM org_document_templates WHERE id = $1::uuid",
    )
    .bind(&b_id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    let traversal = insert(
        &b_key.replacen("orgs/golden-docs-b/", "orgs/sole-llc/../golden-docs-b/", 1),
        None,
        None,
    )
    .await;
    let resp = raw_get(
        app,
        &format!("/org/documents/templates/{traversal}/download"),
        &docs.a.admin_s,
    )
    .await;
    let (status, body) = crate::helpers::json(resp).await;
    assert_eq!(status, 400, "legacy: 200 with org B's bytes");
    assert_eq!(body["code"], "invalid_document_path");
    let gcs = insert(
        "orgs/sole-llc/templates/unassigned/remote.pdf",
        Some("gcs"),
        Some("golden-bucket"),
    )
    .await;
    let resp = raw_get(
        app,
        &format!("/org/documents/templates/{gcs}/download"),
        &docs.a.admin_s,
    )
    .await;
    assert_eq!(resp.status(), 400, "legacy: 307 to a local URL");
    for id in [missing, traversal, gcs] {
        let (status, body) = docs
            .admin("DELETE", &format!("/org/documents/templates/{id}"), None)
            .await;
        assert_eq!(status, 200, "legacy: 500 for the `..` and gcs rows; {body}");
    }
    // Org B's file is untouched by org A's delete of the traversal row.
    assert!(docs.file(&b_key).exists());
}
