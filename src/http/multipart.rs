//! Multipart uploads as the document library and the loan routes read them: a body no valid
//! upload can fill is refused before it is read, text parts are bounded, and the file part is
//! streamed into the active storage backend with the size cap and the content check, never
//! buffered whole.

use axum::extract::multipart::{Field, MultipartError};
use axum::http::{HeaderMap, header};

use crate::http::error::{ApiError, ApiResult};
use crate::http::files;
use crate::http::state::AppState;
use crate::storage::content;
use crate::storage::key::ObjectKey;
use crate::storage::{Provider, PutOptions};

/// The largest text part (the legacy parser's limit, and its message below).
pub const MAX_TEXT_PART_BYTES: usize = 1024 * 1024;

/// A declared body no valid upload of at most `max_parts` parts can fill is refused before a
/// byte of it is read, with the text of the streamed refusal (the cap is still enforced as the
/// bytes arrive when the length is not declared or is within bounds). The allowance beyond the
/// file is every other part at its largest, plus boundaries and part headers.
pub fn refuse_oversized(
    headers: &HeaderMap,
    max_file_bytes: u64,
    max_parts: usize,
) -> ApiResult<()> {
    let overhead = (max_parts as u64) * (MAX_TEXT_PART_BYTES as u64) + 64 * 1024;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > max_file_bytes.saturating_add(overhead) => {
            Err(files::content_error(content::ContentError::TooLarge {
                max_mb: max_file_bytes / content::MIB,
            }))
        }
        _ => Ok(()),
    }
}

/// A malformed body: the legacy text, the parser's detail only in the debug log.
pub fn parse_error(err: &MultipartError) -> ApiError {
    tracing::debug!(error = %err, "malformed multipart body");
    ApiError::bad_request("There was an error parsing the body")
}

/// A text part, at most [`MAX_TEXT_PART_BYTES`].
pub async fn read_text(mut field: Field<'_>) -> ApiResult<String> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| parse_error(&e))? {
        if buf.len() + chunk.len() > MAX_TEXT_PART_BYTES {
            return Err(ApiError::bad_request(
                "Part exceeded maximum size of 1024KB.",
            ));
        }
        buf.extend_from_slice(&chunk);
    }
    String::from_utf8(buf).map_err(|_| ApiError::bad_request("There was an error parsing the body"))
}

/// The file part as it was stored.
pub struct StoredFile {
    pub key: ObjectKey,
    pub provider: Provider,
    /// The legacy stored no bucket for local multipart uploads.
    pub bucket: Option<String>,
    pub file_name: String,
    pub content_type: Option<String>,
    pub size: u64,
}

/// Checks the file name's extension against `allowed`, mints the object key from the extension
/// (`what` names the key in the log when minting fails), then streams the part into the active
/// backend with the size cap and the magic-byte check of that extension.
pub async fn store_file<E: std::error::Error + 'static>(
    state: &AppState,
    field: Field<'_>,
    allowed: &'static [&'static str],
    what: &str,
    mint: impl FnOnce(&str) -> Result<ObjectKey, E>,
) -> ApiResult<StoredFile> {
    let file_name = content::file_name_or_fallback(field.file_name()).to_owned();
    let ext = content::extension(&file_name);
    content::check_extension(&ext, allowed).map_err(files::content_error)?;
    let content_type = field.content_type().map(str::to_owned);
    let key = mint(&ext).map_err(|e| ApiError::from_unexpected(what, &e))?;
    let backend = state
        .storage
        .default_backend()
        .map_err(files::storage_error)?;
    let mut opts = PutOptions::new(state.storage.max_upload_bytes()).sniff(ext);
    if let Some(ct) = &content_type {
        opts = opts.content_type(ct.clone());
    }
    let size = backend
        .put_stream(&key, field, &opts)
        .await
        .map_err(files::put_error)?;
    let provider = backend.provider();
    Ok(StoredFile {
        key,
        provider,
        bucket: (provider == Provider::Gcs).then(|| backend.bucket().to_owned()),
        file_name,
        content_type,
        size,
    })
}
