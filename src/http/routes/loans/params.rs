//! Request parsing of the loan endpoints with pydantic's error shapes: the quote body, the
//! draft create/update bodies (quote fields plus marital and spouse fields), the list query
//! and the `Idempotency-Key` header.

use axum::http::HeaderMap;
use serde_json::{Map, Value, json};
use time::Date;

use crate::domain::decimal::{DecimalInput, PyDec};
use crate::domain::loans::quote::{QuoteRequest, validate_idempotency_key};
use crate::domain::loans::terms::{InterestType, RepaymentMethod, SelectionMode};
use crate::domain::loans::workflow::LoanStatus;
use crate::domain::{email, people};
use crate::http::error::{ApiError, ApiResult, FieldError};
use crate::http::validate::lax::{self, Invalid};
use crate::http::validate::params::parse_date;
use crate::services::loans::applications::{ListFilter, QuotePatch, SpouseFields};

/// The quote fields of a body; `None` where absent or null.
#[derive(Clone, Debug, Default)]
pub struct QuoteFields {
    pub selection_mode: Option<SelectionMode>,
    pub selection_value: Option<PyDec>,
    pub as_of_date: Option<Date>,
    pub desired_interest_type: Option<InterestType>,
    pub desired_repayment_method: Option<RepaymentMethod>,
    pub desired_term_months: Option<i32>,
}

impl QuoteFields {
    /// The request of a quote or create (mode and value are required by then).
    pub fn request(&self, today: Date) -> ApiResult<QuoteRequest> {
        match (self.selection_mode, self.selection_value) {
            (Some(selection_mode), Some(selection_value)) => Ok(QuoteRequest {
                selection_mode,
                selection_value,
                as_of_date: self.as_of_date.unwrap_or(today),
                desired_interest_type: self.desired_interest_type,
                desired_repayment_method: self.desired_repayment_method,
                desired_term_months: self.desired_term_months,
            }),
            _ => Err(ApiError::internal()),
        }
    }

    pub fn patch(&self) -> QuotePatch {
        QuotePatch {
            selection_mode: self.selection_mode,
            selection_value: self.selection_value,
            as_of_date: self.as_of_date,
            desired_interest_type: self.desired_interest_type,
            desired_repayment_method: self.desired_repayment_method,
            desired_term_months: self.desired_term_months,
        }
    }
}

fn enum_error<T>(expected: fn() -> String) -> Invalid {
    let message = expected();
    let list = message
        .strip_prefix("Input should be ")
        .unwrap_or(&message)
        .to_owned();
    let _ = std::marker::PhantomData::<T>;
    ("enum", message, Some(json!({ "expected": list })))
}

fn parse_enum<T>(
    v: &Value,
    parse: fn(&str) -> Option<T>,
    expected: fn() -> String,
) -> Result<T, Invalid> {
    v.as_str()
        .and_then(parse)
        .ok_or_else(|| enum_error::<T>(expected))
}

fn parse_selection_value(v: &Value) -> Result<PyDec, Invalid> {
    let input =
        DecimalInput::from_json(v).map_err(|e| (e.error_type(), e.message().into(), None))?;
    let value = PyDec::parse(input.text()).ok_or((
        "decimal_parsing",
        "Input should be a valid decimal".into(),
        None,
    ))?;
    if !value.is_positive() {
        return Err((
            "greater_than",
            "Input should be greater than 0".into(),
            Some(json!({ "gt": 0 })),
        ));
    }
    Ok(value)
}

fn value_error(text: &str) -> Invalid {
    (
        "value_error",
        format!("Value error, {text}"),
        Some(json!({ "error": {} })),
    )
}

fn string(v: &Value) -> Result<&str, Invalid> {
    v.as_str()
        .ok_or(("string_type", "Input should be a valid string".into(), None))
}

fn parse_marital(v: &Value) -> Result<Option<String>, Invalid> {
    let raw = string(v)?;
    if raw.trim().is_empty() {
        return Ok(None);
    }
    people::marital_status(raw)
        .map(|s| Some(s.to_owned()))
        .ok_or_else(|| value_error(people::INVALID_MARITAL_STATUS))
}

fn parse_email(v: &Value) -> Result<Option<String>, Invalid> {
    let raw = string(v)?;
    if raw.trim().is_empty() {
        return Ok(None);
    }
    email::normalize(raw).map(Some).map_err(|reason| {
        (
            "value_error",
            email::error_message(reason),
            Some(json!({ "reason": reason })),
        )
    })
}

fn parse_phone(v: &Value) -> Result<Option<String>, Invalid> {
    let raw = string(v)?.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    if raw.chars().filter(char::is_ascii_digit).count() < 7 {
        return Err(value_error("spouse_phone must include at least 7 digits"));
    }
    Ok(Some(raw.to_owned()))
}

/// Collects field errors in model order.
struct Errors<'a> {
    obj: &'a Map<String, Value>,
    list: Vec<FieldError>,
}

impl<'a> Errors<'a> {
    /// The field's value when present and not null, parsed.
    fn field<T>(&mut self, name: &str, parse: impl Fn(&Value) -> Result<T, Invalid>) -> Option<T> {
        let v = self.obj.get(name).filter(|v| !v.is_null())?;
        match parse(v) {
            Ok(t) => Some(t),
            Err((kind, msg, ctx)) => {
                self.list.push(FieldError {
                    kind,
                    loc: vec![json!("body"), json!(name)],
                    msg,
                    input: v.clone(),
                    ctx,
                });
                None
            }
        }
    }

    fn require(&mut self, name: &str, body: &Value) {
        if !self.obj.contains_key(name) {
            self.list.push(FieldError {
                kind: "missing",
                loc: vec![json!("body"), json!(name)],
                msg: "Field required".into(),
                input: body.clone(),
                ctx: None,
            });
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

fn quote_fields(errors: &mut Errors<'_>, body: &Value, required: bool) -> QuoteFields {
    if required {
        errors.require("selection_mode", body);
    }
    let selection_mode = errors.field("selection_mode", |v| {
        parse_enum(v, SelectionMode::parse, SelectionMode::expected_message)
    });
    if required {
        errors.require("selection_value", body);
    }
    let selection_value = errors.field("selection_value", parse_selection_value);
    let as_of_date = errors.field("as_of_date", parse_date);
    let desired_interest_type = errors.field("desired_interest_type", |v| {
        parse_enum(v, InterestType::parse, InterestType::expected_message)
    });
    let desired_repayment_method = errors.field("desired_repayment_method", |v| {
        parse_enum(v, RepaymentMethod::parse, RepaymentMethod::expected_message)
    });
    let desired_term_months = errors.field("desired_term_months", |v| {
        lax::py_int::<i32>(v, Some(1), None)
    });
    QuoteFields {
        selection_mode,
        selection_value,
        as_of_date,
        desired_interest_type,
        desired_repayment_method,
        desired_term_months,
    }
}

fn spouse_fields(errors: &mut Errors<'_>) -> SpouseFields {
    let name = |v: &Value| string(v).map(str::to_owned);
    SpouseFields {
        marital_status_snapshot: errors
            .field("marital_status_snapshot", parse_marital)
            .flatten(),
        spouse_first_name: errors.field("spouse_first_name", name),
        spouse_middle_name: errors.field("spouse_middle_name", name),
        spouse_last_name: errors.field("spouse_last_name", name),
        spouse_email: errors.field("spouse_email", parse_email).flatten(),
        spouse_phone: errors.field("spouse_phone", parse_phone).flatten(),
        spouse_address: errors.field("spouse_address", name),
    }
}

/// `LoanQuoteRequest` (unknown keys ignored).
pub fn quote_body(body: &Value) -> ApiResult<QuoteFields> {
    let obj = object(body)?;
    let mut errors = Errors {
        obj,
        list: Vec::new(),
    };
    let fields = quote_fields(&mut errors, body, true);
    errors.finish()?;
    Ok(fields)
}

/// `LoanApplicationDraftCreate` (`required`) or `LoanApplicationDraftUpdate`.
pub fn draft_body(body: &Value, required: bool) -> ApiResult<(QuoteFields, SpouseFields)> {
    let obj = object(body)?;
    let mut errors = Errors {
        obj,
        list: Vec::new(),
    };
    let quote = quote_fields(&mut errors, body, required);
    let spouse = spouse_fields(&mut errors);
    errors.finish()?;
    Ok((quote, spouse))
}

/// The admin-only fields of `PATCH /org/loans/{id}/edit` (loan-admin §5.4).
#[derive(Clone, Debug, Default)]
pub struct EditFields {
    /// As sent (3–500 characters); a blank one is refused by the handler after parsing.
    pub note: String,
    pub reset_workflow: bool,
    pub delete_documents: bool,
}

fn parse_note(v: &Value) -> Result<String, Invalid> {
    let s = string(v)?;
    let chars = s.chars().count();
    if chars < 3 {
        return Err((
            "string_too_short",
            "String should have at least 3 characters".into(),
            Some(json!({"min_length": 3})),
        ));
    }
    if chars > 500 {
        return Err((
            "string_too_long",
            "String should have at most 500 characters".into(),
            Some(json!({"max_length": 500})),
        ));
    }
    Ok(s.to_owned())
}

/// `LoanAdminEditRequest`: the draft update's fields, then `note` (required), then
/// `reset_workflow` and `delete_documents` (default false); every error listed.
pub fn edit_body(body: &Value) -> ApiResult<(QuoteFields, SpouseFields, EditFields)> {
    let obj = object(body)?;
    let mut errors = Errors {
        obj,
        list: Vec::new(),
    };
    let quote = quote_fields(&mut errors, body, false);
    let spouse = spouse_fields(&mut errors);
    let note = if obj.get("note").is_none_or(Value::is_null) {
        errors.list.push(FieldError {
            kind: if obj.contains_key("note") {
                "string_type"
            } else {
                "missing"
            },
            loc: vec![json!("body"), json!("note")],
            msg: if obj.contains_key("note") {
                "Input should be a valid string".into()
            } else {
                "Field required".into()
            },
            input: obj.get("note").cloned().unwrap_or_else(|| body.clone()),
            ctx: None,
        });
        None
    } else {
        errors.field("note", parse_note)
    };
    let reset_workflow = errors.field("reset_workflow", lax::py_bool);
    let delete_documents = errors.field("delete_documents", lax::py_bool);
    errors.finish()?;
    Ok((
        quote,
        spouse,
        EditFields {
            note: note.unwrap_or_default(),
            reset_workflow: reset_workflow.unwrap_or(false),
            delete_documents: delete_documents.unwrap_or(false),
        },
    ))
}

/// The trimmed `Idempotency-Key` (400 `invalid_idempotency_key` beyond 100 characters).
pub fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let raw = headers.get("idempotency-key").and_then(|v| v.to_str().ok());
    validate_idempotency_key(raw).map_err(super::domain_error)
}

/// Raw list query (`status` may repeat); validated after the guards.
#[derive(Debug, Default)]
pub struct ListQuery {
    pub status: Vec<String>,
    pub limit: Option<String>,
    pub offset: Option<String>,
    pub created_from: Option<String>,
    pub created_to: Option<String>,
}

fn query_error(loc: Vec<Value>, input: &str, (kind, msg, ctx): Invalid) -> FieldError {
    let mut full = vec![json!("query")];
    full.extend(loc);
    FieldError {
        kind,
        loc: full,
        msg,
        input: json!(input),
        ctx,
    }
}

fn parse_datetime(raw: &str) -> Result<time::OffsetDateTime, Invalid> {
    crate::timefmt::parse_datetime(raw).map_err(|(_, why)| {
        (
            "datetime_from_date_parsing",
            format!("Input should be a valid datetime or date, {why}"),
            Some(json!({ "error": why })),
        )
    })
}

impl ListQuery {
    /// Reads the query string; unknown keys are ignored, the last of a repeated scalar wins.
    pub fn from_query(raw: Option<&str>) -> Self {
        let mut out = Self::default();
        for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            let v = v.into_owned();
            match k.as_ref() {
                "status" => out.status.push(v),
                "limit" => out.limit = Some(v),
                "offset" => out.offset = Some(v),
                "created_from" => out.created_from = Some(v),
                "created_to" => out.created_to = Some(v),
                _ => {}
            }
        }
        out
    }

    pub fn filter(&self) -> ApiResult<ListFilter> {
        let mut list = Vec::new();
        let mut statuses = Vec::new();
        for (i, raw) in self.status.iter().enumerate() {
            match parse_enum(&json!(raw), LoanStatus::parse, LoanStatus::expected_message) {
                Ok(s) => statuses.push(s),
                Err(e) => list.push(query_error(vec![json!("status"), json!(i)], raw, e)),
            }
        }
        let int =
            |list: &mut Vec<FieldError>, name: &str, raw: Option<&str>, default: i64, ge, le| {
                let Some(raw) = raw else { return default };
                lax::py_int::<i64>(&json!(raw), Some(ge), le).unwrap_or_else(|e| {
                    list.push(query_error(vec![json!(name)], raw, e));
                    default
                })
            };
        let limit = int(&mut list, "limit", self.limit.as_deref(), 50, 1, Some(200));
        let offset = int(&mut list, "offset", self.offset.as_deref(), 0, 0, None);
        let mut at = |name: &str, raw: Option<&str>| {
            raw.and_then(|r| {
                parse_datetime(r)
                    .map_err(|e| list.push(query_error(vec![json!(name)], r, e)))
                    .ok()
            })
        };
        let created_from = at("created_from", self.created_from.as_deref());
        let created_to = at("created_to", self.created_to.as_deref());
        if !list.is_empty() {
            return Err(ApiError::validation(list));
        }
        Ok(ListFilter {
            statuses,
            created_from,
            created_to,
            limit,
            offset,
        })
    }
}
