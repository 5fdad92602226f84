//! TOTP compatible with the legacy pyotp usage (contract §4.6): SHA1, 6 digits, 30 s steps,
//! ±1 step accepted, 32-character base32 secrets (`pyotp.random_base32()`), and the otpauth URL
//! built exactly like pyotp's `provisioning_uri(name=email, issuer_name=org name)`.
//!
//! Verification returns the matched time step so callers can refuse a replay of the same step.

use std::time::{SystemTime, UNIX_EPOCH};

use totp_rs::{Algorithm, Builder, Secret, Totp};

/// RFC 4648 base32 alphabet, as used by `pyotp.random_base32()`.
pub const BASE32_ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// Length of generated secrets (32 chars = 160 bits).
pub const SECRET_LENGTH: usize = 32;
pub const DIGITS: u8 = 6;
pub const STEP_SECONDS: u64 = 30;
/// Accepted steps either side of the current one.
pub const SKEW_STEPS: u16 = 1;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TotpError {
    #[error("TOTP secret is not valid base32")]
    InvalidSecret,
}

/// A new secret: 32 characters from the base32 alphabet (CSPRNG), like `pyotp.random_base32()`.
pub fn generate_secret() -> String {
    super::random::string_from(BASE32_ALPHABET, SECRET_LENGTH)
}

/// Decodes a base32 secret the way pyotp does (case-insensitive, padding optional).
fn totp_for(secret_base32: &str) -> Result<Totp, TotpError> {
    let cleaned: String = secret_base32
        .trim()
        .trim_end_matches('=')
        .to_ascii_uppercase();
    if cleaned.is_empty() {
        return Err(TotpError::InvalidSecret);
    }
    let secret = Secret::try_from_base32(&cleaned).map_err(|_| TotpError::InvalidSecret)?;
    if secret.as_ref().is_empty() {
        return Err(TotpError::InvalidSecret);
    }
    // `build_noncompliant`: legacy secrets are used as stored even if shorter than 128 bits;
    // digits and step are fixed, valid values.
    Ok(Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_step_duration(STEP_SECONDS)
        .with_skew(SKEW_STEPS)
        .with_secret(secret)
        .build_noncompliant())
}

/// `true` when the string parses as a usable secret.
pub fn is_valid_secret(secret_base32: &str) -> bool {
    totp_for(secret_base32).is_ok()
}

/// The code for the step containing `unix_time`.
pub fn code_at(secret_base32: &str, unix_time: u64) -> Result<String, TotpError> {
    Ok(totp_for(secret_base32)?.generate(unix_time).to_string())
}

/// Checks a code at `unix_time` with ±1 step; returns the matched step number
/// (`unix_time / 30` ± 1). Surrounding whitespace is ignored; anything but exactly six ASCII
/// digits is refused.
pub fn verify_at(secret_base32: &str, code: &str, unix_time: u64) -> Option<u64> {
    let code = code.trim();
    if code.len() != usize::from(DIGITS) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    totp_for(secret_base32).ok()?.check(code, unix_time)
}

/// [`verify_at`] with the current system time.
pub fn verify_now(secret_base32: &str, code: &str) -> Option<u64> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    verify_at(secret_base32, code, now)
}

/// `otpauth://totp/<issuer>:<email>?secret=…&issuer=…`, encoded like pyotp's `build_uri`:
/// the label parts use `urllib.parse.quote` (safe `/`), the query uses `urlencode` with `+`
/// replaced by `%20`. An empty issuer is omitted, as pyotp does for a falsy issuer name.
pub fn provisioning_uri(secret_base32: &str, email: &str, issuer: &str) -> String {
    let mut label = quote(email, b"/");
    let mut query = format!("secret={}", quote(secret_base32, b""));
    if !issuer.is_empty() {
        label = format!("{}:{}", quote(issuer, b"/"), label);
        query.push_str("&issuer=");
        query.push_str(&quote(issuer, b""));
    }
    format!("otpauth://totp/{label}?{query}")
}

/// Python's `urllib.parse.quote(s, safe)`: unreserved ASCII and `safe` bytes stay, everything
/// else becomes `%XX` (upper-case hex) of its UTF-8 bytes. A space is `%20`, which is also what
/// pyotp's `urlencode(...).replace("+", "%20")` yields for query values.
fn quote(input: &str, safe: &[u8]) -> String {
    let mut out = String::with_capacity(input.len());
    for &b in input.as_bytes() {
        if b.is_ascii_alphanumeric() || b"_.-~".contains(&b) || safe.contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    const AT: u64 = 1_767_225_600;

    #[test]
    fn known_codes_and_window() {
        assert_eq!(code_at(SECRET, AT).unwrap(), "452777");
        assert_eq!(verify_at(SECRET, "452777", AT), Some(AT / 30));
        assert_eq!(verify_at(SECRET, "633020", AT), Some(AT / 30 - 1));
        assert_eq!(verify_at(SECRET, "978927", AT), Some(AT / 30 + 1));
        assert_eq!(verify_at(SECRET, " 452777\n", AT), Some(AT / 30));
        // Two steps away is refused.
        assert_eq!(verify_at(SECRET, "452777", AT + 60), None);
        assert_eq!(verify_at(SECRET, "452777", AT - 60), None);
    }

    #[test]
    fn malformed_codes_and_secrets_are_refused() {
        for bad in ["", "45277", "4527777", "45277a", "452 777", "-452777"] {
            assert_eq!(verify_at(SECRET, bad, AT), None, "{bad:?}");
        }
        assert_eq!(verify_at("", "452777", AT), None);
        assert_eq!(verify_at("not base32!", "452777", AT), None);
        assert!(code_at("1111", AT).is_err());
        // Lower case and padding are accepted like pyotp.
        assert_eq!(
            code_at(&SECRET.to_lowercase(), AT).unwrap(),
            code_at(SECRET, AT).unwrap()
        );
        assert_eq!(code_at("JBSWY3DPEHPK3PXP====", AT).unwrap().len(), 6);
    }

    #[test]
    fn generated_secrets_look_like_pyotp() {
        let s = generate_secret();
        assert_eq!(s.len(), 32);
        assert!(s.chars().all(|c| BASE32_ALPHABET.contains(c)));
        assert!(is_valid_secret(&s));
        assert_ne!(s, generate_secret());
        let code = code_at(&s, AT).unwrap();
        assert!(verify_at(&s, &code, AT).is_some());
    }

    #[test]
    fn provisioning_uri_layout() {
        assert_eq!(
            provisioning_uri(SECRET, "admin@example.com", "Sole LLC"),
            "otpauth://totp/Sole%20LLC:admin%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Sole%20LLC"
        );
        // `/` is safe in the label only; `+`, `&`, `:` and non-ASCII are escaped.
        assert_eq!(
            provisioning_uri("ABC", "a+b/c@x.io", "A&B: Ünï/co"),
            "otpauth://totp/A%26B%3A%20%C3%9Cn%C3%AF/co:a%2Bb/c%40x.io?secret=ABC&issuer=A%26B%3A%20%C3%9Cn%C3%AF%2Fco"
        );
        assert_eq!(
            provisioning_uri("ABC", "a@x.io", ""),
            "otpauth://totp/a%40x.io?secret=ABC"
        );
    }
}
