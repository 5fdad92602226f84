//! Grants of a member: list, preview, create, read, update (§3.1–§3.5).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::params::{self, GrantInput, PageQuery};
use crate::domain::permissions::{MfaAction, perm};
use crate::domain::stock::record::{GrantList, GrantOut, PreviewOut};
use crate::domain::stock::schedule::{PatchError, build_schedule, resolve_patch};
use crate::domain::stock::values::messages;
use crate::domain::stock::vesting::Schedule;
use crate::http::envelope::{Created, Envelope};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{ApiPath, ApiQuery, parse_json_body};
use crate::http::guard::Can;
use crate::http::state::AppState;
use crate::http::step_up;
use crate::http::validate::params::path_uuid;
use crate::services::audit;
use crate::services::stock::{cache, grants, members};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(preview))
        .routes(routes!(get_one, update))
}

const RESOURCE: &str = "employee_stock_grant";

/// The schedule a create/preview body asks for, checked: the membership must exist in the org
/// (404) and be ACTIVE/ACTIVE (400), then the first broken schedule rule (400).
async fn checked_schedule(
    conn: &mut sqlx::PgConnection,
    org_id: &str,
    membership_id: Uuid,
    input: &GrantInput,
) -> ApiResult<Schedule> {
    let member = members::find(conn, org_id, membership_id)
        .await?
        .ok_or_else(|| ApiError::not_found(messages::MEMBERSHIP_NOT_FOUND))?;
    if !member.is_active() {
        return Err(ApiError::bad_request(messages::MEMBERSHIP_NOT_ACTIVE));
    }
    build_schedule(
        input.vesting_strategy,
        input.grant_date,
        input.total_shares,
        input.vesting_events.clone(),
    )
    .map_err(|e| ApiError::bad_request(e.to_string()))
}

/// A member's grants, every status, newest `grant_date` first (`stock.view`).
#[utoipa::path(get, path = "/org/users/{membership_id}/stock/grants", tag = "stock",
    security(("bearer" = [])),
    params(("membership_id" = uuid::Uuid, Path), ("page" = Option<i64>, Query, minimum = 1), ("page_size" = Option<i64>, Query, minimum = 1, maximum = 100)),
    responses((status = 200, description = "{items: [GrantOut], total}"), (status = 403), (status = 404, description = "Membership not found")))]
async fn list(
    State(state): State<AppState>,
    user: Can<perm::StockView>,
    ApiPath(raw_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Envelope<GrantList>> {
    let membership_id = path_uuid("membership_id", &raw_id)?;
    let (offset, limit) = query.bounds()?;
    let org_id = user.org_id.as_str();
    let mut conn = state.db.acquire().await?;
    members::find(&mut conn, org_id, membership_id)
        .await?
        .ok_or_else(|| ApiError::not_found(messages::MEMBERSHIP_NOT_FOUND))?;
    let (records, total) =
        grants::list_for_member(&mut conn, org_id, membership_id, offset, limit).await?;
    let today = state.clock.today();
    Ok(Envelope(GrantList {
        items: records.iter().map(|r| r.out(today)).collect(),
        total,
    }))
}

/// Dry run of a create: the schedule rules, no write, no step-up (`stock.manage`).
#[utoipa::path(post, path = "/org/users/{membership_id}/stock/grants/preview", tag = "stock",
    security(("bearer" = [])), params(("membership_id" = uuid::Uuid, Path)),
    request_body(content = Object, description = "EmployeeStockGrantCreate"),
    responses((status = 200, description = "PreviewOut"), (status = 400), (status = 403), (status = 404), (status = 422)))]
async fn preview(
    State(state): State<AppState>,
    user: Can<perm::StockManage>,
    ApiPath(raw_id): ApiPath<String>,
    body: Bytes,
) -> ApiResult<Envelope<PreviewOut>> {
    let membership_id = path_uuid("membership_id", &raw_id)?;
    let raw: Value = parse_json_body(&body)?;
    let input = params::grant_input(&raw)?;
    let mut conn = state.db.acquire().await?;
    let schedule = checked_schedule(&mut conn, user.org_id.as_str(), membership_id, &input).await?;
    Ok(Envelope(PreviewOut::new(
        &schedule,
        input.exercise_price,
        input.notes,
        state.clock.today(),
    )))
}

/// Creates an ACTIVE grant (`stock.manage`, step-up `STOCK_GRANT_ASSIGNMENT` after body
/// validation and before the membership lookup, as in the legacy service).
#[utoipa::path(post, path = "/org/users/{membership_id}/stock/grants", tag = "stock",
    security(("bearer" = [])), params(("membership_id" = uuid::Uuid, Path)),
    request_body(content = Object, description = "EmployeeStockGrantCreate"),
    responses((status = 201, description = "GrantOut"), (status = 400), (status = 403), (status = 404), (status = 422)))]
async fn create(
    State(state): State<AppState>,
    user: Can<perm::StockManage>,
    headers: HeaderMap,
    ApiPath(raw_id): ApiPath<String>,
    body: Bytes,
) -> ApiResult<Created<GrantOut>> {
    let membership_id = path_uuid("membership_id", &raw_id)?;
    let raw: Value = parse_json_body(&body)?;
    let input = params::grant_input(&raw)?;
    step_up::require_action(&state, &user, &headers, MfaAction::StockGrantAssignment).await?;
    let org_id = user.org_id.as_str();
    let mut tx = state.db.begin().await?;
    let schedule = checked_schedule(&mut tx, org_id, membership_id, &input).await?;
    let record = grants::create(
        &mut tx,
        org_id,
        membership_id,
        &grants::NewGrant {
            schedule: &schedule,
            exercise_price: &input.exercise_price,
            notes: input.notes.as_deref(),
        },
    )
    .await?;
    audit::record(
        &mut tx,
        user.audit(
            "stock_grant.created",
            RESOURCE,
            record.id,
            None,
            Some(record.snapshot()),
        ),
    )
    .await?;
    tx.commit().await?;
    cache::invalidate_member(&state.cache, org_id, membership_id).await;
    Ok(Created(record.out(state.clock.today())))
}

/// One grant of the org (`stock.view`).
#[utoipa::path(get, path = "/org/stock/grants/{grant_id}", tag = "stock",
    security(("bearer" = [])), params(("grant_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "GrantOut"), (status = 403), (status = 404, description = "Grant not found")))]
async fn get_one(
    State(state): State<AppState>,
    user: Can<perm::StockView>,
    ApiPath(raw_id): ApiPath<String>,
) -> ApiResult<Envelope<GrantOut>> {
    let grant_id = path_uuid("grant_id", &raw_id)?;
    let mut conn = state.db.acquire().await?;
    let record = grants::find(&mut conn, user.org_id.as_str(), grant_id, false)
        .await?
        .ok_or_else(|| ApiError::not_found(messages::GRANT_NOT_FOUND))?;
    Ok(Envelope(record.out(state.clock.today())))
}

/// Updates a grant (`stock.manage`; step-up `STOCK_STATUS_CHANGE` when the body carries a
/// `status`, checked after the grant lookup). Status and notes may change on the grant of a
/// member who is no longer active (the legacy service refused every change, Q4); any other
/// change still needs an ACTIVE membership.
#[utoipa::path(patch, path = "/org/stock/grants/{grant_id}", tag = "stock",
    security(("bearer" = [])), params(("grant_id" = uuid::Uuid, Path)),
    request_body(content = Object, description = "EmployeeStockGrantUpdate"),
    responses((status = 200, description = "GrantOut"), (status = 400), (status = 403), (status = 404), (status = 422)))]
async fn update(
    State(state): State<AppState>,
    user: Can<perm::StockManage>,
    headers: HeaderMap,
    ApiPath(raw_id): ApiPath<String>,
    body: Bytes,
) -> ApiResult<Envelope<GrantOut>> {
    let grant_id = path_uuid("grant_id", &raw_id)?;
    let raw: Value = parse_json_body(&body)?;
    let patch = params::grant_patch(&raw)?;
    let org_id = user.org_id.as_str();
    {
        // The lookup answers 404 before the step-up challenge.
        let mut conn = state.db.acquire().await?;
        grants::find(&mut conn, org_id, grant_id, false)
            .await?
            .ok_or_else(|| ApiError::not_found(messages::GRANT_NOT_FOUND))?;
    }
    if patch.status.is_some() {
        step_up::require_action(&state, &user, &headers, MfaAction::StockStatusChange).await?;
    }
    let mut tx = state.db.begin().await?;
    let old = grants::find(&mut tx, org_id, grant_id, true)
        .await?
        .ok_or_else(|| ApiError::not_found(messages::GRANT_NOT_FOUND))?;
    let member_active = members::find(&mut tx, org_id, old.membership_id)
        .await?
        .is_some_and(|m| m.is_active());
    let resolved = resolve_patch(&old.schedule(), &patch, member_active).map_err(|e| match e {
        PatchError::MembershipNotActive => ApiError::bad_request(messages::MEMBERSHIP_NOT_ACTIVE),
        PatchError::Schedule(rule) => ApiError::bad_request(rule.to_string()),
    })?;
    let new = grants::update(
        &mut tx,
        &old,
        &patch,
        &resolved.schedule,
        resolved.events_replaced,
    )
    .await?;
    audit::record(
        &mut tx,
        user.audit(
            "stock_grant.updated",
            RESOURCE,
            new.id,
            Some(old.snapshot()),
            Some(new.snapshot()),
        ),
    )
    .await?;
    tx.commit().await?;
    cache::invalidate_member(&state.cache, org_id, new.membership_id).await;
    Ok(Envelope(new.out(state.clock.today())))
}
