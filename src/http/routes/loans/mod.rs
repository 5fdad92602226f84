//! The loan endpoints (contracts `domain-loans.md` and `domain-loan-admin.md`). Handlers are
//! thin: guards in the legacy order, then path/query/body validation; they own the
//! transaction and call `services::loans`.

pub mod dashboard;

use utoipa_axum::router::OpenApiRouter;

use crate::http::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().merge(dashboard::router())
}
