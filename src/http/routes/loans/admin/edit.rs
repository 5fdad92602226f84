//! The admin edit of a loan (`PATCH /org/loans/{loan_id}/edit`, §5.4): quote fields, spouse
//! fields, a required note, and the `reset_workflow` / `delete_documents` switches. Committed
//! (the legacy service rolled it back, Q1); see `services::loan_admin::edit` for the other
//! deliberate differences.

use axum::body::Bytes;
use axum::extract::State;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::params::rule;
use crate::domain::loans::LoanError;
use crate::domain::permissions::perm;
use crate::http::envelope::Envelope;
use crate::http::error::ApiResult;
use crate::http::extract::{ApiPath, parse_json_body};
use crate::http::guard::{Can, Member};
use crate::http::routes::loans::params::edit_body;
use crate::http::state::AppState;
use crate::http::validate::params::path_uuid;
use crate::services::loan_admin::detail::{self, LoanDetail};
use crate::services::loan_admin::edit::{self, EditRequest};
use crate::services::stock::cache;
use crate::services::uploads;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(edit_loan))
}

/// Edits a DRAFT, SUBMITTED or IN_REVIEW loan (`loan.manage`): re-quotes when a quote field
/// is sent, resets the workflow, deletes documents, writes the spouse fields, with an
/// `loan_application.admin_edit` audit row carrying the note.
#[utoipa::path(patch, path = "/org/loans/{loan_id}/edit", tag = "loan-admin",
    security(("bearer" = [])), params(("loan_id" = uuid::Uuid, Path)),
    request_body(content = Object, description = "LoanAdminEditRequest"),
    responses((status = 200, description = "LoanDetail"), (status = 400), (status = 401),
        (status = 403), (status = 404), (status = 409), (status = 422)))]
async fn edit_loan(
    State(state): State<AppState>,
    user: Can<perm::LoanManage, Member>,
    ApiPath(raw_loan_id): ApiPath<String>,
    body: Bytes,
) -> ApiResult<Envelope<LoanDetail>> {
    let loan_id = path_uuid("loan_id", &raw_loan_id)?;
    let raw = parse_json_body(&body)?;
    let (quote, spouse, fields) = edit_body(&raw)?;
    if fields.note.trim().is_empty() {
        return Err(rule(LoanError::new(
            "edit_note_required",
            "note is required for loan edits",
            json!({ "field": "note" }),
        )));
    }
    let request = EditRequest {
        patch: quote.patch(),
        spouse,
        note: fields.note,
        reset_workflow: fields.reset_workflow,
        delete_documents: fields.delete_documents,
    };
    let org_id = user.org_id.as_str();
    let mut tx = state.db.begin().await?;
    let edited = edit::edit(
        &mut tx,
        user.actor(),
        &user.org_id,
        loan_id,
        &request,
        state.clock.today(),
    )
    .await?;
    let view = detail::detail(&mut tx, &edited.loan, state.clock.today()).await?;
    tx.commit().await?;
    for (provider, bucket, key) in &edited.removed_objects {
        uploads::delete_best_effort(&state.storage, provider.as_deref(), bucket.as_deref(), key)
            .await;
    }
    if edited.invalidate_stock {
        cache::invalidate_member(&state.cache, org_id, edited.loan.org_membership_id).await;
        cache::invalidate_org(&state.cache, org_id).await;
    }
    Ok(Envelope(view))
}
