//! The local filesystem backend (development, tests, single-host deployments): files live at
//! `<LOCAL_UPLOAD_DIR>/<object key>`, and URLs point at the API's own `local-content` routes.
//!
//! The root is created and canonicalised once, on first use (so a server whose default is GCS
//! never touches a local directory it may not be allowed to create). Keys are [`ObjectKey`]s, already free of `..`,
//! `\`, absolute paths and empty segments; on top of that every path is checked to resolve
//! inside the root, so a symlink planted under the root cannot lead out of it.
//!
//! Writes stream into a temporary file under `<root>/.incoming/` (a name no key can take, as
//! every key starts with `orgs/`) and are renamed into place only once complete, so a failed or
//! refused upload never leaves a half-written object, and a reader never sees one.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use futures_util::{Stream, StreamExt};
use secrecy::{ExposeSecret, SecretSlice};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use super::content::{SNIFF_BYTES, check_magic};
use super::key::ObjectKey;
use super::signing::{self, SignatureError};
use super::{BoxError, ObjectInfo, PresignedPut, PutError, PutOptions};

/// Where uploads are written before they are renamed into place.
const INCOMING_DIR: &str = ".incoming";

/// Temporary files older than this are leftovers of a crash and are removed at startup.
const STALE_INCOMING: Duration = Duration::from_secs(24 * 3600);

pub struct LocalStore {
    /// `LOCAL_UPLOAD_DIR` as configured.
    configured_root: PathBuf,
    /// The canonical root, set on first use.
    root: tokio::sync::OnceCell<PathBuf>,
    base_url: String,
    secret: SecretSlice<u8>,
}

impl std::fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStore")
            .field("root", &self.configured_root)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// The current Unix time in whole seconds, as the legacy `int(time.time())`.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn expiry(now: i64, ttl: Duration) -> i64 {
    now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX))
}

impl LocalStore {
    /// `root` is `LOCAL_UPLOAD_DIR`, `base_url` `PUBLIC_BASE_URL` (a trailing `/` is dropped),
    /// `secret` the bytes of `SECRET_KEY`. Touches nothing on disk.
    pub fn new(root: PathBuf, base_url: &str, secret: SecretSlice<u8>) -> Self {
        Self {
            configured_root: root,
            root: tokio::sync::OnceCell::new(),
            base_url: base_url.trim_end_matches('/').to_owned(),
            secret,
        }
    }

    /// The canonical root: created (with its incoming directory) and canonicalised on first
    /// use, then reused. A failure is retried on the next call.
    pub async fn root(&self) -> io::Result<&Path> {
        let root = self
            .root
            .get_or_try_init(|| async {
                let configured = self.configured_root.clone();
                tokio::task::spawn_blocking(move || -> io::Result<PathBuf> {
                    std::fs::create_dir_all(&configured)?;
                    let root = std::fs::canonicalize(&configured)?;
                    let incoming = root.join(INCOMING_DIR);
                    std::fs::create_dir_all(&incoming)?;
                    remove_stale(&incoming);
                    Ok(root)
                })
                .await
                .map_err(io::Error::other)?
            })
            .await?;
        Ok(root.as_path())
    }

    fn secret(&self) -> &[u8] {
        self.secret.expose_secret()
    }

    /// The file of `key`. The key is already safe, so joining cannot climb; the canonical
    /// check against symlinks is done where the file is opened or its directory created.
    async fn path_of(&self, key: &ObjectKey) -> io::Result<PathBuf> {
        Ok(self.root().await?.join(key.as_str()))
    }

    /// Canonicalises an existing path and checks it is under the root.
    async fn contained(&self, path: &Path) -> io::Result<PathBuf> {
        let root = self.root().await?;
        let resolved = tokio::fs::canonicalize(path).await?;
        if resolved.starts_with(root) {
            Ok(resolved)
        } else {
            Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "object path leaves the storage root",
            ))
        }
    }

    /// The resolved file of an existing object, `None` when there is none.
    async fn existing(&self, key: &ObjectKey) -> io::Result<Option<PathBuf>> {
        match self.contained(&self.path_of(key).await?).await {
            Ok(p) => Ok(Some(p)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    // -----------------------------------------------------------------------------------------
    // URLs

    /// An upload URL bound to `PUT`, this key, this content type, `max_bytes` and `now + ttl`.
    pub fn presign_put_at(
        &self,
        key: &ObjectKey,
        content_type: &str,
        ttl: Duration,
        max_bytes: u64,
        now: i64,
    ) -> PresignedPut {
        let expires = expiry(now, ttl);
        let signature = signing::upload_signature(
            self.secret(),
            key.as_str(),
            expires,
            max_bytes,
            content_type,
        );
        PresignedPut {
            url: signing::upload_url(&self.base_url, key.as_str(), expires, &signature, max_bytes),
            headers: vec![("Content-Type".to_owned(), content_type.to_owned())],
            expires_at: expires,
        }
    }

    pub fn presign_put(
        &self,
        key: &ObjectKey,
        content_type: &str,
        ttl: Duration,
        max_bytes: u64,
    ) -> PresignedPut {
        self.presign_put_at(key, content_type, ttl, max_bytes, unix_now())
    }

    /// A read URL in the legacy shape and formula, valid until `now + ttl`.
    pub fn presign_get_at(&self, key: &ObjectKey, ttl: Duration, now: i64) -> String {
        let expires = expiry(now, ttl);
        let signature = signing::read_signature(self.secret(), key.as_str(), expires);
        signing::read_url(&self.base_url, key.as_str(), expires, &signature)
    }

    pub fn presign_get(&self, key: &ObjectKey, ttl: Duration) -> String {
        self.presign_get_at(key, ttl, unix_now())
    }

    /// Checks the query of a `GET /assets/local-content` (legacy URLs included). `key` is the
    /// decoded query value, checked as signed, before it is parsed. Upload URLs minted by the
    /// legacy service carry this same formula (and needed a token and an `assets` row there);
    /// a route that still honours them must demand both, as they bind nothing else.
    pub fn verify_read(
        &self,
        key: &str,
        expires: i64,
        signature: &str,
    ) -> Result<(), SignatureError> {
        signing::verify_read(self.secret(), key, expires, signature, unix_now())
    }

    /// Checks the query of a `PUT /assets/local-content` minted by [`Self::presign_put`]
    /// against the request's `Content-Type`.
    pub fn verify_upload(
        &self,
        key: &str,
        expires: i64,
        max_bytes: u64,
        content_type: &str,
        signature: &str,
    ) -> Result<(), SignatureError> {
        signing::verify_upload(
            self.secret(),
            key,
            expires,
            max_bytes,
            content_type,
            signature,
            unix_now(),
        )
    }

    // -----------------------------------------------------------------------------------------
    // Objects

    /// Whether the object exists, and its size and modification time.
    pub async fn head(&self, key: &ObjectKey) -> io::Result<Option<ObjectInfo>> {
        let Some(path) = self.existing(key).await? else {
            return Ok(None);
        };
        let meta = tokio::fs::metadata(&path).await?;
        if !meta.is_file() {
            return Ok(None);
        }
        Ok(Some(ObjectInfo {
            size: meta.len(),
            last_modified: meta.modified().ok(),
        }))
    }

    /// Opens the object for streaming (`tokio_util::io::ReaderStream`) or range reads.
    pub async fn open(&self, key: &ObjectKey) -> io::Result<Option<(tokio::fs::File, ObjectInfo)>> {
        let Some(path) = self.existing(key).await? else {
            return Ok(None);
        };
        let file = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let meta = file.metadata().await?;
        if !meta.is_file() {
            return Ok(None);
        }
        let info = ObjectInfo {
            size: meta.len(),
            last_modified: meta.modified().ok(),
        };
        Ok(Some((file, info)))
    }

    /// Deletes the object; a missing object is not an error.
    pub async fn delete(&self, key: &ObjectKey) -> io::Result<()> {
        let Some(path) = self.existing(key).await? else {
            return Ok(());
        };
        match tokio::fs::remove_file(&path).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Streams `body` into the object, enforcing `opts` as it goes: the size cap the moment it
    /// is passed, and the magic bytes once the first [`SNIFF_BYTES`] have arrived. Memory use is
    /// one chunk of the body, whatever the file size. The object appears (or is replaced)
    /// atomically when everything succeeded; on any error nothing is left behind.
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
        let root = self.root().await.map_err(PutError::Io)?;
        let temp = TempFile::new(
            root.join(INCOMING_DIR)
                .join(format!("{}.part", Uuid::new_v4().simple())),
        );
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(temp.path())
            .await
            .map_err(PutError::Io)?;
        let written = write_body(&mut file, body, opts).await?;
        file.flush().await.map_err(PutError::Io)?;
        file.sync_all().await.map_err(PutError::Io)?;
        drop(file);

        let dest = root.join(key.as_str());
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(PutError::Io)?;
            self.contained(parent).await.map_err(PutError::Io)?;
        }
        tokio::fs::rename(temp.path(), &dest)
            .await
            .map_err(PutError::Io)?;
        temp.keep();
        Ok(written)
    }
}

/// Copies `body` into `file` chunk by chunk, with the checks of `opts`.
async fn write_body<S, E>(
    file: &mut tokio::fs::File,
    body: S,
    opts: &PutOptions,
) -> Result<u64, PutError>
where
    S: Stream<Item = Result<bytes::Bytes, E>> + Send,
    E: Into<BoxError>,
{
    let mut sniff = Sniffer::new(opts.sniff_extension.as_deref());
    let mut written: u64 = 0;
    let mut body = std::pin::pin!(body);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| PutError::Body(e.into()))?;
        written = written.saturating_add(chunk.len() as u64);
        if written > opts.max_bytes {
            return Err(PutError::TooLarge {
                max_bytes: opts.max_bytes,
            });
        }
        sniff.feed(&chunk)?;
        file.write_all(&chunk).await.map_err(PutError::Io)?;
    }
    sniff.finish()?;
    Ok(written)
}

/// Collects the first [`SNIFF_BYTES`] of a body and checks them once, however the body is
/// chunked.
pub(crate) struct Sniffer<'a> {
    ext: Option<&'a str>,
    head: Vec<u8>,
    done: bool,
}

impl<'a> Sniffer<'a> {
    pub(crate) fn new(ext: Option<&'a str>) -> Self {
        Self {
            ext,
            head: Vec::new(),
            done: ext.is_none(),
        }
    }

    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Result<(), PutError> {
        if self.done {
            return Ok(());
        }
        let take = (SNIFF_BYTES - self.head.len()).min(chunk.len());
        self.head
            .extend_from_slice(chunk.get(..take).unwrap_or_default());
        if self.head.len() >= SNIFF_BYTES {
            self.check()?;
        }
        Ok(())
    }

    pub(crate) fn finish(&mut self) -> Result<(), PutError> {
        if self.done { Ok(()) } else { self.check() }
    }

    fn check(&mut self) -> Result<(), PutError> {
        self.done = true;
        match self.ext {
            Some(ext) => check_magic(ext, &self.head).map_err(PutError::Content),
            None => Ok(()),
        }
    }
}

/// A temporary file removed on drop unless kept (renamed into place).
struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl TempFile {
    fn new(path: PathBuf) -> Self {
        Self { path, keep: false }
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            // Runs on error paths and when the request future is dropped (client gone); a
            // leftover from a crash is swept at the next startup.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Removes incoming files left by a crash. Recent ones may belong to another process sharing
/// the directory, so only old ones go.
fn remove_stale(incoming: &Path) {
    let Ok(entries) = std::fs::read_dir(incoming) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age > STALE_INCOMING);
        if old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
