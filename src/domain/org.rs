//! Org ids: the tenant key used in headers, tokens, tables and partition names (contract §5, §7).

use std::fmt;

/// A normalised org id: trimmed, lower-cased, 2–64 chars of `[a-z0-9][a-z0-9_-]*`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct OrgId(String);

/// Why a candidate org id was refused; the texts are the legacy ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrgIdError {
    Length,
    Charset,
}

impl fmt::Display for OrgIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Length => "org_id must be between 2 and 64 characters",
            Self::Charset => "org_id may only contain lowercase letters, numbers, '-' and '_'",
        })
    }
}

impl std::error::Error for OrgIdError {}

impl OrgId {
    pub fn parse(raw: &str) -> Result<Self, OrgIdError> {
        let value = raw.trim().to_lowercase();
        let len = value.chars().count();
        if !(2..=64).contains(&len) {
            return Err(OrgIdError::Length);
        }
        let mut chars = value.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let rest_ok =
            chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !(first_ok && rest_ok) {
            return Err(OrgIdError::Charset);
        }
        Ok(Self(value))
    }

    /// Wraps an id read back from the database, where it was validated when written.
    pub fn from_trusted(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The partition suffix of contract §7: runs of characters outside `[a-zA-Z0-9_]` become
    /// one `_`, then `_` is trimmed and the result lower-cased; empty becomes `org`, and a
    /// leading digit gets an `org_` prefix. `sole-llc` → `sole_llc`.
    pub fn partition_suffix(&self) -> String {
        partition_suffix(&self.0)
    }
}

/// See [`OrgId::partition_suffix`]; also applied to ids of legacy rows that were never
/// normalised (the legacy seed did not normalise extra org ids).
pub fn partition_suffix(org_id: &str) -> String {
    let mut out = String::with_capacity(org_id.len());
    let mut in_run = false;
    for c in org_id.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    let trimmed = out.trim_matches('_').to_lowercase();
    if trimmed.is_empty() {
        "org".to_owned()
    } else if trimmed.starts_with(|c: char| c.is_ascii_digit()) {
        format!("org_{trimmed}")
    } else {
        trimmed
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for OrgId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_ids_are_trimmed_and_lower_cased() {
        assert_eq!(OrgId::parse("  Sole-LLC ").unwrap().as_str(), "sole-llc");
    }

    #[test]
    fn org_id_rules_use_the_legacy_messages() {
        assert_eq!(
            OrgId::parse("a").unwrap_err().to_string(),
            "org_id must be between 2 and 64 characters"
        );
        assert_eq!(
            OrgId::parse(&"a".repeat(65)).unwrap_err(),
            OrgIdError::Length
        );
        assert_eq!(
            OrgId::parse("Bad Org!").unwrap_err().to_string(),
            "org_id may only contain lowercase letters, numbers, '-' and '_'"
        );
        assert_eq!(OrgId::parse("-abc").unwrap_err(), OrgIdError::Charset);
        assert!(OrgId::parse("9lives_co").is_ok());
    }

    #[test]
    fn partition_suffixes_follow_the_legacy_rule() {
        assert_eq!(partition_suffix("sole-llc"), "sole_llc");
        assert_eq!(partition_suffix("--"), "org");
        assert_eq!(partition_suffix("9lives"), "org_9lives");
        assert_eq!(partition_suffix("A..b--c"), "a_b_c");
        assert_eq!(partition_suffix("_x_"), "x");
    }
}
