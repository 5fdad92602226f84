//! `GET /org/audit-logs` (contract §3 "Audit logs"; DESIGN.md §4: an actor without a profile
//! gives `full_name: null`, never an error).

use axum::extract::{RawQuery, State};
use serde::Serialize;
use serde_json::{Value, json};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::http::envelope::Envelope;
use crate::http::error::{ApiError, ApiResult, FieldError};
use crate::http::guard::{CurrentUser, OrgMember};
use crate::http::routes::org_settings::{BigInt, bounded, parse_int_text};
use crate::http::state::AppState;
use crate::services;
use crate::services::audit_logs::{AuditFilter, AuditRow};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

#[derive(Serialize, ToSchema)]
pub struct Actor {
    user_id: Uuid,
    full_name: Option<String>,
    email: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditItem {
    id: Uuid,
    org_id: String,
    actor_id: Option<Uuid>,
    actor: Option<Actor>,
    action: String,
    resource_type: String,
    resource_id: String,
    #[schema(value_type = Object)]
    old_value: Option<Value>,
    #[schema(value_type = Object)]
    new_value: Option<Value>,
    #[schema(value_type = Object)]
    changes: Option<Value>,
    summary: Option<String>,
    #[serde(with = "crate::timefmt::z")]
    #[schema(value_type = String)]
    created_at: OffsetDateTime,
}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    items: Vec<AuditItem>,
    total: i64,
}

impl From<AuditRow> for AuditItem {
    fn from(r: AuditRow) -> Self {
        Self {
            id: r.id,
            org_id: r.org_id,
            actor_id: r.actor_id,
            actor: r.actor_user_id.map(|user_id| Actor {
                user_id,
                full_name: r.actor_full_name,
                email: r.actor_email,
            }),
            action: r.action,
            resource_type: r.resource_type,
            resource_id: r.resource_id,
            old_value: r.old_value.map(|j| j.0),
            new_value: r.new_value.map(|j| j.0),
            changes: r.changes.map(|j| j.0),
            summary: r.summary,
            created_at: r.created_at,
        }
    }
}

/// The org's audit trail, newest first.
#[utoipa::path(get, path = "/org/audit-logs", tag = "audit", security(("bearer" = [])),
    params(
        ("page" = Option<i64>, Query, description = "≥ 1, default 1"),
        ("page_size" = Option<i64>, Query, description = "1–200, default 50"),
        ("feature" = Option<Vec<String>>, Query, description = "Repeatable; prefix of the action"),
        ("action" = Option<Vec<String>>, Query, description = "Repeatable; exact action"),
        ("resource_type" = Option<String>, Query), ("resource_id" = Option<String>, Query),
        ("actor_id" = Option<Uuid>, Query),
        ("created_from" = Option<String>, Query, description = "Inclusive datetime or date"),
        ("created_to" = Option<String>, Query, description = "Inclusive datetime or date")),
    responses((status = 200, body = AuditPage), (status = 403, description = "Missing permission: audit_log.view"),
              (status = 422, description = "Invalid query parameter")))]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser<OrgMember>,
    RawQuery(query): RawQuery,
) -> ApiResult<Envelope<AuditPage>> {
    user.require(&state, "audit_log.view").await?;
    let q = parse_query(query.as_deref().unwrap_or(""))?;
    let mut conn = state.db.acquire().await?;
    let offset = (q.page - 1).saturating_mul(q.page_size);
    let (rows, total) = services::audit_logs::list(
        &mut conn,
        user.org_id.as_str(),
        &q.filter,
        q.page_size,
        offset,
    )
    .await?;
    Ok(Envelope(AuditPage {
        items: rows.into_iter().map(AuditItem::from).collect(),
        total,
    }))
}

struct ListQuery {
    page: i64,
    page_size: i64,
    filter: AuditFilter,
}

fn query_error(
    name: &str,
    kind: &'static str,
    msg: String,
    input: &str,
    ctx: Option<Value>,
) -> FieldError {
    FieldError {
        kind,
        loc: vec![json!("query"), json!(name)],
        msg,
        input: json!(input),
        ctx,
    }
}

fn int_param(
    name: &str,
    raw: Option<&str>,
    default: i64,
    ge: i64,
    le: Option<i64>,
    errors: &mut Vec<FieldError>,
) -> i64 {
    let Some(raw) = raw else { return default };
    let Some(parsed) = parse_int_text(raw) else {
        errors.push(query_error(
            name,
            "int_parsing",
            "Input should be a valid integer, unable to parse string as an integer".into(),
            raw,
            None,
        ));
        return default;
    };
    // Without an upper bound a huge page number is just past the end.
    if matches!(parsed, BigInt::Huge(false)) && le.is_none() {
        return i64::MAX;
    }
    match bounded::<i64>(parsed, Some(ge), le) {
        Ok(v) => v,
        Err((kind, msg, ctx)) => {
            errors.push(query_error(name, kind, msg, raw, ctx));
            default
        }
    }
}

fn parse_query(query: &str) -> ApiResult<ListQuery> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    // A repeated scalar parameter takes its last value, as Starlette does.
    let last = |name: &str| {
        pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let all = |name: &str| -> Vec<String> {
        pairs
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect()
    };
    let non_empty = |v: Option<&str>| v.filter(|s| !s.is_empty()).map(str::to_owned);
    let mut errors = Vec::new();
    let page = int_param("page", last("page"), 1, 1, None, &mut errors);
    let page_size = int_param(
        "page_size",
        last("page_size"),
        50,
        1,
        Some(200),
        &mut errors,
    );
    let actor_id = match last("actor_id") {
        None => None,
        Some(raw) => match Uuid::parse_str(raw) {
            Ok(id) => Some(id),
            Err(e) => {
                let detail = uuid_error(raw, &e);
                errors.push(query_error(
                    "actor_id",
                    "uuid_parsing",
                    format!("Input should be a valid UUID, {detail}"),
                    raw,
                    Some(json!({"error": detail})),
                ));
                None
            }
        },
    };
    let mut when = |name: &str| match last(name) {
        None => None,
        Some(raw) => match parse_datetime(raw) {
            Ok(dt) => Some(dt),
            Err((kind, msg)) => {
                let prefix = if kind == "datetime_parsing" {
                    "Input should be a valid datetime"
                } else {
                    "Input should be a valid datetime or date"
                };
                errors.push(query_error(
                    name,
                    kind,
                    format!("{prefix}, {msg}"),
                    raw,
                    Some(json!({"error": msg})),
                ));
                None
            }
        },
    };
    let created_from = when("created_from");
    let created_to = when("created_to");
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    Ok(ListQuery {
        page,
        page_size,
        filter: AuditFilter {
            features: all("feature"),
            actions: all("action"),
            resource_type: non_empty(last("resource_type")),
            resource_id: non_empty(last("resource_id")),
            actor_id,
            created_from,
            created_to,
        },
    })
}

/// The uuid-crate wording pydantic reports (1-based positions for a bad character).
fn uuid_error(raw: &str, err: &uuid::Error) -> String {
    let body = raw.strip_prefix("urn:uuid:").unwrap_or(raw);
    let skipped = raw.len() - body.len();
    match body
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_hexdigit() || *c == '-' || *c == '{' || *c == '}'))
    {
        Some((i, c)) => format!(
            "invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-], found `{c}` at {}",
            skipped + i + 1
        ),
        None => err.to_string(),
    }
}

type DtError = (&'static str, &'static str);

fn digits(b: &[u8], range: std::ops::Range<usize>, err: DtError) -> Result<u32, DtError> {
    let slice = b.get(range).ok_or(err)?;
    if !slice.iter().all(u8::is_ascii_digit) {
        return Err(err);
    }
    slice
        .iter()
        .try_fold(0u32, |acc, d| {
            acc.checked_mul(10)?.checked_add(u32::from(d - b'0'))
        })
        .ok_or(err)
}

/// pydantic's datetime-or-date input (speedate): `YYYY-MM-DD`, optionally followed by `T` (or a
/// space) and `HH:MM[:SS[.ffffff]]` with `Z` or `±HH:MM`; naive values are UTC; a bare number
/// is a Unix timestamp (milliseconds above 2·10¹⁰). Errors carry speedate's wording.
pub fn parse_datetime(raw: &str) -> Result<OffsetDateTime, DtError> {
    const DATE: &str = "datetime_from_date_parsing";
    const TIME: &str = "datetime_parsing";
    if let Ok(n) = raw.parse::<f64>()
        && raw
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        let secs = if n.abs() > 2e10 { n / 1000.0 } else { n };
        #[allow(clippy::cast_possible_truncation)]
        let nanos = (secs * 1e9).round() as i128;
        return OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .map_err(|_| (DATE, "input is out of range"));
    }
    let b = raw.as_bytes();
    if b.len() < 10 {
        return Err((DATE, "input is too short"));
    }
    let year = digits(b, 0..4, (DATE, "invalid character in year"))?;
    if b[4] != b'-' {
        return Err((DATE, "invalid date separator, expected `-`"));
    }
    let month = digits(b, 5..7, (DATE, "invalid character in month"))?;
    if b[7] != b'-' {
        return Err((DATE, "invalid date separator, expected `-`"));
    }
    let day = digits(b, 8..10, (DATE, "invalid character in day"))?;
    let month = u8::try_from(month)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .ok_or((DATE, "month value is outside expected range of 1-12"))?;
    let year = i32::try_from(year).map_err(|_| (DATE, "invalid character in year"))?;
    let day = u8::try_from(day).map_err(|_| (DATE, "day value is outside expected range"))?;
    let date = Date::from_calendar_date(year, month, day)
        .map_err(|_| (DATE, "day value is outside expected range"))?;
    if b.len() == 10 {
        return Ok(PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_utc());
    }
    if !matches!(b[10], b'T' | b't' | b' ' | b'_') {
        return Err((DATE, "unexpected extra characters at the end of the input"));
    }
    let t = &b[11..];
    let hour = digits(t, 0..2, (TIME, "invalid character in hour"))?;
    if t.get(2) != Some(&b':') {
        return Err((TIME, "invalid time separator, expected `:`"));
    }
    let minute = digits(t, 3..5, (TIME, "invalid character in minute"))?;
    let mut i = 5;
    let mut second = 0;
    let mut nanos = 0u32;
    if t.get(i) == Some(&b':') {
        second = digits(t, 6..8, (TIME, "invalid character in second"))?;
        i = 8;
        if matches!(t.get(i), Some(b'.' | b',')) {
            let start = i + 1;
            let mut end = start;
            while t.get(end).is_some_and(u8::is_ascii_digit) {
                end += 1;
            }
            if end == start || end - start > 9 {
                return Err((TIME, "second fraction value is more than 6 digits long"));
            }
            let frac = std::str::from_utf8(&t[start..end]).unwrap_or("0");
            nanos = format!("{frac:0<9}").parse().unwrap_or(0);
            i = end;
        }
    }
    let offset = match t.get(i) {
        None => UtcOffset::UTC,
        Some(b'Z' | b'z') if t.len() == i + 1 => UtcOffset::UTC,
        Some(sign @ (b'+' | b'-')) => {
            let h = digits(t, i + 1..i + 3, (TIME, "invalid timezone sign"))?;
            let rest = &t[i + 3..];
            let m = match rest {
                [] => 0,
                [b':', m1, m2] | [m1, m2] => {
                    digits(&[*m1, *m2], 0..2, (TIME, "invalid timezone sign"))?
                }
                _ => return Err((TIME, "unexpected extra characters at the end of the input")),
            };
            let secs =
                i32::try_from(h * 3600 + m * 60).map_err(|_| (TIME, "invalid timezone sign"))?;
            UtcOffset::from_whole_seconds(if *sign == b'-' { -secs } else { secs })
                .map_err(|_| (TIME, "timezone offset must be less than 24 hours"))?
        }
        Some(_) => return Err((TIME, "unexpected extra characters at the end of the input")),
    };
    let to_u8 = |v: u32, err: DtError| u8::try_from(v).map_err(|_| err);
    let time = Time::from_hms_nano(
        to_u8(hour, (TIME, "hour value is outside expected range of 0-23"))?,
        to_u8(
            minute,
            (TIME, "minute value is outside expected range of 0-59"),
        )?,
        to_u8(
            second,
            (TIME, "second value is outside expected range of 0-59"),
        )?,
        nanos,
    )
    .map_err(|_| (TIME, "hour value is outside expected range of 0-23"))?;
    Ok(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn message(q: &str) -> String {
        parse_query(q)
            .err()
            .map(|e| e.message.clone())
            .unwrap_or_default()
    }

    #[test]
    fn datetimes_and_dates_parse_like_pydantic() {
        assert_eq!(
            parse_datetime("2026-11-24T06:21:44.709527+00:00").unwrap(),
            datetime!(2026-11-24 06:21:44.709527 UTC)
        );
        assert_eq!(
            parse_datetime("2026-11-24").unwrap(),
            datetime!(2026-11-24 00:00 UTC)
        );
        assert_eq!(
            parse_datetime("2026-11-24 08:00:00+02:00").unwrap(),
            datetime!(2026-11-24 06:00 UTC)
        );
        assert_eq!(
            parse_datetime("2026-11-24T06:00Z").unwrap(),
            datetime!(2026-11-24 06:00 UTC)
        );
        assert_eq!(
            parse_datetime("1700000000").unwrap(),
            datetime!(2023-11-14 22:13:20 UTC)
        );
        assert_eq!(
            parse_datetime("yesterday").unwrap_err().1,
            "input is too short"
        );
        assert_eq!(
            parse_datetime("2026-13-01").unwrap_err().1,
            "month value is outside expected range of 1-12"
        );
        assert!(parse_datetime("2026-11-24Tnope").is_err());
        assert!(parse_datetime("2026-02-30").is_err());
    }

    #[test]
    fn query_errors_use_the_recorded_messages() {
        assert_eq!(
            message("page_size=201"),
            "page_size: Input should be less than or equal to 200"
        );
        assert_eq!(
            message("page_size=0"),
            "page_size: Input should be greater than or equal to 1"
        );
        assert_eq!(
            message("page_size=-5"),
            "page_size: Input should be greater than or equal to 1"
        );
        assert_eq!(
            message("page_size=1000000000"),
            "page_size: Input should be less than or equal to 200"
        );
        assert_eq!(
            message("page_size=99999999999999999999999"),
            "page_size: Input should be less than or equal to 200"
        );
        assert_eq!(
            message("page=0"),
            "page: Input should be greater than or equal to 1"
        );
        assert_eq!(
            message("page=x"),
            "page: Input should be a valid integer, unable to parse string as an integer"
        );
        assert_eq!(
            message("actor_id=nope"),
            "actor_id: Input should be a valid UUID, invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-], found `n` at 1"
        );
        assert_eq!(
            message("created_from=yesterday"),
            "created_from: Input should be a valid datetime or date, input is too short"
        );
        let q =
            parse_query("feature=role&feature=user&action=a.b&page=2&page_size=3&resource_type=")
                .unwrap();
        assert_eq!(q.filter.features, vec!["role", "user"]);
        assert_eq!(q.filter.actions, vec!["a.b"]);
        assert_eq!(q.filter.resource_type, None);
        assert_eq!((q.page, q.page_size), (2, 3));
        let q = parse_query("page=99999999999999999999").unwrap();
        assert_eq!(q.page, i64::MAX);
    }
}
