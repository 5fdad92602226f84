//! `/assets/*`: upload sessions, the token-free signed PUT, finalize, download URLs and the
//! local byte store; and a `gcs` server without a bucket (contract §13 scenarios 20–25).

use serde_json::json;

use crate::doc_support::{
    DOCX, PDF, PNG, assert_like, audit_rows, doc_sample, docs_app, plain_get, raw_get, sample_body,
    spa_put,
};
use crate::fixtures::org;
use crate::helpers::json;

#[tokio::test]
async fn an_upload_session_round_trips_through_the_local_store() {
    let docs = docs_app(&[]).await;
    let app = &docs.app;
    let session = |body| docs.admin("POST", "/assets/upload-sessions", Some(body));
    let user = "6f31a7b4-176e-400f-94f7-cb8e2e92d8f1";
    let loan = "f47b4ea1-d0c7-4a8b-984b-3ec64edf954a";
    let req = doc_sample("asset upload session (loan_document)")["request"]["body"].clone();

    let (status, body) = session(req.clone()).await;
    assert_eq!(status, 200, "{body}");
    let expected = sample_body("asset upload session (loan_document)");
    crate::helpers::assert_same_keys(&body, &expected);
    let d = body["data"].clone();
    assert_like(
        &d,
        &expected["data"],
        &["asset_id", "upload_url", "object_key"],
    );
    let asset_id = d["asset_id"].as_str().unwrap().to_owned();
    let key = format!(
        "orgs/sole-llc/users/{user}/loans/{loan}/loan-documents/{asset_id}/Signed_Note__final_.pdf"
    );
    assert_eq!(d["object_key"], key);
    let row: (String, String, String) =
        sqlx::query_as("SELECT status, owner_type, owner_id FROM assets WHERE id = $1::uuid")
            .bind(&asset_id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(row, ("pending".into(), "user".into(), user.into()));

    // Refusals (samples 73–76) and a '..' owner reference (legacy: a key with '..').
    let mut other = req.clone();
    other["org_id"] = json!("golden-docs-b");
    let (status, body) = session(other).await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        sample_body("asset upload session: org_id differs from the tenant")
    );
    let (status, body) =
        session(doc_sample("asset upload session: unknown kind")["request"]["body"].clone()).await;
    assert_eq!(status, 400);
    assert_eq!(body, sample_body("asset upload session: unknown kind"));
    let (status, body) = session(
        doc_sample("asset upload session: missing owner_refs keys")["request"]["body"].clone(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        sample_body("asset upload session: missing owner_refs keys")
    );
    let mut dots = req.clone();
    dots["owner_refs"]["user_id"] = json!("..");
    let (status, body) = session(dots).await;
    assert_eq!(status, 400);
    assert_eq!(body["message"], "Invalid object key");
    let resp = app
        .call("POST", "/assets/upload-sessions")
        .json(&req)
        .response()
        .await;
    let (status, body) = json(resp).await;
    assert_eq!(status, 401);
    assert_eq!(body, sample_body("asset upload session without token"));

    // Finalize and download-url before the bytes exist.
    let (status, body) = docs
        .admin("POST", &format!("/assets/{asset_id}/finalize"), None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(body, sample_body("asset finalize before the object exists"));
    let (status, body) = docs
        .admin("GET", &format!("/assets/{asset_id}/download-url"), None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(body, sample_body("asset download-url before finalize"));

    // The PUT needs no token; then finalize, download-url and a token-free GET.
    let (status, _, body) = spa_put(
        app,
        d["upload_url"].as_str().unwrap(),
        "application/pdf",
        PDF.to_vec(),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(body.is_empty());
    let (status, body) = docs
        .admin("POST", &format!("/assets/{asset_id}/finalize"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_like(
        &body["data"],
        &sample_body("asset finalize")["data"],
        &["object_key"],
    );
    assert_eq!(body["data"]["object_key"], key);
    let (status, body) = docs
        .admin("GET", &format!("/assets/{asset_id}/download-url"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    crate::helpers::assert_same_keys(&body["data"], &sample_body("asset download-url")["data"]);
    let url = body["data"]["download_url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with(
            "http://localhost:8000/api/v1/assets/local-content?key=orgs%2Fsole-llc%2Fusers%2F"
        ),
        "{url}"
    );
    // Download URLs keep the legacy formula (§8.3): hex HMAC-SHA256 of `<key>:<expires>`
    // keyed with SECRET_KEY, computed here independently of the server's code.
    let q: std::collections::HashMap<String, String> = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(q["key"], key);
    let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(
        b"test-secret-key-0123456789abcdef0123456789",
    )
    .unwrap();
    hmac::Mac::update(
        &mut mac,
        format!("{}:{}", q["key"], q["expires"]).as_bytes(),
    );
    assert_eq!(
        q["signature"],
        hex::encode(hmac::Mac::finalize(mac).into_bytes())
    );
    let resp = plain_get(app, &url).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    assert_eq!(resp.headers()["content-length"], "60");
    assert!(resp.headers().get("content-disposition").is_none());
    assert_eq!(resp.bytes().await.unwrap().as_ref(), PDF);
    // A download URL does not allow an upload, and a tampered one is refused.
    assert_eq!(
        spa_put(app, &url, "application/pdf", DOCX.to_vec()).await.0,
        401
    );
    let resp = plain_get(app, &url.replace("signature=", "signature=0")).await;
    assert_eq!(resp.status(), 403);

    // Another org cannot finalize or sign for this asset.
    let b = org(app, "golden-docs-b").await;
    let (status, body) = app
        .call("GET", &format!("/assets/{asset_id}/download-url"))
        .session(&b.admin_s)
        .fetch()
        .await;
    assert_eq!(status, 404);
    assert_eq!(body, sample_body("asset download-url from another org"));
    let (status, body) = app
        .call("POST", &format!("/assets/{asset_id}/finalize"))
        .session(&b.admin_s)
        .fetch()
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["message"], "Asset not found");

    // An employee needs no permission (sample 77); the PNG is served as image/png.
    let emp_req = json!({"org_id": "sole-llc", "kind": "display_image_thumb", "owner_refs": {"user_id": docs.a.emp.user_id.to_string()},
        "filename": "me.PNG", "content_type": "image/png", "size_bytes": 25});
    let (status, body) = app
        .call("POST", "/assets/upload-sessions")
        .session(&docs.a.emp_s)
        .json(&emp_req)
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    let thumb = body["data"].clone();
    assert!(
        thumb["object_key"]
            .as_str()
            .unwrap()
            .ends_with("/thumb.PNG")
    );
    assert_eq!(
        spa_put(
            app,
            thumb["upload_url"].as_str().unwrap(),
            "image/png",
            PNG.to_vec()
        )
        .await
        .0,
        200
    );
    let thumb_id = thumb["asset_id"].as_str().unwrap();
    let (status, _) = app
        .call("POST", &format!("/assets/{thumb_id}/finalize"))
        .session(&docs.a.emp_s)
        .fetch()
        .await;
    assert_eq!(status, 200);
    let (_, body) = app
        .call("GET", &format!("/assets/{thumb_id}/download-url"))
        .session(&docs.a.emp_s)
        .fetch()
        .await;
    let resp = plain_get(app, body["data"]["download_url"].as_str().unwrap()).await;
    assert_eq!(resp.headers()["content-type"], "image/png");

    // Over the cap (sample 81) and a declared size over the cap.
    let mut big = b"%PDF-1.4\n".to_vec();
    big.resize(1_048_577, b'0');
    let (status, _, body) = spa_put(
        app,
        d["upload_url"].as_str().unwrap(),
        "application/pdf",
        big,
    )
    .await;
    assert_eq!(status, 413);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
        sample_body("local-content PUT over MAX_UPLOAD_SIZE_MB")
    );
    let mut huge = req.clone();
    huge["size_bytes"] = json!(2_000_000);
    assert_eq!(session(huge).await.0, 400);

    let created = audit_rows(app, "sole-llc", "asset.created").await;
    assert_eq!(created.len(), 2);
    let uploaded = audit_rows(app, "sole-llc", "asset.uploaded").await;
    assert_eq!(uploaded.len(), 2);
    assert_eq!(uploaded[0].2.as_ref().unwrap()["status"], "uploaded");
    assert_eq!(uploaded[0].2.as_ref().unwrap()["size_bytes"], 60);
}

#[tokio::test]
async fn legacy_shaped_local_urls_still_need_a_token_and_an_asset_row() {
    let docs = docs_app(&[]).await;
    let app = &docs.app;
    let secret = b"test-secret-key-0123456789abcdef0123456789";
    let key = "orgs/sole-llc/organization-templates/tpl-golden/original/Policy_v2.pdf";
    let expires = time::OffsetDateTime::now_utc().unix_timestamp() + 600;
    let sig = sole::storage::signing::read_signature(secret, key, expires);
    let url = sole::storage::signing::read_url(&app.address, key, expires, &sig);

    let put = |token: Option<&str>| {
        app.call("PUT", "")
            .url(&url)
            .header("Content-Type", "application/pdf")
            .header("X-Org-Id", "sole-llc")
            .body(PDF.to_vec())
            .maybe_token(token)
            .response()
    };
    assert_eq!(put(None).await.status(), 401);
    let (status, body) = json(put(Some(&docs.a.admin_s.access)).await).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["message"], "Asset not found");

    // Two sessions for the same org_template share one key (legacy: the PUT then answered 500).
    for _ in 0..2 {
        let (status, _) = docs
            .admin(
                "POST",
                "/assets/upload-sessions",
                Some(doc_sample("asset upload session org_template")["request"]["body"].clone()),
            )
            .await;
        assert_eq!(status, 200);
    }
    assert_eq!(put(Some(&docs.a.admin_s.access)).await.status(), 200);
    assert_eq!(std::fs::read(docs.file(key)).unwrap(), PDF);

    // Missing query parameters: 422 after the guard; a traversal key: 400.
    let resp = app
        .call("GET", "/assets/local-content?key=orgs%2Fsole-llc%2Fa.pdf")
        .response()
        .await;
    let (status, body) = json(resp).await;
    assert_eq!(status, 422, "{body}");
    let bad =
        "orgs/sole-llc/users/../loans/x/loan-documents/242eac0f-3596-46d5-bf6b-9d493a564124/a.pdf";
    let sig = sole::storage::signing::read_signature(secret, bad, expires);
    let resp = app
        .call("GET", "")
        .url(sole::storage::signing::read_url(
            &app.address,
            bad,
            expires,
            &sig,
        ))
        .response()
        .await;
    let (status, body) = json(resp).await;
    assert_eq!(status, 400);
    assert_eq!(body["message"], "Invalid object key");
    let missing = "orgs/sole-llc/users/u/a.pdf";
    let sig = sole::storage::signing::read_signature(secret, missing, expires);
    let resp = app
        .call("GET", "")
        .url(sole::storage::signing::read_url(
            &app.address,
            missing,
            expires,
            &sig,
        ))
        .response()
        .await;
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn a_gcs_server_without_a_bucket_answers_as_recorded() {
    let docs = docs_app(&[("STORAGE_PROVIDER", "gcs")]).await;
    let app = &docs.app;
    for name in [
        "gcs backend without GCS_BUCKET: upload-url",
        "gcs backend without GCS_BUCKET: create template with default provider",
        "gcs backend without GCS_BUCKET: asset upload session",
    ] {
        let s = doc_sample(name);
        let path = s["request"]["path"]
            .as_str()
            .unwrap()
            .trim_start_matches("/api/v1");
        let (status, body) = docs
            .admin("POST", path, Some(s["request"]["body"].clone()))
            .await;
        assert_eq!(status, s["response"]["status"], "{name}: {body}");
        assert_eq!(body, s["response"]["body"], "{name}");
    }
    let s = doc_sample("gcs backend: local-content GET answers 404 Not supported");
    let q = &s["request"]["query"];
    let url = sole::storage::signing::read_url(
        &app.address,
        q["key"].as_str().unwrap(),
        q["expires"].as_str().unwrap().parse().unwrap(),
        q["signature"].as_str().unwrap(),
    );
    let resp = app.call("GET", "").url(url).response().await;
    let (status, body) = json(resp).await;
    assert_eq!(status, 404);
    assert_eq!(body, s["response"]["body"]);

    // A template stored locally still streams from the local disk (sample 97).
    let key = "orgs/sole-llc/templates/unassigned/a853d75bd741413eb4385edf3c8cf57f.docx";
    std::fs::create_dir_all(docs.file(key).parent().unwrap()).unwrap();
    std::fs::write(docs.file(key), DOCX).unwrap();
    let id: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO org_document_templates (id, org_id, name, file_name, storage_path_or_url, storage_object_key, storage_provider) \
         VALUES (gen_random_uuid(), 'sole-llc', 'Offer', 'Offer Letter – ñ.docx', $1, $1, 'local') RETURNING id",
    )
    .bind(key)
    .fetch_one(&app.db)
    .await
    .unwrap();
    let resp = raw_get(
        app,
        &format!("/org/documents/templates/{id}/download"),
        &docs.a.admin_s,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let expected = doc_sample(
        "gcs backend: a template stored with provider local still streams from the local disk",
    )["response"]["headers"]
        .clone();
    assert_eq!(
        resp.headers()["content-disposition"].to_str().unwrap(),
        expected["content-disposition"].as_str().unwrap()
    );
    assert_eq!(resp.bytes().await.unwrap().as_ref(), DOCX);
}
