//! MFA recovery codes, remember-device tokens and CSRF tokens (contract §4.4, §4.6).
//!
//! - Recovery codes: 8 characters from [`RECOVERY_ALPHABET`], shown as `XXXX-XXXX`, stored as
//!   the SHA-256 hex of the upper-cased, dash-less code. Input is normalised the same way
//!   (trimmed, case and dash insensitive).
//! - Remember-device tokens: Python's `secrets.token_urlsafe(32)` (32 random bytes, base64url
//!   without padding, 43 characters), stored as the SHA-256 hex of the raw token.
//! - CSRF tokens: the same 43-character format.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngExt as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// Recovery-code alphabet (no `I`, `O`, `0`, `1`).
pub const RECOVERY_ALPHABET: &str = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
/// Codes generated per (re)generation.
pub const RECOVERY_CODE_COUNT: usize = 10;
/// Characters per code, without the dash.
pub const RECOVERY_CODE_LENGTH: usize = 8;

/// SHA-256 hex (lower case) of arbitrary bytes.
pub fn sha256_hex(data: impl AsRef<[u8]>) -> String {
    let digest = Sha256::digest(data.as_ref());
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push(char::from_digit(u32::from(byte >> 4), 16).unwrap_or('0'));
        out.push(char::from_digit(u32::from(byte & 0x0f), 16).unwrap_or('0'));
    }
    out
}

/// Constant-time equality of two hex digests (or any strings).
pub fn hashes_equal(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// One freshly generated recovery code, as shown to the user (`XXXX-XXXX`).
pub fn generate_recovery_code() -> String {
    let mut code = super::random::string_from(RECOVERY_ALPHABET, RECOVERY_CODE_LENGTH);
    // The alphabet is ASCII, so the middle is a character boundary.
    code.insert(RECOVERY_CODE_LENGTH / 2, '-');
    code
}

/// [`RECOVERY_CODE_COUNT`] distinct codes in display form.
pub fn generate_recovery_codes() -> Vec<String> {
    let mut codes: Vec<String> = Vec::with_capacity(RECOVERY_CODE_COUNT);
    while codes.len() < RECOVERY_CODE_COUNT {
        let code = generate_recovery_code();
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    codes
}

/// Normalises user input: trimmed, dashes removed, upper-cased.
pub fn normalize_recovery_code(input: &str) -> String {
    input
        .trim()
        .chars()
        .filter(|c| *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

/// The stored form: SHA-256 hex of the normalised code.
pub fn hash_recovery_code(code: &str) -> String {
    sha256_hex(normalize_recovery_code(code))
}

/// 32 random bytes as base64url without padding (43 chars): `secrets.token_urlsafe(32)`.
pub fn token_urlsafe_32() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill(&mut bytes[..]);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A new raw remember-device token (returned to the client once).
pub fn generate_remember_device_token() -> String {
    token_urlsafe_32()
}

/// The stored form of a remember-device token: SHA-256 hex of the raw token as given.
pub fn hash_remember_device_token(token: &str) -> String {
    sha256_hex(token)
}

/// A new CSRF token (`sole_csrf` cookie, body `csrf_token`, `X-CSRF-Token`).
pub fn generate_csrf_token() -> String {
    token_urlsafe_32()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_have_the_display_layout() {
        let codes = generate_recovery_codes();
        assert_eq!(codes.len(), 10);
        for code in &codes {
            assert_eq!(code.len(), 9, "{code}");
            assert_eq!(&code[4..5], "-");
            assert!(
                code.chars()
                    .filter(|c| *c != '-')
                    .all(|c| RECOVERY_ALPHABET.contains(c))
            );
        }
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), 10);
    }

    #[test]
    fn normalisation_is_case_dash_and_space_insensitive() {
        let expected = hash_recovery_code("ABCD-EF23");
        for input in [
            "abcd-ef23",
            "ABCDEF23",
            "  abcdef23\n",
            "ab-cd-ef-23",
            "AbCd-Ef23",
        ] {
            assert_eq!(hash_recovery_code(input), expected, "{input}");
        }
        assert_eq!(normalize_recovery_code(" abcd-ef23 "), "ABCDEF23");
        assert_ne!(hash_recovery_code("ABCD-EF24"), expected);
    }

    #[test]
    fn sha256_hex_known_answer() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(hashes_equal(&sha256_hex("abc"), &sha256_hex("abc")));
        assert!(!hashes_equal(&sha256_hex("abc"), &sha256_hex("abd")));
        assert!(!hashes_equal("ab", "abc"));
    }

    #[test]
    fn urlsafe_tokens_are_43_chars_and_random() {
        let a = generate_remember_device_token();
        let b = generate_csrf_token();
        for t in [&a, &b] {
            assert_eq!(t.len(), 43);
            assert!(
                t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            );
            assert_eq!(URL_SAFE_NO_PAD.decode(t).unwrap().len(), 32);
        }
        assert_ne!(a, b);
        assert_eq!(hash_remember_device_token(&a), sha256_hex(&a));
    }
}
