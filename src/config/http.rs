//! The HTTP server: CORS origins (`ALLOWED_ORIGINS`) and the announcement stream's limits
//! (`ANNOUNCEMENT_STREAM_*`). The plain request limits and headers (`REQUEST_*`,
//! `MAX_REQUEST_*`, `HEADER_READ_TIMEOUT_SECONDS`, `ENABLE_HSTS`, `CONTENT_SECURITY_POLICY*`,
//! `PROXIES_COUNT`) are single reads in `Settings::parse`.

use std::time::Duration;

use super::reader::{Reader, parse_list};
use super::{Problem, Settings};

/// Checks one CORS origin and returns its normal form `scheme://host[:port]`.
pub fn normalize_origin(raw: &str) -> Result<String, String> {
    let value = raw.trim();
    if value == "*" {
        return Err("'*' is not allowed: list the exact origins".into());
    }
    let parsed =
        url::Url::parse(value).map_err(|_| format!("{value:?} is not a valid origin URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("{value:?} must use http or https"));
    }
    let Some(host) = parsed.host_str() else {
        return Err(format!("{value:?} has no host"));
    };
    if parsed.path() != "/" || parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!("{value:?} must not have a path, query or fragment"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!("{value:?} must not carry credentials"));
    }
    Ok(match parsed.port() {
        Some(port) => format!("{}://{}:{}", parsed.scheme(), host, port),
        None => format!("{}://{}", parsed.scheme(), host),
    })
}

/// `ALLOWED_ORIGINS`: normalised, duplicates dropped, every refused origin reported.
pub(super) fn allowed_origins(r: &mut Reader<'_>) -> Vec<String> {
    match parse_list(&r.string("ALLOWED_ORIGINS", "http://localhost:3000")) {
        Err(e) => {
            r.problem("ALLOWED_ORIGINS", e);
            Vec::new()
        }
        Ok(items) => {
            let mut out: Vec<String> = Vec::new();
            for item in items {
                match normalize_origin(&item) {
                    Ok(origin) if !out.contains(&origin) => out.push(origin),
                    Ok(_) => {}
                    Err(e) => r.problem("ALLOWED_ORIGINS", e),
                }
            }
            out
        }
    }
}

/// The announcement stream's timing and buffer, clamped to their minimums.
pub(super) struct AnnouncementStream {
    pub(super) keepalive: Duration,
    pub(super) max: Duration,
    pub(super) buffer: usize,
}

/// `ANNOUNCEMENT_STREAM_KEEPALIVE_SECONDS`, `ANNOUNCEMENT_STREAM_MAX_SECONDS` and
/// `ANNOUNCEMENT_STREAM_BUFFER`.
pub(super) fn announcement_stream(r: &mut Reader<'_>) -> AnnouncementStream {
    let announcement_stream_keepalive = r.float("ANNOUNCEMENT_STREAM_KEEPALIVE_SECONDS", 15.0);
    if announcement_stream_keepalive < 0.05 {
        r.problem(
            "ANNOUNCEMENT_STREAM_KEEPALIVE_SECONDS",
            "must be at least 0.05 seconds",
        );
    }
    let announcement_stream_max = r.float("ANNOUNCEMENT_STREAM_MAX_SECONDS", 240.0);
    if announcement_stream_max < 1.0 {
        r.problem(
            "ANNOUNCEMENT_STREAM_MAX_SECONDS",
            "must be at least 1 second",
        );
    }
    let announcement_stream_buffer: usize = r.number("ANNOUNCEMENT_STREAM_BUFFER", 64);
    if announcement_stream_buffer == 0 {
        r.problem("ANNOUNCEMENT_STREAM_BUFFER", "must be at least 1");
    }
    AnnouncementStream {
        keepalive: Duration::from_secs_f64(announcement_stream_keepalive.max(0.05)),
        max: Duration::from_secs_f64(announcement_stream_max.max(1.0)),
        buffer: announcement_stream_buffer.max(1),
    }
}

/// In production the frontend's origins must be listed: the default names localhost.
pub(super) fn production_problems(s: &Settings, out: &mut Vec<Problem>) {
    if s.allowed_origins.is_empty() {
        out.push(Problem::new(
            "ALLOWED_ORIGINS",
            "must list the frontend origin(s)",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::EnvMap;
    use super::*;

    #[test]
    fn origins_accept_json_and_commas_and_are_normalised() {
        let s = Settings::from_env(&EnvMap::from_pairs([(
            "ALLOWED_ORIGINS",
            r#"["http://a.test:5173/", "https://b.test"]"#,
        )]))
        .unwrap();
        assert_eq!(
            s.allowed_origins,
            vec!["http://a.test:5173", "https://b.test"]
        );
        let s = Settings::from_env(&EnvMap::from_pairs([(
            "allowed_origins",
            "https://b.test, https://b.test",
        )]))
        .unwrap();
        assert_eq!(s.allowed_origins, vec!["https://b.test"]);
    }

    #[test]
    fn origins_with_paths_are_refused() {
        assert!(normalize_origin("https://a.test/app").is_err());
        assert!(normalize_origin("ftp://a.test").is_err());
        assert!(normalize_origin("https://a.test?x=1").is_err());
        assert_eq!(
            normalize_origin("HTTPS://A.test").unwrap(),
            "https://a.test"
        );
    }
}
