//! `GET /org/audit-logs` (contract §3 "Audit logs"; DESIGN.md §4: an actor without a profile
//! gives `full_name: null`, never an error).

use axum::extract::{RawQuery, State};
use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::domain::permissions::perm;
use crate::http::envelope::Envelope;
use crate::http::error::{ApiError, ApiResult, FieldError};
use crate::http::guard::Can;
use crate::http::state::AppState;
use crate::http::validate::lax::{BigInt, bounded, parse_int_text};
use crate::services;
use crate::services::audit_logs::{AuditFilter, AuditRow};
use crate::timefmt::parse_datetime;

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
    #[schema(value_type = Option<Object>)]
    old_value: Option<Value>,
    #[schema(value_type = Option<Object>)]
    new_value: Option<Value>,
    #[schema(value_type = Option<Object>)]
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
        ("page" = Option<i64>, Query, minimum = 1, description = "≥ 1, default 1"),
        ("page_size" = Option<i64>, Query, minimum = 1, maximum = 200, description = "1–200, default 50"),
        ("feature" = Option<Vec<String>>, Query, description = "Repeatable; prefix of the action"),
        ("action" = Option<Vec<String>>, Query, description = "Repeatable; exact action"),
        ("resource_type" = Option<String>, Query), ("resource_id" = Option<String>, Query),
        ("actor_id" = Option<Uuid>, Query),
        ("created_from" = inline(Option<crate::http::validate::params::DateTimeQuery>), Query, description = "Inclusive datetime or date"),
        ("created_to" = inline(Option<crate::http::validate::params::DateTimeQuery>), Query, description = "Inclusive datetime or date")),
    responses((status = 200, body = AuditPage), (status = 403, description = "Missing permission: audit_log.view"),
              (status = 422, description = "Invalid query parameter")))]
pub async fn list(
    State(state): State<AppState>,
    user: Can<perm::AuditLogView>,
    RawQuery(query): RawQuery,
) -> ApiResult<Envelope<AuditPage>> {
    let q = parse_query(query.as_deref().unwrap_or(""))?;
    let mut conn = state.db.acquire().await?;
    let offset = (q.page - 1).saturating_mul(q.page_size);
    let (rows, total) =
        services::audit_logs::list(&mut conn, &user.org_id, &q.filter, q.page_size, offset).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn message(q: &str) -> String {
        parse_query(q)
            .err()
            .map(|e| e.message.clone())
            .unwrap_or_default()
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
