//! Logging: the output format (`LOG_FORMAT`). `LOG_LEVEL` is a plain string read with the other
//! settings.

use super::reader::Reader;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// `LOG_FORMAT`: `json` (the default) or `pretty` (also spelled `text`).
pub(super) fn format(r: &mut Reader<'_>) -> LogFormat {
    match r.string("LOG_FORMAT", "json").to_ascii_lowercase().as_str() {
        "json" => LogFormat::Json,
        "pretty" | "text" => LogFormat::Pretty,
        other => {
            r.problem(
                "LOG_FORMAT",
                format!("must be json or pretty, got {other:?}"),
            );
            LogFormat::Json
        }
    }
}
