//! The stock endpoints (contract `domain-stock.md` §1): grants (`grants.rs`), the member
//! summary and the caller's own stock (`summaries.rs`), and the two dashboards
//! (`dashboards.rs`). Handlers are thin: they check in the legacy order (tenant or token, the
//! permission, then path/query/body validation, step-up where named), own the transaction,
//! and call `services::stock`.

pub mod dashboards;
pub mod grants;
pub mod params;
pub mod summaries;

use utoipa_axum::router::OpenApiRouter;

use crate::http::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(grants::router())
        .merge(summaries::router())
        .merge(dashboards::router())
}
