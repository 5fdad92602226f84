//! Where the raw values come from: the merged `KEY -> value` map, the flat YAML file of
//! `--env-vars-file`, `.env`, the process environment, and I/O errors in words.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::ConfigError;

/// Raw `KEY -> value` pairs after merging the sources; keys are upper-cased because the legacy
/// settings were case-insensitive. Each value remembers where it came from (for messages such as
/// "DATABASE_URL from .env"), and the map remembers which keys were asked for, so that a key no
/// parser reads can be reported as a probable typo.
#[derive(Debug, Default)]
pub struct EnvMap {
    values: BTreeMap<String, String>,
    origins: BTreeMap<String, String>,
    read: Mutex<BTreeSet<String>>,
}

impl Clone for EnvMap {
    fn clone(&self) -> Self {
        Self {
            values: self.values.clone(),
            origins: self.origins.clone(),
            read: Mutex::new(self.keys_read()),
        }
    }
}

/// Where the process environment's values come from, in messages.
pub const ORIGIN_ENVIRONMENT: &str = "the environment";

impl EnvMap {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Into<String>,
    {
        let mut map = Self::new();
        for (k, v) in pairs {
            map.set(k.as_ref(), v);
        }
        map
    }

    /// Sets a value without a named origin (defaults chosen by a command, tests).
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        let key = key.to_ascii_uppercase();
        self.origins.remove(&key);
        self.values.insert(key, value.into());
    }

    /// Sets a value and says where it came from (`.env`, a config file, the environment, …).
    pub fn set_from(&mut self, key: &str, value: impl Into<String>, origin: impl Into<String>) {
        let key = key.to_ascii_uppercase();
        self.origins.insert(key.clone(), origin.into());
        self.values.insert(key, value.into());
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        if let Ok(mut read) = self.read.lock() {
            read.insert(key.to_ascii_uppercase());
        }
        self.values.get(key).map(String::as_str)
    }

    /// Where `key`'s value came from, when known.
    pub fn origin(&self, key: &str) -> Option<&str> {
        self.origins.get(key).map(String::as_str)
    }

    /// Every key, with its origin when known.
    pub fn keys(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.values
            .keys()
            .map(|k| (k.as_str(), self.origins.get(k).map(String::as_str)))
    }

    /// The keys some parser asked for so far.
    pub fn keys_read(&self) -> BTreeSet<String> {
        self.read.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Layers `other` over `self` (other wins).
    pub fn overlay(&mut self, other: EnvMap) {
        for (k, v) in other.values {
            match other.origins.get(&k) {
                Some(origin) => self.origins.insert(k.clone(), origin.clone()),
                None => self.origins.remove(&k),
            };
            self.values.insert(k, v);
        }
    }

    /// Loads the sources in priority order. `config_file` comes from `--config`; when it is
    /// `None`, `CONFIG_FILE` from the environment (or `.env`) is used.
    pub fn load(config_file: Option<&Path>, dotenv: Option<&Path>) -> Result<Self, ConfigError> {
        let mut map = EnvMap::new();
        if let Some(path) = dotenv.filter(|p| p.exists()) {
            let origin = path.display().to_string();
            let iter = dotenvy::from_path_iter(path).map_err(|e| ConfigError::File {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
            for item in iter {
                let (k, v) = item.map_err(|e| ConfigError::File {
                    path: path.to_owned(),
                    reason: e.to_string(),
                })?;
                map.set_from(&k, v, origin.clone());
            }
        }
        let mut process = EnvMap::new();
        for (k, v) in std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        {
            process.set_from(&k, v, ORIGIN_ENVIRONMENT);
        }
        let named = config_file
            .map(|p| {
                // clap fills `--config` from CONFIG_FILE too: name the one the user wrote.
                let by = if std::env::var_os("CONFIG_FILE").is_some_and(|v| Path::new(&v) == p) {
                    "CONFIG_FILE"
                } else {
                    "--config"
                };
                (p.to_path_buf(), by)
            })
            .or_else(|| {
                process
                    .values
                    .get("CONFIG_FILE")
                    .map(|p| (PathBuf::from(p), "CONFIG_FILE"))
                    .or_else(|| {
                        map.values
                            .get("CONFIG_FILE")
                            .map(|p| (PathBuf::from(p), "CONFIG_FILE in .env"))
                    })
            });
        if let Some((path, by)) = named {
            if !path.is_file() {
                return Err(ConfigError::File {
                    path: path.clone(),
                    reason: format!(
                        "no such file (named by {by}; sole refuses a missing configuration file, \
                         where the legacy service silently ignored it)"
                    ),
                });
            }
            map.overlay(read_env_vars_file(&path)?);
        }
        map.overlay(process);
        Ok(map)
    }
}

/// Reads a flat YAML map (`KEY: value`), the format of `gcloud run deploy --env-vars-file`.
/// Scalars of any YAML type are accepted and turned into their string form.
pub fn read_env_vars_file(path: &Path) -> Result<EnvMap, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        path: path.to_owned(),
        reason: describe_io(&e),
    })?;
    let value: yaml_serde::Value = yaml_serde::from_str(&text).map_err(|e| ConfigError::File {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let mut map = EnvMap::new();
    match value {
        yaml_serde::Value::Null => {}
        yaml_serde::Value::Mapping(entries) => {
            for (k, v) in entries {
                let key = match k {
                    yaml_serde::Value::String(s) => s,
                    other => {
                        return Err(ConfigError::File {
                            path: path.to_owned(),
                            reason: format!("keys must be strings, found {other:?}"),
                        });
                    }
                };
                let value = match v {
                    yaml_serde::Value::String(s) => s,
                    yaml_serde::Value::Bool(b) => b.to_string(),
                    yaml_serde::Value::Number(n) => n.to_string(),
                    yaml_serde::Value::Null => String::new(),
                    _ => {
                        return Err(ConfigError::File {
                            path: path.to_owned(),
                            reason: format!("{key}: only scalar values are allowed"),
                        });
                    }
                };
                map.set_from(&key, value, path.display().to_string());
            }
        }
        _ => {
            return Err(ConfigError::File {
                path: path.to_owned(),
                reason: "expected a flat KEY: value map".into(),
            });
        }
    }
    Ok(map)
}

/// An I/O error in words a user can act on, without the OS's "(os error N)".
pub fn describe_io(err: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match err.kind() {
        K::NotFound => "no such file".to_owned(),
        K::PermissionDenied => "permission denied (check the file's owner and mode)".to_owned(),
        K::IsADirectory => "is a directory, not a file".to_owned(),
        K::InvalidData => "not valid UTF-8 text".to_owned(),
        K::ConnectionRefused => "connection refused (nothing listens there)".to_owned(),
        K::TimedOut => "timed out".to_owned(),
        K::WouldBlock => "timed out (no answer)".to_owned(),
        K::ConnectionReset => "connection reset by the server".to_owned(),
        K::AddrNotAvailable => "address not available".to_owned(),
        K::NotADirectory => "a path component is not a directory".to_owned(),
        kind => {
            let text = err.to_string();
            match text.find(" (os error") {
                Some(i) => text[..i].to_owned(),
                None if text.is_empty() => kind.to_string(),
                None => text,
            }
        }
    }
}
