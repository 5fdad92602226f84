//! The loan's documents grouped by stage and its repayments (§3.7, §3.8, §5.9, §5.10).

use axum::extract::State;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::views::LOAN_NOT_FOUND;
use crate::domain::loans::workflow::StageType;
use crate::domain::permissions::perm;
use crate::http::envelope::Envelope;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::ApiPath;
use crate::http::guard::{Can, Member};
use crate::http::state::AppState;
use crate::http::validate::params::path_uuid;
use crate::services::loan_admin::documents::{self, LoanDocument};
use crate::services::loan_admin::workflow as flow;
use crate::services::loans::repayments::{self, RepaymentOut};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_documents))
        .routes(routes!(list_repayments))
}

#[derive(Serialize)]
pub struct DocumentGroup {
    stage_type: StageType,
    documents: Vec<LoanDocument>,
}

#[derive(Serialize)]
pub struct DocumentList {
    loan_id: Uuid,
    total: usize,
    groups: Vec<DocumentGroup>,
}

/// Groups by stage type (ascending by its string), newest upload first inside a group.
fn grouped(mut docs: Vec<LoanDocument>) -> Vec<DocumentGroup> {
    docs.sort_by(|a, b| {
        a.stage_type
            .as_str()
            .cmp(b.stage_type.as_str())
            .then(b.uploaded_at.cmp(&a.uploaded_at))
    });
    let mut groups: Vec<DocumentGroup> = Vec::new();
    for doc in docs {
        match groups.last_mut() {
            Some(g) if g.stage_type == doc.stage_type => g.documents.push(doc),
            _ => groups.push(DocumentGroup {
                stage_type: doc.stage_type,
                documents: vec![doc],
            }),
        }
    }
    groups
}

/// The loan's documents grouped by stage (`loan.document.view`).
#[utoipa::path(get, path = "/org/loans/{loan_id}/documents", tag = "loan-admin",
    security(("bearer" = [])), params(("loan_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "{loan_id, total, groups}"), (status = 401),
        (status = 403), (status = 404), (status = 422)))]
async fn list_documents(
    State(state): State<AppState>,
    user: Can<perm::LoanDocumentView, Member>,
    ApiPath(raw_loan_id): ApiPath<String>,
) -> ApiResult<Envelope<DocumentList>> {
    let loan_id = path_uuid("loan_id", &raw_loan_id)?;
    let org_id = user.org_id.as_str();
    let mut conn = state.db.acquire().await?;
    flow::find_loan(&mut conn, org_id, loan_id)
        .await?
        .ok_or_else(|| ApiError::not_found(LOAN_NOT_FOUND))?;
    let docs = documents::of_loan(&mut conn, org_id, loan_id).await?;
    Ok(Envelope(DocumentList {
        loan_id,
        total: docs.len(),
        groups: grouped(docs),
    }))
}

#[derive(Serialize)]
pub struct RepaymentList {
    loan_id: Uuid,
    total: usize,
    items: Vec<RepaymentOut>,
}

/// The loan's repayments, newest payment first (`loan.payment.view`).
#[utoipa::path(get, path = "/org/loans/{loan_id}/repayments", tag = "loan-admin",
    security(("bearer" = [])), params(("loan_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "{loan_id, total, items}"), (status = 401),
        (status = 403), (status = 404), (status = 422)))]
async fn list_repayments(
    State(state): State<AppState>,
    user: Can<perm::LoanPaymentView, Member>,
    ApiPath(raw_loan_id): ApiPath<String>,
) -> ApiResult<Envelope<RepaymentList>> {
    let loan_id = path_uuid("loan_id", &raw_loan_id)?;
    let org_id = user.org_id.as_str();
    let mut conn = state.db.acquire().await?;
    flow::find_loan(&mut conn, org_id, loan_id)
        .await?
        .ok_or_else(|| ApiError::not_found(LOAN_NOT_FOUND))?;
    let items = repayments::of_loan(&mut conn, org_id, loan_id).await?;
    Ok(Envelope(RepaymentList {
        loan_id,
        total: items.len(),
        items,
    }))
}
