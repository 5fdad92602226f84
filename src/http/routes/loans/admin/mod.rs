//! The loan administration endpoints under `/org/loans` (contract `domain-loan-admin.md`,
//! OpenAPI tag `loan-admin`). Every route authenticates before tenant errors (401 first), then
//! checks its permission, then parses path, query and body. Handlers own the transaction and
//! call `services::loan_admin`.

pub mod decisions;
pub mod documents;
pub mod edit;
pub mod params;
pub mod queues;
pub mod records;
pub mod repayments;
pub mod schedule;
pub mod views;
pub mod workflow;

use utoipa_axum::router::OpenApiRouter;

use crate::http::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(queues::router())
        .merge(decisions::router())
        .merge(views::router())
        .merge(records::router())
        .merge(workflow::router())
        .merge(documents::router())
        .merge(schedule::router())
        .merge(repayments::router())
        .merge(edit::router())
}
