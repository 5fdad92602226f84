//! The Google Cloud Storage backend, through `object_store` (contract §8.4, §14).
//!
//! One client per bucket, built once at startup. Credentials are resolved ADC-style by
//! `object_store`: an explicit `GOOGLE_APPLICATION_CREDENTIALS` file, else gcloud's
//! well-known file, else the metadata server (Cloud Run / GKE workload identity: a token from
//! `…/service-accounts/default/token`, URL signing through IAM `signBlob`). Nothing is
//! fetched while building; the first call does.
//!
//! Signed URLs are V4 (`GOOG4-RSA-SHA256`, the legacy used V2; the SPA treats them as opaque).
//! Upload URLs bind `Content-Type`, and the size cap through `x-goog-content-length-range`
//! when enabled, so GCS itself refuses another type or a larger body.

use std::path::Path as FsPath;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{Stream, StreamExt, TryStreamExt};
use object_store::gcp::{GoogleCloudStorage, GoogleCloudStorageBuilder};
use object_store::path::Path;
use object_store::signer::{HeaderName, HeaderValue, Method, SignedUrlOptions, Signer};
use object_store::{
    Attribute, Attributes, ObjectStore, ObjectStoreExt, PutMultipartOptions,
    PutOptions as OsPutOptions, PutPayload, WriteMultipart,
};

use super::key::ObjectKey;
use super::local::{Sniffer, unix_now};
use super::{BoxError, ObjectBody, ObjectInfo, PresignedPut, PutError, PutOptions, StorageError};

/// The header GCS checks a body's length against (`<min>,<max>`, inclusive).
pub const CONTENT_LENGTH_RANGE: &str = "x-goog-content-length-range";

/// Part size of streamed uploads: GCS's XML multipart minimum. Bodies up to this size go in one
/// request; larger ones are uploaded in parts of this size, at most [`PUT_CONCURRENCY`] at a
/// time, so memory stays bounded whatever the file size.
const PART_BYTES: usize = 5 * 1024 * 1024;
const PUT_CONCURRENCY: usize = 2;

pub struct GcsStore {
    bucket: String,
    store: Arc<GoogleCloudStorage>,
    bind_size: bool,
}

impl std::fmt::Debug for GcsStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GcsStore")
            .field("bucket", &self.bucket)
            .field("bind_size", &self.bind_size)
            .finish_non_exhaustive()
    }
}

fn path_of(key: &ObjectKey) -> Result<Path, StorageError> {
    // `ObjectKey` is stricter than `Path::parse`, so this keeps the key byte for byte as the
    // object name.
    Path::parse(key.as_str()).map_err(|e| StorageError::ObjectStore(e.into()))
}

fn not_found(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. })
}

impl GcsStore {
    /// Builds the production client: `bucket`, ADC credentials (see the module docs).
    pub fn build(
        bucket: &str,
        application_credentials: Option<&FsPath>,
        bind_size: bool,
    ) -> Result<Self, StorageError> {
        let mut builder = GoogleCloudStorageBuilder::new().with_bucket_name(bucket);
        if let Some(path) = application_credentials {
            builder = builder.with_application_credentials(path.to_string_lossy());
        }
        let store = builder.build().map_err(|e| {
            StorageError::Unavailable(format!(
                "cannot build the GCS client for bucket {bucket:?}: {e}"
            ))
        })?;
        Ok(Self::with_store(bucket, store, bind_size))
    }

    /// Wraps a client built elsewhere (an emulator in tests, custom credentials).
    pub fn with_store(bucket: &str, store: GoogleCloudStorage, bind_size: bool) -> Self {
        Self {
            bucket: bucket.to_owned(),
            store: Arc::new(store),
            bind_size,
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// A V4 `PUT` URL binding `Content-Type` and, when enabled, `0..=max_bytes`. The returned
    /// headers are exactly the signed ones the uploader must send.
    pub async fn presign_put(
        &self,
        key: &ObjectKey,
        content_type: &str,
        ttl: Duration,
        max_bytes: u64,
    ) -> Result<PresignedPut, StorageError> {
        let content_type_value = HeaderValue::from_str(content_type.trim())
            .map_err(|_| StorageError::InvalidContentType)?;
        let mut options =
            SignedUrlOptions::default().with_signed_header(http_content_type(), content_type_value);
        let mut headers = vec![("Content-Type".to_owned(), content_type.to_owned())];
        if self.bind_size {
            let range = format!("0,{max_bytes}");
            let value =
                HeaderValue::from_str(&range).map_err(|_| StorageError::InvalidContentType)?;
            options =
                options.with_signed_header(HeaderName::from_static(CONTENT_LENGTH_RANGE), value);
            headers.push((CONTENT_LENGTH_RANGE.to_owned(), range));
        }
        let url = self
            .store
            .signed_url_opts(Method::PUT, &path_of(key)?, ttl, &options)
            .await?;
        Ok(PresignedPut {
            url: url.to_string(),
            headers,
            expires_at: unix_now().saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
        })
    }

    /// A V4 `GET` URL.
    pub async fn presign_get(
        &self,
        key: &ObjectKey,
        ttl: Duration,
    ) -> Result<String, StorageError> {
        let url = self
            .store
            .signed_url(Method::GET, &path_of(key)?, ttl)
            .await?;
        Ok(url.to_string())
    }

    pub async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectInfo>, StorageError> {
        match self.store.head(&path_of(key)?).await {
            Ok(meta) => Ok(Some(ObjectInfo {
                size: meta.size,
                last_modified: Some(meta.last_modified.into()),
            })),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes the object; a missing object is not an error (the legacy answered 500).
    pub async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError> {
        match self.store.delete(&path_of(key)?).await {
            Err(e) if !not_found(&e) => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Streams the object (for proxying a download through the API).
    pub async fn get(&self, key: &ObjectKey) -> Result<Option<ObjectBody>, StorageError> {
        let result = match self.store.get(&path_of(key)?).await {
            Ok(r) => r,
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let info = ObjectInfo {
            size: result.meta.size,
            last_modified: Some(result.meta.last_modified.into()),
        };
        let stream = result.into_stream().map_err(std::io::Error::other).boxed();
        Ok(Some(ObjectBody { info, stream }))
    }

    /// Streams `body` into the object with the checks of `opts`. Small bodies go in one
    /// request; larger ones as a multipart upload that is aborted on any error, so no partial
    /// object ever becomes visible.
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
        let path = path_of(key).map_err(PutError::Storage)?;
        let mut attributes = Attributes::new();
        if let Some(ct) = &opts.content_type {
            attributes.insert(Attribute::ContentType, ct.clone().into());
        }
        let mut sniff = Sniffer::new(opts.sniff_extension.as_deref());
        let mut written: u64 = 0;
        let mut pending: Vec<bytes::Bytes> = Vec::new();
        let mut pending_len = 0usize;
        let mut upload: Option<WriteMultipart> = None;
        let mut body = std::pin::pin!(body);

        let outcome: Result<(), PutError> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| PutError::Body(e.into()))?;
                written = written.saturating_add(chunk.len() as u64);
                if written > opts.max_bytes {
                    return Err(PutError::TooLarge {
                        max_bytes: opts.max_bytes,
                    });
                }
                sniff.feed(&chunk)?;
                match upload.as_mut() {
                    Some(up) => {
                        up.wait_for_capacity(PUT_CONCURRENCY)
                            .await
                            .map_err(|e| PutError::Storage(e.into()))?;
                        up.put(chunk);
                    }
                    None => {
                        pending_len += chunk.len();
                        pending.push(chunk);
                        if pending_len > PART_BYTES {
                            let multipart = self
                                .store
                                .put_multipart_opts(
                                    &path,
                                    PutMultipartOptions {
                                        attributes: attributes.clone(),
                                        ..Default::default()
                                    },
                                )
                                .await
                                .map_err(|e| PutError::Storage(e.into()))?;
                            let mut up = WriteMultipart::new_with_chunk_size(multipart, PART_BYTES);
                            for c in pending.drain(..) {
                                up.put(c);
                            }
                            upload = Some(up);
                        }
                    }
                }
            }
            sniff.finish()?;
            Ok(())
        }
        .await;

        match (outcome, upload) {
            (Ok(()), Some(up)) => {
                up.finish().await.map_err(|e| PutError::Storage(e.into()))?;
            }
            (Ok(()), None) => {
                let payload: PutPayload = pending.into_iter().collect();
                self.store
                    .put_opts(
                        &path,
                        payload,
                        OsPutOptions {
                            attributes,
                            ..Default::default()
                        },
                    )
                    .await
                    .map_err(|e| PutError::Storage(e.into()))?;
            }
            (Err(e), Some(up)) => {
                if let Err(abort) = up.abort().await {
                    tracing::warn!(error = %abort, "could not abort a failed GCS multipart upload");
                }
                return Err(e);
            }
            (Err(e), None) => return Err(e),
        }
        Ok(written)
    }
}

fn http_content_type() -> HeaderName {
    HeaderName::from_static("content-type")
}
