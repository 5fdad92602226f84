//! Logging: the output format (`LOG_FORMAT`) and which requests get an access log line
//! (`ACCESS_LOG`). `LOG_LEVEL` is a plain string read with the other settings.

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

/// Which requests the access log writes a line for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessLog {
    /// Every request (the default).
    All,
    /// Only answers with a status of 400 or more.
    Errors,
    /// None: Cloud Run's own request log already has every request.
    Off,
}

impl AccessLog {
    /// Whether a request that answered `status` gets a line.
    pub fn logs(self, status: u16) -> bool {
        match self {
            Self::All => true,
            Self::Errors => status >= 400,
            Self::Off => false,
        }
    }
}

/// `ACCESS_LOG`: `all` (the default), `errors` or `off`.
pub(super) fn access_log(r: &mut Reader<'_>) -> AccessLog {
    match r.string("ACCESS_LOG", "all").to_ascii_lowercase().as_str() {
        "all" | "on" | "true" => AccessLog::All,
        "errors" => AccessLog::Errors,
        "off" | "none" | "false" => AccessLog::Off,
        other => {
            r.problem(
                "ACCESS_LOG",
                format!("must be all, errors or off, got {other:?}"),
            );
            AccessLog::All
        }
    }
}
