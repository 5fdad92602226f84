//! The org stock dashboard (§9.1) and the workspace landing page (§9.2).

use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::permissions::perm;
use crate::domain::stock::dashboard::StockDashboard;
use crate::domain::stock::landing::SelfDashboard;
use crate::http::envelope::Envelope;
use crate::http::error::ApiResult;
use crate::http::extract::ApiQuery;
use crate::http::guard::{Can, Member};
use crate::http::state::AppState;
use crate::http::validate::params::AsOfQuery;
use crate::services::stock::{cache, self_dashboard, summary};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(org_dashboard))
        .routes(routes!(my_dashboard))
}

/// Org-wide totals, eligibility buckets, timeline, mix, prices, reservation pressure and
/// membership counts at `as_of` (`stock.dashboard.view`; cached 300 s).
#[utoipa::path(get, path = "/org/dashboard/stock-summary", tag = "stock", security(("bearer" = [])),
    params(("as_of" = inline(Option<crate::http::validate::params::DateQuery>), Query)),
    responses((status = 200, description = "StockDashboard"), (status = 403), (status = 422)))]
async fn org_dashboard(
    State(state): State<AppState>,
    user: Can<perm::StockDashboardView>,
    ApiQuery(query): ApiQuery<AsOfQuery>,
) -> ApiResult<Envelope<StockDashboard>> {
    let as_of = query.date_or(state.clock.today())?;
    let org_id = user.org_id.as_str();
    if let Some(hit) = cache::get_dashboard(&state.cache, org_id, as_of).await {
        return Ok(Envelope(hit));
    }
    let mut conn = state.db.acquire().await?;
    let dashboard = summary::org_dashboard_of(&mut conn, org_id, as_of).await?;
    cache::put_dashboard(&state.cache, &dashboard).await;
    Ok(Envelope(dashboard))
}

/// The workspace landing page of the caller (`stock.self.view`; not cached).
#[utoipa::path(get, path = "/me/dashboard/summary", tag = "stock", security(("bearer" = [])),
    params(("as_of" = inline(Option<crate::http::validate::params::DateQuery>), Query)),
    responses((status = 200, description = "SelfDashboard"), (status = 401), (status = 403), (status = 422)))]
async fn my_dashboard(
    State(state): State<AppState>,
    user: Can<perm::StockSelfView, Member>,
    ApiQuery(query): ApiQuery<AsOfQuery>,
) -> ApiResult<Envelope<SelfDashboard>> {
    let as_of = query.date_or(state.clock.today())?;
    let mut conn = state.db.acquire().await?;
    let dashboard =
        self_dashboard::self_dashboard(&mut conn, &user.org_id, user.user_id, as_of).await?;
    Ok(Envelope(dashboard))
}
