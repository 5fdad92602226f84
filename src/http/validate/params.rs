//! Path and query parameters several resources share, with pydantic's error shapes: a path id,
//! a date, and the `?as_of=` of the dashboards and summaries.

use serde::Deserialize;
use serde_json::{Value, json};
use time::{Date, Time};

use crate::http::error::{ApiError, ApiResult, FieldError};
use crate::http::validate::lax::Invalid;

/// Raw `?as_of=`; parsed after the guards.
#[derive(Debug, Default, Deserialize)]
pub struct AsOfQuery {
    pub as_of: Option<String>,
}

impl AsOfQuery {
    /// The requested date, else `today`.
    pub fn date_or(&self, today: Date) -> ApiResult<Date> {
        match self.as_of.as_deref() {
            None => Ok(today),
            Some(raw) => parse_date(&json!(raw)).map_err(|(kind, msg, ctx)| {
                ApiError::validation(vec![FieldError {
                    kind,
                    loc: vec![json!("query"), json!("as_of")],
                    msg,
                    input: json!(raw),
                    ctx,
                }])
            }),
        }
    }
}

/// A path id with pydantic's message (`membership_id: Input should be a valid UUID, …`).
pub fn path_uuid(name: &str, raw: &str) -> ApiResult<uuid::Uuid> {
    uuid::Uuid::parse_str(raw).map_err(|e| {
        let text = crate::http::validate::pydantic_uuid_text(&e.to_string());
        ApiError::validation(vec![FieldError {
            kind: "uuid_parsing",
            loc: vec![json!("path"), json!(name)],
            msg: format!("Input should be a valid UUID, {text}"),
            input: json!(raw),
            ctx: Some(json!({"error": text})),
        }])
    })
}

/// A pydantic `date`: `YYYY-MM-DD`, or a datetime (or Unix timestamp) at exactly midnight.
pub fn parse_date(v: &Value) -> Result<Date, Invalid> {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return Err(("date_type", "Input should be a valid date".into(), None)),
    };
    match crate::timefmt::parse_datetime(&text) {
        Ok(at) if at.time() == Time::MIDNIGHT => Ok(at.date()),
        Ok(_) => Err((
            "date_from_datetime_inexact",
            "Datetimes provided to dates should have zero time - e.g. be exact dates".into(),
            None,
        )),
        Err((_, why)) => Err((
            "date_from_datetime_parsing",
            format!("Input should be a valid date or datetime, {why}"),
            Some(json!({"error": why})),
        )),
    }
}

/// The OpenAPI schema of a `date` query parameter (`as_of`): pydantic's `date` parsing, which
/// the legacy service used, takes an ISO date or a Unix timestamp (seconds), so both are
/// documented. Used as `("as_of" = inline(Option<DateQuery>), Query)`.
pub struct DateQuery;

impl utoipa::PartialSchema for DateQuery {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        date_or_timestamp(&[utoipa::openapi::KnownFormat::Date])
    }
}

impl utoipa::ToSchema for DateQuery {}

/// The OpenAPI schema of a `datetime` query parameter (`created_from`, `created_to`): an ISO
/// datetime, an ISO date, or a Unix timestamp, as pydantic's `datetime` parsing takes them.
pub struct DateTimeQuery;

impl utoipa::PartialSchema for DateTimeQuery {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        date_or_timestamp(&[
            utoipa::openapi::KnownFormat::DateTime,
            utoipa::openapi::KnownFormat::Date,
        ])
    }
}

impl utoipa::ToSchema for DateTimeQuery {}

fn date_or_timestamp(
    formats: &[utoipa::openapi::KnownFormat],
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Schema, SchemaFormat, Type};

    let mut any = AnyOfBuilder::new();
    for format in formats {
        any = any.item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(format.clone()))),
        );
    }
    RefOr::T(Schema::AnyOf(
        any.item(ObjectBuilder::new().schema_type(Type::Number))
            .build(),
    ))
}
