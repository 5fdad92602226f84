//! Object storage for org documents, assets and loan files (contract `domain-documents.md`
//! §2, §7, §8, §14): the local filesystem (development, tests) and Google Cloud Storage.
//!
//! - [`Storage`] is built once at startup from the settings and shared as `Arc<Storage>`.
//!   `STORAGE_PROVIDER` picks the backend of **new** keys ([`Storage::default_backend`]);
//!   a stored row is always served by the backend it names ([`Storage::backend_for`], §12
//!   quirk 9), so download and delete agree.
//! - [`Backend`] is one backend with the operations of §14: presigned upload and download URLs,
//!   `head`, `delete`, streamed `put_stream` and `get`.
//! - [`key`] builds and parses object keys, [`content`] holds the upload rules and the download
//!   headers, [`signing`] the local signed URLs, [`config`] the settings group.
//!
//! Nothing here knows about HTTP: routes map [`StorageError`], [`PutError`] and the key and
//! content errors to their status codes and texts.

pub mod config;
pub mod content;
pub mod gcs;
pub mod key;
pub mod local;
pub mod signing;

use std::io;
use std::time::{Duration, SystemTime};

use futures_util::Stream;
use futures_util::stream::BoxStream;
use secrecy::{ExposeSecret, SecretSlice};

pub use config::{Provider, StorageSettings};
pub use gcs::GcsStore;
pub use key::{KeyError, KeyKind, ObjectKey};
pub use local::LocalStore;

use crate::config::Settings;
use content::ContentError;

/// Local upload URLs always lived 900 s in the legacy (`GCS_SIGNED_URL_EXPIRY_SECONDS` applies
/// to GCS upload URLs and to every download URL).
pub const LOCAL_UPLOAD_TTL: Duration = Duration::from_secs(900);

/// The bucket name reported for the local backend (`storage_bucket` / `assets.bucket`).
pub const LOCAL_BUCKET: &str = "local";

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A presigned upload: the URL and the headers the uploader must send with it (returned to
/// clients as `required_headers_or_fields`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresignedPut {
    pub url: String,
    /// In order; `Content-Type` first.
    pub headers: Vec<(String, String)>,
    /// Unix seconds after which the URL is refused.
    pub expires_at: i64,
}

/// What `head` knows about a stored object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    pub last_modified: Option<SystemTime>,
}

/// A stored object being read.
pub struct ObjectBody {
    pub info: ObjectInfo,
    pub stream: BoxStream<'static, io::Result<bytes::Bytes>>,
}

/// Limits and checks applied while an upload streams in.
#[derive(Clone, Debug)]
pub struct PutOptions {
    /// The body is refused as soon as it passes this many bytes (equal is allowed).
    pub max_bytes: u64,
    /// When set (e.g. `.pdf`), the first bytes must match that extension's signature
    /// ([`content::check_magic`]).
    pub sniff_extension: Option<String>,
    /// Stored with the object where the backend keeps one (GCS).
    pub content_type: Option<String>,
}

impl PutOptions {
    pub fn new(max_bytes: u64) -> Self {
        Self {
            max_bytes,
            sniff_extension: None,
            content_type: None,
        }
    }

    pub fn sniff(mut self, ext: impl Into<String>) -> Self {
        self.sniff_extension = Some(ext.into());
        self
    }

    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }
}

/// Failures of the storage layer itself.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// `gcs` wanted and no bucket configured: the legacy 400 text (`storage_not_configured`
    /// on #7, a string detail on #12).
    #[error("GCS bucket is not configured")]
    NotConfigured,
    /// A row names a bucket this server has no client for (and will not sign for).
    #[error("storage bucket {0:?} is not served by this deployment")]
    UnknownBucket(String),
    /// The GCS client could not be built (credentials): every call fails, as the legacy 500.
    #[error("storage backend unavailable: {0}")]
    Unavailable(String),
    /// A content type that cannot be a header value.
    #[error("content type is not a valid header value")]
    InvalidContentType,
    #[error("storage I/O error: {0}")]
    Io(#[from] io::Error),
    #[error("object store error: {0}")]
    ObjectStore(#[from] object_store::Error),
}

/// Why a streamed upload was not stored. Nothing is left behind in any case.
#[derive(Debug, thiserror::Error)]
pub enum PutError {
    /// Over [`PutOptions::max_bytes`].
    #[error("upload exceeds {max_bytes} bytes")]
    TooLarge { max_bytes: u64 },
    /// The first bytes do not match the extension.
    #[error(transparent)]
    Content(ContentError),
    /// The request body failed (client disconnected, malformed multipart): a client error.
    #[error("upload body failed: {0}")]
    Body(BoxError),
    /// The local disk failed: a server error.
    #[error("storage I/O error: {0}")]
    Io(io::Error),
    /// The remote store failed: a server error.
    #[error(transparent)]
    Storage(StorageError),
}

impl PutError {
    /// The client-facing rule the upload broke, with its legacy text (`File exceeds maximum
    /// allowed size of <N> MB`, `File content does not match …`); `None` for transport and
    /// server failures.
    pub fn content_error(&self) -> Option<ContentError> {
        match self {
            Self::TooLarge { max_bytes } => Some(ContentError::TooLarge {
                max_mb: max_bytes / content::MIB,
            }),
            Self::Content(e) => Some(e.clone()),
            Self::Body(_) | Self::Io(_) | Self::Storage(_) => None,
        }
    }
}

/// One backend, resolved for new keys or for a stored row.
#[derive(Clone, Copy, Debug)]
pub enum Backend<'a> {
    Local(&'a LocalStore),
    Gcs(&'a GcsStore),
}

impl Backend<'_> {
    pub fn provider(&self) -> Provider {
        match self {
            Self::Local(_) => Provider::Local,
            Self::Gcs(_) => Provider::Gcs,
        }
    }

    /// `local` for the local backend, else the bucket name: the `storage_bucket` to store.
    pub fn bucket(&self) -> &str {
        match self {
            Self::Local(_) => LOCAL_BUCKET,
            Self::Gcs(g) => g.bucket(),
        }
    }

    /// An upload URL for `key`, bound to `content_type`, `max_bytes` (local always; GCS when
    /// `GCS_SIGNED_URL_BIND_SIZE`) and `ttl`.
    pub async fn presign_put(
        &self,
        key: &ObjectKey,
        content_type: &str,
        ttl: Duration,
        max_bytes: u64,
    ) -> Result<PresignedPut, StorageError> {
        match self {
            Self::Local(l) => Ok(l.presign_put(key, content_type, ttl, max_bytes)),
            Self::Gcs(g) => g.presign_put(key, content_type, ttl, max_bytes).await,
        }
    }

    /// A download URL valid for `ttl`.
    pub async fn presign_get(
        &self,
        key: &ObjectKey,
        ttl: Duration,
    ) -> Result<String, StorageError> {
        match self {
            Self::Local(l) => Ok(l.presign_get(key, ttl)),
            Self::Gcs(g) => g.presign_get(key, ttl).await,
        }
    }

    /// Whether the object exists, with its real size.
    pub async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectInfo>, StorageError> {
        match self {
            Self::Local(l) => Ok(l.head(key).await?),
            Self::Gcs(g) => g.head(key).await,
        }
    }

    /// Deletes the object; a missing one is not an error.
    pub async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError> {
        match self {
            Self::Local(l) => Ok(l.delete(key).await?),
            Self::Gcs(g) => g.delete(key).await,
        }
    }

    /// Streams the object's bytes; `None` when it does not exist.
    pub async fn get(&self, key: &ObjectKey) -> Result<Option<ObjectBody>, StorageError> {
        match self {
            Self::Local(l) => {
                let Some((file, info)) = l.open(key).await? else {
                    return Ok(None);
                };
                let stream = tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024);
                Ok(Some(ObjectBody {
                    info,
                    stream: Box::pin(stream),
                }))
            }
            Self::Gcs(g) => g.get(key).await,
        }
    }

    /// Streams `body` into the object with the checks of `opts`, atomically.
    pub async fn put_stream<S, E>(
        &self,
        key: &ObjectKey,
        body: S,
        opts: &PutOptions,
    ) -> Result<u64, PutError>
    where
        S: Stream<Item = Result<bytes::Bytes, E>> + Send,
        E: Into<BoxError>,
    {
        match self {
            Self::Local(l) => l.put_stream(key, body, opts).await,
            Self::Gcs(g) => g.put_stream(key, body, opts).await,
        }
    }
}

/// The storage service: the local store (always there: rows stored locally stay readable
/// whatever the default) and the GCS client of `GCS_BUCKET` when one is configured.
pub struct Storage {
    settings: StorageSettings,
    local: LocalStore,
    /// `None` without `GCS_BUCKET`; `Err` when the client could not be built (reported per
    /// call, like the legacy, outside production).
    gcs: Option<Result<GcsStore, String>>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("default", &self.settings.provider)
            .field("local", &self.local)
            .field("gcs", &self.gcs)
            .finish()
    }
}

impl Storage {
    /// Builds the service at startup. Connects to nothing. A GCS client that cannot be built
    /// (a broken credentials file) fails startup in production; elsewhere it is logged and
    /// every GCS call fails with [`StorageError::Unavailable`].
    pub fn from_settings(settings: &Settings) -> Result<Self, StorageError> {
        let secret = settings
            .secret_key
            .as_ref()
            .map(|s| SecretSlice::from(s.expose_secret().as_bytes().to_vec()))
            .filter(|s| !s.expose_secret().is_empty())
            .ok_or_else(|| {
                StorageError::Unavailable("SECRET_KEY is required to sign storage URLs".into())
            })?;
        let s = &settings.storage;
        let gcs = s.gcs_bucket.as_deref().map(|bucket| {
            GcsStore::build(
                bucket,
                s.google_application_credentials.as_deref(),
                s.gcs_bind_upload_size,
            )
            .map_err(|e| e.to_string())
        });
        if let Some(Err(e)) = &gcs {
            if settings.environment.is_production() {
                return Err(StorageError::Unavailable(e.clone()));
            }
            tracing::error!(error = %e, "GCS storage is unavailable; GCS calls will fail");
        }
        Ok(Self::with_parts(s.clone(), secret, gcs))
    }

    /// Assembles the service from its parts (tests: a temporary root, an emulator client).
    pub fn with_parts(
        settings: StorageSettings,
        secret: SecretSlice<u8>,
        gcs: Option<Result<GcsStore, String>>,
    ) -> Self {
        let local = LocalStore::new(
            settings.local_upload_dir.clone(),
            &settings.public_base_url,
            secret,
        );
        Self {
            settings,
            local,
            gcs,
        }
    }

    pub fn settings(&self) -> &StorageSettings {
        &self.settings
    }

    /// The local store, for the `local-content` routes (which answer 404 `Not supported`
    /// unless [`Self::default_provider`] is local).
    pub fn local(&self) -> &LocalStore {
        &self.local
    }

    /// `STORAGE_PROVIDER`.
    pub fn default_provider(&self) -> Provider {
        self.settings.provider
    }

    /// `MAX_UPLOAD_SIZE_MB × 1 048 576`.
    pub fn max_upload_bytes(&self) -> u64 {
        self.settings.max_upload_bytes()
    }

    /// Lifetime of upload URLs: 900 s on local (legacy), `GCS_SIGNED_URL_EXPIRY_SECONDS` on GCS.
    pub fn upload_ttl(&self, provider: Provider) -> Duration {
        match provider {
            Provider::Local => LOCAL_UPLOAD_TTL,
            Provider::Gcs => self.settings.signed_url_expiry,
        }
    }

    /// Lifetime of download URLs on both backends: `GCS_SIGNED_URL_EXPIRY_SECONDS`.
    pub fn download_ttl(&self) -> Duration {
        self.settings.signed_url_expiry
    }

    fn gcs(&self) -> Result<&GcsStore, StorageError> {
        match &self.gcs {
            None => Err(StorageError::NotConfigured),
            Some(Err(e)) => Err(StorageError::Unavailable(e.clone())),
            Some(Ok(g)) => Ok(g),
        }
    }

    /// The backend of new keys (`STORAGE_PROVIDER`). On `gcs` without a bucket:
    /// [`StorageError::NotConfigured`].
    pub fn default_backend(&self) -> Result<Backend<'_>, StorageError> {
        match self.settings.provider {
            Provider::Local => Ok(Backend::Local(&self.local)),
            Provider::Gcs => self.gcs().map(Backend::Gcs),
        }
    }

    /// The backend of a stored row, from its own `storage_provider` and `storage_bucket`
    /// ([`Provider::of_row`]): GCS rows with no bucket mean `GCS_BUCKET`; a bucket other than
    /// the configured one is refused rather than signed for.
    pub fn backend_for(
        &self,
        provider: Option<&str>,
        bucket: Option<&str>,
    ) -> Result<Backend<'_>, StorageError> {
        match Provider::of_row(provider) {
            Provider::Local => Ok(Backend::Local(&self.local)),
            Provider::Gcs => {
                let gcs = self.gcs()?;
                match bucket.map(str::trim).filter(|b| !b.is_empty()) {
                    Some(b) if b != gcs.bucket() => Err(StorageError::UnknownBucket(b.to_owned())),
                    _ => Ok(Backend::Gcs(gcs)),
                }
            }
        }
    }
}
