//! The typed reads every concern shares: strings, secrets, numbers and booleans that record a
//! problem instead of failing, and the list and boolean spellings of the legacy settings.

use secrecy::SecretString;

use super::{EnvMap, Problem};

/// The largest float setting accepted: about 31 years of seconds.
pub(super) const MAX_FLOAT: f64 = 1e9;

/// Collects typed values and every problem met on the way. The problems are listed in the
/// order the values are read, so the order of the reads in `Settings::parse` is the order of
/// `sole config check`'s list.
pub(super) struct Reader<'a> {
    pub(super) env: &'a EnvMap,
    pub(super) problems: Vec<Problem>,
}

impl<'a> Reader<'a> {
    pub(super) fn new(env: &'a EnvMap) -> Self {
        Self {
            env,
            problems: Vec::new(),
        }
    }

    pub(super) fn raw(&self, key: &str) -> Option<&'a str> {
        self.env.get(key)
    }

    pub(super) fn problem(&mut self, var: &'static str, message: impl Into<String>) {
        self.problems.push(Problem::new(var, message));
    }

    pub(super) fn string(&self, key: &str, default: &str) -> String {
        self.raw(key)
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|| default.to_owned())
    }

    /// An optional value; empty counts as unset.
    pub(super) fn opt(&self, key: &str) -> Option<String> {
        self.raw(key)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    }

    pub(super) fn secret(&self, key: &str) -> Option<SecretString> {
        // Secrets are not trimmed (a PEM or password is used as given), but empty is unset.
        self.raw(key)
            .filter(|s| !s.trim().is_empty())
            .map(|s| SecretString::from(s.to_owned()))
    }

    pub(super) fn number<T: std::str::FromStr + Copy>(
        &mut self,
        key: &'static str,
        default: T,
    ) -> T {
        match self.raw(key).map(str::trim).filter(|s| !s.is_empty()) {
            None => default,
            Some(raw) => match raw.parse::<T>() {
                Ok(v) => v,
                Err(_) => {
                    self.problem(key, format!("expected a whole number, got {raw:?}"));
                    default
                }
            },
        }
    }

    /// A non-negative number of at most [`MAX_FLOAT`] (every float setting is in seconds).
    pub(super) fn float(&mut self, key: &'static str, default: f64) -> f64 {
        match self.raw(key).map(str::trim).filter(|s| !s.is_empty()) {
            None => default,
            Some(raw) => match raw.parse::<f64>() {
                Ok(v) if v.is_finite() && (0.0..=MAX_FLOAT).contains(&v) => v,
                // Every float setting is a number of seconds: a huge one would not fit a
                // `Duration` (and would mean "never" anyway).
                Ok(v) if v.is_finite() && v > MAX_FLOAT => {
                    self.problem(
                        key,
                        format!("expected a number of at most {MAX_FLOAT}, got {raw:?}"),
                    );
                    default
                }
                _ => {
                    self.problem(key, format!("expected a non-negative number, got {raw:?}"));
                    default
                }
            },
        }
    }

    pub(super) fn boolean(&mut self, key: &'static str, default: bool) -> bool {
        match self.raw(key).map(str::trim).filter(|s| !s.is_empty()) {
            None => default,
            Some(raw) => match parse_bool(raw) {
                Some(v) => v,
                None => {
                    self.problem(key, format!("expected true/false, got {raw:?}"));
                    default
                }
            },
        }
    }
}

/// pydantic's boolean spellings.
pub fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "t" | "yes" | "y" | "on" => Some(true),
        "0" | "false" | "f" | "no" | "n" | "off" => Some(false),
        _ => None,
    }
}

/// A list given either as a JSON array or as a comma-separated string.
pub(super) fn parse_list(raw: &str) -> Result<Vec<String>, String> {
    let trimmed = raw.trim();
    if trimmed.starts_with('[') {
        let items: Vec<String> =
            serde_json::from_str(trimmed).map_err(|e| format!("invalid JSON array: {e}"))?;
        Ok(items
            .into_iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect())
    } else {
        Ok(trimmed
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect())
    }
}
