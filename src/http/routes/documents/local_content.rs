//! `PUT`/`GET /assets/local-content` (contract §5.15, §5.16): the byte store of the local
//! backend, which every local upload and download URL points at. Answers 404 `Not supported`
//! unless `STORAGE_PROVIDER=local`.
//!
//! **Uploads** (§12 quirk 1): a URL minted by `sole` carries `max_bytes` and a signature over
//! the method, the key, the expiry, the cap and the content type. That signature is the
//! capability: the PUT needs no token, no `X-Org-Id` and no pre-existing row (the SPA sends
//! none of them), and it can write exactly that object, with that `Content-Type`, no larger
//! than the cap, until it expires. A URL in the legacy shape (no `max_bytes`, the read formula,
//! which binds nothing but key and expiry) is honoured only as the legacy did: with a member
//! token of the org and an `assets` row for the key.
//!
//! **Downloads**: a read URL in the legacy shape and formula is a capability too (like a GCS
//! signed URL), valid until it expires.
//!
//! Writes are streamed into a temporary file and renamed into place only when complete (see
//! `storage::local`), so a refused or broken upload leaves nothing behind.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::error::{ApiError, ApiResult, FieldError};
use crate::http::files;
use crate::http::guard::{CurrentUser, Member};
use crate::http::state::AppState;
use crate::services::assets;
use crate::storage::content::{self, upload_too_large_message};
use crate::storage::key::{KeyKind, ObjectKey};
use crate::storage::{Backend, Provider, PutError, PutOptions};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(put_local_content, get_local_content))
}

#[derive(Debug, Default, Deserialize)]
struct RawSigned {
    key: Option<String>,
    expires: Option<String>,
    signature: Option<String>,
    max_bytes: Option<String>,
}

struct Signed {
    key: String,
    expires: i64,
    signature: String,
    max_bytes: Option<u64>,
}

fn missing(field: &str) -> FieldError {
    FieldError {
        kind: "missing",
        loc: vec![json!("query"), json!(field)],
        msg: "Field required".into(),
        input: Value::Null,
        ctx: None,
    }
}

fn not_int(field: &str, raw: &str) -> FieldError {
    FieldError {
        kind: "int_parsing",
        loc: vec![json!("query"), json!(field)],
        msg: "Input should be a valid integer, unable to parse string as an integer".into(),
        input: json!(raw),
        ctx: None,
    }
}

/// The signed query: `key`, `expires`, `signature` required (422 each), `max_bytes` on upload
/// URLs minted by `sole`.
fn signed_query(raw: Option<&str>) -> ApiResult<Signed> {
    let q: RawSigned = serde_urlencoded::from_str(raw.unwrap_or_default()).unwrap_or_default();
    let mut errors = Vec::new();
    if q.key.is_none() {
        errors.push(missing("key"));
    }
    let expires = match q.expires.as_deref() {
        None => {
            errors.push(missing("expires"));
            None
        }
        Some(e) => match e.trim().parse::<i64>() {
            Ok(v) => Some(v),
            Err(_) => {
                errors.push(not_int("expires", e));
                None
            }
        },
    };
    if q.signature.is_none() {
        errors.push(missing("signature"));
    }
    let max_bytes = match q.max_bytes.as_deref() {
        None => None,
        Some(m) => match m.trim().parse::<u64>() {
            Ok(v) => Some(v),
            Err(_) => {
                errors.push(not_int("max_bytes", m));
                None
            }
        },
    };
    match (q.key, expires, q.signature) {
        (Some(key), Some(expires), Some(signature)) if errors.is_empty() => Ok(Signed {
            key,
            expires,
            signature,
            max_bytes,
        }),
        _ => Err(ApiError::validation(errors)),
    }
}

fn not_supported() -> ApiError {
    ApiError::not_found("Not supported")
}

fn bad_signature() -> ApiError {
    ApiError::forbidden("Invalid or expired URL signature")
}

fn invalid_key() -> ApiError {
    ApiError::bad_request("Invalid object key")
}

fn too_large(max_bytes: u64) -> ApiError {
    ApiError::http(
        StatusCode::PAYLOAD_TOO_LARGE,
        upload_too_large_message(max_bytes),
    )
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Receives the bytes of a signed upload URL.
#[utoipa::path(put, path = "/assets/local-content", tag = "assets",
    params(("key" = String, Query, description = "Object key"), ("expires" = i64, Query, description = "Unix expiry"),
           ("signature" = String, Query, description = "URL signature"), ("max_bytes" = Option<u64>, Query, description = "Signed size cap")),
    responses((status = 200, description = "Stored (empty body)"),
              (status = 400, description = "Legacy URL without `max_bytes`: tenant resolution failed"),
              (status = 401, description = "Legacy URL without `max_bytes`: it needs the uploader's access token"),
              (status = 403, description = "Invalid or expired URL signature"),
              (status = 404, description = "Legacy URL: the key is not a pending upload of the org"),
              (status = 413, description = "Upload exceeds maximum size")))]
pub async fn put_local_content(
    State(state): State<AppState>,
    user: Result<CurrentUser<Member>, ApiError>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let storage = &state.storage;
    let signed = match signed_query(query.as_deref()) {
        Ok(s) if s.max_bytes.is_some() => s,
        // A legacy-shaped URL (or a broken query): the legacy order, guard first.
        other => {
            let user = user?;
            if storage.default_provider() != Provider::Local {
                return Err(not_supported());
            }
            let signed = other?;
            storage
                .local()
                .verify_read(&signed.key, signed.expires, &signed.signature)
                .map_err(|_| bad_signature())?;
            // A key no session can mint (`..`, empty segments) is bad input, whatever rows
            // exist: the recorded 400 "Invalid object key", not a 404 for a missing row.
            ObjectKey::parse(&signed.key).map_err(|_| invalid_key())?;
            let mut conn = state.db.acquire().await?;
            if !assets::key_exists(&mut conn, user.org_id.as_str(), &signed.key).await? {
                return Err(ApiError::not_found("Asset not found"));
            }
            signed
        }
    };
    if storage.default_provider() != Provider::Local {
        return Err(not_supported());
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let cap = match signed.max_bytes {
        Some(url_cap) => {
            storage
                .local()
                .verify_upload(
                    &signed.key,
                    signed.expires,
                    url_cap,
                    content_type,
                    &signed.signature,
                )
                .map_err(|_| bad_signature())?;
            url_cap.min(storage.max_upload_bytes())
        }
        None => storage.max_upload_bytes(),
    };
    let key = ObjectKey::parse(&signed.key).map_err(|_| invalid_key())?;
    if declared_length(&headers).is_some_and(|len| len > cap) {
        return Err(too_large(cap));
    }
    let mut opts = PutOptions::new(cap);
    // Template keys carry an allowed extension: check the bytes against it, as the multipart
    // upload does.
    if matches!(key.kind(), KeyKind::Template { .. }) {
        opts = opts.sniff(content::extension(key.as_str()));
    }
    if !content_type.is_empty() {
        opts = opts.content_type(content_type);
    }
    Backend::Local(storage.local())
        .put_stream(&key, body.into_data_stream(), &opts)
        .await
        .map_err(|e| match e {
            PutError::TooLarge { max_bytes } => too_large(max_bytes),
            other => files::put_error(other),
        })?;
    Ok(files::empty_ok())
}

/// Serves the bytes of a signed download URL, inline, with a type guessed from the key.
#[utoipa::path(get, path = "/assets/local-content", tag = "assets",
    params(("key" = String, Query, description = "Object key"), ("expires" = i64, Query, description = "Unix expiry"),
           ("signature" = String, Query, description = "URL signature")),
    responses((status = 200, description = "The file"), (status = 403, description = "Invalid or expired URL signature"),
              (status = 404, description = "Not Found / Not supported")))]
pub async fn get_local_content(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let storage = &state.storage;
    if storage.default_provider() != Provider::Local {
        return Err(not_supported());
    }
    let signed = signed_query(query.as_deref())?;
    storage
        .local()
        .verify_read(&signed.key, signed.expires, &signed.signature)
        .map_err(|_| bad_signature())?;
    let key = ObjectKey::parse(&signed.key).map_err(|_| invalid_key())?;
    let body = Backend::Local(storage.local())
        .get(&key)
        .await
        .map_err(files::storage_error)?
        .ok_or_else(|| ApiError::not_found("Not Found"))?;
    Ok(files::inline(body, &key))
}
