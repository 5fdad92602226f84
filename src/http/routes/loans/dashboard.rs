//! The org loan dashboard (loans contract §2.16, §10).

use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::loans::dashboard::LoanDashboard;
use crate::domain::permissions::perm;
use crate::http::envelope::Envelope;
use crate::http::error::ApiResult;
use crate::http::extract::ApiQuery;
use crate::http::guard::Can;
use crate::http::state::AppState;
use crate::http::validate::params::AsOfQuery;
use crate::services::loans::dashboard;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(loan_summary))
}

/// Loan counts by status and open stage, 30-day activity, principal, paid, owed and interest
/// sums, and the mix of active loans (`loan.dashboard.view`; not cached).
#[utoipa::path(get, path = "/org/dashboard/loan-summary", tag = "loans", security(("bearer" = [])),
    params(("as_of" = inline(Option<crate::http::validate::params::DateQuery>), Query)),
    responses((status = 200, description = "LoanDashboardSummary"), (status = 403), (status = 422)))]
async fn loan_summary(
    State(state): State<AppState>,
    user: Can<perm::LoanDashboardView>,
    ApiQuery(query): ApiQuery<AsOfQuery>,
) -> ApiResult<Envelope<LoanDashboard>> {
    let as_of = query.date_or(state.clock.today())?;
    let mut conn = state.db.acquire().await?;
    let summary = dashboard::loan_summary(&mut conn, &user.org_id, as_of).await?;
    Ok(Envelope(summary))
}
