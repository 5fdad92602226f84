//! `GET /org/loans` and the six review queues (§5.1, §5.6).

use axum::extract::{RawQuery, State};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::params;
use crate::domain::loans::workflow::StageType;
use crate::domain::permissions::perm;
use crate::http::envelope::Envelope;
use crate::http::error::ApiResult;
use crate::http::guard::{Can, Member};
use crate::http::state::AppState;
use crate::services::loan_admin::summaries::{self, LoanSummary, Queue};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(queue_hr))
        .routes(routes!(queue_finance))
        .routes(routes!(queue_legal))
        .routes(routes!(my_queue_hr))
        .routes(routes!(my_queue_finance))
        .routes(routes!(my_queue_legal))
}

#[derive(Serialize)]
pub struct SummaryPage {
    items: Vec<LoanSummary>,
    total: i64,
}

/// The tenant's loans, newest first, every status (`loan.view_all`).
#[utoipa::path(get, path = "/org/loans", tag = "loan-admin", security(("bearer" = [])),
    params(("status" = Option<Vec<String>>, Query), ("stage_type" = Option<String>, Query),
        ("created_from" = inline(Option<crate::http::validate::params::DateTimeQuery>), Query), ("created_to" = inline(Option<crate::http::validate::params::DateTimeQuery>), Query),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 200), ("offset" = Option<i64>, Query, minimum = 0)),
    responses((status = 200, description = "{items: [LoanSummary], total}"), (status = 400),
        (status = 401), (status = 403), (status = 422)))]
async fn list(
    State(state): State<AppState>,
    user: Can<perm::LoanViewAll, Member>,
    RawQuery(query): RawQuery,
) -> ApiResult<Envelope<SummaryPage>> {
    let pairs = params::pairs(query.as_deref());
    let (filter, limit, offset) = params::list_query(&pairs)?;
    let mut conn = state.db.acquire().await?;
    let (items, total) =
        summaries::list(&mut conn, user.org_id.as_str(), &filter, limit, offset).await?;
    Ok(Envelope(SummaryPage { items, total }))
}

async fn queue_page(
    state: &AppState,
    org_id: &str,
    query: Option<&str>,
    queue: Queue,
) -> ApiResult<Envelope<SummaryPage>> {
    let (limit, offset) = params::page(&params::pairs(query), 200)?;
    let mut conn = state.db.acquire().await?;
    let (items, total) = summaries::queue(&mut conn, org_id, queue, limit, offset).await?;
    Ok(Envelope(SummaryPage { items, total }))
}

macro_rules! queue_route {
    ($name:ident, $path:literal, $perm:ty, $stage:expr, $mine:expr, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(get, path = $path, tag = "loan-admin", security(("bearer" = [])),
                            params(("limit" = Option<i64>, Query, minimum = 1, maximum = 200), ("offset" = Option<i64>, Query, minimum = 0)),
                            responses((status = 200, description = "{items: [LoanSummary], total}"),
                                (status = 401), (status = 403), (status = 422)))]
        async fn $name(
            State(state): State<AppState>,
            user: Can<$perm, Member>,
            RawQuery(query): RawQuery,
        ) -> ApiResult<Envelope<SummaryPage>> {
            let queue = Queue {
                stage_type: $stage,
                assignee: $mine.then_some(user.user_id),
            };
            queue_page(&state, user.org_id.as_str(), query.as_deref(), queue).await
        }
    };
}

queue_route!(
    queue_hr,
    "/org/loans/queue/hr",
    perm::LoanQueueHrView,
    StageType::HrReview,
    false,
    "SUBMITTED/IN_REVIEW loans whose HR review is not completed."
);
queue_route!(
    queue_finance,
    "/org/loans/queue/finance",
    perm::LoanQueueFinanceView,
    StageType::FinanceProcessing,
    false,
    "SUBMITTED/IN_REVIEW loans whose finance processing is not completed."
);
queue_route!(
    queue_legal,
    "/org/loans/queue/legal",
    perm::LoanQueueLegalView,
    StageType::LegalExecution,
    false,
    "SUBMITTED/IN_REVIEW loans whose legal execution is not completed."
);
queue_route!(
    my_queue_hr,
    "/org/loans/queue/me/hr",
    perm::LoanQueueHrView,
    StageType::HrReview,
    true,
    "The HR queue, stages assigned to the caller."
);
queue_route!(
    my_queue_finance,
    "/org/loans/queue/me/finance",
    perm::LoanQueueFinanceView,
    StageType::FinanceProcessing,
    true,
    "The finance queue, stages assigned to the caller."
);
queue_route!(
    my_queue_legal,
    "/org/loans/queue/me/legal",
    perm::LoanQueueLegalView,
    StageType::LegalExecution,
    true,
    "The legal queue, stages assigned to the caller."
);
