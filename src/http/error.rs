//! The one error type of the HTTP API and its mapping to the legacy envelope
//! `{code, message, data, details}` (contract §10).
//!
//! Handlers and extractors return `ApiError`; everything else (`sqlx::Error`, `anyhow::Error`)
//! converts into it. 5xx causes are logged here and never reach the client.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Marker placed in the extensions of a 503 for a database fault (`db_overloaded`,
/// `service_unavailable`); the middleware that owns the settings turns it into
/// `Retry-After: DB_POOL_RETRY_AFTER_SECONDS`.
#[derive(Clone, Copy, Debug)]
pub struct DbOverloaded;

/// One entry of a 422 `validation_error` body, shaped like pydantic's error objects because the
/// frontend and the recorded samples read `loc`, `msg` and `type`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FieldError {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub loc: Vec<Value>,
    pub msg: String,
    pub input: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ctx: Option<Value>,
}

impl FieldError {
    /// A field-level error in the request body: `loc = ["body", field...]`.
    pub fn body(path: &[&str], kind: &'static str, msg: impl Into<String>, input: Value) -> Self {
        let mut loc = vec![json!("body")];
        loc.extend(path.iter().map(|p| json!(p)));
        Self {
            kind,
            loc,
            msg: msg.into(),
            input,
            ctx: None,
        }
    }

    /// pydantic's `value_error`, produced by a field validator: "Value error, <text>".
    pub fn value_error(location: &str, field: &str, text: &str, input: Value) -> Self {
        Self {
            kind: "value_error",
            loc: vec![json!(location), json!(field)],
            msg: format!("Value error, {text}"),
            input,
            ctx: Some(json!({"error": {}})),
        }
    }

    pub fn with_ctx(mut self, ctx: Value) -> Self {
        self.ctx = Some(ctx);
        self
    }

    /// The envelope message: the location without its `body`/`query`/`path` parts, joined with
    /// `.`, then `: ` and the message (the legacy message builder, including its habit of also
    /// dropping a field that is literally called `body`).
    fn headline(&self) -> String {
        let parts: Vec<String> = self
            .loc
            .iter()
            .filter_map(|p| match p {
                Value::String(s) if matches!(s.as_str(), "body" | "query" | "path") => None,
                Value::String(s) => Some(s.clone()),
                other => Some(other.to_string()),
            })
            .collect();
        if parts.is_empty() {
            self.msg.clone()
        } else {
            format!("{}: {}", parts.join("."), self.msg)
        }
    }
}

/// The API error; boxed so `Result<T, ApiError>` stays small on the happy path.
#[derive(Debug)]
pub struct ApiError(Box<ErrorBody>);

#[derive(Debug)]
pub struct ErrorBody {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub data: Value,
    pub details: Value,
    headers: Vec<(HeaderName, HeaderValue)>,
    db_overloaded: bool,
}

pub type ApiResult<T> = Result<T, ApiError>;

fn default_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        409 => "conflict",
        422 => "unprocessable_entity",
        429 => "rate_limited",
        _ => "http_error",
    }
}

impl ApiError {
    /// An HTTP error with a plain string detail: `code` from the status, `message` = the
    /// detail, `details = {"detail": detail}`.
    pub fn http(status: StatusCode, detail: impl Into<String>) -> Self {
        let message = detail.into();
        Self(Box::new(ErrorBody {
            status,
            code: default_code(status).to_owned(),
            details: json!({ "detail": message }),
            message,
            data: Value::Null,
            headers: Vec::new(),
            db_overloaded: false,
        }))
    }

    /// An error with an explicit code (e.g. `duplicate_email`, `step_up_mfa_required`).
    pub fn coded(
        status: StatusCode,
        code: &str,
        message: impl Into<String>,
        details: Value,
    ) -> Self {
        Self(Box::new(ErrorBody {
            status,
            code: code.to_owned(),
            message: message.into(),
            data: Value::Null,
            details,
            headers: Vec::new(),
            db_overloaded: false,
        }))
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::http(StatusCode::BAD_REQUEST, detail)
    }
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::http(StatusCode::UNAUTHORIZED, detail)
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::http(StatusCode::FORBIDDEN, detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::http(StatusCode::NOT_FOUND, detail)
    }
    pub fn too_many(detail: impl Into<String>) -> Self {
        Self::http(StatusCode::TOO_MANY_REQUESTS, detail)
    }
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::http(StatusCode::SERVICE_UNAVAILABLE, detail)
    }

    /// 422 `validation_error` with pydantic-like entries; the message is the first entry's.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let message = errors
            .first()
            .map(FieldError::headline)
            .unwrap_or_else(|| "Validation error".into());
        Self::coded(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
            message,
            json!({ "errors": errors }),
        )
    }

    pub fn internal() -> Self {
        Self::coded(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_server_error",
            "Internal server error",
            json!({}),
        )
    }

    pub fn db_overloaded() -> Self {
        let mut e = Self::coded(
            StatusCode::SERVICE_UNAVAILABLE,
            "db_overloaded",
            "Database is busy, please retry",
            json!({"detail": "Database connection pool exhausted"}),
        );
        e.0.db_overloaded = true;
        e
    }

    /// 503 for a database fault the client can retry (a dropped connection, a timeout, a
    /// conflict, a restart): `Retry-After` as for `db_overloaded`, never the database's text.
    pub fn database_unavailable() -> Self {
        let mut e = Self::coded(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "Service temporarily unavailable",
            json!({"detail": "The database did not complete the request; retry shortly"}),
        );
        e.0.db_overloaded = true;
        e
    }

    pub fn schema_not_ready() -> Self {
        Self::coded(
            StatusCode::SERVICE_UNAVAILABLE,
            "schema_not_ready",
            "Database schema is not ready",
            json!({"detail": "Missing database table(s). Run migrations and retry."}),
        )
    }

    /// Sets the `data` member (the bulk-onboarding header errors carry data on an error).
    pub fn with_data(mut self, data: Value) -> Self {
        self.0.data = data;
        self
    }

    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.0.headers.push((name, value));
        self
    }

    /// Logs an unexpected failure with its cause chain and returns the opaque 500.
    pub fn from_unexpected(context: &str, err: &(dyn std::error::Error + 'static)) -> Self {
        let mut chain = err.to_string();
        let mut source = err.source();
        while let Some(s) = source {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            source = s.source();
        }
        tracing::error!(error = %chain, "{context}");
        Self::internal()
    }
}

impl std::ops::Deref for ApiError {
    type Target = ErrorBody;
    fn deref(&self) -> &ErrorBody {
        &self.0
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let this = *self.0;
        let body = json!({
            "code": this.code,
            "message": this.message,
            "data": this.data,
            "details": this.details,
        });
        let mut response = (this.status, axum::Json(body)).into_response();
        for (name, value) in this.headers {
            response.headers_mut().insert(name, value);
        }
        if this.db_overloaded {
            response.extensions_mut().insert(DbOverloaded);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("3"));
        }
        response
    }
}

/// SQLSTATE of "relation does not exist".
const UNDEFINED_TABLE: &str = "42P01";

/// Why a database error is the database's momentary state rather than a bug: the client may
/// retry the same request and expect it to work.
fn transient_database_fault(err: &sqlx::Error) -> Option<&'static str> {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => Some("connection lost"),
        sqlx::Error::Database(db) => {
            let code = db.code()?;
            match code.as_ref() {
                // statement_timeout, lock_timeout
                "57014" | "55P03" => Some("statement or lock timeout"),
                // serialization_failure, deadlock_detected
                "40001" | "40P01" => Some("transaction conflict"),
                // admin_shutdown, crash_shutdown, cannot_connect_now (restart, failover)
                "57P01" | "57P02" | "57P03" => Some("server shutting down or starting"),
                // insufficient resources (too many connections, out of memory, disk full)
                c if c.starts_with("53") => Some("server out of resources"),
                // connection exceptions
                c if c.starts_with("08") => Some("connection lost"),
                _ => None,
            }
        }
        _ => None,
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::PoolTimedOut => {
                tracing::warn!("database pool exhausted");
                Self::db_overloaded()
            }
            sqlx::Error::Database(db) if db.code().as_deref() == Some(UNDEFINED_TABLE) => {
                tracing::error!(error = %db, "database schema is not ready");
                Self::schema_not_ready()
            }
            _ => match transient_database_fault(&err) {
                Some(reason) => {
                    tracing::warn!(error = %err, reason, "database unavailable for this request");
                    Self::database_unavailable()
                }
                None => Self::from_unexpected("database error", &err),
            },
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        tracing::error!(error = format!("{err:#}"), "unexpected error");
        Self::internal()
    }
}

/// Helpers for turning constraint violations into the caller's own errors.
pub trait ConstraintExt<T> {
    /// Maps a violation of the named constraint to `f()`, leaves every other error alone.
    fn on_constraint(self, name: &str, f: impl FnOnce() -> ApiError) -> Result<T, ApiError>;
}

impl<T> ConstraintExt<T> for Result<T, sqlx::Error> {
    fn on_constraint(self, name: &str, f: impl FnOnce() -> ApiError) -> Result<T, ApiError> {
        self.map_err(|err| match &err {
            sqlx::Error::Database(db) if db.constraint() == Some(name) => f(),
            _ => ApiError::from(err),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_headline_drops_location_kinds() {
        let e = FieldError::body(
            &["role_ids", "0"],
            "uuid_parsing",
            "Input should be a valid UUID",
            json!("x"),
        );
        assert_eq!(e.headline(), "role_ids.0: Input should be a valid UUID");
        let e = FieldError::body(&["body"], "missing", "Field required", Value::Null);
        assert_eq!(e.headline(), "Field required");
    }
}
