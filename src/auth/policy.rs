//! The legacy password policy (contract §4.9) and generated temporary passwords.
//!
//! Checks run in the legacy order and the first failure wins: length (in characters, on the raw
//! input), lowercase, uppercase, digit, special (anything not ASCII alphanumeric, so a space
//! counts), and last the common-password list (trimmed, lower-cased input). Because every common
//! password is shorter than the default 12-character minimum, "too common" is reachable only with
//! padding such as `" Password123 "`, exactly like the legacy service.

use rand::seq::SliceRandom as _;

use super::random;

/// Rejected after trimming and lower-casing (legacy list, in the legacy order).
pub const COMMON_PASSWORDS: &[&str] = &[
    "password",
    "password123",
    "admin123",
    "qwerty123",
    "changeme",
    "changeme123",
    "welcome123",
    "letmein",
];

/// Special characters used by [`generate_temporary_password`].
pub const TEMP_PASSWORD_SPECIALS: &str = "!@#$%^&*()-_=+";
/// Length of [`generate_temporary_password`] output.
pub const TEMP_PASSWORD_LENGTH: usize = 16;

const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &str = "0123456789";

/// Why a password was refused; `Display` gives the exact legacy message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    #[error("Password too short; minimum {0} characters")]
    TooShort(usize),
    #[error("Password must include at least one lowercase letter")]
    MissingLowercase,
    #[error("Password must include at least one uppercase letter")]
    MissingUppercase,
    #[error("Password must include at least one numeric character")]
    MissingDigit,
    #[error("Password must include at least one special character")]
    MissingSpecial,
    #[error("Password is too common; choose a stronger password")]
    TooCommon,
}

/// The policy with its minimum length (`DEFAULT_PASSWORD_MIN_LENGTH`, `Settings::
/// default_password_min_length`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_length: usize,
}

impl PasswordPolicy {
    pub fn new(min_length: usize) -> Self {
        Self { min_length }
    }

    /// Checks a password; the first failing rule, in legacy order, is returned.
    pub fn check(&self, password: &str) -> Result<(), PolicyViolation> {
        if password.chars().count() < self.min_length {
            return Err(PolicyViolation::TooShort(self.min_length));
        }
        if !password.chars().any(|c| c.is_ascii_lowercase()) {
            return Err(PolicyViolation::MissingLowercase);
        }
        if !password.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(PolicyViolation::MissingUppercase);
        }
        if !password.chars().any(|c| c.is_ascii_digit()) {
            return Err(PolicyViolation::MissingDigit);
        }
        if !password.chars().any(|c| !c.is_ascii_alphanumeric()) {
            return Err(PolicyViolation::MissingSpecial);
        }
        if is_common(password) {
            return Err(PolicyViolation::TooCommon);
        }
        Ok(())
    }
}

/// The common-password rule alone: trimmed, lower-cased input against [`COMMON_PASSWORDS`].
pub fn is_common(password: &str) -> bool {
    let normalized = password.trim().to_lowercase();
    COMMON_PASSWORDS.contains(&normalized.as_str())
}

/// A 16-character temporary password from a CSPRNG with at least one lowercase letter, one
/// uppercase letter, one digit and one special from [`TEMP_PASSWORD_SPECIALS`]; it passes the
/// policy for any minimum length up to 16.
pub fn generate_temporary_password() -> String {
    let classes = [LOWER, UPPER, DIGITS, TEMP_PASSWORD_SPECIALS];
    // One character of each class, the rest from all of them, then shuffled so the guaranteed
    // ones are not always first.
    let guaranteed: String = classes
        .iter()
        .map(|class| random::string_from(class, 1))
        .collect();
    let rest = random::string_from(&classes.concat(), TEMP_PASSWORD_LENGTH - classes.len());
    let mut out: Vec<char> = guaranteed.chars().chain(rest.chars()).collect();
    out.shuffle(&mut rand::rng());
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> PasswordPolicy {
        PasswordPolicy::new(12)
    }

    #[test]
    fn messages_match_the_legacy_texts() {
        let p = policy();
        let msg = |pw: &str| p.check(pw).unwrap_err().to_string();
        assert_eq!(msg("Ab1!"), "Password too short; minimum 12 characters");
        assert_eq!(
            msg("ABCDEFGHIJK1!"),
            "Password must include at least one lowercase letter"
        );
        assert_eq!(
            msg("abcdefghijk1!"),
            "Password must include at least one uppercase letter"
        );
        assert_eq!(
            msg("abcdefghijK!!"),
            "Password must include at least one numeric character"
        );
        assert_eq!(
            msg("abcdefghijK12"),
            "Password must include at least one special character"
        );
        assert_eq!(
            msg(" Password123 "),
            "Password is too common; choose a stronger password"
        );
        assert!(p.check("Wrong#Password1").is_ok());
    }

    #[test]
    fn order_of_checks_is_legacy() {
        let p = policy();
        // Short and missing everything: length wins.
        assert_eq!(p.check("    "), Err(PolicyViolation::TooShort(12)));
        // Long enough but missing every class: lowercase first.
        assert_eq!(
            p.check("            "),
            Err(PolicyViolation::MissingLowercase)
        );
        // Uppercase before digit before special.
        assert_eq!(
            p.check("aaaaaaaaaaaa"),
            Err(PolicyViolation::MissingUppercase)
        );
        assert_eq!(p.check("aaaaaaaaaaaA"), Err(PolicyViolation::MissingDigit));
        assert_eq!(
            p.check("aaaaaaaaaaA1"),
            Err(PolicyViolation::MissingSpecial)
        );
        // The common check runs last: padding makes it reachable.
        assert_eq!(p.check("   Welcome123   "), Err(PolicyViolation::TooCommon));
        // Unpadded common passwords fail earlier rules.
        assert_eq!(p.check("Password123"), Err(PolicyViolation::TooShort(12)));
    }

    #[test]
    fn common_list_is_trimmed_and_case_insensitive() {
        for pw in COMMON_PASSWORDS {
            assert!(is_common(pw));
            assert!(is_common(&format!("  {}\n", pw.to_uppercase())));
        }
        assert!(!is_common("password1234"));
        // Short minimums make the plain list reachable.
        assert_eq!(
            PasswordPolicy::new(8).check("LetMeIn1!"),
            Ok(()),
            "not on the list"
        );
        assert_eq!(
            PasswordPolicy::new(1).check(" Qwerty123 "),
            Err(PolicyViolation::TooCommon)
        );
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        let p = PasswordPolicy::new(12);
        // 11 characters, 22+ bytes.
        assert_eq!(p.check("ééééééééAa1"), Err(PolicyViolation::TooShort(12)));
        assert!(p.check("éééééééééAa1").is_ok());
    }

    #[test]
    fn temporary_passwords_pass_the_policy() {
        let p = PasswordPolicy::new(16);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..500 {
            let pw = generate_temporary_password();
            assert_eq!(pw.chars().count(), TEMP_PASSWORD_LENGTH);
            assert_eq!(p.check(&pw), Ok(()), "{pw}");
            assert!(pw.chars().any(|c| TEMP_PASSWORD_SPECIALS.contains(c)));
            assert!(
                pw.chars()
                    .all(|c| c.is_ascii_alphanumeric() || TEMP_PASSWORD_SPECIALS.contains(c))
            );
            seen.insert(pw);
        }
        assert_eq!(seen.len(), 500);
    }
}
