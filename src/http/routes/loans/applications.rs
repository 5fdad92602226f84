//! `POST /me/loan-applications/quote` and the caller's applications: create, list, read,
//! update, submit, cancel (§2.1–§2.7).

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use serde_json::Value;
use sqlx::PgConnection;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::params::{self, ListQuery};
use crate::domain::loans::quote::Quote;
use crate::domain::permissions::{perm, step};
use crate::domain::stock::values::messages;
use crate::http::envelope::{Created, Envelope};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{ApiPath, parse_json_body};
use crate::http::guard::{Can, CurrentUser, GuardMode, Member};
use crate::http::state::AppState;
use crate::http::step_up::StepUp;
use crate::http::validate::params::path_uuid;
use crate::services::loans::applications::{self, SelfLoanList};
use crate::services::loans::quote::{self, Applicant};
use crate::services::loans::record::{LoanRecord, SelfLoan, self_loan};
use crate::services::stock::cache;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(quote_loan))
        .routes(routes!(list, create))
        .routes(routes!(get_one, update))
        .routes(routes!(submit))
        .routes(routes!(cancel))
}

/// The caller's membership, or 404 `Membership not found` (a superuser acting in an org where
/// it has none).
async fn applicant<M: GuardMode>(
    conn: &mut PgConnection,
    user: &CurrentUser<M>,
) -> ApiResult<Applicant> {
    quote::applicant(conn, &user.org_id, user.user_id)
        .await?
        .ok_or_else(|| ApiError::not_found(messages::MEMBERSHIP_NOT_FOUND))
}

async fn view(
    conn: &mut PgConnection,
    state: &AppState,
    user: &CurrentUser<Member>,
    loan: &LoanRecord,
) -> ApiResult<SelfLoan> {
    Ok(self_loan(conn, &user.org_id, loan, state.clock.today()).await?)
}

fn application_id(raw: &str) -> ApiResult<Uuid> {
    path_uuid("application_id", raw)
}

/// A read-only price quote (`loan.apply`; tenant errors first).
#[utoipa::path(post, path = "/me/loan-applications/quote", tag = "loans", security(("bearer" = [])),
    request_body(content = Object, description = "LoanQuoteRequest"),
    responses((status = 200, description = "LoanQuote"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 422)))]
async fn quote_loan(
    State(state): State<AppState>,
    user: Can<perm::LoanApply>,
    body: Bytes,
) -> ApiResult<Envelope<Quote>> {
    let raw: Value = parse_json_body(&body)?;
    let request = params::quote_body(&raw)?.request(state.clock.today())?;
    let mut conn = state.db.acquire().await?;
    let applicant = applicant(&mut conn, &user).await?;
    let settings = quote::settings_or_defaults(&mut conn, &user.org_id).await?;
    let quoted = quote::quote_for(&mut conn, &user.org_id, &applicant, &settings, &request).await?;
    Ok(Envelope(quoted.quote))
}

/// The caller's applications, newest first (`loan.view_own`).
#[utoipa::path(get, path = "/me/loan-applications", tag = "loans", security(("bearer" = [])),
    params(("status" = Option<Vec<String>>, Query), ("limit" = Option<i64>, Query, minimum = 1, maximum = 200), ("offset" = Option<i64>, Query, minimum = 0),
        ("created_from" = inline(Option<crate::http::validate::params::DateTimeQuery>), Query), ("created_to" = inline(Option<crate::http::validate::params::DateTimeQuery>), Query)),
    responses((status = 200, description = "{items: [SelfLoanSummary], total}"), (status = 401), (status = 403), (status = 404), (status = 422)))]
async fn list(
    State(state): State<AppState>,
    user: Can<perm::LoanViewOwn, Member>,
    RawQuery(query): RawQuery,
) -> ApiResult<Envelope<SelfLoanList>> {
    let filter = ListQuery::from_query(query.as_deref()).filter()?;
    // The guard already read the caller's membership in this org.
    let membership_id = user
        .membership_id
        .ok_or_else(|| ApiError::not_found(messages::MEMBERSHIP_NOT_FOUND))?;
    let mut conn = state.db.acquire().await?;
    let list = applications::list_own(&mut conn, &user.org_id, membership_id, &filter).await?;
    Ok(Envelope(list))
}

/// A new DRAFT from a fresh quote (`loan.apply`); `Idempotency-Key` makes a retry return the
/// first answer.
#[utoipa::path(post, path = "/me/loan-applications", tag = "loans", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header)),
    request_body(content = Object, description = "LoanApplicationDraftCreate"),
    responses((status = 201, description = "SelfLoan"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 422)))]
async fn create(
    State(state): State<AppState>,
    user: Can<perm::LoanApply, Member>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Created<SelfLoan>> {
    let raw: Value = parse_json_body(&body)?;
    let (fields, spouse) = params::draft_body(&raw, true)?;
    let request = fields.request(state.clock.today())?;
    let key = params::idempotency_key(&headers)?;
    let mut tx = state.db.begin().await?;
    let applicant = applicant(&mut tx, &user).await?;
    let settings = quote::settings_or_defaults(&mut tx, &user.org_id).await?;
    let loan = applications::create(
        &mut tx,
        &user.org_id,
        user.actor(),
        &applicant,
        &settings,
        &request,
        fields.as_of_date,
        &spouse,
        key.as_deref(),
    )
    .await?;
    let out = view(&mut tx, &state, &user, &loan).await?;
    tx.commit().await?;
    Ok(Created(out))
}

/// One of the caller's applications (`loan.view_own`).
#[utoipa::path(get, path = "/me/loan-applications/{application_id}", tag = "loans", security(("bearer" = [])),
    params(("application_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "SelfLoan"), (status = 401), (status = 403), (status = 404), (status = 422)))]
async fn get_one(
    State(state): State<AppState>,
    user: Can<perm::LoanViewOwn, Member>,
    ApiPath(raw_id): ApiPath<String>,
) -> ApiResult<Envelope<SelfLoan>> {
    let id = application_id(&raw_id)?;
    let mut conn = state.db.acquire().await?;
    let applicant = applicant(&mut conn, &user).await?;
    let loan = applications::get_own(&mut conn, &user.org_id, &applicant, id).await?;
    Ok(Envelope(view(&mut conn, &state, &user, &loan).await?))
}

/// Updates a DRAFT (`loan.apply`): a quote field recalculates; marital and spouse fields sent
/// are stored.
#[utoipa::path(patch, path = "/me/loan-applications/{application_id}", tag = "loans", security(("bearer" = [])),
    params(("application_id" = uuid::Uuid, Path)),
    request_body(content = Object, description = "LoanApplicationDraftUpdate"),
    responses((status = 200, description = "SelfLoan"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 422)))]
async fn update(
    State(state): State<AppState>,
    user: Can<perm::LoanApply, Member>,
    ApiPath(raw_id): ApiPath<String>,
    body: Bytes,
) -> ApiResult<Envelope<SelfLoan>> {
    let id = application_id(&raw_id)?;
    let raw: Value = parse_json_body(&body)?;
    let (fields, spouse) = params::draft_body(&raw, false)?;
    let mut tx = state.db.begin().await?;
    let applicant = applicant(&mut tx, &user).await?;
    let settings = quote::settings_or_defaults(&mut tx, &user.org_id).await?;
    let loan = applications::update_draft(
        &mut tx,
        &user.org_id,
        user.actor(),
        &applicant,
        &settings,
        id,
        &fields.patch(),
        &spouse,
    )
    .await?;
    let out = view(&mut tx, &state, &user, &loan).await?;
    tx.commit().await?;
    Ok(Envelope(out))
}

/// Submits a DRAFT (`loan.apply`, step-up `LOAN_SUBMISSION`): re-quoted, shares reserved and
/// the core review stages created in one transaction.
#[utoipa::path(post, path = "/me/loan-applications/{application_id}/submit", tag = "loans", security(("bearer" = [])),
    params(("application_id" = uuid::Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, description = "SelfLoan"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 422)))]
async fn submit(
    State(state): State<AppState>,
    user: Can<perm::LoanApply, Member>,
    _: StepUp<step::LoanSubmission, Member>,
    headers: HeaderMap,
    ApiPath(raw_id): ApiPath<String>,
) -> ApiResult<Envelope<SelfLoan>> {
    let id = application_id(&raw_id)?;
    let mut tx = state.db.begin().await?;
    let applicant = applicant(&mut tx, &user).await?;
    let key = params::idempotency_key(&headers)?;
    let settings = quote::settings_or_defaults(&mut tx, &user.org_id).await?;
    let loan = applications::submit(
        &mut tx,
        &user.org_id,
        user.actor(),
        &applicant,
        &settings,
        id,
        key.as_deref(),
        state.clock.today(),
    )
    .await?;
    let out = view(&mut tx, &state, &user, &loan).await?;
    tx.commit().await?;
    // After the commit, so a concurrent read cannot cache the old availability again.
    cache::invalidate_member(&state.cache, user.org_id.as_str(), applicant.membership_id).await;
    cache::invalidate_org(&state.cache, user.org_id.as_str()).await;
    Ok(Envelope(out))
}

/// Cancels a DRAFT (`loan.apply`, as the legacy route checked; `loan.cancel_own` stays a
/// frontend-only code).
#[utoipa::path(post, path = "/me/loan-applications/{application_id}/cancel", tag = "loans", security(("bearer" = [])),
    params(("application_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "SelfLoan"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 422)))]
async fn cancel(
    State(state): State<AppState>,
    user: Can<perm::LoanApply, Member>,
    ApiPath(raw_id): ApiPath<String>,
) -> ApiResult<Envelope<SelfLoan>> {
    let id = application_id(&raw_id)?;
    let mut tx = state.db.begin().await?;
    let applicant = applicant(&mut tx, &user).await?;
    let loan = applications::cancel(&mut tx, &user.org_id, user.actor(), &applicant, id).await?;
    let out = view(&mut tx, &state, &user, &loan).await?;
    tx.commit().await?;
    Ok(Envelope(out))
}
