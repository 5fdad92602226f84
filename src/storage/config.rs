//! The storage settings group (contract §2): the legacy env names and defaults, parsed from the
//! merged environment like every other group, collecting every problem.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::{EnvMap, Problem};

use super::content::MIB;

/// GCS V4 signed URLs live at most seven days.
pub const MAX_SIGNED_URL_SECONDS: u64 = 604_800;

/// Which backend holds an object: the global default for new keys (`STORAGE_PROVIDER`), or a
/// row's own `storage_provider`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    Local,
    Gcs,
}

impl Provider {
    /// The value stored in `storage_provider` / `assets.provider` and returned to clients.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Gcs => "gcs",
        }
    }

    /// The provider a stored row means. `gcs` in any case is GCS; anything else (null, empty,
    /// `local`, an unknown string) is local, as both legacy read paths treat it.
    pub fn of_row(stored: Option<&str>) -> Self {
        match stored {
            Some(s) if s.trim().eq_ignore_ascii_case("gcs") => Self::Gcs,
            _ => Self::Local,
        }
    }
}

#[derive(Clone, Debug)]
pub struct StorageSettings {
    /// `STORAGE_PROVIDER` (`local` | `gcs`, default `local`).
    pub provider: Provider,
    /// `GCS_BUCKET`; empty is unset.
    pub gcs_bucket: Option<String>,
    /// `GCS_SIGNED_URL_EXPIRY_SECONDS` (900): GCS upload URLs and every download URL.
    pub signed_url_expiry: Duration,
    /// `LOCAL_UPLOAD_DIR` (`local_uploads`, relative to the working directory).
    pub local_upload_dir: PathBuf,
    /// `PUBLIC_BASE_URL` (`http://localhost:8000`) without trailing `/`: prefix of local URLs.
    pub public_base_url: String,
    /// `MAX_UPLOAD_SIZE_MB` (50).
    pub max_upload_size_mb: u64,
    /// `GCS_SIGNED_URL_BIND_SIZE` (true): GCS upload URLs also sign
    /// `x-goog-content-length-range: 0,<cap>`, which the client must send (it is returned in the
    /// required headers) and the bucket CORS policy must allow. Turn off only for a bucket whose
    /// CORS rules cannot list that header; registration still checks the stored size.
    pub gcs_bind_upload_size: bool,
    /// `GOOGLE_APPLICATION_CREDENTIALS`: an ADC file (service-account key or user credentials).
    /// Unset on Cloud Run, where the metadata server (workload identity) is used.
    pub google_application_credentials: Option<PathBuf>,
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self::parse(&EnvMap::new()).0
    }
}

fn opt(env: &EnvMap, key: &str) -> Option<String> {
    env.get(key)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

impl StorageSettings {
    /// `STORAGE_PROVIDER=gcs` with a bucket: the only case GCS upload URLs can be minted.
    pub fn gcs_ready(&self) -> bool {
        self.provider == Provider::Gcs && self.gcs_bucket.is_some()
    }

    /// The upload cap in bytes (`MAX_UPLOAD_SIZE_MB × 1 048 576`).
    pub fn max_upload_bytes(&self) -> u64 {
        self.max_upload_size_mb.saturating_mul(MIB)
    }

    /// Parses the group; malformed values fall back to their defaults and are reported.
    pub fn parse(env: &EnvMap) -> (Self, Vec<Problem>) {
        let mut problems = Vec::new();
        let mut problem = |var: &'static str, message: String| {
            problems.push(Problem { var, message });
        };

        let provider = match opt(env, "STORAGE_PROVIDER")
            .map(|s| s.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("local") => Provider::Local,
            Some("gcs") => Provider::Gcs,
            Some(other) => {
                problem(
                    "STORAGE_PROVIDER",
                    format!("must be 'local' or 'gcs', got {other:?}"),
                );
                Provider::Local
            }
        };

        let signed_url_expiry = match opt(env, "GCS_SIGNED_URL_EXPIRY_SECONDS") {
            None => 900,
            Some(raw) => match raw.parse::<u64>() {
                Ok(v) if (1..=MAX_SIGNED_URL_SECONDS).contains(&v) => v,
                _ => {
                    problem(
                        "GCS_SIGNED_URL_EXPIRY_SECONDS",
                        format!(
                            "expected a whole number of seconds from 1 to {MAX_SIGNED_URL_SECONDS} (the GCS V4 limit), got {raw:?}"
                        ),
                    );
                    900
                }
            },
        };

        let max_upload_size_mb = match opt(env, "MAX_UPLOAD_SIZE_MB") {
            None => 50,
            Some(raw) => match raw.parse::<u64>() {
                Ok(v) if v >= 1 && v.checked_mul(MIB).is_some() => v,
                _ => {
                    problem(
                        "MAX_UPLOAD_SIZE_MB",
                        format!("expected a whole number of megabytes, at least 1, got {raw:?}"),
                    );
                    50
                }
            },
        };

        let default_base = "http://localhost:8000";
        let base = opt(env, "PUBLIC_BASE_URL").unwrap_or_else(|| default_base.to_owned());
        let public_base_url = match url::Url::parse(&base) {
            Ok(u)
                if matches!(u.scheme(), "http" | "https")
                    && u.host_str().is_some()
                    && u.query().is_none()
                    && u.fragment().is_none() =>
            {
                base.trim_end_matches('/').to_owned()
            }
            _ => {
                problem(
                    "PUBLIC_BASE_URL",
                    format!("must be an http(s) URL without query, got {base:?}"),
                );
                default_base.to_owned()
            }
        };

        let gcs_bind_upload_size = match opt(env, "GCS_SIGNED_URL_BIND_SIZE") {
            None => true,
            Some(raw) => crate::config::parse_bool(&raw).unwrap_or_else(|| {
                problem(
                    "GCS_SIGNED_URL_BIND_SIZE",
                    format!("expected true/false, got {raw:?}"),
                );
                true
            }),
        };

        let settings = Self {
            provider,
            gcs_bucket: opt(env, "GCS_BUCKET"),
            signed_url_expiry: Duration::from_secs(signed_url_expiry),
            local_upload_dir: PathBuf::from(
                opt(env, "LOCAL_UPLOAD_DIR").unwrap_or_else(|| "local_uploads".to_owned()),
            ),
            public_base_url,
            max_upload_size_mb,
            gcs_bind_upload_size,
            google_application_credentials: opt(env, "GOOGLE_APPLICATION_CREDENTIALS")
                .map(PathBuf::from),
        };
        (settings, problems)
    }

    /// Production rules: a `gcs` backend needs its bucket (the legacy only failed per request).
    /// Outside production a missing bucket is the per-request 400 `storage_not_configured` of
    /// the contract.
    pub fn production_problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        if self.provider == Provider::Gcs && self.gcs_bucket.is_none() {
            out.push(Problem {
                var: "GCS_BUCKET",
                message: "is required when STORAGE_PROVIDER=gcs".to_owned(),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EnvMap {
        EnvMap::from_pairs(pairs.iter().map(|(k, v)| (*k, *v)))
    }

    #[test]
    fn defaults_are_the_legacy_ones() {
        let (s, problems) = StorageSettings::parse(&EnvMap::new());
        assert!(problems.is_empty());
        assert_eq!(s.provider, Provider::Local);
        assert_eq!(s.gcs_bucket, None);
        assert_eq!(s.signed_url_expiry, Duration::from_secs(900));
        assert_eq!(s.local_upload_dir, PathBuf::from("local_uploads"));
        assert_eq!(s.public_base_url, "http://localhost:8000");
        assert_eq!(s.max_upload_size_mb, 50);
        assert_eq!(s.max_upload_bytes(), 50 * 1_048_576);
        assert!(s.gcs_bind_upload_size);
        assert!(s.production_problems().is_empty());
    }

    #[test]
    fn values_are_read_case_insensitively_and_trailing_slashes_dropped() {
        let (s, problems) = StorageSettings::parse(&env(&[
            ("storage_provider", "GCS"),
            ("GCS_BUCKET", "sole-486122-prod-storage"),
            ("GCS_SIGNED_URL_EXPIRY_SECONDS", "600"),
            ("PUBLIC_BASE_URL", "https://api.example.com//"),
            ("MAX_UPLOAD_SIZE_MB", "1"),
            ("LOCAL_UPLOAD_DIR", "/data/uploads"),
        ]));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(s.provider, Provider::Gcs);
        assert!(s.gcs_ready());
        assert_eq!(s.gcs_bucket.as_deref(), Some("sole-486122-prod-storage"));
        assert_eq!(s.signed_url_expiry, Duration::from_secs(600));
        assert_eq!(s.public_base_url, "https://api.example.com");
        assert_eq!(s.max_upload_bytes(), 1_048_576);
        assert_eq!(s.local_upload_dir, PathBuf::from("/data/uploads"));
    }

    #[test]
    fn every_problem_is_reported() {
        let (_, problems) = StorageSettings::parse(&env(&[
            ("STORAGE_PROVIDER", "s3"),
            ("GCS_SIGNED_URL_EXPIRY_SECONDS", "604801"),
            ("MAX_UPLOAD_SIZE_MB", "0"),
            ("PUBLIC_BASE_URL", "localhost:8000"),
            ("GCS_SIGNED_URL_BIND_SIZE", "maybe"),
        ]));
        let vars: Vec<_> = problems.iter().map(|p| p.var).collect();
        assert_eq!(
            vars,
            [
                "STORAGE_PROVIDER",
                "GCS_SIGNED_URL_EXPIRY_SECONDS",
                "MAX_UPLOAD_SIZE_MB",
                "PUBLIC_BASE_URL",
                "GCS_SIGNED_URL_BIND_SIZE"
            ]
        );
        assert!(problems[0].message.contains("'local' or 'gcs'"));
    }

    #[test]
    fn gcs_without_a_bucket_is_a_production_problem_only() {
        let (s, problems) =
            StorageSettings::parse(&env(&[("STORAGE_PROVIDER", "gcs"), ("GCS_BUCKET", " ")]));
        assert!(problems.is_empty());
        assert!(!s.gcs_ready());
        let prod = s.production_problems();
        assert_eq!(prod.len(), 1);
        assert_eq!(
            prod[0].to_string(),
            "GCS_BUCKET: is required when STORAGE_PROVIDER=gcs"
        );
    }

    #[test]
    fn rows_route_by_their_own_provider() {
        assert_eq!(Provider::of_row(Some("gcs")), Provider::Gcs);
        assert_eq!(Provider::of_row(Some(" GCS ")), Provider::Gcs);
        assert_eq!(Provider::of_row(Some("local")), Provider::Local);
        assert_eq!(Provider::of_row(Some("s3")), Provider::Local);
        assert_eq!(Provider::of_row(Some("")), Provider::Local);
        assert_eq!(Provider::of_row(None), Provider::Local);
    }
}
