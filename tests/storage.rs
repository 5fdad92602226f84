//! The storage layer against real files (local backend) and a GCS emulator (fake-gcs-server,
//! installed from PyPI by `scripts/test`), plus an independent check of the V4 signatures.

// Helpers outside `#[test]` functions unwrap too, which `allow-unwrap-in-tests` does not cover.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{TryStreamExt, stream};
use object_store::gcp::{
    GcpCredential, GcpSigningCredential, GoogleCloudStorage, GoogleCloudStorageBuilder,
    ServiceAccountKey,
};
use object_store::{ClientOptions, StaticCredentialProvider};
use secrecy::SecretSlice;
use sole::config::{EnvMap, Settings};
use sole::domain::org::OrgId;
use sole::storage::content::MIB;
use sole::storage::signing::SignatureError;
use sole::storage::{
    Backend, GcsStore, LocalStore, ObjectKey, Provider, PutError, PutOptions, Storage,
    StorageError, StorageSettings, key,
};

const SECRET: &[u8] = b"test-secret-key-0123456789abcdef0123456789";
const PDF: &[u8] = b"%PDF-1.4\n%sole storage test\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";

fn secret() -> SecretSlice<u8> {
    SecretSlice::from(SECRET.to_vec())
}

fn org() -> OrgId {
    OrgId::parse("sole-llc").unwrap()
}

fn new_key() -> ObjectKey {
    key::template(&org(), None, ".pdf").unwrap()
}

fn local_store(dir: &Path) -> LocalStore {
    LocalStore::new(dir.join("uploads"), "http://localhost:8000/", secret())
}

fn body(chunks: Vec<&'static [u8]>) -> impl futures_util::Stream<Item = io::Result<Bytes>> + Send {
    stream::iter(chunks.into_iter().map(|c| Ok(Bytes::from_static(c))))
}

async fn read_all(backend: &Backend<'_>, key: &ObjectKey) -> Option<Vec<u8>> {
    let object = backend.get(key).await.unwrap()?;
    let chunks: Vec<Bytes> = object.stream.try_collect().await.unwrap();
    Some(chunks.concat())
}

/// Every file under `dir`, recursively (what a failed upload must not have added to).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn query(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Local backend

#[tokio::test]
async fn local_put_head_get_delete_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = local_store(dir.path());
    let backend = Backend::Local(&store);
    let key = new_key();

    assert_eq!(backend.head(&key).await.unwrap(), None);
    let written = backend
        .put_stream(
            &key,
            body(vec![&PDF[..5], &PDF[5..20], &PDF[20..]]),
            &PutOptions::new(MIB).sniff(".pdf"),
        )
        .await
        .unwrap();
    assert_eq!(written, PDF.len() as u64);

    // The file is where the key says, under the configured root.
    let on_disk = dir.path().join("uploads").join(key.as_str());
    assert_eq!(std::fs::read(&on_disk).unwrap(), PDF);
    let info = backend.head(&key).await.unwrap().unwrap();
    assert_eq!(info.size, PDF.len() as u64);
    assert!(info.last_modified.is_some());
    assert_eq!(read_all(&backend, &key).await.unwrap(), PDF);
    let (_, info) = store.open(&key).await.unwrap().unwrap();
    assert_eq!(info.size, PDF.len() as u64);

    backend.delete(&key).await.unwrap();
    assert!(!on_disk.exists());
    assert_eq!(backend.head(&key).await.unwrap(), None);
    assert!(backend.get(&key).await.unwrap().is_none());
    // Deleting what is gone is not an error (the legacy answered 500 on GCS).
    backend.delete(&key).await.unwrap();
}

#[tokio::test]
async fn failed_local_puts_leave_nothing_and_keep_the_previous_object() {
    let dir = tempfile::tempdir().unwrap();
    let store = local_store(dir.path());
    let backend = Backend::Local(&store);
    let root = dir.path().join("uploads");

    // Refused content: nothing appears, not even a temporary file.
    let key = new_key();
    let err = backend
        .put_stream(
            &key,
            body(vec![b"<html>not a pdf"]),
            &PutOptions::new(MIB).sniff(".pdf"),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "File content does not match the expected format for '.pdf'"
    );
    assert_eq!(backend.head(&key).await.unwrap(), None);
    assert_eq!(files_under(&root), Vec::<PathBuf>::new());

    // Over the cap after some bytes were already written.
    let err = backend
        .put_stream(
            &key,
            body(vec![PDF, PDF]),
            &PutOptions::new(PDF.len() as u64 + 1),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, PutError::TooLarge { max_bytes } if max_bytes == PDF.len() as u64 + 1));
    assert_eq!(
        err.content_error().unwrap().to_string(),
        "File exceeds maximum allowed size of 0 MB"
    );
    assert_eq!(files_under(&root), Vec::<PathBuf>::new());

    // The client goes away mid-body.
    let broken = stream::iter(vec![
        Ok(Bytes::from_static(PDF)),
        Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "client gone",
        )),
    ]);
    let err = backend
        .put_stream(&key, broken, &PutOptions::new(MIB))
        .await
        .unwrap_err();
    assert!(matches!(err, PutError::Body(_)), "{err:?}");
    assert!(err.content_error().is_none());
    assert_eq!(files_under(&root), Vec::<PathBuf>::new());

    // A failed replacement leaves the previous bytes intact; a good one replaces them.
    backend
        .put_stream(&key, body(vec![PDF]), &PutOptions::new(MIB))
        .await
        .unwrap();
    let err = backend
        .put_stream(
            &key,
            body(vec![b"%PDF-2.0 but far too long"]),
            &PutOptions::new(8),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, PutError::TooLarge { .. }));
    assert_eq!(read_all(&backend, &key).await.unwrap(), PDF);
    backend
        .put_stream(&key, body(vec![b"%PDF-2.0"]), &PutOptions::new(MIB))
        .await
        .unwrap();
    assert_eq!(read_all(&backend, &key).await.unwrap(), b"%PDF-2.0");
    assert_eq!(files_under(&root), vec![root.join(key.as_str())]);
}

#[tokio::test]
async fn a_file_at_the_size_limit_streams_to_disk_without_being_buffered() {
    const CHUNK: usize = 64 * 1024;
    let limit = 50 * MIB; // the default MAX_UPLOAD_SIZE_MB
    let dir = tempfile::tempdir().unwrap();
    let store = local_store(dir.path());
    let backend = Backend::Local(&store);
    let incoming = dir.path().join("uploads").join(".incoming");

    // A body of exactly `limit` bytes, made on the fly. Each time the store pulls a chunk, the
    // body checks how much already reached the temporary file on disk: everything but the
    // chunk whose write may still be in flight. A store that collected the body in memory
    // first would fail this on the second chunk.
    let yielded = Arc::new(AtomicU64::new(0));
    let max_lag = Arc::new(AtomicU64::new(0));
    let make_body = |total: u64| {
        let yielded = yielded.clone();
        let max_lag = max_lag.clone();
        let incoming = incoming.clone();
        stream::unfold(0u64, move |sent| {
            let yielded = yielded.clone();
            let max_lag = max_lag.clone();
            let incoming = incoming.clone();
            async move {
                if sent >= total {
                    return None;
                }
                let on_disk: u64 = std::fs::read_dir(&incoming)
                    .unwrap()
                    .flatten()
                    .map(|e| e.metadata().unwrap().len())
                    .sum();
                max_lag.fetch_max(sent - on_disk.min(sent), Ordering::SeqCst);
                let n = (total - sent).min(CHUNK as u64);
                let mut chunk = vec![b'x'; n as usize];
                if sent == 0 {
                    chunk[..4].copy_from_slice(b"%PDF");
                }
                yielded.fetch_add(n, Ordering::SeqCst);
                Some((Ok::<_, io::Error>(Bytes::from(chunk)), sent + n))
            }
        })
    };

    let key = new_key();
    let written = backend
        .put_stream(
            &key,
            make_body(limit),
            &PutOptions::new(limit).sniff(".pdf"),
        )
        .await
        .unwrap();
    assert_eq!(written, limit);
    assert_eq!(yielded.load(Ordering::SeqCst), limit);
    assert_eq!(backend.head(&key).await.unwrap().unwrap().size, limit);
    let lag = max_lag.load(Ordering::SeqCst);
    assert!(
        lag <= CHUNK as u64,
        "{lag} bytes were held back from disk while streaming (at most one {CHUNK}-byte chunk may be in flight)"
    );
    // And the process never held anything near the file: its peak resident set stays far
    // below the 50 MB it stored (about 8 MB measured, the same as a test storing 60 bytes).
    #[cfg(target_os = "linux")]
    {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let peak_kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        assert!(
            peak_kib * 1024 < limit / 2,
            "peak RSS {peak_kib} KiB while streaming a {limit}-byte file"
        );
    }

    // One byte more is refused the moment it arrives, and leaves nothing behind.
    let key2 = new_key();
    let err = backend
        .put_stream(
            &key2,
            make_body(limit + 1),
            &PutOptions::new(limit).sniff(".pdf"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, PutError::TooLarge { .. }));
    assert_eq!(
        err.content_error().unwrap().to_string(),
        "File exceeds maximum allowed size of 50 MB"
    );
    assert_eq!(backend.head(&key2).await.unwrap(), None);
    assert_eq!(files_under(&incoming), Vec::<PathBuf>::new());
}

#[tokio::test]
async fn local_signed_urls_round_trip_and_bind_what_they_promise() {
    let dir = tempfile::tempdir().unwrap();
    let store = local_store(dir.path());
    let backend = Backend::Local(&store);
    let key = new_key();
    let cap = 5 * MIB;

    let put = backend
        .presign_put(&key, "application/pdf", Duration::from_secs(900), cap)
        .await
        .unwrap();
    assert!(
        put.url
            .starts_with("http://localhost:8000/api/v1/assets/local-content?key=orgs%2Fsole-llc%2Ftemplates%2Funassigned%2F"),
        "{}",
        put.url
    );
    assert_eq!(
        put.headers,
        vec![("Content-Type".to_owned(), "application/pdf".to_owned())]
    );
    let q = query(&put.url);
    let names: Vec<String> = url::Url::parse(&put.url)
        .unwrap()
        .query_pairs()
        .map(|(k, _)| k.into_owned())
        .collect();
    assert_eq!(names, ["key", "expires", "signature", "max_bytes"]);
    let expires: i64 = q["expires"].parse().unwrap();
    assert_eq!(expires, put.expires_at);
    let now = sole::storage::local::unix_now();
    assert!((now + 899..=now + 900).contains(&expires));
    let max: u64 = q["max_bytes"].parse().unwrap();
    assert_eq!(max, cap);

    // The PUT the SPA sends: no token, the bound content type.
    let verify =
        |key: &str, ct: &str, max: u64, sig: &str| store.verify_upload(key, expires, max, ct, sig);
    assert_eq!(
        verify(&q["key"], "application/pdf", max, &q["signature"]),
        Ok(())
    );
    // Another content type, a raised cap, another object, or the URL used for a GET: refused.
    assert_eq!(
        verify(&q["key"], "text/html", max, &q["signature"]),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify(&q["key"], "application/pdf", max * 2, &q["signature"]),
        Err(SignatureError::Mismatch)
    );
    let other = new_key();
    assert_eq!(
        verify(other.as_str(), "application/pdf", max, &q["signature"]),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        store.verify_read(&q["key"], expires, &q["signature"]),
        Err(SignatureError::Mismatch)
    );

    // The verified key is parsed, its org derived from it, and the bytes streamed in.
    let parsed = ObjectKey::parse(&q["key"]).unwrap();
    assert_eq!(parsed, key);
    assert_eq!(parsed.org(), "sole-llc");
    backend
        .put_stream(&parsed, body(vec![PDF]), &PutOptions::new(max))
        .await
        .unwrap();

    // The download URL has the legacy shape, verifies for GET only, and expires.
    let get = backend
        .presign_get(&key, Duration::from_secs(900))
        .await
        .unwrap();
    let g = query(&get);
    assert_eq!(g.len(), 3);
    let g_expires: i64 = g["expires"].parse().unwrap();
    assert_eq!(
        store.verify_read(&g["key"], g_expires, &g["signature"]),
        Ok(())
    );
    assert_eq!(
        store.verify_upload(
            &g["key"],
            g_expires,
            max,
            "application/pdf",
            &g["signature"]
        ),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        store.verify_read(&g["key"], g_expires + 1, &g["signature"]),
        Err(SignatureError::Mismatch)
    );

    // URLs minted in the past are expired, however well signed.
    let old_put = store.presign_put_at(
        &key,
        "application/pdf",
        Duration::from_secs(900),
        cap,
        now - 901,
    );
    let o = query(&old_put.url);
    assert_eq!(
        store.verify_upload(
            &o["key"],
            o["expires"].parse().unwrap(),
            cap,
            "application/pdf",
            &o["signature"]
        ),
        Err(SignatureError::Expired)
    );
    let old_get = store.presign_get_at(&key, Duration::from_secs(10), now - 11);
    let o = query(&old_get);
    assert_eq!(
        store.verify_read(&o["key"], o["expires"].parse().unwrap(), &o["signature"]),
        Err(SignatureError::Expired)
    );
}

#[cfg(unix)]
#[tokio::test]
async fn local_paths_never_leave_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let store = local_store(dir.path());
    let backend = Backend::Local(&store);
    let root = store.root().await.unwrap().to_owned();

    // The recorded traversal and its relatives cannot even become keys.
    for raw in [
        "orgs/sole-llc/../golden-docs-b/templates/unassigned/a.pdf",
        "/etc/passwd",
        "orgs/sole-llc/..\\..\\x.pdf",
        "orgs/sole-llc//x.pdf",
    ] {
        assert!(ObjectKey::parse(raw).is_err(), "{raw}");
    }

    // A symlink planted under the root does not lead out of it, for any operation.
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.pdf"), b"%PDF other org").unwrap();
    std::fs::create_dir_all(root.join("orgs/sole-llc")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("orgs/sole-llc/evil")).unwrap();
    let key = ObjectKey::parse("orgs/sole-llc/evil/secret.pdf").unwrap();

    assert!(backend.head(&key).await.is_err());
    assert!(backend.get(&key).await.is_err());
    assert!(backend.delete(&key).await.is_err());
    let err = backend
        .put_stream(&key, body(vec![PDF]), &PutOptions::new(MIB))
        .await
        .unwrap_err();
    assert!(
        matches!(err, PutError::Io(ref e) if e.kind() == io::ErrorKind::PermissionDenied),
        "{err:?}"
    );
    assert_eq!(
        std::fs::read(outside.join("secret.pdf")).unwrap(),
        b"%PDF other org"
    );
    assert_eq!(files_under(&root.join(".incoming")), Vec::<PathBuf>::new());
}

// ---------------------------------------------------------------------------------------------
// Configuration and routing

fn settings(pairs: &[(&str, &str)]) -> Settings {
    let mut env = EnvMap::from_pairs([("SECRET_KEY", std::str::from_utf8(SECRET).unwrap())]);
    env.overlay(EnvMap::from_pairs(pairs.iter().map(|(k, v)| (*k, *v))));
    Settings::from_env(&env).unwrap()
}

#[tokio::test]
async fn the_local_root_is_made_on_first_use_only() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("not-yet");
    let s = settings(&[("LOCAL_UPLOAD_DIR", root.to_str().unwrap())]);
    let storage = Storage::from_settings(&s).unwrap();
    assert!(
        !root.exists(),
        "building the service must not touch the disk"
    );
    let backend = storage.default_backend().unwrap();
    assert_eq!(backend.provider(), Provider::Local);
    assert_eq!(backend.bucket(), "local");
    let key = new_key();
    backend
        .put_stream(
            &key,
            body(vec![PDF]),
            &PutOptions::new(storage.max_upload_bytes()),
        )
        .await
        .unwrap();
    assert_eq!(std::fs::read(root.join(key.as_str())).unwrap(), PDF);
    assert_eq!(
        storage.upload_ttl(Provider::Local),
        Duration::from_secs(900)
    );
    assert_eq!(storage.download_ttl(), Duration::from_secs(900));
}

#[test]
fn rows_are_served_by_the_backend_they_name() {
    let dir = tempfile::tempdir().unwrap();
    let local = StorageSettings {
        local_upload_dir: dir.path().to_owned(),
        ..StorageSettings::default()
    };

    // A local server with no bucket: local rows are served, gcs rows cannot be.
    let storage = Storage::with_parts(local.clone(), secret(), None);
    assert!(matches!(
        storage.backend_for(None, None),
        Ok(Backend::Local(_))
    ));
    assert!(matches!(
        storage.backend_for(Some("local"), Some("local")),
        Ok(Backend::Local(_))
    ));
    assert!(matches!(
        storage.backend_for(Some("gcs"), Some("b")),
        Err(StorageError::NotConfigured)
    ));

    // `gcs` without a bucket: new keys cannot be minted (the legacy 400), local rows still read.
    let mut gcs_no_bucket = local.clone();
    gcs_no_bucket.provider = Provider::Gcs;
    let storage = Storage::with_parts(gcs_no_bucket, secret(), None);
    let err = storage.default_backend().unwrap_err();
    assert_eq!(err.to_string(), "GCS bucket is not configured");
    assert!(matches!(
        storage.backend_for(Some("local"), None),
        Ok(Backend::Local(_))
    ));

    // With a bucket: gcs rows of that bucket (or none) go to GCS, another bucket is refused.
    let mut gcs = local.clone();
    gcs.provider = Provider::Gcs;
    gcs.gcs_bucket = Some("prod-bucket".into());
    let client = GcsStore::with_store(
        "prod-bucket",
        offline_gcs("prod-bucket", "http://127.0.0.1:9"),
        true,
    );
    let storage = Storage::with_parts(gcs.clone(), secret(), Some(Ok(client)));
    let backend = storage.default_backend().unwrap();
    assert_eq!(
        (backend.provider(), backend.bucket()),
        (Provider::Gcs, "prod-bucket")
    );
    assert!(matches!(
        storage.backend_for(Some("GCS"), None),
        Ok(Backend::Gcs(_))
    ));
    assert!(matches!(
        storage.backend_for(Some("gcs"), Some("prod-bucket")),
        Ok(Backend::Gcs(_))
    ));
    assert!(matches!(
        storage.backend_for(Some("gcs"), Some("someone-elses-bucket")),
        Err(StorageError::UnknownBucket(b)) if b == "someone-elses-bucket"
    ));
    assert!(matches!(
        storage.backend_for(Some("local"), Some("local")),
        Ok(Backend::Local(_))
    ));
    assert_eq!(storage.upload_ttl(Provider::Gcs), Duration::from_secs(900));

    // A client that could not be built fails each call, like the legacy's per-request 500.
    let storage = Storage::with_parts(gcs, secret(), Some(Err("no credentials".into())));
    assert!(matches!(
        storage.default_backend(),
        Err(StorageError::Unavailable(_))
    ));
}

#[test]
fn broken_gcs_credentials_fail_startup_in_production_only() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing-credentials.json");
    let base = [
        ("STORAGE_PROVIDER", "gcs"),
        ("GCS_BUCKET", "golden-bucket"),
        ("GOOGLE_APPLICATION_CREDENTIALS", missing.to_str().unwrap()),
    ];
    let storage = Storage::from_settings(&settings(&base)).unwrap();
    assert!(matches!(
        storage.default_backend(),
        Err(StorageError::Unavailable(_))
    ));

    let mut prod = base.to_vec();
    prod.push(("ENVIRONMENT", "production"));
    let err = Storage::from_settings(&settings(&prod)).unwrap_err();
    assert!(err.to_string().contains("golden-bucket"), "{err}");
}

#[test]
fn config_check_reports_storage_problems() {
    let (_, problems) = Settings::check(&EnvMap::from_pairs([
        ("ENVIRONMENT", "production"),
        ("STORAGE_PROVIDER", "gcs"),
        ("MAX_UPLOAD_SIZE_MB", "lots"),
    ]));
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        text.contains(&"GCS_BUCKET: is required when STORAGE_PROVIDER=gcs".to_owned()),
        "{text:?}"
    );
    assert!(
        text.iter().any(|p| p.starts_with("MAX_UPLOAD_SIZE_MB:")),
        "{text:?}"
    );
    let (_, problems) = Settings::check(&EnvMap::from_pairs([("STORAGE_PROVIDER", "s3")]));
    assert!(
        problems.iter().any(|p| p.var == "STORAGE_PROVIDER"),
        "{problems:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// GCS: V4 signatures, checked independently of object_store

const SIGNER_EMAIL: &str = "sole-test@sole-test.iam.gserviceaccount.com";

/// The throwaway RSA key pair of the shared test vectors (test-only key).
fn test_rsa_keys() -> (String, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/vectors/legacy-vectors.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    (
        v["jwt"]["private_key_pem"].as_str().unwrap().to_owned(),
        v["jwt"]["public_key_pem"].as_str().unwrap().to_owned(),
    )
}

/// A GCS client that signs locally with the test key and sends an empty bearer token, pointed
/// at `base_url` (an emulator; or nothing at all for signing-only tests).
fn offline_gcs(bucket: &str, base_url: &str) -> GoogleCloudStorage {
    let (private_pem, _) = test_rsa_keys();
    GoogleCloudStorageBuilder::new()
        .with_bucket_name(bucket)
        .with_base_url(base_url)
        .with_client_options(ClientOptions::new().with_allow_http(true))
        .with_credentials(Arc::new(StaticCredentialProvider::new(GcpCredential {
            bearer: String::new(),
        })))
        .with_signing_credentials(Arc::new(StaticCredentialProvider::new(
            GcpSigningCredential {
                email: SIGNER_EMAIL.to_owned(),
                private_key: Some(ServiceAccountKey::from_pem(private_pem.as_bytes()).unwrap()),
            },
        )))
        .build()
        .unwrap()
}

/// RFC 3986 encoding as Google's canonical requests want it (unreserved kept).
fn rfc3986(s: &str, keep_slash: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Rebuilds the canonical request of a V4 signed URL following Google's documentation
/// (<https://cloud.google.com/storage/docs/authentication/canonical-requests>) and checks the
/// RSA-SHA256 signature with the public key. Returns the query for further checks, or `Err` when
/// the signature does not cover this request.
fn verify_v4(
    url: &str,
    method: &str,
    bucket: &str,
    key: &ObjectKey,
    headers: &[(&str, &str)],
) -> Result<std::collections::BTreeMap<String, String>, String> {
    use sha2::Digest;
    let parsed = url::Url::parse(url).unwrap();
    let q: std::collections::BTreeMap<String, String> = parsed
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(q["X-Goog-Algorithm"], "GOOG4-RSA-SHA256");
    let date = &q["X-Goog-Date"];
    let day = date.split('T').next().unwrap();
    let scope = format!("{day}/auto/storage/goog4_request");
    assert_eq!(q["X-Goog-Credential"], format!("{SIGNER_EMAIL}/{scope}"));

    let path = format!("/{bucket}/{}", rfc3986(key.as_str(), true));
    assert_eq!(parsed.path(), path);
    let mut pairs: Vec<(String, String)> = q
        .iter()
        .filter(|(k, _)| *k != "X-Goog-Signature")
        .map(|(k, v)| (rfc3986(k, false), rfc3986(v, false)))
        .collect();
    pairs.sort();
    let canonical_query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut all_headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    all_headers.push(("host".into(), "storage.googleapis.com".into()));
    all_headers.sort();
    let canonical_headers: Vec<String> = all_headers
        .iter()
        .map(|(k, v)| format!("{k}:{v}\n"))
        .collect();
    let signed_headers: Vec<&str> = all_headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(q["X-Goog-SignedHeaders"], signed_headers.join(";"));
    let canonical_request = format!(
        "{method}\n{path}\n{}\n{}\n{}\nUNSIGNED-PAYLOAD",
        canonical_query.join("&"),
        canonical_headers.concat(),
        signed_headers.join(";")
    );
    let string_to_sign = format!(
        "GOOG4-RSA-SHA256\n{date}\n{scope}\n{}",
        hex::encode(sha2::Sha256::digest(canonical_request.as_bytes()))
    );
    let (_, public_pem) = test_rsa_keys();
    let public_der = pem::parse(public_pem).unwrap().into_contents();
    let signature = hex::decode(&q["X-Goog-Signature"]).unwrap();
    aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        &public_der,
    )
    .verify(string_to_sign.as_bytes(), &signature)
    .map_err(|_| format!("signature does not match:\n{canonical_request}"))?;
    Ok(q)
}

#[tokio::test]
async fn gcs_upload_urls_are_v4_and_bind_content_type_and_size() {
    let store = GcsStore::with_store(
        "prod-bucket",
        offline_gcs("prod-bucket", "https://storage.googleapis.com"),
        true,
    );
    let backend = Backend::Gcs(&store);
    let key = new_key();
    let put = backend
        .presign_put(&key, "application/pdf", Duration::from_secs(900), 50 * MIB)
        .await
        .unwrap();
    assert!(put.url.starts_with(&format!(
        "https://storage.googleapis.com/prod-bucket/{}?",
        key.as_str()
    )));
    assert_eq!(
        put.headers,
        vec![
            ("Content-Type".to_owned(), "application/pdf".to_owned()),
            (
                "x-goog-content-length-range".to_owned(),
                "0,52428800".to_owned()
            ),
        ]
    );
    let q = verify_v4(
        &put.url,
        "PUT",
        "prod-bucket",
        &key,
        &[
            ("content-type", "application/pdf"),
            ("x-goog-content-length-range", "0,52428800"),
        ],
    )
    .unwrap();
    assert_eq!(q["X-Goog-Expires"], "900");
    // A browser sending another type, or claiming a larger range, is not what was signed.
    for tampered in [
        [
            ("content-type", "text/html"),
            ("x-goog-content-length-range", "0,52428800"),
        ],
        [
            ("content-type", "application/pdf"),
            ("x-goog-content-length-range", "0,104857600"),
        ],
    ] {
        assert!(verify_v4(&put.url, "PUT", "prod-bucket", &key, &tampered).is_err());
    }
    assert!(
        verify_v4(
            &put.url,
            "GET",
            "prod-bucket",
            &key,
            &[
                ("content-type", "application/pdf"),
                ("x-goog-content-length-range", "0,52428800"),
            ],
        )
        .is_err()
    );

    // Without size binding only the content type is signed.
    let store = GcsStore::with_store(
        "prod-bucket",
        offline_gcs("prod-bucket", "https://storage.googleapis.com"),
        false,
    );
    let put = Backend::Gcs(&store)
        .presign_put(&key, "image/png", Duration::from_secs(600), 50 * MIB)
        .await
        .unwrap();
    assert_eq!(
        put.headers,
        vec![("Content-Type".to_owned(), "image/png".to_owned())]
    );
    let q = verify_v4(
        &put.url,
        "PUT",
        "prod-bucket",
        &key,
        &[("content-type", "image/png")],
    )
    .unwrap();
    assert_eq!(q["X-Goog-Expires"], "600");

    // Download URLs sign GET and the host only.
    let get = Backend::Gcs(&store)
        .presign_get(&key, Duration::from_secs(900))
        .await
        .unwrap();
    verify_v4(&get, "GET", "prod-bucket", &key, &[]).unwrap();

    // A content type that cannot be a header value is refused before signing.
    let err = Backend::Gcs(&store)
        .presign_put(
            &key,
            "text/plain\r\nx-evil: 1",
            Duration::from_secs(60),
            MIB,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::InvalidContentType));
}

// ---------------------------------------------------------------------------------------------
// GCS against the emulator

/// fake-gcs-server, from `SOLE_TEST_FAKE_GCS_SERVER` (set by `scripts/test`, which installs it
/// from PyPI) or `PATH`. Runs in memory on a free loopback port; killed on drop.
struct FakeGcs {
    child: std::process::Child,
    base_url: String,
}

impl Drop for FakeGcs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn fake_gcs_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("SOLE_TEST_FAKE_GCS_SERVER").map(PathBuf::from)
        && path.is_file()
    {
        return Some(path);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("fake-gcs-server"))
            .find(|p| p.is_file())
    })
}

/// Starts the emulator with `bucket`, or says why not: skipping is allowed only outside CI,
/// where `scripts/test` may not have been used.
async fn start_fake_gcs(bucket: &str) -> Option<FakeGcs> {
    use std::io::BufRead;
    let Some(binary) = fake_gcs_binary() else {
        let why = "fake-gcs-server not found (set SOLE_TEST_FAKE_GCS_SERVER or run scripts/test, which installs it)";
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("SKIPPED: {why}");
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let host = format!("127.0.0.1:{port}");
    let mut child = std::process::Command::new(binary)
        .args([
            "-scheme",
            "http",
            "-host",
            "127.0.0.1",
            "-port",
            &port.to_string(),
        ])
        // The XML API (what object_store speaks) is matched on this host.
        .args([
            "-public-host",
            &host,
            "-backend",
            "memory",
            "-log-level",
            "info",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for its own "server started" line, then keep draining its log.
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line.contains("server started at")
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(());
            }
        }
    });
    let fake = FakeGcs {
        child,
        base_url: format!("http://{host}"),
    };
    tokio::time::timeout(Duration::from_secs(30), rx)
        .await
        .expect("fake-gcs-server did not start within 30 s")
        .expect("fake-gcs-server exited before it started");
    let created = reqwest::Client::new()
        .post(format!("{}/storage/v1/b?project=sole-test", fake.base_url))
        .json(&serde_json::json!({ "name": bucket }))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success(), "{}", created.status());
    Some(fake)
}

#[tokio::test]
async fn gcs_signed_upload_head_download_and_delete_against_the_emulator() {
    let Some(fake) = start_fake_gcs("sole-test").await else {
        return;
    };
    let store = GcsStore::with_store("sole-test", offline_gcs("sole-test", &fake.base_url), true);
    let backend = Backend::Gcs(&store);
    let key = new_key();
    let http = reqwest::Client::new();

    assert_eq!(backend.head(&key).await.unwrap(), None);

    // The SPA's upload: PUT the bytes to the signed URL with exactly the returned headers.
    let put = backend
        .presign_put(&key, "application/pdf", Duration::from_secs(900), MIB)
        .await
        .unwrap();
    let mut request = http.put(&put.url).body(PDF.to_vec());
    for (name, value) in &put.headers {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());

    // Registration's existence check sees the real size.
    let info = backend.head(&key).await.unwrap().unwrap();
    assert_eq!(info.size, PDF.len() as u64);
    assert_eq!(read_all(&backend, &key).await.unwrap(), PDF);

    // The download URL serves the bytes.
    let url = backend
        .presign_get(&key, Duration::from_secs(900))
        .await
        .unwrap();
    let got = http.get(&url).send().await.unwrap();
    assert!(got.status().is_success(), "{}", got.status());
    assert_eq!(got.bytes().await.unwrap().as_ref(), PDF);

    backend.delete(&key).await.unwrap();
    assert_eq!(backend.head(&key).await.unwrap(), None);
    assert!(backend.get(&key).await.unwrap().is_none());
    // Deleting a missing object is not an error (the legacy answered 500).
    backend.delete(&key).await.unwrap();
}

#[tokio::test]
async fn refused_gcs_uploads_never_reach_the_bucket() {
    let Some(fake) = start_fake_gcs("sole-test").await else {
        return;
    };
    let store = GcsStore::with_store("sole-test", offline_gcs("sole-test", &fake.base_url), true);
    let backend = Backend::Gcs(&store);

    let key = new_key();
    let err = backend
        .put_stream(
            &key,
            body(vec![b"<html>", b"not a pdf"]),
            &PutOptions::new(MIB).sniff(".pdf"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, PutError::Content(_)), "{err:?}");
    let err = backend
        .put_stream(
            &key,
            body(vec![PDF, PDF]),
            &PutOptions::new(PDF.len() as u64),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, PutError::TooLarge { .. }), "{err:?}");
    let broken = stream::iter(vec![
        Ok(Bytes::from_static(PDF)),
        Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "client gone",
        )),
    ]);
    let err = backend
        .put_stream(&key, broken, &PutOptions::new(MIB))
        .await
        .unwrap_err();
    assert!(matches!(err, PutError::Body(_)), "{err:?}");
    assert_eq!(backend.head(&key).await.unwrap(), None);

    // Nothing at all was written to the bucket.
    let listing: serde_json::Value =
        reqwest::get(format!("{}/storage/v1/b/sole-test/o", fake.base_url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(
        listing["items"].as_array().map_or(0, Vec::len),
        0,
        "{listing}"
    );
}
