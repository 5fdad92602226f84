//! Request parsing of the loan administration routes with pydantic's error shapes.

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::domain::loans::LoanError;
use crate::domain::loans::workflow::{LoanStatus, StageType};
use crate::http::error::{ApiError, ApiResult, FieldError};
use crate::http::validate::lax;
use crate::services::loan_admin::summaries::ListFilter;
use crate::services::loan_admin::workflow::WorkflowError;
use crate::timefmt;

/// A loan-domain refusal as its 400 envelope.
pub fn rule(e: LoanError) -> ApiError {
    ApiError::coded(
        axum::http::StatusCode::BAD_REQUEST,
        e.code,
        e.message.into_owned(),
        e.details,
    )
}

/// A workflow service refusal as its answer.
pub fn workflow_error(e: WorkflowError) -> ApiError {
    match e {
        WorkflowError::Rule(e) => rule(e),
        WorkflowError::NotFound(text) => ApiError::not_found(text),
        WorkflowError::Db(e) => e.into(),
    }
}

/// The decoded `(key, value)` pairs of a query string.
pub fn pairs(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn last<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn enum_error(loc: Vec<Value>, raw: &str, expected: String) -> FieldError {
    let listed = expected.trim_start_matches("Input should be ").to_owned();
    FieldError {
        kind: "enum",
        loc,
        msg: expected,
        input: json!(raw),
        ctx: Some(json!({ "expected": listed })),
    }
}

/// An integer query parameter with bounds (pydantic's messages); `None` after recording its
/// error.
fn query_int(
    pairs: &[(String, String)],
    name: &str,
    bounds: (i64, i64, Option<i64>),
    errors: &mut Vec<FieldError>,
) -> Option<i64> {
    let (default, ge, le) = bounds;
    let Some(raw) = last(pairs, name) else {
        return Some(default);
    };
    match lax::py_int::<i64>(&json!(raw), Some(ge), le) {
        Ok(v) => Some(v),
        Err((kind, msg, ctx)) => {
            errors.push(FieldError {
                kind,
                loc: vec![json!("query"), json!(name)],
                msg,
                input: json!(raw),
                ctx,
            });
            None
        }
    }
}

/// `(limit, offset)`: limit 1–`max` (default 50), offset ≥ 0.
pub fn page(pairs: &[(String, String)], max: i64) -> ApiResult<(i64, i64)> {
    let mut errors = Vec::new();
    let limit = query_int(pairs, "limit", (50, 1, Some(max)), &mut errors);
    let offset = query_int(pairs, "offset", (0, 0, None), &mut errors);
    match (limit, offset) {
        (Some(l), Some(o)) => Ok((l, o)),
        _ => Err(ApiError::validation(errors)),
    }
}

fn query_datetime(
    pairs: &[(String, String)],
    name: &str,
    errors: &mut Vec<FieldError>,
) -> Option<OffsetDateTime> {
    let raw = last(pairs, name)?;
    match timefmt::parse_datetime(raw) {
        Ok(v) => Some(v),
        Err((kind, reason)) => {
            errors.push(FieldError {
                kind,
                loc: vec![json!("query"), json!(name)],
                msg: format!("Input should be a valid datetime or date, {reason}"),
                input: json!(raw),
                ctx: Some(json!({ "error": reason })),
            });
            None
        }
    }
}

/// The list's query: filters, then paging; every invalid parameter listed in one 422, then
/// the 400 for a reversed date range.
pub fn list_query(pairs: &[(String, String)]) -> ApiResult<(ListFilter, i64, i64)> {
    let mut errors = Vec::new();
    let mut filter = ListFilter::default();
    let mut index = 0;
    for (k, v) in pairs {
        if k != "status" {
            continue;
        }
        match LoanStatus::parse(v) {
            Some(s) => filter.statuses.push(s),
            None => errors.push(enum_error(
                vec![json!("query"), json!("status"), json!(index)],
                v,
                LoanStatus::expected_message(),
            )),
        }
        index += 1;
    }
    if let Some(raw) = last(pairs, "stage_type") {
        match StageType::parse(raw) {
            Some(s) => filter.stage_type = Some(s),
            None => errors.push(enum_error(
                vec![json!("query"), json!("stage_type")],
                raw,
                StageType::expected_message(),
            )),
        }
    }
    filter.created_from = query_datetime(pairs, "created_from", &mut errors);
    filter.created_to = query_datetime(pairs, "created_to", &mut errors);
    let limit = query_int(pairs, "limit", (50, 1, Some(200)), &mut errors);
    let offset = query_int(pairs, "offset", (0, 0, None), &mut errors);
    let (Some(limit), Some(offset), true) = (limit, offset, errors.is_empty()) else {
        return Err(ApiError::validation(errors));
    };
    if let (Some(from), Some(to)) = (filter.created_from, filter.created_to)
        && from > to
    {
        return Err(rule(LoanError::new(
            "invalid_date_range",
            "created_from must be earlier than created_to",
            json!({
                "created_from": timefmt::iso_offset(from),
                "created_to": timefmt::iso_offset(to),
            }),
        )));
    }
    Ok((filter, limit, offset))
}

/// A `{stage_type}` path segment (422 `enum` otherwise).
pub fn stage_type(raw: &str) -> ApiResult<StageType> {
    StageType::parse(raw).ok_or_else(|| {
        ApiError::validation(vec![enum_error(
            vec![json!("path"), json!("stage_type")],
            raw,
            StageType::expected_message(),
        )])
    })
}
