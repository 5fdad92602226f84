//! The admin's schedule of a loan (§5.11): the remaining schedule, a what-if simulation and
//! the CSV export. One engine with the borrower's views (`services::loans::borrower`,
//! `domain::loans::schedule`) and one CSV writer (`domain::loans::export`); only the loan
//! lookup differs (any loan of the tenant instead of the caller's own).

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::views::LOAN_NOT_FOUND;
use crate::domain::loans::export;
use crate::domain::loans::schedule::Schedule;
use crate::domain::permissions::perm;
use crate::http::envelope::Envelope;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{ApiPath, ApiQuery};
use crate::http::guard::{CurrentUser, Member};
use crate::http::routes::loans::borrower::{ScheduleQuery, view_error, what_if_request};
use crate::http::state::AppState;
use crate::http::validate::body_object;
use crate::http::validate::params::path_uuid;
use crate::services::loans::borrower;
use crate::services::loans::record::{self, LoanRecord};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(schedule))
        .routes(routes!(what_if))
        .routes(routes!(export_csv))
}

/// Any loan of the tenant, or 404 `Loan application not found`.
async fn tenant_loan(
    state: &AppState,
    user: &CurrentUser<Member>,
    loan_id: Uuid,
) -> ApiResult<(LoanRecord, sqlx::pool::PoolConnection<sqlx::Postgres>)> {
    let mut conn = state.db.acquire().await?;
    let loan = record::load(&mut conn, &user.org_id, loan_id)
        .await?
        .ok_or_else(|| ApiError::not_found(LOAN_NOT_FOUND))?;
    Ok((loan, conn))
}

/// What is still due at `as_of` (default today) after the repayments dated on or before it;
/// `include_paid` lists paid instalments as zeros (`loan.schedule.view`; any loan status).
#[utoipa::path(get, path = "/org/loans/{loan_id}/schedule", tag = "loan-admin",
    security(("bearer" = [])),
    params(("loan_id" = uuid::Uuid, Path), ("as_of" = inline(Option<crate::http::validate::params::DateQuery>), Query),
        ("include_paid" = Option<bool>, Query)),
    responses((status = 200, description = "Schedule"), (status = 400), (status = 401),
        (status = 403), (status = 404), (status = 422)))]
async fn schedule(
    State(state): State<AppState>,
    user: crate::http::guard::Can<perm::LoanScheduleView, Member>,
    ApiPath(raw_loan_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<ScheduleQuery>,
) -> ApiResult<Envelope<Schedule>> {
    let loan_id = path_uuid("loan_id", &raw_loan_id)?;
    let (as_of, include_paid) = query.parse(state.clock.today())?;
    let (loan, mut conn) = tenant_loan(&state, &user, loan_id).await?;
    let schedule = borrower::remaining(&mut conn, &user.org_id, &loan, as_of, include_paid)
        .await
        .map_err(view_error)?;
    Ok(Envelope(schedule))
}

/// A schedule from the loan's terms with the body's overrides; the principal defaults to what
/// is left after the repayments (`loan.what_if.simulate`; nothing is stored).
#[utoipa::path(post, path = "/org/loans/{loan_id}/schedule/what-if", tag = "loan-admin",
    security(("bearer" = [])), params(("loan_id" = uuid::Uuid, Path)),
    request_body(content = Object, description = "LoanScheduleWhatIfRequest"),
    responses((status = 200, description = "Schedule"), (status = 400), (status = 401),
        (status = 403), (status = 404), (status = 422)))]
async fn what_if(
    State(state): State<AppState>,
    user: crate::http::guard::Can<perm::LoanWhatIfSimulate, Member>,
    ApiPath(raw_loan_id): ApiPath<String>,
    body: Bytes,
) -> ApiResult<Envelope<Schedule>> {
    let loan_id = path_uuid("loan_id", &raw_loan_id)?;
    let request = what_if_request(&body_object(&body)?)?;
    let (loan, mut conn) = tenant_loan(&state, &user, loan_id).await?;
    let schedule = borrower::what_if(
        &mut conn,
        &user.org_id,
        &loan,
        &request,
        state.clock.today(),
    )
    .await
    .map_err(view_error)?;
    Ok(Envelope(schedule))
}

/// The remaining schedule as CSV (`period,due_date,payment,principal,interest,
/// remaining_balance`, CRLF lines), not enveloped (`loan.export.schedule`).
#[utoipa::path(get, path = "/org/loans/{loan_id}/schedule/export", tag = "loan-admin",
    security(("bearer" = [])),
    params(("loan_id" = uuid::Uuid, Path), ("as_of" = inline(Option<crate::http::validate::params::DateQuery>), Query),
        ("include_paid" = Option<bool>, Query)),
    responses((status = 200, description = "CSV", content_type = "text/csv"), (status = 400),
        (status = 401), (status = 403), (status = 404), (status = 422)))]
async fn export_csv(
    State(state): State<AppState>,
    user: crate::http::guard::Can<perm::LoanExportSchedule, Member>,
    ApiPath(raw_loan_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<ScheduleQuery>,
) -> ApiResult<Response> {
    let loan_id = path_uuid("loan_id", &raw_loan_id)?;
    let (as_of, include_paid) = query.parse(state.clock.today())?;
    let (loan, mut conn) = tenant_loan(&state, &user, loan_id).await?;
    let schedule = borrower::remaining(&mut conn, &user.org_id, &loan, as_of, include_paid)
        .await
        .map_err(view_error)?;
    drop(conn);
    let csv = export::write_schedule_export(Vec::new(), &schedule)
        .map_err(|e| ApiError::from_unexpected("writing the schedule CSV", &e))?;
    let mut resp = Response::new(Body::from(csv));
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    let disposition = format!(
        "attachment; filename=\"{}\"",
        export::schedule_export_filename(loan_id)
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}
