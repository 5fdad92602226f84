//! Signed URLs of the local backend (contract §8.3), as pure functions.
//!
//! **Read URLs** keep the legacy shape and formula exactly, so URLs minted by the legacy service
//! and by `sole` stay valid on both during a cut-over:
//! `<base>/api/v1/assets/local-content?key=<k>&expires=<unix>&signature=<hex>` with
//! `signature = hex(HMAC-SHA256(SECRET_KEY, "<key>:<expires>"))`.
//!
//! **Upload URLs** keep the same shape and add one parameter, `max_bytes`. Their signature is
//! an HMAC under a key derived from `SECRET_KEY` for this purpose only, over the method, the
//! key, the expiry, the size cap and the content type, so one URL allows exactly one `PUT` of
//! one object with one `Content-Type`, no larger than the cap, until it expires. It needs no
//! token and no database row: the signature is the capability (§12 quirk 1).
//!
//! The two never stand in for each other: a read URL's signature does not verify as an upload
//! (other key, other message) and an upload URL's signature does not verify as a read, so each
//! URL is good for one method. Signatures are compared in constant time; a URL is valid while
//! `now <= expires`.

use hmac::{KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = hmac::Hmac<Sha256>;

/// The path of the local byte store, under the API prefix.
pub const LOCAL_CONTENT_PATH: &str = "/api/v1/assets/local-content";

/// Purpose label of the upload-signing key (derived from `SECRET_KEY`, never equal to it).
const UPLOAD_KEY_LABEL: &[u8] = b"sole local-content upload url v1";

/// Why a signed URL was refused. Both variants answer the same 403 text, so a caller learns
/// nothing about which part was wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("Invalid or expired URL signature")]
    Expired,
    #[error("Invalid or expired URL signature")]
    Mismatch,
}

fn hmac_hex(key: &[u8], parts: &[&[u8]]) -> String {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    for part in parts {
        mac.update(part);
    }
    hex::encode(mac.finalize().into_bytes())
}

/// The legacy signature: lower-case hex of HMAC-SHA256 keyed with `SECRET_KEY` (its UTF-8
/// bytes) over `"<key>:<expires>"`.
pub fn read_signature(secret: &[u8], key: &str, expires: i64) -> String {
    hmac_hex(
        secret,
        &[key.as_bytes(), b":", expires.to_string().as_bytes()],
    )
}

/// The key upload URLs are signed with: HMAC-SHA256(SECRET_KEY, purpose label).
fn upload_key(secret: &[u8]) -> Vec<u8> {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(UPLOAD_KEY_LABEL);
    mac.finalize().into_bytes().to_vec()
}

/// The upload signature: hex of HMAC-SHA256 under [`upload_key`] over
/// `"PUT\n<key>\n<expires>\n<max_bytes>\n<content type>"`. Keys never contain a newline
/// (see `ObjectKey`), and the content type, which may, comes last, so the message is
/// unambiguous.
pub fn upload_signature(
    secret: &[u8],
    key: &str,
    expires: i64,
    max_bytes: u64,
    content_type: &str,
) -> String {
    let message = format!(
        "PUT\n{key}\n{expires}\n{max_bytes}\n{}",
        content_type.trim()
    );
    hmac_hex(&upload_key(secret), &[message.as_bytes()])
}

fn same(expected: &str, given: &str) -> bool {
    expected.as_bytes().ct_eq(given.as_bytes()).into()
}

/// Checks a read (GET) URL: the legacy formula, constant-time, unexpired.
pub fn verify_read(
    secret: &[u8],
    key: &str,
    expires: i64,
    signature: &str,
    now: i64,
) -> Result<(), SignatureError> {
    if now > expires {
        return Err(SignatureError::Expired);
    }
    if same(&read_signature(secret, key, expires), signature) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Checks an upload (PUT) URL against the request's `Content-Type` (surrounding whitespace
/// ignored, as GCS canonicalises header values) and the URL's own `max_bytes`.
pub fn verify_upload(
    secret: &[u8],
    key: &str,
    expires: i64,
    max_bytes: u64,
    content_type: &str,
    signature: &str,
    now: i64,
) -> Result<(), SignatureError> {
    if now > expires {
        return Err(SignatureError::Expired);
    }
    let expected = upload_signature(secret, key, expires, max_bytes, content_type);
    if same(&expected, signature) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Python's `urlencode` value encoding (`quote_plus`): `A–Z a–z 0–9 _ . - ~` kept, space as
/// `+`, everything else `%XX` (upper case) of its UTF-8 bytes, so `/` becomes `%2F`.
pub fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        match b {
            b' ' => out.push('+'),
            b if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'~') => {
                out.push(char::from(b))
            }
            b => {
                out.push('%');
                out.push_str(&format!("{b:02X}"));
            }
        }
    }
    out
}

/// A read URL in the legacy shape: `<base>/api/v1/assets/local-content?key=…&expires=…&signature=…`.
/// `base` is `PUBLIC_BASE_URL` without its trailing `/`.
pub fn read_url(base: &str, key: &str, expires: i64, signature: &str) -> String {
    format!(
        "{base}{LOCAL_CONTENT_PATH}?key={}&expires={expires}&signature={}",
        form_encode(key),
        form_encode(signature)
    )
}

/// An upload URL: the read shape plus `&max_bytes=<n>`.
pub fn upload_url(base: &str, key: &str, expires: i64, signature: &str, max_bytes: u64) -> String {
    format!(
        "{}&max_bytes={max_bytes}",
        read_url(base, key, expires, signature)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"dev-secret-key-0123456789abcdef";
    const KEY: &str = "orgs/sole-llc/templates/unassigned/0123456789abcdef0123456789abcdef.pdf";
    const EXPIRES: i64 = 1_767_225_600;

    #[test]
    fn read_signature_matches_the_contract_vector() {
        assert_eq!(
            read_signature(SECRET, KEY, EXPIRES),
            "257fe584232821c9ff66ce22207b8530cd2b0276518ec003f1d8c8798151d65a"
        );
    }

    #[test]
    fn read_url_has_the_legacy_shape_and_query_encoding() {
        let sig = read_signature(SECRET, KEY, EXPIRES);
        assert_eq!(
            read_url("http://localhost:8000", KEY, EXPIRES, &sig),
            "http://localhost:8000/api/v1/assets/local-content?key=orgs%2Fsole-llc%2Ftemplates%2Funassigned%2F0123456789abcdef0123456789abcdef.pdf&expires=1767225600&signature=257fe584232821c9ff66ce22207b8530cd2b0276518ec003f1d8c8798151d65a"
        );
        assert_eq!(form_encode("a b/c~d*e"), "a+b%2Fc~d%2Ae");
        assert_eq!(form_encode("ñ"), "%C3%B1");
    }

    /// URLs the legacy `LocalFileSystemAdapter` minted (run with `time.time()` fixed at
    /// 1767224700.5, base `http://localhost:8000/`, the §8.3 secret): the upload URL (now+900)
    /// and a download URL of an awkward key (now+3600). `sole` produces the same strings and
    /// accepts them.
    #[test]
    fn legacy_minted_urls_are_reproduced_and_accepted() {
        let legacy_upload = "http://localhost:8000/api/v1/assets/local-content?key=orgs%2Fsole-llc%2Ftemplates%2Funassigned%2F0123456789abcdef0123456789abcdef.pdf&expires=1767225600&signature=257fe584232821c9ff66ce22207b8530cd2b0276518ec003f1d8c8798151d65a";
        let sig = read_signature(SECRET, KEY, EXPIRES);
        assert_eq!(
            read_url("http://localhost:8000", KEY, EXPIRES, &sig),
            legacy_upload
        );

        let key = "orgs/sole-llc/users/u 1/loans/x~y/loan-documents/242eac0f-3596-46d5-bf6b-9d493a564124/Résumé*.pdf";
        let legacy_download = "http://localhost:8000/api/v1/assets/local-content?key=orgs%2Fsole-llc%2Fusers%2Fu+1%2Floans%2Fx~y%2Floan-documents%2F242eac0f-3596-46d5-bf6b-9d493a564124%2FR%C3%A9sum%C3%A9%2A.pdf&expires=1767228300&signature=87f4104c25153ecd6284415099d8a59ca208bda3e3884b521ec21cefc3800293";
        let sig = read_signature(SECRET, key, 1_767_228_300);
        assert_eq!(
            read_url("http://localhost:8000", key, 1_767_228_300, &sig),
            legacy_download
        );
        assert_eq!(
            verify_read(
                SECRET,
                key,
                1_767_228_300,
                "87f4104c25153ecd6284415099d8a59ca208bda3e3884b521ec21cefc3800293",
                1_767_224_700
            ),
            Ok(())
        );
    }

    #[test]
    fn read_urls_verify_until_they_expire() {
        let sig = read_signature(SECRET, KEY, EXPIRES);
        assert_eq!(
            verify_read(SECRET, KEY, EXPIRES, &sig, EXPIRES - 900),
            Ok(())
        );
        // Valid through the expiry second itself, refused one second later.
        assert_eq!(verify_read(SECRET, KEY, EXPIRES, &sig, EXPIRES), Ok(()));
        assert_eq!(
            verify_read(SECRET, KEY, EXPIRES, &sig, EXPIRES + 1),
            Err(SignatureError::Expired)
        );
    }

    #[test]
    fn tampered_read_urls_are_refused() {
        let sig = read_signature(SECRET, KEY, EXPIRES);
        let now = EXPIRES - 10;
        let other_key = KEY.replace("sole-llc", "golden-docs-b");
        assert_eq!(
            verify_read(SECRET, &other_key, EXPIRES, &sig, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_read(SECRET, KEY, EXPIRES + 3600, &sig, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_read(b"another-secret-key-0123456789ab", KEY, EXPIRES, &sig, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_read(SECRET, KEY, EXPIRES, &sig.to_uppercase(), now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_read(SECRET, KEY, EXPIRES, "", now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            SignatureError::Mismatch.to_string(),
            "Invalid or expired URL signature"
        );
    }

    #[test]
    fn upload_signature_vector() {
        // Computed with Python's hmac: k = HMAC(secret, label); HMAC(k, message).
        let k = upload_key(SECRET);
        assert_eq!(hex::encode(&k), hmac_hex(SECRET, &[UPLOAD_KEY_LABEL]),);
        assert_ne!(k.as_slice(), SECRET);
        assert_eq!(
            upload_signature(SECRET, KEY, EXPIRES, 1_048_576, "application/pdf"),
            "c519790620b471f9aac191f38542143f123e9f46bdf63e4f1d2061911a3e19f7"
        );
    }

    #[test]
    fn upload_urls_bind_method_type_size_object_and_expiry() {
        let max = 50 * 1_048_576;
        let sig = upload_signature(SECRET, KEY, EXPIRES, max, "application/pdf");
        let now = EXPIRES - 100;
        let ok = |key: &str, expires, max, ct: &str, now| {
            verify_upload(SECRET, key, expires, max, ct, &sig, now)
        };
        assert_eq!(ok(KEY, EXPIRES, max, "application/pdf", now), Ok(()));
        assert_eq!(ok(KEY, EXPIRES, max, " application/pdf ", now), Ok(()));
        assert_eq!(
            ok(KEY, EXPIRES, max, "application/pdf", EXPIRES + 1),
            Err(SignatureError::Expired)
        );
        assert_eq!(
            ok(KEY, EXPIRES, max, "text/html", now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            ok(KEY, EXPIRES, max, "", now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            ok(KEY, EXPIRES, max + 1, "application/pdf", now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            ok(KEY, EXPIRES + 1, max, "application/pdf", now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            ok(
                &KEY.replace(".pdf", ".png"),
                EXPIRES,
                max,
                "application/pdf",
                now
            ),
            Err(SignatureError::Mismatch)
        );
        // An upload signature is no read signature, and a read signature no upload signature.
        assert_eq!(
            verify_read(SECRET, KEY, EXPIRES, &sig, now),
            Err(SignatureError::Mismatch)
        );
        let read = read_signature(SECRET, KEY, EXPIRES);
        assert_eq!(
            verify_upload(SECRET, KEY, EXPIRES, max, "application/pdf", &read, now),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn upload_url_keeps_the_legacy_prefix() {
        let url = upload_url("http://localhost:8000", KEY, EXPIRES, "abc", 1_048_576);
        assert_eq!(
            url,
            "http://localhost:8000/api/v1/assets/local-content?key=orgs%2Fsole-llc%2Ftemplates%2Funassigned%2F0123456789abcdef0123456789abcdef.pdf&expires=1767225600&signature=abc&max_bytes=1048576"
        );
    }
}
