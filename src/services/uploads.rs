//! The storage side of every upload path, shared by the document library, the assets API and
//! the loan domain (stage documents, 83(b) elections, repayment evidence). No SQL here: these
//! functions decide keys, mint URLs and check stored objects through [`crate::storage`]; the
//! caller writes its rows in its own transaction.
//!
//! A signed-URL upload goes:
//! 1. [`mint_upload`] for a freshly built key (`storage::key::template`, `loan_document`, …):
//!    no row is written, the URL is bound to that object, its content type, the size cap and an
//!    expiry;
//! 2. the client PUTs the bytes (to GCS, or to `PUT /assets/local-content`);
//! 3. registration: [`resolve_target`] validates the key the client sends back (scoped to the
//!    org, no traversal, provider and bucket known), then [`stored_size`] checks the object
//!    really exists and returns its real size, which is what the row stores.

use uuid::Uuid;

use crate::domain::org::OrgId;
use crate::storage::content::{ContentError, MIB};
use crate::storage::key::{self, AssetKeyError, AssetKind, KeyError, ObjectKey};
use crate::storage::{Provider, Storage, StorageError};

/// A minted upload: what the `UploadUrl` and `UploadSession` responses carry.
#[derive(Clone, Debug)]
pub struct UploadTicket {
    pub url: String,
    /// `required_headers_or_fields`, in order (`Content-Type` first).
    pub required_headers: Vec<(String, String)>,
    pub provider: Provider,
    /// `local` on the local backend, else the bucket name.
    pub bucket: String,
    pub key: ObjectKey,
}

/// Mints an upload URL for `key` on the default backend (`STORAGE_PROVIDER`), bound to
/// `content_type` and the upload cap. Fails with [`StorageError::NotConfigured`] on `gcs`
/// without a bucket.
pub async fn mint_upload(
    storage: &Storage,
    key: ObjectKey,
    content_type: &str,
) -> Result<UploadTicket, StorageError> {
    let backend = storage.default_backend()?;
    let ttl = storage.upload_ttl(backend.provider());
    let put = backend
        .presign_put(&key, content_type, ttl, storage.max_upload_bytes())
        .await?;
    Ok(UploadTicket {
        url: put.url,
        required_headers: put.headers,
        provider: backend.provider(),
        bucket: backend.bucket().to_owned(),
        key,
    })
}

/// The declared size of an upload against the cap (`size_bytes` of the upload-URL and
/// upload-session requests; negative and absent sizes are left to the URL's own bound).
pub fn check_declared_size(storage: &Storage, size_bytes: Option<i64>) -> Result<(), ContentError> {
    match size_bytes.and_then(|s| u64::try_from(s).ok()) {
        Some(size) => crate::storage::content::check_size(size, storage.max_upload_bytes()),
        None => Ok(()),
    }
}

/// An upload session's key and id (§5.12). `refs` looks up `owner_refs`.
pub fn asset_key<'a>(
    org: &OrgId,
    kind: &str,
    filename: &str,
    refs: impl Fn(&str) -> Option<&'a str>,
) -> Result<(Uuid, AssetKind, ObjectKey), AssetKeyError> {
    let kind = AssetKind::parse(kind)?;
    let asset_id = Uuid::new_v4();
    let key = key::asset(org, kind, asset_id, filename, refs)?;
    Ok((asset_id, kind, key))
}

/// Where a registered object lives, as the row will store it.
#[derive(Clone, Debug)]
pub struct Target {
    pub key: ObjectKey,
    pub provider: Provider,
    /// The bucket to store: the one sent, else `GCS_BUCKET` (null when neither).
    pub bucket: Option<String>,
}

/// Why a registration was refused. `code()` and the texts are the legacy ones where the legacy
/// had the check (§5.8).
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// `invalid_storage_key`: a URL, another org's key, or a key that could step out of its
    /// place (`..`, `\`, empty segments…).
    #[error(transparent)]
    Key(KeyError),
    /// `invalid_storage_key`: the key is not one the server mints for this kind of upload.
    #[error("storage_key was not issued for this upload")]
    WrongKind,
    #[error("storage_provider must be 'local' or 'gcs'")]
    UnknownProvider,
    #[error("storage_bucket is required for GCS uploads")]
    MissingBucket,
    /// The object was never uploaded (the legacy registered it anyway, §12 quirk 11).
    #[error("Uploaded file not found in storage")]
    ObjectMissing,
    #[error("File exceeds maximum allowed size of {} MB", .max_bytes / MIB)]
    TooLarge { max_bytes: u64 },
    #[error(transparent)]
    Storage(StorageError),
}

impl RegisterError {
    /// The envelope `code` of the 400.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Key(_) | Self::WrongKind => "invalid_storage_key",
            Self::UnknownProvider => "invalid_storage_provider",
            Self::MissingBucket => "missing_storage_bucket",
            Self::ObjectMissing => "storage_object_missing",
            Self::TooLarge { .. } => "file_too_large",
            Self::Storage(_) => "storage_error",
        }
    }
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

/// The legacy checks 2–4 of §5.8, with the key parsed instead of prefix-matched: a URL, then
/// the `orgs/<org>/` scope, then the segment rules (`orgs/<org>/../<other>/…` fails here), then
/// the provider (the one sent, else `STORAGE_PROVIDER`) and the bucket (the one sent, else
/// `GCS_BUCKET`; `gcs` needs one).
pub fn resolve_target(
    storage: &Storage,
    org: &str,
    raw_key: &str,
    provider: Option<&str>,
    bucket: Option<&str>,
) -> Result<Target, RegisterError> {
    let key = ObjectKey::parse_for_org(raw_key, org).map_err(RegisterError::Key)?;
    let provider = match non_empty(provider) {
        None => storage.default_provider(),
        Some(p) if p.trim().eq_ignore_ascii_case("local") => Provider::Local,
        Some(p) if p.trim().eq_ignore_ascii_case("gcs") => Provider::Gcs,
        Some(_) => return Err(RegisterError::UnknownProvider),
    };
    let bucket = non_empty(bucket)
        .map(str::to_owned)
        .or_else(|| storage.settings().gcs_bucket.clone());
    if provider == Provider::Gcs && bucket.is_none() {
        return Err(RegisterError::MissingBucket);
    }
    Ok(Target {
        key,
        provider,
        bucket,
    })
}

/// The real size of the registered object on the backend the row will name, refused when it
/// is missing or over the upload cap.
pub async fn stored_size(storage: &Storage, target: &Target) -> Result<u64, RegisterError> {
    let backend = storage
        .backend_for(Some(target.provider.as_str()), target.bucket.as_deref())
        .map_err(RegisterError::Storage)?;
    let info = backend
        .head(&target.key)
        .await
        .map_err(RegisterError::Storage)?
        .ok_or(RegisterError::ObjectMissing)?;
    let max_bytes = storage.max_upload_bytes();
    if info.size > max_bytes {
        return Err(RegisterError::TooLarge { max_bytes });
    }
    Ok(info.size)
}

/// Deletes an object after its row is gone (or was never written), logging a failure instead
/// of failing the request: the row is what users see, so an object left behind is only wasted
/// space (§12 quirk 10).
pub async fn delete_best_effort(
    storage: &Storage,
    provider: Option<&str>,
    bucket: Option<&str>,
    raw_key: &str,
) {
    let key = match ObjectKey::parse(raw_key) {
        Ok(k) => k,
        Err(e) => {
            tracing::warn!(key = raw_key, error = %e, "not deleting an object with an invalid key");
            return;
        }
    };
    let result = match storage.backend_for(provider, bucket) {
        Ok(backend) => backend.delete(&key).await,
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        tracing::warn!(key = raw_key, error = %e, "could not delete a stored object; it is left behind");
    }
}
