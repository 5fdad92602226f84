//! The admin status decision (`PATCH /org/loans/{loan_id}`, §5.3) and the activation backlog
//! maintenance (`POST /org/loans/maintenance/activate-backlog`, §5.5).

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::params::{self, workflow_error};
use super::workflow::after_activation;
use crate::domain::loans::workflow::{LoanStatus, validate_status_update};
use crate::domain::permissions::perm;
use crate::http::envelope::Envelope;
use crate::http::error::{ApiError, ApiResult, FieldError};
use crate::http::extract::{ApiPath, parse_json_body};
use crate::http::guard::{Can, Member};
use crate::http::state::AppState;
use crate::http::validate::lax;
use crate::http::validate::params::path_uuid;
use crate::services::loan_admin::detail::{self, LoanDetail};
use crate::services::loan_admin::workflow::{self as flow, MaintenanceResult};
use crate::services::loans::record;
use crate::services::stock::cache;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(decide))
        .routes(routes!(activate_backlog))
}

fn body_field_error(kind: &'static str, field: &str, msg: String, input: Value) -> FieldError {
    FieldError {
        kind,
        loc: vec![json!("body"), json!(field)],
        msg,
        input,
        ctx: None,
    }
}

/// `{status?: LoanStatus|null, decision_reason?: string|null}`; unknown keys ignored.
fn decision_body(raw: &Value) -> ApiResult<(Option<LoanStatus>, Option<String>)> {
    let obj = raw.as_object().ok_or_else(|| {
        ApiError::validation(vec![FieldError {
            kind: "model_attributes_type",
            loc: vec![json!("body")],
            msg: "Input should be a valid dictionary or object to extract fields from".into(),
            input: raw.clone(),
            ctx: None,
        }])
    })?;
    let mut errors = Vec::new();
    let status = match obj.get("status") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if LoanStatus::parse(s).is_some() => LoanStatus::parse(s),
        Some(other) => {
            let expected = LoanStatus::expected_message();
            let mut e = body_field_error("enum", "status", expected.clone(), other.clone());
            e.ctx = Some(json!({ "expected": expected.trim_start_matches("Input should be ") }));
            errors.push(e);
            None
        }
    };
    let reason = match obj.get("decision_reason") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() > 500 => {
            let mut e = body_field_error(
                "string_too_long",
                "decision_reason",
                "String should have at most 500 characters".into(),
                json!(s),
            );
            e.ctx = Some(json!({ "max_length": 500 }));
            errors.push(e);
            None
        }
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            errors.push(body_field_error(
                "string_type",
                "decision_reason",
                "Input should be a valid string".into(),
                other.clone(),
            ));
            None
        }
    };
    if errors.is_empty() {
        Ok((status, reason))
    } else {
        Err(ApiError::validation(errors))
    }
}

/// Moves a loan to IN_REVIEW or REJECTED (`loan.manage`). Committed, with its reservations and
/// audit row (the legacy service rolled it back, Q1).
#[utoipa::path(patch, path = "/org/loans/{loan_id}", tag = "loan-admin", security(("bearer" = [])),
    params(("loan_id" = uuid::Uuid, Path)),
    request_body(content = Object, description = "{status, decision_reason?}"),
    responses((status = 200, description = "LoanDetail"), (status = 400), (status = 401),
        (status = 403), (status = 404), (status = 422)))]
async fn decide(
    State(state): State<AppState>,
    user: Can<perm::LoanManage, Member>,
    ApiPath(raw_loan_id): ApiPath<String>,
    body: Bytes,
) -> ApiResult<Envelope<LoanDetail>> {
    let loan_id = path_uuid("loan_id", &raw_loan_id)?;
    let raw: Value = parse_json_body(&body)?;
    let (status, reason) = decision_body(&raw)?;
    let target = validate_status_update(status, reason.as_deref()).map_err(params::rule)?;
    let org_id = user.org_id.as_str();
    let mut tx = state.db.begin().await?;
    let decided = flow::decide(
        &mut tx,
        user.actor(),
        &user.org_id,
        loan_id,
        target,
        reason.as_deref(),
    )
    .await
    .map_err(workflow_error)?;
    let loan = record::load(&mut tx, &user.org_id, loan_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Loan application not found"))?;
    let view = detail::detail(&mut tx, &loan, state.clock.today()).await?;
    tx.commit().await?;
    if decided.invalidate_stock {
        cache::invalidate_member(&state.cache, org_id, decided.org_membership_id).await;
        cache::invalidate_org(&state.cache, org_id).await;
    }
    Ok(Envelope(view))
}

/// Activates every loan whose core stages are done and completes the post-issuance stage of
/// loans with a share certificate (`loan.manage`).
#[utoipa::path(post, path = "/org/loans/maintenance/activate-backlog", tag = "loan-admin",
    security(("bearer" = [])),
    params(("loan_id" = Option<uuid::Uuid>, Query), ("limit" = Option<i64>, Query, minimum = 1, maximum = 5000),
        ("offset" = Option<i64>, Query, minimum = 0)),
    responses((status = 200, description = "MaintenanceResult"), (status = 401), (status = 403),
        (status = 404), (status = 422)))]
async fn activate_backlog(
    State(state): State<AppState>,
    user: Can<perm::LoanManage, Member>,
    RawQuery(query): RawQuery,
) -> ApiResult<Envelope<MaintenanceResult>> {
    let pairs = params::pairs(query.as_deref());
    let get = |name: &str| {
        pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let mut errors = Vec::new();
    let loan_id = match get("loan_id") {
        None => None,
        Some(raw) => match uuid::Uuid::parse_str(&raw) {
            Ok(id) => Some(id),
            Err(e) => {
                let text = crate::http::validate::pydantic_uuid_text(&e.to_string());
                errors.push(FieldError {
                    kind: "uuid_parsing",
                    loc: vec![json!("query"), json!("loan_id")],
                    msg: format!("Input should be a valid UUID, {text}"),
                    input: json!(raw),
                    ctx: Some(json!({ "error": text })),
                });
                None
            }
        },
    };
    let mut int = |name: &str, ge: i64, le: Option<i64>| -> Option<i64> {
        let raw = get(name)?;
        lax::py_int::<i64>(&json!(raw), Some(ge), le)
            .map_err(|(kind, msg, ctx)| {
                errors.push(FieldError {
                    kind,
                    loc: vec![json!("query"), json!(name)],
                    msg,
                    input: json!(raw),
                    ctx,
                });
            })
            .ok()
    };
    let limit = int("limit", 1, Some(5000));
    let offset = int("offset", 0, None).unwrap_or(0);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let org_id = user.org_id.as_str();
    let mut tx = state.db.begin().await?;
    let (result, activated) = flow::activate_backlog(
        &mut tx,
        user.actor(),
        loan_id,
        limit,
        offset,
        state.clock.now(),
    )
    .await
    .map_err(workflow_error)?;
    tx.commit().await?;
    for a in activated {
        after_activation(&state, org_id, Some(a)).await;
    }
    Ok(Envelope(result))
}
