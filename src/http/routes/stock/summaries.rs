//! A member's vesting and eligibility (§3.6) and the caller's own stock (§3.7–§3.9).

use axum::extract::State;
use sqlx::PgConnection;
use time::Date;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::params::PageQuery;
use crate::domain::permissions::perm;
use crate::domain::stock::eligibility::MemberFacts;
use crate::domain::stock::record::{GrantList, GrantOut};
use crate::domain::stock::summary::StockSummary;
use crate::domain::stock::values::messages;
use crate::http::envelope::Envelope;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{ApiPath, ApiQuery};
use crate::http::guard::{Can, CurrentUser, Member};
use crate::http::state::AppState;
use crate::http::validate::params::{AsOfQuery, path_uuid};
use crate::services::stock::{cache, grants, members, summary};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(member_summary))
        .routes(routes!(my_summary))
        .routes(routes!(my_grants))
        .routes(routes!(my_grant))
}

/// The summary of a known membership: from the cache when fresh, else computed and cached.
/// The membership is checked before the cache is read (the legacy service served a deleted
/// membership's cached summary, Q21).
async fn cached_summary(
    state: &AppState,
    conn: &mut PgConnection,
    org_id: &str,
    membership_id: Uuid,
    member: &MemberFacts,
    as_of: Date,
) -> ApiResult<StockSummary> {
    if let Some(hit) = cache::get_summary(&state.cache, org_id, membership_id, as_of).await {
        return Ok(hit);
    }
    let fresh = summary::summary_of(conn, org_id, membership_id, member, as_of).await?;
    cache::put_summary(&state.cache, org_id, &fresh).await;
    Ok(fresh)
}

/// A member's totals, next vesting, eligibility, reservations and grants at `as_of`
/// (`stock.vesting.view` and `stock.eligibility.view`, the first missing one reported).
#[utoipa::path(get, path = "/org/users/{membership_id}/stock/summary", tag = "stock",
    security(("bearer" = [])), params(("membership_id" = uuid::Uuid, Path), ("as_of" = inline(Option<crate::http::validate::params::DateQuery>), Query)),
    responses((status = 200, description = "StockSummary"), (status = 403), (status = 404), (status = 422)))]
async fn member_summary(
    State(state): State<AppState>,
    user: Can<(perm::StockVestingView, perm::StockEligibilityView)>,
    ApiPath(raw_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<AsOfQuery>,
) -> ApiResult<Envelope<StockSummary>> {
    let membership_id = path_uuid("membership_id", &raw_id)?;
    let as_of = query.date_or(state.clock.today())?;
    let org_id = user.org_id.as_str();
    let mut conn = state.db.acquire().await?;
    let member = members::find(&mut conn, org_id, membership_id)
        .await?
        .ok_or_else(|| ApiError::not_found(messages::MEMBERSHIP_NOT_FOUND))?;
    let summary = cached_summary(&state, &mut conn, org_id, membership_id, &member, as_of).await?;
    Ok(Envelope(summary))
}

/// The caller's membership in the org, or 404 `Membership not found` (a superuser acting in
/// an org where it has none, Q22).
async fn my_membership(
    conn: &mut PgConnection,
    user: &CurrentUser<Member>,
) -> ApiResult<(Uuid, MemberFacts)> {
    members::of_user(conn, user.org_id.as_str(), user.user_id)
        .await?
        .ok_or_else(|| ApiError::not_found(messages::MEMBERSHIP_NOT_FOUND))
}

/// The caller's own summary (`stock.self.view`); the same object and cache entry as the admin
/// view of the membership.
#[utoipa::path(get, path = "/me/stock/summary", tag = "stock", security(("bearer" = [])),
    params(("as_of" = inline(Option<crate::http::validate::params::DateQuery>), Query)),
    responses((status = 200, description = "StockSummary"), (status = 401), (status = 403), (status = 404), (status = 422)))]
async fn my_summary(
    State(state): State<AppState>,
    user: Can<perm::StockSelfView, Member>,
    ApiQuery(query): ApiQuery<AsOfQuery>,
) -> ApiResult<Envelope<StockSummary>> {
    let as_of = query.date_or(state.clock.today())?;
    let mut conn = state.db.acquire().await?;
    let (membership_id, member) = my_membership(&mut conn, &user).await?;
    let summary = cached_summary(
        &state,
        &mut conn,
        user.org_id.as_str(),
        membership_id,
        &member,
        as_of,
    )
    .await?;
    Ok(Envelope(summary))
}

/// The caller's grants, every status, paged (`stock.self.view`).
#[utoipa::path(get, path = "/me/stock/grants", tag = "stock", security(("bearer" = [])),
    params(("page" = Option<i64>, Query, minimum = 1), ("page_size" = Option<i64>, Query, minimum = 1, maximum = 100)),
    responses((status = 200, description = "{items: [GrantOut], total}"), (status = 401), (status = 403), (status = 404)))]
async fn my_grants(
    State(state): State<AppState>,
    user: Can<perm::StockSelfView, Member>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Envelope<GrantList>> {
    let (offset, limit) = query.bounds()?;
    let mut conn = state.db.acquire().await?;
    let (membership_id, _) = my_membership(&mut conn, &user).await?;
    let (records, total) = grants::list_for_member(
        &mut conn,
        user.org_id.as_str(),
        membership_id,
        offset,
        limit,
    )
    .await?;
    let today = state.clock.today();
    Ok(Envelope(GrantList {
        items: records.iter().map(|r| r.out(today)).collect(),
        total,
    }))
}

/// One of the caller's grants (`stock.self.view`); another member's grant is "not found".
#[utoipa::path(get, path = "/me/stock/grants/{grant_id}", tag = "stock", security(("bearer" = [])),
    params(("grant_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "GrantOut"), (status = 401), (status = 403), (status = 404)))]
async fn my_grant(
    State(state): State<AppState>,
    user: Can<perm::StockSelfView, Member>,
    ApiPath(raw_id): ApiPath<String>,
) -> ApiResult<Envelope<GrantOut>> {
    let grant_id = path_uuid("grant_id", &raw_id)?;
    let mut conn = state.db.acquire().await?;
    let (membership_id, _) = my_membership(&mut conn, &user).await?;
    let record = grants::find(&mut conn, user.org_id.as_str(), grant_id, false)
        .await?
        .filter(|r| r.membership_id == membership_id)
        .ok_or_else(|| ApiError::not_found(messages::GRANT_NOT_FOUND))?;
    Ok(Envelope(record.out(state.clock.today())))
}
