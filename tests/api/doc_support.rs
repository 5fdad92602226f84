//! Shared fixtures of the document and asset tests: an app with a temporary local store and a
//! 1 MB cap (as the recorded samples), the actors of the contract's scenarios, and raw calls
//! (signed-URL PUT/GET without a token, multipart uploads).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::fixtures::{MemberSpec, Org, Session, create_member, org};
use crate::helpers::{TestApp, json, sample, spawn_app_edit};

pub const SAMPLES: &str = "domain-documents.json";

/// The PDF the samples upload (60 bytes).
pub const PDF: &[u8] = b"%PDF-1.4\n%golden sample\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";
/// A 25-byte PNG header, as the samples' `logo.PNG`.
pub const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x00\x00\x00\x00\x00\x00";
/// A 20-byte "docx" (zip signature), as the samples' `Offer Letter – ñ.docx`.
pub const DOCX: &[u8] = b"PK\x03\x04golden-docx-body";

pub fn doc_sample(name: &str) -> Value {
    sample(SAMPLES, name)
}

pub fn sample_body(name: &str) -> Value {
    doc_sample(name)["response"]["body"].clone()
}

pub struct Docs {
    pub app: TestApp,
    pub dir: tempfile::TempDir,
    /// `sole-llc`: an ORG ADMIN (`admin_s`) and an EMPLOYEE (`emp_s`).
    pub a: Org,
    /// EMPLOYEE plus a custom role with only `org.document.view`.
    pub viewer: Session,
}

impl Docs {
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The stored object's file.
    pub fn file(&self, key: &str) -> PathBuf {
        self.dir.path().join(key)
    }

    /// Every regular file under the store (the incoming directory included).
    pub fn files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.push(p);
                }
            }
        }
        let mut out = Vec::new();
        walk(self.dir.path(), &mut out);
        out.sort();
        out
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        s: &Session,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.app
            .call(method, path)
            .session(s)
            .maybe_json(body)
            .fetch()
            .await
    }

    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call(method, path, &self.a.admin_s, body).await
    }
}

/// The app with a fresh local store, `MAX_UPLOAD_SIZE_MB=1` and the default
/// `PUBLIC_BASE_URL` (`http://localhost:8000`, as in the samples; [`rebase`] points such URLs
/// at the test server), plus `extra` settings.
pub async fn docs_app(extra: &[(&str, &str)]) -> Docs {
    docs_app_edit(extra, |_| {}).await
}

/// [`docs_app`] with a change to the state before the router is built.
pub async fn docs_app_edit(
    extra: &[(&str, &str)],
    edit: impl FnOnce(&mut sole::http::AppState),
) -> Docs {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap().to_owned();
    let mut env: Vec<(&str, &str)> = vec![("LOCAL_UPLOAD_DIR", &root), ("MAX_UPLOAD_SIZE_MB", "1")];
    env.extend_from_slice(extra);
    let app = spawn_app_edit(&env, edit).await;
    let a = org(&app, "sole-llc").await;
    let (status, body) = app
        .call("POST", "/roles")
        .session(&a.admin_s)
        .json(&json!({"name": "docs viewer", "permissions": ["org.document.view"]}))
        .fetch()
        .await;
    assert_eq!(status, 201, "{body}");
    let viewer = create_member(
        &app,
        "sole-llc",
        MemberSpec::new("viewer@sole-llc.example.com").roles(&["EMPLOYEE", "Docs Viewer"]),
    )
    .await;
    let viewer = app.sign_in(&viewer).await;
    Docs {
        app,
        dir,
        a,
        viewer,
    }
}

/// A URL the API returned, pointed at the test server.
pub fn rebase(app: &TestApp, url: &str) -> String {
    url.replacen("http://localhost:8000", &app.address, 1)
}

/// A PUT as the SPA sends it: no token, no `X-Org-Id`, only `Content-Type`.
pub async fn spa_put(
    app: &TestApp,
    url: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let resp = app
        .call("PUT", "")
        .url(rebase(app, url))
        .header("Content-Type", content_type)
        .body(bytes)
        .response()
        .await;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.bytes().await.unwrap().to_vec())
}

/// A plain GET of a returned URL, without a token.
pub async fn plain_get(app: &TestApp, url: &str) -> reqwest::Response {
    app.call("GET", "").url(rebase(app, url)).response().await
}

/// A GET with the session's token and org, returning the raw response.
pub async fn raw_get(app: &TestApp, path: &str, s: &Session) -> reqwest::Response {
    app.call("GET", path)
        .token(&s.access)
        .header("X-Org-Id", &s.org_id)
        .response()
        .await
}

/// One file part plus text fields.
pub struct Upload<'a> {
    pub file_name: &'a str,
    pub content_type: Option<&'a str>,
    pub bytes: Vec<u8>,
    pub fields: Vec<(&'a str, &'a str)>,
}

impl<'a> Upload<'a> {
    pub fn new(file_name: &'a str, content_type: Option<&'a str>, bytes: &[u8]) -> Self {
        Self {
            file_name,
            content_type,
            bytes: bytes.to_vec(),
            fields: Vec::new(),
        }
    }

    pub fn field(mut self, name: &'a str, value: &'a str) -> Self {
        self.fields.push((name, value));
        self
    }
}

/// `POST /org/documents/templates/upload` with the text fields first, then the file.
pub async fn upload(app: &TestApp, s: &Session, up: Upload<'_>) -> (u16, Value) {
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in &up.fields {
        form = form.text(k.to_string(), v.to_string());
    }
    let mut part = reqwest::multipart::Part::bytes(up.bytes).file_name(up.file_name.to_owned());
    if let Some(ct) = up.content_type {
        part = part.mime_str(ct).unwrap();
    }
    form = form.part("file", part);
    let resp = app
        .call("POST", "/org/documents/templates/upload")
        .token(&s.access)
        .header("X-Org-Id", &s.org_id)
        .multipart(form)
        .response()
        .await;
    json(resp).await
}

/// Asserts `actual` equals the sample's `data`, ignoring ids, timestamps, keys and URLs (their
/// formats are asserted by the callers).
pub fn assert_like(actual: &Value, expected: &Value, ignore: &[&str]) {
    crate::helpers::assert_same_keys(actual, expected);
    for (k, v) in expected.as_object().unwrap() {
        if ["id", "created_at", "updated_at"].contains(&k.as_str()) || ignore.contains(&k.as_str())
        {
            continue;
        }
        assert_eq!(&actual[k], v, "{k}: {actual}");
    }
}

/// The audit rows of `action` in `org`.
pub async fn audit_rows(
    app: &TestApp,
    org: &str,
    action: &str,
) -> Vec<(String, Option<Value>, Option<Value>)> {
    sqlx::query_as::<_, (String, Option<sqlx::types::Json<Value>>, Option<sqlx::types::Json<Value>>)>(
        "SELECT resource_id, old_value, new_value FROM audit_logs WHERE org_id = $1 AND action = $2 ORDER BY created_at",
    )
    .bind(org)
    .bind(action)
    .fetch_all(&app.db)
    .await
    .unwrap()
    .into_iter()
    .map(|(id, o, n)| (id, o.map(|j| j.0), n.map(|j| j.0)))
    .collect()
}

/// Upload URL → PUT as the SPA → register: the new template's `data`.
pub async fn spa_upload(
    docs: &Docs,
    folder_id: Option<&str>,
    file_name: &str,
    content_type: &str,
    bytes: &[u8],
) -> Value {
    let mut req =
        json!({"file_name": file_name, "content_type": content_type, "size_bytes": bytes.len()});
    if let Some(f) = folder_id {
        req["folder_id"] = json!(f);
    }
    let (status, body) = docs
        .admin("POST", "/org/documents/templates/upload-url", Some(req))
        .await;
    assert_eq!(status, 200, "{body}");
    let d = body["data"].clone();
    let (status, _, _) = spa_put(
        &docs.app,
        d["upload_url"].as_str().unwrap(),
        content_type,
        bytes.to_vec(),
    )
    .await;
    assert_eq!(status, 200);
    let mut reg = json!({
        "file_name": d["file_name"], "storage_key": d["storage_key"],
        "storage_provider": d["storage_provider"], "storage_bucket": d["storage_bucket"],
        "content_type": content_type, "size_bytes": bytes.len(),
    });
    if let Some(f) = folder_id {
        reg["folder_id"] = json!(f);
    }
    let (status, body) = docs
        .admin("POST", "/org/documents/templates", Some(reg))
        .await;
    assert_eq!(status, 201, "{body}");
    body["data"].clone()
}
