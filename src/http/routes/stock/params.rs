//! Request parsing of the stock endpoints with pydantic's error shapes: `as_of` and paging
//! queries, and the grant create/update bodies (every error of a body is listed, the first
//! names the message).

use serde::Deserialize;
use serde_json::{Map, Value, json};
use time::Date;

use crate::domain::decimal::DecimalInput;
use crate::domain::stock::schedule::{GrantPatch, check_exercise_price};
use crate::domain::stock::values::{GrantStatus, VestingStrategy};
use crate::domain::stock::vesting::VestingEvent;
use crate::http::error::{ApiError, ApiResult, FieldError};
use crate::http::validate::lax::{self, Invalid};
use crate::http::validate::params::parse_date;

/// Raw `?page=&page_size=`; validated after the guards.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    pub page: Option<String>,
    pub page_size: Option<String>,
}

impl PageQuery {
    /// `(offset, limit)`: `page` ≥ 1 (default 1), `page_size` 1–100 (default 20).
    pub fn bounds(&self) -> ApiResult<(i64, i64)> {
        let page = query_int("page", self.page.as_deref(), 1, 1, None)?;
        let size = query_int("page_size", self.page_size.as_deref(), 20, 1, Some(100))?;
        Ok(((page - 1).saturating_mul(size), size))
    }
}

fn query_int(
    name: &str,
    raw: Option<&str>,
    default: i64,
    ge: i64,
    le: Option<i64>,
) -> ApiResult<i64> {
    let Some(raw) = raw else {
        return Ok(default);
    };
    lax::py_int::<i64>(&json!(raw), Some(ge), le).map_err(|(kind, msg, ctx)| {
        ApiError::validation(vec![FieldError {
            kind,
            loc: vec![json!("query"), json!(name)],
            msg,
            input: json!(raw),
            ctx,
        }])
    })
}

fn parse_shares(v: &Value) -> Result<i64, Invalid> {
    lax::py_int::<i64>(v, Some(0), None)
}

fn parse_price(v: &Value) -> Result<DecimalInput, Invalid> {
    let price =
        DecimalInput::from_json(v).map_err(|e| (e.error_type(), e.message().into(), None))?;
    check_exercise_price(&price)
        .map_err(|e| (e.error_type(), e.message().into(), Some(e.ctx())))?;
    Ok(price)
}

fn parse_strategy(v: &Value) -> Result<VestingStrategy, Invalid> {
    v.as_str().and_then(VestingStrategy::parse).ok_or((
        "enum",
        VestingStrategy::EXPECTED.into(),
        Some(json!({"expected": "'IMMEDIATE' or 'SCHEDULED'"})),
    ))
}

fn parse_status(v: &Value) -> Result<GrantStatus, Invalid> {
    v.as_str().and_then(GrantStatus::parse).ok_or((
        "enum",
        GrantStatus::EXPECTED.into(),
        Some(json!({"expected": "'ACTIVE', 'CANCELLED' or 'EXERCISED_OUT'"})),
    ))
}

fn parse_notes(v: &Value) -> Result<Option<String>, Invalid> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.contains('\0') => Err((
            "string_pattern_mismatch",
            "String should not contain NUL characters".into(),
            None,
        )),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(("string_type", "Input should be a valid string".into(), None)),
    }
}

/// Collects field errors in model order.
struct Errors {
    list: Vec<FieldError>,
}

impl Errors {
    fn push(&mut self, loc: Vec<Value>, input: &Value, (kind, msg, ctx): Invalid) {
        let mut full = vec![json!("body")];
        full.extend(loc);
        self.list.push(FieldError {
            kind,
            loc: full,
            msg,
            input: input.clone(),
            ctx,
        });
    }

    fn missing(&mut self, loc: Vec<Value>, container: &Value) {
        self.push(loc, container, ("missing", "Field required".into(), None));
    }

    fn check<T>(&mut self, field: &str, v: &Value, r: Result<T, Invalid>) -> Option<T> {
        match r {
            Ok(t) => Some(t),
            Err(e) => {
                self.push(vec![json!(field)], v, e);
                None
            }
        }
    }

    fn finish(self) -> ApiResult<()> {
        if self.list.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.list))
        }
    }
}

fn object(body: &Value) -> ApiResult<&Map<String, Value>> {
    body.as_object().ok_or_else(|| {
        ApiError::validation(vec![FieldError {
            kind: "model_attributes_type",
            loc: vec![json!("body")],
            msg: "Input should be a valid dictionary or object to extract fields from".into(),
            input: body.clone(),
            ctx: None,
        }])
    })
}

fn parse_events(errors: &mut Errors, v: &Value) -> Option<Vec<VestingEvent>> {
    let Some(items) = v.as_array() else {
        errors.push(
            vec![json!("vesting_events")],
            v,
            ("list_type", "Input should be a valid list".into(), None),
        );
        return None;
    };
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let loc = |f: &str| vec![json!("vesting_events"), json!(i), json!(f)];
        let Some(obj) = item.as_object() else {
            errors.push(
                vec![json!("vesting_events"), json!(i)],
                item,
                (
                    "model_attributes_type",
                    "Input should be a valid dictionary or object to extract fields from".into(),
                    None,
                ),
            );
            ok = false;
            continue;
        };
        let date = match obj.get("vest_date") {
            None => {
                errors.missing(loc("vest_date"), item);
                None
            }
            Some(d) => parse_date(d)
                .map_err(|e| errors.push(loc("vest_date"), d, e))
                .ok(),
        };
        let shares = match obj.get("shares") {
            None => {
                errors.missing(loc("shares"), item);
                None
            }
            Some(s) => parse_shares(s)
                .map_err(|e| errors.push(loc("shares"), s, e))
                .ok(),
        };
        match (date, shares) {
            (Some(vest_date), Some(shares)) => out.push(VestingEvent { vest_date, shares }),
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

/// A validated `EmployeeStockGrantCreate` (create and preview).
#[derive(Clone, Debug)]
pub struct GrantInput {
    pub grant_date: Date,
    pub total_shares: i64,
    pub exercise_price: DecimalInput,
    pub vesting_strategy: VestingStrategy,
    pub notes: Option<String>,
    pub vesting_events: Vec<VestingEvent>,
}

/// Parses a create/preview body, listing every error. Totals and event shares are bounded by
/// the `bigint` column and the price by `numeric(18,6)` (422 where the legacy service failed
/// in the database with a 500, Q6).
pub fn grant_input(body: &Value) -> ApiResult<GrantInput> {
    let obj = object(body)?;
    let mut errors = Errors { list: Vec::new() };
    let required = |errors: &mut Errors, field: &str| -> Option<&Value> {
        let v = obj.get(field);
        if v.is_none() {
            errors.missing(vec![json!(field)], body);
        }
        v
    };
    let grant_date = required(&mut errors, "grant_date")
        .and_then(|v| errors.check("grant_date", v, parse_date(v)));
    let total_shares = required(&mut errors, "total_shares")
        .and_then(|v| errors.check("total_shares", v, parse_shares(v)));
    let exercise_price = required(&mut errors, "exercise_price")
        .and_then(|v| errors.check("exercise_price", v, parse_price(v)));
    let vesting_strategy = required(&mut errors, "vesting_strategy")
        .and_then(|v| errors.check("vesting_strategy", v, parse_strategy(v)));
    let notes = match obj.get("notes") {
        None => Some(None),
        Some(v) => errors.check("notes", v, parse_notes(v)),
    };
    let events = match obj.get("vesting_events") {
        None => Some(Vec::new()),
        Some(v) => parse_events(&mut errors, v),
    };
    errors.finish()?;
    match (
        grant_date,
        total_shares,
        exercise_price,
        vesting_strategy,
        notes,
        events,
    ) {
        (
            Some(grant_date),
            Some(total_shares),
            Some(exercise_price),
            Some(vesting_strategy),
            Some(notes),
            Some(vesting_events),
        ) => Ok(GrantInput {
            grant_date,
            total_shares,
            exercise_price,
            vesting_strategy,
            notes,
            vesting_events,
        }),
        _ => Err(ApiError::internal()),
    }
}

/// Parses a PATCH body: only the keys present. `notes: null` clears the note and
/// `vesting_events: null` counts as absent; an explicit null of any other field is a 422 for
/// its type (the legacy service wrote it and answered 500, Q5).
pub fn grant_patch(body: &Value) -> ApiResult<GrantPatch> {
    let obj = object(body)?;
    let mut errors = Errors { list: Vec::new() };
    let mut patch = GrantPatch::default();
    let null_type = |field: &str| -> Invalid {
        match field {
            "grant_date" => ("date_type", "Input should be a valid date".into(), None),
            "total_shares" => ("int_type", "Input should be a valid integer".into(), None),
            "exercise_price" => (
                "decimal_type",
                "Decimal input should be an integer, float, string or Decimal object".into(),
                None,
            ),
            "status" => parse_status(&Value::Null)
                .err()
                .unwrap_or(("enum", String::new(), None)),
            _ => parse_strategy(&Value::Null)
                .err()
                .unwrap_or(("enum", String::new(), None)),
        }
    };
    for field in [
        "grant_date",
        "total_shares",
        "exercise_price",
        "status",
        "vesting_strategy",
    ] {
        if obj.get(field) == Some(&Value::Null) {
            errors.push(vec![json!(field)], &Value::Null, null_type(field));
        }
    }
    if let Some(v) = obj.get("grant_date").filter(|v| !v.is_null()) {
        patch.grant_date = errors.check("grant_date", v, parse_date(v));
    }
    if let Some(v) = obj.get("total_shares").filter(|v| !v.is_null()) {
        patch.total_shares = errors.check("total_shares", v, parse_shares(v));
    }
    if let Some(v) = obj.get("exercise_price").filter(|v| !v.is_null()) {
        patch.exercise_price = errors.check("exercise_price", v, parse_price(v));
    }
    if let Some(v) = obj.get("status").filter(|v| !v.is_null()) {
        patch.status = errors.check("status", v, parse_status(v));
    }
    if let Some(v) = obj.get("vesting_strategy").filter(|v| !v.is_null()) {
        patch.vesting_strategy = errors.check("vesting_strategy", v, parse_strategy(v));
    }
    if let Some(v) = obj.get("notes") {
        patch.notes = errors.check("notes", v, parse_notes(v));
    }
    if let Some(v) = obj.get("vesting_events").filter(|v| !v.is_null()) {
        patch.vesting_events = parse_events(&mut errors, v);
    }
    errors.finish()?;
    Ok(patch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_like_pydantic() {
        assert_eq!(
            parse_date(&json!("2024-07-01T00:00:00"))
                .unwrap()
                .to_string(),
            "2024-07-01"
        );
        assert_eq!(
            parse_date(&json!("2024-07-01T01:00:00")).unwrap_err().0,
            "date_from_datetime_inexact"
        );
        assert_eq!(
            parse_date(&json!("01/02/2025")).unwrap_err().1,
            "Input should be a valid date or datetime, invalid character in year"
        );
        assert_eq!(
            parse_date(&json!("2026-13-01")).unwrap_err().1,
            "Input should be a valid date or datetime, month value is outside expected range of 1-12"
        );
    }

    #[test]
    fn an_empty_create_body_lists_four_missing_fields() {
        let err = grant_input(&json!({})).unwrap_err();
        assert_eq!(err.message, "grant_date: Field required");
        assert_eq!(err.details["errors"].as_array().map(Vec::len), Some(4));
    }

    #[test]
    fn explicit_nulls_are_refused_except_notes_and_events() {
        let patch = grant_patch(&json!({"notes": null, "vesting_events": null})).unwrap();
        assert_eq!(patch.notes, Some(None));
        assert_eq!(patch.vesting_events, None);
        let err = grant_patch(&json!({"exercise_price": null})).unwrap_err();
        assert!(
            err.message
                .starts_with("exercise_price: Decimal input should be")
        );
        let err = grant_patch(&json!({"total_shares": 10_000_000_000_000_000_000u64})).unwrap_err();
        assert!(
            err.message
                .starts_with("total_shares: Input should be less than or equal to")
        );
    }
}
