//! `GET /org/loans/{loan_id}` and the HR, finance and legal review views (§5.2, §5.8).
//!
//! Deliberate difference: a GET never writes. The legacy detail activated eligible loans as a
//! side effect (Q19); here a loan is activated by the review that completes its last core stage
//! and by `activate-backlog`.

use axum::extract::State;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::domain::loans::workflow::StageType;
use crate::domain::permissions::perm;
use crate::domain::stock::summary::StockSummary;
use crate::http::envelope::Envelope;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::ApiPath;
use crate::http::guard::{Can, Member};
use crate::http::state::AppState;
use crate::http::validate::params::path_uuid;
use crate::services::loan_admin::detail::{self, LoanDetail};
use crate::services::loan_admin::stages::{self, Stage};
use crate::services::loans::record::{self, LoanRecord};
use crate::services::stock::{cache, members, summary};

pub const LOAN_NOT_FOUND: &str = "Loan application not found";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_detail))
        .routes(routes!(hr_view))
        .routes(routes!(finance_view))
        .routes(routes!(legal_view))
}

async fn loaded(
    conn: &mut sqlx::PgConnection,
    org_id: &crate::domain::org::OrgId,
    loan_id: Uuid,
) -> ApiResult<LoanRecord> {
    record::load(conn, org_id, loan_id)
        .await?
        .ok_or_else(|| ApiError::not_found(LOAN_NOT_FOUND))
}

/// One loan of the tenant with its stages, documents, applicant and payment status today
/// (`loan.view_all`).
#[utoipa::path(get, path = "/org/loans/{loan_id}", tag = "loan-admin", security(("bearer" = [])),
    params(("loan_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "LoanDetail"), (status = 401), (status = 403),
        (status = 404, description = "Loan application not found"), (status = 422)))]
async fn get_detail(
    State(state): State<AppState>,
    user: Can<perm::LoanViewAll, Member>,
    ApiPath(raw_loan_id): ApiPath<String>,
) -> ApiResult<Envelope<LoanDetail>> {
    let loan_id = path_uuid("loan_id", &raw_loan_id)?;
    let mut conn = state.db.acquire().await?;
    let loan = loaded(&mut conn, &user.org_id, loan_id).await?;
    Ok(Envelope(
        detail::detail(&mut conn, &loan, state.clock.today()).await?,
    ))
}

#[derive(Serialize)]
pub struct HrView {
    loan_application: LoanDetail,
    stock_summary: StockSummary,
    hr_stage: Option<Stage>,
}

#[derive(Serialize)]
pub struct FinanceView {
    loan_application: LoanDetail,
    finance_stage: Option<Stage>,
}

#[derive(Serialize)]
pub struct LegalView {
    loan_application: LoanDetail,
    legal_stage: Option<Stage>,
}

async fn view_parts(
    state: &AppState,
    conn: &mut sqlx::PgConnection,
    org_id: &crate::domain::org::OrgId,
    loan_id: Uuid,
    stage_type: StageType,
) -> ApiResult<(LoanRecord, LoanDetail, Option<Stage>)> {
    let loan = loaded(conn, org_id, loan_id).await?;
    let view = detail::detail(conn, &loan, state.clock.today()).await?;
    let stage = stages::find(conn, org_id.as_str(), loan_id, stage_type, false).await?;
    Ok((loan, view, stage))
}

/// The HR review view: the loan, the applicant's stock summary as of the loan's quote date
/// (cached five minutes) and the HR stage (`loan.queue.hr.view`).
#[utoipa::path(get, path = "/org/loans/{loan_id}/hr", tag = "loan-admin", security(("bearer" = [])),
    params(("loan_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "{loan_application, stock_summary, hr_stage}"),
        (status = 401), (status = 403), (status = 404), (status = 422)))]
async fn hr_view(
    State(state): State<AppState>,
    user: Can<perm::LoanQueueHrView, Member>,
    ApiPath(raw_loan_id): ApiPath<String>,
) -> ApiResult<Envelope<HrView>> {
    let loan_id = path_uuid("loan_id", &raw_loan_id)?;
    let mut conn = state.db.acquire().await?;
    let (loan, view, stage) = view_parts(
        &state,
        &mut conn,
        &user.org_id,
        loan_id,
        StageType::HrReview,
    )
    .await?;
    let org_id = user.org_id.as_str();
    let member = members::find(&mut conn, org_id, loan.org_membership_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Membership not found"))?;
    let stock = match cache::get_summary(
        &state.cache,
        org_id,
        loan.org_membership_id,
        loan.as_of_date,
    )
    .await
    {
        Some(hit) => hit,
        None => {
            let fresh = summary::summary_of(
                &mut conn,
                org_id,
                loan.org_membership_id,
                &member,
                loan.as_of_date,
            )
            .await?;
            cache::put_summary(&state.cache, org_id, &fresh).await;
            fresh
        }
    };
    Ok(Envelope(HrView {
        loan_application: view,
        stock_summary: stock,
        hr_stage: stage,
    }))
}

/// The finance review view (`loan.queue.finance.view`).
#[utoipa::path(get, path = "/org/loans/{loan_id}/finance", tag = "loan-admin",
    security(("bearer" = [])), params(("loan_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "{loan_application, finance_stage}"), (status = 401),
        (status = 403), (status = 404), (status = 422)))]
async fn finance_view(
    State(state): State<AppState>,
    user: Can<perm::LoanQueueFinanceView, Member>,
    ApiPath(raw_loan_id): ApiPath<String>,
) -> ApiResult<Envelope<FinanceView>> {
    let loan_id = path_uuid("loan_id", &raw_loan_id)?;
    let mut conn = state.db.acquire().await?;
    let (_, view, stage) = view_parts(
        &state,
        &mut conn,
        &user.org_id,
        loan_id,
        StageType::FinanceProcessing,
    )
    .await?;
    Ok(Envelope(FinanceView {
        loan_application: view,
        finance_stage: stage,
    }))
}

/// The legal review view (`loan.queue.legal.view`).
#[utoipa::path(get, path = "/org/loans/{loan_id}/legal", tag = "loan-admin",
    security(("bearer" = [])), params(("loan_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "{loan_application, legal_stage}"), (status = 401),
        (status = 403), (status = 404), (status = 422)))]
async fn legal_view(
    State(state): State<AppState>,
    user: Can<perm::LoanQueueLegalView, Member>,
    ApiPath(raw_loan_id): ApiPath<String>,
) -> ApiResult<Envelope<LegalView>> {
    let loan_id = path_uuid("loan_id", &raw_loan_id)?;
    let mut conn = state.db.acquire().await?;
    let (_, view, stage) = view_parts(
        &state,
        &mut conn,
        &user.org_id,
        loan_id,
        StageType::LegalExecution,
    )
    .await?;
    Ok(Envelope(LegalView {
        loan_application: view,
        legal_stage: stage,
    }))
}
