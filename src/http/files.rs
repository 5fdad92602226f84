//! Stored files over HTTP: the mapping of storage and registration errors to the envelope, and
//! the streamed download responses (contract `domain-documents.md` §5.10, §5.16). Shared by the
//! document library, the assets API and the loan document downloads.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::http::error::{ApiError, ApiResult};
use crate::services::uploads::{RegisterError, UploadTicket};
use crate::storage::content::{self, ContentError};
use crate::storage::key::ObjectKey;
use crate::storage::{ObjectBody, ObjectInfo, PutError, Storage, StorageError};

/// 400 `storage_not_configured` (the coded form of #7 and the loan upload-URL routes) for a
/// missing bucket; the other storage failures as [`storage_error`].
pub fn upload_url_error(err: StorageError) -> ApiError {
    match err {
        StorageError::NotConfigured => ApiError::coded(
            StatusCode::BAD_REQUEST,
            "storage_not_configured",
            "GCS bucket is not configured",
            json!({}),
        ),
        other => storage_error(other),
    }
}

/// A storage failure: configuration problems are 400s a client can read, backend failures a
/// 503 (never the legacy 500), logged with their cause.
pub fn storage_error(err: StorageError) -> ApiError {
    match err {
        StorageError::NotConfigured => ApiError::bad_request("GCS bucket is not configured"),
        StorageError::UnknownBucket(_) => ApiError::coded(
            StatusCode::BAD_REQUEST,
            "invalid_storage_bucket",
            "storage_bucket is not served by this deployment",
            json!({}),
        ),
        StorageError::InvalidContentType => ApiError::coded(
            StatusCode::BAD_REQUEST,
            "invalid_content_type",
            "content_type is not a valid header value",
            json!({}),
        ),
        other => {
            tracing::error!(error = %other, "storage backend failed");
            ApiError::coded(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                "Storage is temporarily unavailable",
                json!({}),
            )
            .with_header(header::RETRY_AFTER, HeaderValue::from_static("5"))
        }
    }
}

/// A refused registration: 400 with the error's code and text, details `{}` (as the legacy
/// `invalid_storage_key` / `missing_storage_bucket`).
pub fn register_error(err: RegisterError) -> ApiError {
    match err {
        RegisterError::Storage(e) => storage_error(e),
        other => ApiError::coded(
            StatusCode::BAD_REQUEST,
            other.code(),
            other.to_string(),
            json!({}),
        ),
    }
}

/// The legacy string-detail 400 of an upload rule (`File type not allowed…`, `File content
/// does not match…`, `File exceeds maximum allowed size…`).
pub fn content_error(err: ContentError) -> ApiError {
    ApiError::bad_request(err.to_string())
}

/// A refused or failed streamed upload: the rule broken (400, legacy texts), a broken body
/// (400), or the backend (503).
pub fn put_error(err: PutError) -> ApiError {
    if let Some(rule) = err.content_error() {
        return content_error(rule);
    }
    match err {
        PutError::Body(e) => {
            tracing::debug!(error = %e, "upload body failed");
            ApiError::bad_request("There was an error parsing the body")
        }
        PutError::Storage(e) => storage_error(e),
        PutError::Io(e) => storage_error(StorageError::Io(e)),
        PutError::TooLarge { .. } | PutError::Content(_) => ApiError::internal(),
    }
}

/// The headers as the `required_headers_or_fields` object, in order.
pub fn headers_object(headers: &[(String, String)]) -> Map<String, Value> {
    headers
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect()
}

/// The `UploadUrl` response of #7 and of the loan upload-URL routes.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UploadUrlOut {
    pub upload_url: String,
    #[schema(value_type = Object)]
    pub required_headers_or_fields: Map<String, Value>,
    pub storage_provider: String,
    pub storage_bucket: String,
    pub storage_key: String,
    pub file_name: String,
}

impl UploadUrlOut {
    /// The response for a minted upload; `file_name` is the basename of the name sent.
    pub fn new(ticket: UploadTicket, sent_file_name: &str) -> Self {
        Self {
            upload_url: ticket.url,
            required_headers_or_fields: headers_object(&ticket.required_headers),
            storage_provider: ticket.provider.as_str().to_owned(),
            storage_bucket: ticket.bucket,
            storage_key: ticket.key.into_string(),
            file_name: content::basename(sent_file_name)
                .unwrap_or(content::FALLBACK_FILE_NAME)
                .to_owned(),
        }
    }
}

/// The messages of one download route (templates and loan documents differ only in words).
#[derive(Clone, Copy, Debug)]
pub struct DownloadTexts {
    /// `document_not_local` (a row holding a URL instead of a key).
    pub external: &'static str,
    /// `invalid_document_path` (a key that could step out of its place).
    pub invalid_path: &'static str,
    /// `document_missing`.
    pub missing: &'static str,
    /// Whether `document_missing` carries `{storage_path_or_url}` (loan documents) or `{}`.
    pub missing_with_key: bool,
}

pub const TEMPLATE_TEXTS: DownloadTexts = DownloadTexts {
    external: "Template is stored externally",
    invalid_path: "Template path is invalid",
    missing: "Template file does not exist",
    missing_with_key: false,
};

/// The loan document downloads (`domain-documents.md` §7).
pub const LOAN_DOCUMENT_TEXTS: DownloadTexts = DownloadTexts {
    external: "Document is stored externally",
    invalid_path: "Document path is invalid",
    missing: "Document file does not exist",
    missing_with_key: true,
};

/// `Mon, 07 Dec 2026 00:34:09 GMT`.
pub fn http_date(t: SystemTime) -> String {
    let dt = time::OffsetDateTime::from(t);
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[usize::from(dt.weekday().number_days_from_monday())],
        dt.day(),
        MONTHS[usize::from(u8::from(dt.month())) - 1],
        dt.year(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

/// A validator of the stored object's version: a digest of its modification time and size
/// (the legacy hashed the same two with MD5).
fn etag(info: &ObjectInfo) -> String {
    let mtime = info
        .last_modified
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let digest = Sha256::digest(format!("{mtime}-{}", info.size).as_bytes());
    format!("\"{}\"", &hex::encode(digest)[..32])
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
}

/// A 200 streaming `body` with the length and validators of the object.
fn streamed(body: ObjectBody, content_type: &str, disposition: Option<String>) -> Response {
    let info = body.info;
    let mut resp = Response::new(Body::from_stream(body.stream));
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, header_value(content_type));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(info.size));
    if let Some(d) = disposition.and_then(|d| HeaderValue::from_str(&d).ok()) {
        headers.insert(header::CONTENT_DISPOSITION, d);
    }
    if let Some(t) = info.last_modified {
        headers.insert(header::LAST_MODIFIED, header_value(&http_date(t)));
    }
    headers.insert(header::ETAG, header_value(&etag(&info)));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    resp
}

/// Honours one `Range: bytes=…` on the file responses [`streamed`] builds (they advertise
/// `Accept-Ranges: bytes`), as the legacy's Starlette `FileResponse` did: 206 with
/// `Content-Range` and the slice. Several ranges, a malformed header or one past the end are
/// ignored and the whole file is sent, which HTTP allows.
pub async fn byte_ranges(req: Request, next: Next) -> Response {
    let range = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let resp = next.run(req).await;
    let Some(range) = range else {
        return resp;
    };
    if resp.status() != StatusCode::OK
        || resp.headers().get(header::ACCEPT_RANGES) != Some(&HeaderValue::from_static("bytes"))
    {
        return resp;
    }
    let size = resp
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let Some((start, end, size)) = size.and_then(|size| single_range(&range, size)) else {
        return resp;
    };
    let (mut parts, body) = resp.into_parts();
    parts.status = StatusCode::PARTIAL_CONTENT;
    parts.headers.insert(
        header::CONTENT_RANGE,
        header_value(&format!("bytes {start}-{end}/{size}")),
    );
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(end - start + 1));
    let (mut skip, mut keep) = (start, end - start + 1);
    let sliced = body.into_data_stream().map(move |chunk| {
        chunk.map(|mut bytes| {
            let dropped = usize::try_from(skip.min(bytes.len() as u64)).unwrap_or(0);
            skip -= dropped as u64;
            let mut bytes = bytes.split_off(dropped);
            let kept = usize::try_from(keep.min(bytes.len() as u64)).unwrap_or(0);
            keep -= kept as u64;
            bytes.truncate(kept);
            bytes
        })
    });
    Response::from_parts(parts, Body::from_stream(sliced))
}

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` within a file of `size` bytes: the inclusive bounds.
fn single_range(header: &str, size: u64) -> Option<(u64, u64, u64)> {
    let spec = header.trim().strip_prefix("bytes=")?.trim();
    if spec.contains(',') || size == 0 {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    let (start, end) = if first.is_empty() {
        let suffix: u64 = last.parse().ok()?;
        (size.checked_sub(suffix.min(size))?, size - 1)
    } else {
        let start: u64 = first.parse().ok()?;
        let end = if last.is_empty() {
            size - 1
        } else {
            last.parse::<u64>().ok()?.min(size - 1)
        };
        (start, end)
    };
    (start <= end && start < size).then_some((start, end, size))
}

/// Streams a stored document as an attachment named `file_name` from the backend its **row**
/// names (`storage_provider`, `storage_bucket`: §12 quirk 9). GCS rows are proxied through the
/// API rather than redirected, so the browser needs no bucket CORS and no credentialed
/// cross-origin redirect (§14).
pub async fn attachment(
    storage: &Storage,
    provider: Option<&str>,
    bucket: Option<&str>,
    raw_key: &str,
    file_name: &str,
    texts: &DownloadTexts,
) -> ApiResult<Response> {
    if raw_key.starts_with("http") {
        return Err(ApiError::coded(
            StatusCode::BAD_REQUEST,
            "document_not_local",
            texts.external,
            json!({"storage_path_or_url": raw_key}),
        ));
    }
    let key = ObjectKey::parse(raw_key).map_err(|_| {
        ApiError::coded(
            StatusCode::BAD_REQUEST,
            "invalid_document_path",
            texts.invalid_path,
            json!({}),
        )
    })?;
    let backend = storage
        .backend_for(provider, bucket)
        .map_err(storage_error)?;
    let Some(body) = backend.get(&key).await.map_err(storage_error)? else {
        let details = if texts.missing_with_key {
            json!({"storage_path_or_url": raw_key})
        } else {
            json!({})
        };
        return Err(ApiError::coded(
            StatusCode::NOT_FOUND,
            "document_missing",
            texts.missing,
            details,
        ));
    };
    Ok(streamed(
        body,
        "application/octet-stream",
        Some(content::content_disposition(file_name)),
    ))
}

/// The media type `GET /assets/local-content` serves a key with: guessed from the extension,
/// `text/plain` when unknown, `; charset=utf-8` on text types. Types a browser would run
/// (HTML, SVG, XML, scripts) are served as `application/octet-stream` instead, since the
/// bytes come from uploaders and the URL is on the API's origin.
pub fn inline_content_type(key: &ObjectKey) -> String {
    let ext = content::extension(key.as_str());
    if content::DANGEROUS_EXTENSIONS.contains(&ext.as_str()) {
        return "application/octet-stream".to_owned();
    }
    let mime = mime_guess::from_path(key.as_str()).first_or_text_plain();
    if mime.type_() == mime_guess::mime::TEXT {
        format!("{}; charset=utf-8", mime.essence_str())
    } else {
        mime.essence_str().to_owned()
    }
}

/// Streams a local-content object inline (no `Content-Disposition`, as the legacy).
pub fn inline(body: ObjectBody, key: &ObjectKey) -> Response {
    streamed(body, &inline_content_type(key), None)
}

/// 200 with an empty body and no content type (the local-content PUT's answer).
pub fn empty_ok() -> Response {
    StatusCode::OK.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_are_imf_fixdate() {
        let t = UNIX_EPOCH + std::time::Duration::from_secs(1_796_603_649);
        assert_eq!(http_date(t), "Mon, 07 Dec 2026 00:34:09 GMT");
    }

    #[test]
    fn single_byte_ranges_are_bounded_by_the_file() {
        assert_eq!(single_range("bytes=0-9", 60), Some((0, 9, 60)));
        assert_eq!(single_range("bytes=50-", 60), Some((50, 59, 60)));
        assert_eq!(single_range("bytes=-10", 60), Some((50, 59, 60)));
        assert_eq!(single_range("bytes=-100", 60), Some((0, 59, 60)));
        assert_eq!(single_range("bytes=10-1000", 60), Some((10, 59, 60)));
        for ignored in [
            "bytes=60-",
            "bytes=9-0",
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=x-",
        ] {
            assert_eq!(single_range(ignored, 60), None, "{ignored}");
        }
        assert_eq!(single_range("bytes=0-0", 0), None);
    }

    #[test]
    fn inline_types_follow_the_extension_and_never_run() {
        let k = |s: &str| ObjectKey::parse(s).unwrap();
        assert_eq!(inline_content_type(&k("orgs/a/x/thumb.PNG")), "image/png");
        assert_eq!(inline_content_type(&k("orgs/a/x/a.pdf")), "application/pdf");
        assert_eq!(
            inline_content_type(&k("orgs/a/x/a.weird")),
            "text/plain; charset=utf-8"
        );
        assert_eq!(
            inline_content_type(&k("orgs/a/x/a.html")),
            "application/octet-stream"
        );
        assert_eq!(
            inline_content_type(&k("orgs/a/x/a.svg")),
            "application/octet-stream"
        );
    }
}
