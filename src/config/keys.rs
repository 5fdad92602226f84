//! Keys nothing reads: the list of every key `sole` knows and the closest one to a typo.

use std::collections::BTreeSet;
use std::fmt;

use super::{EnvMap, ORIGIN_ENVIRONMENT, Settings};

/// Keys read by something other than the settings parser (commands, flags' `env = …`).
const OTHER_KNOWN_KEYS: &[&str] = &[
    "PORT",
    "HOST",
    "CONFIG_FILE",
    "SOLE_SEEDS_DIR",
    "SOLE_DEV_POSTGRES",
    "ENV_FILE",
    "PROJECT_ID",
    "REGION",
    "SERVICE_NAME",
    "MIGRATE_JOB",
    "SEED_JOB",
    "JOB_ENV_FILE",
    "JOB_SECRETS",
    "RUNTIME_SERVICE_ACCOUNT",
    "RUST_LOG",
    "NO_COLOR",
];

/// Every key `sole` reads: whatever the settings parser asks for (with both storage providers),
/// plus the keys read by commands and flags.
pub fn known_keys() -> BTreeSet<String> {
    let mut known: BTreeSet<String> = OTHER_KNOWN_KEYS.iter().map(|k| (*k).to_owned()).collect();
    for provider in ["local", "gcs"] {
        let env = EnvMap::from_pairs([
            ("STORAGE_PROVIDER", provider),
            ("ENVIRONMENT", "production"),
        ]);
        let _ = Settings::check(&env);
        known.extend(env.keys_read());
    }
    known
}

/// A key no part of `sole` reads: probably a typo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownKey {
    pub key: String,
    pub origin: Option<String>,
    /// The closest known key, when one is close.
    pub suggestion: Option<String>,
}

impl fmt::Display for UnknownKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.key)?;
        if let Some(origin) = &self.origin {
            write!(f, " (in {origin})")?;
        }
        write!(f, ": not a setting sole reads")?;
        match &self.suggestion {
            Some(s) => write!(f, "; a typo of {s}?"),
            None => write!(f, "; a typo, or a leftover?"),
        }
    }
}

/// The keys of `env` that came from a file (`.env`, a config file) and that nothing reads.
/// The process environment is not checked: it holds PATH, HOME and the like.
pub fn unknown_keys(env: &EnvMap) -> Vec<UnknownKey> {
    let known = known_keys();
    env.keys()
        .filter(|(_, origin)| *origin != Some(ORIGIN_ENVIRONMENT))
        .filter(|(key, _)| !known.contains(*key))
        .map(|(key, origin)| UnknownKey {
            key: key.to_owned(),
            origin: origin.map(str::to_owned),
            suggestion: closest(key, &known),
        })
        .collect()
}

/// The known key closest to `key` when it is within a few edits.
pub fn closest(key: &str, known: &BTreeSet<String>) -> Option<String> {
    let key = key.to_ascii_uppercase();
    known
        .iter()
        .map(|k| (edit_distance(&key, k), k))
        .filter(|(d, k)| *d <= 3.max(k.len() / 6) && *d < k.len() / 2)
        .min()
        .map(|(_, k)| k.clone())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut row = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            row[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(row[j] + 1);
        }
        prev = row;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_from_files_are_reported_with_the_closest_known_key() {
        let mut env = EnvMap::new();
        env.set_from("DATABSE_URL", "x", ".env");
        env.set_from("LOG_LEVEL", "INFO", ".env");
        env.set_from("HOME", "/root", ORIGIN_ENVIRONMENT);
        env.set_from("TOTALLY_UNRELATED_THING", "1", "config.yaml");
        let unknown = unknown_keys(&env);
        assert_eq!(unknown.len(), 2, "{unknown:?}");
        assert_eq!(unknown[0].key, "DATABSE_URL");
        assert_eq!(unknown[0].suggestion.as_deref(), Some("DATABASE_URL"));
        assert_eq!(unknown[1].suggestion, None);
        assert!(known_keys().contains("GCS_BUCKET"));
    }
}
