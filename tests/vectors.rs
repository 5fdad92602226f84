//! Proves every legacy compatibility vector in `shared/vectors/legacy-vectors.json` against the
//! pure primitives in `sole::auth`, plus negative JWT cases (alg confusion, wrong audience,
//! unknown kid, tampering, garbage).

// A test binary: the shared fixtures below sit outside `#[test]` functions, which clippy's
// `allow-unwrap-in-tests` does not cover.
#![allow(clippy::unwrap_used)]

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use secrecy::ExposeSecret as _;
use serde_json::{Map, Value};
use sole::auth::fernet::{self, Crypto, CryptoError};
use sole::auth::jwt::{Claims, JwtError, JwtKeys, SessionClaims, TokenType};
use sole::auth::password::PasswordHasher;
use sole::auth::{recovery, totp};
use sole::config::Argon2Settings;

const VECTORS_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/vectors/legacy-vectors.json"
);

fn vectors() -> &'static Value {
    static V: OnceLock<Value> = OnceLock::new();
    V.get_or_init(|| {
        let text = std::fs::read_to_string(VECTORS_PATH)
            .unwrap_or_else(|e| panic!("cannot read {VECTORS_PATH}: {e}"));
        serde_json::from_str(&text).unwrap()
    })
}

fn s<'a>(section: &str, key: &str) -> &'a str {
    vectors()[section][key]
        .as_str()
        .unwrap_or_else(|| panic!("{section}.{key} missing"))
}

// ------------------------------------------------------------------------------------ Fernet

fn vector_crypto() -> &'static Crypto {
    static C: OnceLock<Crypto> = OnceLock::new();
    C.get_or_init(|| {
        let f = &vectors()["fernet"];
        Crypto::new(
            s("fernet", "secret_key"),
            Some(s("fernet", "kdf_salt")),
            u32::try_from(f["kdf_iterations"].as_u64().unwrap()).unwrap(),
        )
        .unwrap()
    })
}

#[test]
fn fernet_derived_key_matches() {
    let f = &vectors()["fernet"];
    let key = fernet::derive_key(
        s("fernet", "secret_key"),
        s("fernet", "kdf_salt"),
        u32::try_from(f["kdf_iterations"].as_u64().unwrap()).unwrap(),
    );
    assert_eq!(key.expose_secret(), s("fernet", "derived_key"));
    // The salt is trimmed before use.
    assert_eq!(
        fernet::effective_salt(
            s("fernet", "secret_key"),
            Some(&format!(" {}\n", s("fernet", "kdf_salt")))
        ),
        s("fernet", "kdf_salt")
    );
}

#[test]
fn fernet_dev_fallback_salt_and_key_match() {
    let secret = s("fernet", "secret_key");
    let iterations =
        u32::try_from(vectors()["fernet"]["kdf_iterations"].as_u64().unwrap()).unwrap();
    let salt = fernet::effective_salt(secret, None);
    assert_eq!(salt, s("fernet", "dev_fallback_salt"));
    assert_eq!(fernet::effective_salt(secret, Some("  ")), salt);
    let key = fernet::derive_key(secret, &salt, iterations);
    assert_eq!(key.expose_secret(), s("fernet", "dev_fallback_key"));
}

#[test]
fn fernet_legacy_sha256_key_matches() {
    assert_eq!(
        fernet::legacy_key(s("fernet", "secret_key")).expose_secret(),
        s("fernet", "legacy_sha256_key")
    );
}

#[test]
fn fernet_primary_token_decrypts_with_the_derived_key() {
    let plaintext = s("fernet", "plaintext");
    let token = s("fernet", "token_primary_key");
    assert_eq!(vector_crypto().decrypt_str(token).unwrap(), plaintext);
    // Only the derived key is needed (no fallback).
    let primary_only = Crypto::from_keys(s("fernet", "derived_key"), &[]).unwrap();
    assert_eq!(primary_only.decrypt_str(token).unwrap(), plaintext);
    // Stored with a trailing newline.
    assert_eq!(
        vector_crypto().decrypt_str(&format!("{token}\n")).unwrap(),
        plaintext
    );
}

#[test]
fn fernet_dev_fallback_token_decrypts_with_the_dev_key() {
    let secret = s("fernet", "secret_key");
    let iterations =
        u32::try_from(vectors()["fernet"]["kdf_iterations"].as_u64().unwrap()).unwrap();
    let dev = Crypto::new(secret, None, iterations).unwrap();
    assert_eq!(
        dev.decrypt_str(s("fernet", "token_dev_fallback_key"))
            .unwrap(),
        s("fernet", "plaintext")
    );
    // Not readable with the production salt's key nor the legacy key.
    assert_eq!(
        vector_crypto().decrypt(s("fernet", "token_dev_fallback_key")),
        Err(CryptoError::InvalidToken)
    );
}

#[test]
fn fernet_legacy_token_decrypts_only_through_the_fallback_key() {
    let token = s("fernet", "token_legacy_key");
    assert_eq!(
        vector_crypto().decrypt_str(token).unwrap(),
        s("fernet", "plaintext")
    );
    let primary_only = Crypto::from_keys(s("fernet", "derived_key"), &[]).unwrap();
    assert_eq!(primary_only.decrypt(token), Err(CryptoError::InvalidToken));
}

#[test]
fn fernet_tokens_sole_writes_decrypt_with_the_derived_key() {
    let token = vector_crypto().encrypt_str(s("fernet", "plaintext"));
    // Any Fernet implementation holding only the derived key reads it; check with the bare
    // crate and by recomputing the HMAC by hand from the spec.
    let bare = ::fernet::Fernet::new(s("fernet", "derived_key")).unwrap();
    assert_eq!(
        bare.decrypt(&token).unwrap(),
        s("fernet", "plaintext").as_bytes()
    );
    let raw = URL_SAFE.decode(&token).unwrap();
    assert_eq!(raw[0], 0x80);
    assert!(raw.len() >= 73);
    // The legacy key cannot read it (encryption never uses the fallback).
    let legacy_only = Crypto::from_keys(s("fernet", "legacy_sha256_key"), &[]).unwrap();
    assert_eq!(legacy_only.decrypt(&token), Err(CryptoError::InvalidToken));
}

#[test]
fn fernet_vector_tokens_are_future_dated_relative_to_their_key_creation() {
    // The vector tokens carry a timestamp; whatever the clock says, they must decrypt (Python
    // without TTL ignores the timestamp). Decrypt "before" they were written.
    let token = s("fernet", "token_primary_key");
    let ts = fernet::token_timestamp(token).unwrap();
    assert_eq!(
        vector_crypto().decrypt_at(token, ts - 86_400).unwrap(),
        s("fernet", "plaintext").as_bytes()
    );
    assert_eq!(
        vector_crypto()
            .decrypt_at(token, ts + 10 * 365 * 86_400)
            .unwrap(),
        s("fernet", "plaintext").as_bytes()
    );
}

// ------------------------------------------------------------------------------------ argon2

#[test]
fn argon2_legacy_phc_verifies_password_and_rejects_wrong_password() {
    let hasher = PasswordHasher::new(&Argon2Settings {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    })
    .unwrap();
    let phc = s("argon2", "phc");
    assert!(phc.starts_with("$argon2id$v=19$m=65536,t=3,p=4$"));
    assert!(hasher.verify(s("argon2", "password"), phc));
    assert!(!hasher.verify(s("argon2", "wrong_password"), phc));
    assert!(hasher.needs_rehash(phc));
    // Legacy params configured: no rehash needed.
    let legacy = PasswordHasher::new(&Argon2Settings {
        memory_kib: 65_536,
        iterations: 3,
        parallelism: 4,
    })
    .unwrap();
    assert!(!legacy.needs_rehash(phc));
}

#[tokio::test]
async fn argon2_legacy_phc_verifies_on_the_blocking_pool() {
    let hasher = PasswordHasher::with_concurrency(
        &Argon2Settings {
            memory_kib: 8,
            iterations: 1,
            parallelism: 1,
        },
        2,
    )
    .unwrap();
    let phc = s("argon2", "phc");
    assert!(hasher.verify_async(s("argon2", "password"), phc).await);
    assert!(
        !hasher
            .verify_async(s("argon2", "wrong_password"), phc)
            .await
    );
}

// ------------------------------------------------------------------------------------ JWT

fn vector_keys() -> &'static JwtKeys {
    static K: OnceLock<JwtKeys> = OnceLock::new();
    K.get_or_init(|| {
        JwtKeys::from_pems(s("jwt", "private_key_pem"), s("jwt", "public_key_pem")).unwrap()
    })
}

fn claims_of(name: &str) -> &'static Map<String, Value> {
    vectors()["jwt"][name].as_object().unwrap()
}

fn iat_of(name: &str) -> i64 {
    claims_of(name)["iat"].as_i64().unwrap()
}

#[test]
fn jwt_vector_algorithm_is_rs256() {
    assert_eq!(s("jwt", "algorithm"), "RS256");
}

#[test]
fn jwt_access_token_verifies_and_decodes_to_the_listed_claims() {
    let keys = vector_keys();
    let token = s("jwt", "access_token");
    let expected = claims_of("access_claims");
    // Live clock (exp is 2100-01-01) and a pinned instant.
    assert_eq!(&keys.verify(token).unwrap(), expected);
    assert_eq!(
        &keys.verify_at(token, iat_of("access_claims")).unwrap(),
        expected
    );
    let typed = keys.decode_access(token).unwrap();
    assert_eq!(
        serde_json::to_value(&typed).unwrap(),
        Value::Object(expected.clone())
    );
    assert_eq!(typed.token_type, TokenType::Access);
    assert_eq!(typed.tv, Some(3));
    assert!(matches!(keys.decode_any(token).unwrap(), Claims::Access(_)));
}

#[test]
fn jwt_access_token_is_reproduced_byte_for_byte_from_typed_claims() {
    // RS256 (PKCS#1 v1.5) is deterministic: the legacy header plus our typed claims in the
    // legacy key order re-create the legacy token exactly.
    let keys = vector_keys();
    let claims: SessionClaims =
        serde_json::from_value(Value::Object(claims_of("access_claims").clone())).unwrap();
    assert_eq!(
        keys.encode_legacy(&claims).unwrap(),
        s("jwt", "access_token")
    );
}

#[test]
fn jwt_refresh_token_verifies_and_decodes_to_the_listed_claims() {
    let keys = vector_keys();
    let token = s("jwt", "refresh_token");
    let expected = claims_of("refresh_claims");
    assert_eq!(&keys.verify(token).unwrap(), expected);
    let typed = keys.decode_refresh(token).unwrap();
    assert_eq!(typed.token_type, TokenType::Refresh);
    assert_eq!(
        typed.jti.map(|j| j.to_string()).as_deref(),
        expected["jti"].as_str()
    );
    // Same claim set (the vector lists jti last; the live legacy service puts it after type).
    let mut ours = serde_json::to_value(&typed)
        .unwrap()
        .as_object()
        .unwrap()
        .clone();
    ours.sort_keys();
    let mut theirs = expected.clone();
    theirs.sort_keys();
    assert_eq!(ours, theirs);
    assert!(matches!(
        keys.decode_any(token).unwrap(),
        Claims::Refresh(_)
    ));
}

#[test]
fn jwt_pre_org_token_verifies_and_decodes_to_the_listed_claims() {
    let keys = vector_keys();
    let token = s("jwt", "pre_org_token");
    let expected = claims_of("pre_org_claims");
    assert_eq!(&keys.verify(token).unwrap(), expected);
    let typed = keys.decode_pre_org(token).unwrap();
    assert_eq!(typed.sub.to_string(), expected["sub"].as_str().unwrap());
    assert_eq!(typed.iss, None);
    let mut ours = serde_json::to_value(&typed)
        .unwrap()
        .as_object()
        .unwrap()
        .clone();
    ours.sort_keys();
    let mut theirs = expected.clone();
    theirs.sort_keys();
    assert_eq!(ours, theirs);
}

#[test]
fn jwt_expired_access_token_is_rejected_as_expired() {
    let keys = vector_keys();
    let token = s("jwt", "expired_access_token");
    assert_eq!(keys.verify(token), Err(JwtError::Expired));
    assert_eq!(keys.decode_access(token), Err(JwtError::Expired));
    assert_eq!(keys.decode_any(token), Err(JwtError::Expired));
    assert_eq!(JwtError::Expired.to_string(), "Token expired");
    // Its signature is genuine: it was valid just before its exp.
    let payload: Map<String, Value> = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    let exp = payload["exp"].as_i64().unwrap();
    assert!(keys.verify_at(token, exp - 1).is_ok());
    assert_eq!(keys.verify_at(token, exp), Err(JwtError::Expired));
}

#[test]
fn jwt_vector_tokens_fail_under_another_key() {
    let other = JwtKeys::generate_ephemeral().unwrap();
    for name in ["access_token", "refresh_token", "pre_org_token"] {
        assert_eq!(
            other.verify(s("jwt", name)),
            Err(JwtError::Invalid),
            "{name}"
        );
    }
}

#[test]
fn jwt_tokens_sole_mints_carry_kid_and_iss_and_verify() {
    let keys = vector_keys();
    let mut claims = claims_of("pre_org_claims").clone();
    claims.insert("iss".into(), Value::from("sole"));
    let token = keys.encode(&claims).unwrap();
    let header: Map<String, Value> = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], keys.kid());
    assert_eq!(keys.verify(&token).unwrap()["iss"], "sole");
}

// ---------------------------------------------------------------------- JWT negative cases

fn b64(json: &str) -> String {
    URL_SAFE_NO_PAD.encode(json)
}

fn payload_segment(token: &str) -> &str {
    token.split('.').nth(1).unwrap()
}

fn hs256(message: &str, secret: &[u8]) -> String {
    // HMAC-SHA256 by hand (RFC 2104) to stay independent of the library under test.
    use sha2::{Digest as _, Sha256};
    let mut key = [0u8; 64];
    if secret.len() > 64 {
        key[..32].copy_from_slice(&Sha256::digest(secret));
    } else {
        key[..secret.len()].copy_from_slice(secret);
    }
    let ipad: Vec<u8> = key.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = key.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&ipad)
        .chain_update(message.as_bytes())
        .finalize();
    let outer = Sha256::new()
        .chain_update(&opad)
        .chain_update(inner)
        .finalize();
    URL_SAFE_NO_PAD.encode(outer)
}

#[test]
fn hs256_helper_matches_rfc4231_case_2() {
    // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
    let mac = hs256("what do ya want for nothing?", b"Jefe");
    let hex: String = URL_SAFE_NO_PAD
        .decode(mac)
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        hex,
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn jwt_alg_none_is_rejected() {
    let keys = vector_keys();
    let payload = payload_segment(s("jwt", "access_token"));
    for header in [
        r#"{"alg":"none","typ":"JWT"}"#,
        r#"{"alg":"None","typ":"JWT"}"#,
        r#"{"alg":"NONE"}"#,
    ] {
        let h = b64(header);
        for token in [format!("{h}.{payload}."), format!("{h}.{payload}")] {
            assert_eq!(keys.verify(&token), Err(JwtError::Invalid), "{header}");
        }
    }
}

#[test]
fn jwt_hs256_signed_with_the_public_key_is_rejected() {
    let keys = vector_keys();
    let payload = payload_segment(s("jwt", "access_token"));
    let public_pem = s("jwt", "public_key_pem");
    for header in [
        r#"{"alg":"HS256","typ":"JWT"}"#,
        r#"{"alg":"HS384","typ":"JWT"}"#,
        r#"{"alg":"HS512","typ":"JWT"}"#,
    ] {
        let message = format!("{}.{payload}", b64(header));
        for secret in [
            public_pem.as_bytes(),
            public_pem.trim().as_bytes(),
            b"sole-backend".as_slice(),
        ] {
            let token = format!("{message}.{}", hs256(&message, secret));
            assert_eq!(keys.verify(&token), Err(JwtError::Invalid), "{header}");
            assert_eq!(keys.decode_access(&token), Err(JwtError::Invalid));
        }
    }
}

#[test]
fn jwt_other_asymmetric_algs_are_rejected() {
    let keys = vector_keys();
    let token = s("jwt", "access_token");
    let (_, rest) = token.split_once('.').unwrap();
    for alg in ["RS384", "RS512", "PS256", "ES256", "EdDSA", "rs256", ""] {
        let header = b64(&format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
        assert_eq!(
            keys.verify(&format!("{header}.{rest}")),
            Err(JwtError::Invalid),
            "{alg}"
        );
    }
}

#[test]
fn jwt_wrong_or_missing_audience_is_rejected() {
    let keys = vector_keys();
    let base = claims_of("pre_org_claims").clone();
    let mut wrong = base.clone();
    wrong.insert("aud".into(), Value::from("another-service"));
    assert_eq!(
        keys.verify(&keys.encode_legacy(&wrong).unwrap()),
        Err(JwtError::Invalid)
    );
    let mut list = base.clone();
    list.insert("aud".into(), serde_json::json!(["another-service"]));
    assert_eq!(
        keys.verify(&keys.encode_legacy(&list).unwrap()),
        Err(JwtError::Invalid)
    );
    let mut missing = base.clone();
    missing.remove("aud");
    assert_eq!(
        keys.verify(&keys.encode_legacy(&missing).unwrap()),
        Err(JwtError::Invalid)
    );
    // Control: the unchanged claims verify.
    assert!(keys.verify(&keys.encode_legacy(&base).unwrap()).is_ok());
}

#[test]
fn jwt_unknown_kid_is_rejected_and_legacy_no_kid_accepted() {
    let keys = vector_keys();
    let token = s("jwt", "access_token");
    let (_, rest) = token.split_once('.').unwrap();
    // Same valid signature input is impossible to keep with a new header, so re-sign: a
    // correctly signed token whose kid names another key must still be refused.
    let payload: Map<String, Value> = claims_of("access_claims").clone();
    let minted = keys.encode(&payload).unwrap();
    assert!(keys.verify(&minted).is_ok());
    let (_, minted_rest) = minted.split_once('.').unwrap();
    for kid in ["unknown-kid", "", "../../etc/passwd"] {
        let header = b64(&format!(r#"{{"alg":"RS256","typ":"JWT","kid":"{kid}"}}"#));
        assert_eq!(
            keys.verify(&format!("{header}.{minted_rest}")),
            Err(JwtError::Invalid),
            "{kid}"
        );
    }
    // A legacy token (no kid) verifies; adding our kid to it breaks its signature.
    assert!(keys.verify(token).is_ok());
    let header = b64(&format!(
        r#"{{"alg":"RS256","typ":"JWT","kid":"{}"}}"#,
        keys.kid()
    ));
    assert_eq!(
        keys.verify(&format!("{header}.{rest}")),
        Err(JwtError::Invalid)
    );
}

#[test]
fn jwt_tampered_tokens_are_rejected() {
    let keys = vector_keys();
    let token = s("jwt", "access_token");
    let parts: Vec<&str> = token.split('.').collect();
    // Flip a signature bit.
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[10] ^= 0x01;
    let bad_sig = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(&sig));
    assert_eq!(keys.verify(&bad_sig), Err(JwtError::Invalid));
    // Escalate privileges in the payload, keep the signature.
    let mut claims = claims_of("access_claims").clone();
    claims.insert("su".into(), Value::from(true));
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(&serde_json::to_string(&claims).unwrap()),
        parts[2]
    );
    assert_eq!(keys.verify(&forged), Err(JwtError::Invalid));
    // Extend the expiry of the expired token.
    let expired = s("jwt", "expired_access_token");
    let eparts: Vec<&str> = expired.split('.').collect();
    let mut eclaims: Map<String, Value> =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(eparts[1]).unwrap()).unwrap();
    eclaims.insert("exp".into(), Value::from(4_102_444_800_i64));
    let extended = format!(
        "{}.{}.{}",
        eparts[0],
        b64(&serde_json::to_string(&eclaims).unwrap()),
        eparts[2]
    );
    assert_eq!(keys.verify(&extended), Err(JwtError::Invalid));
    // Truncated and empty signatures.
    assert_eq!(
        keys.verify(&format!("{}.{}.", parts[0], parts[1])),
        Err(JwtError::Invalid)
    );
    assert_eq!(
        keys.verify(&token[..token.len() - 5]),
        Err(JwtError::Invalid)
    );
}

#[test]
fn jwt_garbage_never_panics() {
    let keys = vector_keys();
    let long = "a".repeat(100_000);
    let dots = ".".repeat(1000);
    let token = s("jwt", "access_token");
    let garbage: Vec<String> = vec![
        String::new(),
        "not-a-jwt".into(),
        ".".into(),
        "..".into(),
        "...".into(),
        "a.b.c".into(),
        "a.b.c.d".into(),
        "Bearer x.y.z".into(),
        format!("{token}.extra"),
        format!(" {token}"),
        format!("{}.!!!.{}", b64(r#"{"alg":"RS256"}"#), "sig"),
        format!("{}.{}.sig", b64("[]"), b64("{}")),
        format!("{}.{}.sig", b64(r#"{"alg":"RS256"}"#), b64("null")),
        format!("{}.{}.sig", b64("\u{0}\u{ff}"), b64("{\"exp\":1e400}")),
        long,
        dots,
        "\u{1F600}.\u{1F600}.\u{1F600}".into(),
    ];
    for g in &garbage {
        assert_eq!(keys.verify(g), Err(JwtError::Invalid), "{:.40}", g);
        assert!(keys.decode_any(g).is_err());
        assert!(keys.decode_access(g).is_err());
    }
    assert_eq!(JwtError::Invalid.to_string(), "Invalid token");
}

// ------------------------------------------------------------------------------------ TOTP

#[test]
fn totp_code_at_unix_and_neighbours() {
    let t = &vectors()["totp"];
    assert_eq!(t["digits"], 6);
    assert_eq!(t["period"], 30);
    assert_eq!(t["algorithm"], "SHA1");
    let secret = s("totp", "secret_base32");
    let at = t["at_unix"].as_u64().unwrap();
    assert_eq!(totp::code_at(secret, at).unwrap(), s("totp", "code"));
    assert_eq!(
        totp::code_at(secret, at - 30).unwrap(),
        s("totp", "code_previous_step")
    );
    assert_eq!(
        totp::code_at(secret, at + 30).unwrap(),
        s("totp", "code_next_step")
    );
    let step = at / 30;
    assert_eq!(totp::verify_at(secret, s("totp", "code"), at), Some(step));
    assert_eq!(
        totp::verify_at(secret, s("totp", "code_previous_step"), at),
        Some(step - 1)
    );
    assert_eq!(
        totp::verify_at(secret, s("totp", "code_next_step"), at),
        Some(step + 1)
    );
    // Outside the ±1 window.
    assert_eq!(totp::verify_at(secret, s("totp", "code"), at + 90), None);
    assert_eq!(totp::verify_at(secret, s("totp", "code"), at - 90), None);
}

#[test]
fn totp_provisioning_uri_is_identical() {
    assert_eq!(
        totp::provisioning_uri(s("totp", "secret_base32"), "admin@example.com", "Sole LLC"),
        s("totp", "provisioning_uri")
    );
}

// ------------------------------------------------------------------ recovery / remember-device

#[test]
fn recovery_code_hash_matches() {
    let shown = s("recovery_code", "shown");
    assert!(
        shown
            .chars()
            .filter(|c| *c != '-')
            .all(|c| s("recovery_code", "alphabet").contains(c))
    );
    assert_eq!(s("recovery_code", "alphabet"), recovery::RECOVERY_ALPHABET);
    let expected = s("recovery_code", "sha256_hex_of_normalized");
    assert_eq!(recovery::hash_recovery_code(shown), expected);
    assert_eq!(
        recovery::hash_recovery_code(&format!(" {} ", shown.to_lowercase().replace('-', ""))),
        expected
    );
}

#[test]
fn remember_device_hash_matches() {
    let token = s("remember_device", "token");
    assert_eq!(token.len(), 43);
    assert_eq!(
        recovery::hash_remember_device_token(token),
        s("remember_device", "sha256_hex")
    );
}
