//! Stage assignment and the HR/finance/legal stage updates (§5.7, §5.8).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::params::{self, workflow_error};
use crate::domain::loans::workflow::{self, StageStatus, StageType};
use crate::domain::permissions::{MfaAction, Permission, perm};
use crate::http::envelope::Envelope;
use crate::http::error::{ApiError, ApiResult, FieldError};
use crate::http::extract::{ApiPath, parse_json_body};
use crate::http::guard::{Can, CurrentUser, Member};
use crate::http::state::AppState;
use crate::http::step_up;
use crate::http::validate::params::path_uuid;
use crate::services::loan_admin::stages::{self, Stage};
use crate::services::loan_admin::workflow::{self as flow, Activated, AssigneeCheck};
use crate::services::stock::cache;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(assign))
        .routes(routes!(update_hr))
        .routes(routes!(update_finance))
        .routes(routes!(update_legal))
}

/// The loan's applicant caches, dropped after an activation commits (the legacy service left
/// them stale for five minutes, Q15).
pub async fn after_activation(state: &AppState, org_id: &str, activated: Option<Activated>) {
    if let Some(a) = activated {
        cache::invalidate_member(&state.cache, org_id, a.org_membership_id).await;
        cache::invalidate_org(&state.cache, org_id).await;
    }
}

/// Assigns a core stage to the caller or, with `loan.workflow.assign.any`, to another member
/// holding the stage's manage permission.
#[utoipa::path(post, path = "/org/loans/{loan_id}/workflow/{stage_type}/assign", tag = "loan-admin",
    security(("bearer" = [])), params(("loan_id" = uuid::Uuid, Path), ("stage_type" = String, Path)),
    request_body(content = Object, description = "{assignee_user_id?: uuid|null}"),
    responses((status = 200, description = "WorkflowStage"), (status = 400), (status = 401),
        (status = 403), (status = 404), (status = 422)))]
async fn assign(
    State(state): State<AppState>,
    user: CurrentUser<Member>,
    ApiPath((raw_loan_id, raw_stage)): ApiPath<(String, String)>,
    body: Bytes,
) -> ApiResult<Envelope<Stage>> {
    let loan_id = path_uuid("loan_id", &raw_loan_id)?;
    let stage_type = params::stage_type(&raw_stage)?;
    let raw: Value = parse_json_body(&body)?;
    let assignee = assignee_of(&raw)?;
    workflow::check_assignable(stage_type).map_err(params::rule)?;
    let permission = stage_type
        .manage_permission()
        .ok_or_else(ApiError::internal)?;
    let assignee = match assignee {
        Some(other) if other != user.user_id => {
            user.require_permission(&state, Permission::LoanWorkflowAssignAny)
                .await?;
            other
        }
        _ => {
            user.require(&state, permission).await?;
            user.user_id
        }
    };
    let org_id = user.org_id.as_str();
    let mut tx = state.db.begin().await?;
    match flow::check_assignee(&mut tx, org_id, assignee, permission).await? {
        AssigneeCheck::Ok => {}
        AssigneeCheck::UserNotFound => return Err(ApiError::not_found("Assignee user not found")),
        AssigneeCheck::MembershipNotFound => {
            return Err(ApiError::not_found("Assignee membership not found"));
        }
        AssigneeCheck::MissingPermission => {
            return Err(ApiError::coded(
                axum::http::StatusCode::BAD_REQUEST,
                "assignee_missing_permission",
                "Assignee does not have required workflow permission",
                json!({ "permission": permission }),
            ));
        }
    }
    let stage = flow::assign(
        &mut tx,
        user.actor(),
        loan_id,
        stage_type,
        assignee,
        state.clock.now(),
    )
    .await
    .map_err(workflow_error)?;
    tx.commit().await?;
    Ok(Envelope(stage))
}

fn assignee_of(raw: &Value) -> ApiResult<Option<Uuid>> {
    let Some(obj) = raw.as_object() else {
        return Err(ApiError::validation(vec![FieldError {
            kind: "model_attributes_type",
            loc: vec![json!("body")],
            msg: "Input should be a valid dictionary or object to extract fields from".into(),
            input: raw.clone(),
            ctx: None,
        }]));
    };
    match obj.get("assignee_user_id") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Uuid::parse_str(s).map(Some).map_err(|e| {
            ApiError::validation(vec![FieldError {
                kind: "uuid_parsing",
                loc: vec![json!("body"), json!("assignee_user_id")],
                msg: format!("Input should be a valid UUID, {e}"),
                input: json!(s),
                ctx: Some(json!({ "error": e.to_string() })),
            }])
        }),
        Some(other) => Err(ApiError::validation(vec![FieldError {
            kind: "uuid_type",
            loc: vec![json!("body"), json!("assignee_user_id")],
            msg: "UUID input should be a string, bytes or UUID object".into(),
            input: other.clone(),
            ctx: None,
        }])),
    }
}

/// The body of a stage PATCH: `{status (required), notes?: string|null}`.
fn review_body(raw: &Value) -> ApiResult<(StageStatus, Option<String>)> {
    let obj = match raw.as_object() {
        Some(obj) => obj,
        None => {
            return Err(ApiError::validation(vec![FieldError {
                kind: "model_attributes_type",
                loc: vec![json!("body")],
                msg: "Input should be a valid dictionary or object to extract fields from".into(),
                input: raw.clone(),
                ctx: None,
            }]));
        }
    };
    let mut errors = Vec::new();
    let status = match obj.get("status") {
        None => {
            errors.push(FieldError::body(
                &["status"],
                "missing",
                "Field required",
                raw.clone(),
            ));
            None
        }
        Some(Value::String(s)) if StageStatus::parse(s).is_some() => StageStatus::parse(s),
        Some(other) => {
            let expected = StageStatus::expected_message();
            errors.push(FieldError {
                kind: "enum",
                loc: vec![json!("body"), json!("status")],
                msg: expected.clone(),
                input: other.clone(),
                ctx: Some(json!({
                    "expected": expected.trim_start_matches("Input should be ")
                })),
            });
            None
        }
    };
    let notes = match obj.get("notes") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            errors.push(FieldError {
                kind: "string_type",
                loc: vec![json!("body"), json!("notes")],
                msg: "Input should be a valid string".into(),
                input: other.clone(),
                ctx: None,
            });
            None
        }
    };
    match status {
        Some(status) if errors.is_empty() => Ok((status, notes)),
        _ => Err(ApiError::validation(errors)),
    }
}

async fn update_stage(
    state: &AppState,
    user: &CurrentUser<Member>,
    headers: &HeaderMap,
    loan_id: Uuid,
    stage_type: StageType,
    body: &[u8],
) -> ApiResult<Envelope<Stage>> {
    let raw: Value = parse_json_body(body)?;
    let (target, notes) = review_body(&raw)?;
    let org_id = user.org_id.as_str();
    {
        // The 404s come before the status and step-up checks, as in the legacy service.
        let mut conn = state.db.acquire().await?;
        let label = stage_type.review_label().unwrap_or("Legal");
        if stages::find(&mut conn, org_id, loan_id, stage_type, false)
            .await?
            .is_none()
        {
            return Err(ApiError::not_found(format!(
                "{label} workflow stage not found"
            )));
        }
    }
    workflow::check_review_target(stage_type, target).map_err(params::rule)?;
    if target == StageStatus::Completed {
        step_up::require_action(state, user, headers, MfaAction::WorkflowComplete).await?;
    }
    let mut tx = state.db.begin().await?;
    let (stage, activated) = flow::review(
        &mut tx,
        user.actor(),
        loan_id,
        stage_type,
        target,
        notes.as_deref(),
        state.clock.now(),
    )
    .await
    .map_err(workflow_error)?;
    tx.commit().await?;
    after_activation(state, org_id, activated).await;
    Ok(Envelope(stage))
}

macro_rules! stage_route {
    ($name:ident, $path:literal, $perm:ty, $stage:expr, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(patch, path = $path, tag = "loan-admin", security(("bearer" = [])),
                            params(("loan_id" = uuid::Uuid, Path)),
                            request_body(content = Object, description = "{status, notes?}"),
                            responses((status = 200, description = "WorkflowStage"), (status = 400),
                                (status = 401), (status = 403), (status = 404), (status = 422)))]
        async fn $name(
            State(state): State<AppState>,
            user: Can<$perm, Member>,
            headers: HeaderMap,
            ApiPath(raw_loan_id): ApiPath<String>,
            body: Bytes,
        ) -> ApiResult<Envelope<Stage>> {
            let loan_id = path_uuid("loan_id", &raw_loan_id)?;
            update_stage(&state, &user, &headers, loan_id, $stage, &body).await
        }
    };
}

stage_route!(
    update_hr,
    "/org/loans/{loan_id}/hr",
    perm::LoanWorkflowHrManage,
    StageType::HrReview,
    "Moves the HR review to IN_PROGRESS or COMPLETED (step-up WORKFLOW_COMPLETE to complete)."
);
stage_route!(
    update_finance,
    "/org/loans/{loan_id}/finance",
    perm::LoanWorkflowFinanceManage,
    StageType::FinanceProcessing,
    "Moves finance processing to IN_PROGRESS or COMPLETED (step-up WORKFLOW_COMPLETE to complete)."
);
stage_route!(
    update_legal,
    "/org/loans/{loan_id}/legal",
    perm::LoanWorkflowLegalManage,
    StageType::LegalExecution,
    "Moves legal execution to IN_PROGRESS or COMPLETED (step-up WORKFLOW_COMPLETE to complete); \
     completing the last core stage activates the loan in the same transaction."
);
