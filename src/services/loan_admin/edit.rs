//! The admin edit of a loan (`PATCH /org/loans/{id}/edit`, loan-admin §5.4): re-quote with
//! the employee quote engine, reservations, documents, workflow reset and the spouse fields,
//! in the caller's transaction, in the legacy order of checks. The state machine
//! (`domain::loans::workflow`, `LoanAction::AdminEdit`) decides which effects run.
//!
//! Deliberate differences from the legacy service: the edit is committed (Q1, by the
//! handler); the re-quote does not count the loan's own reservations as taken (Q10: they are
//! deleted first, in the same transaction, and written again from the new allocation, so a
//! refused quote leaves them as they were); `delete_documents` deletes the document rows
//! (the objects are deleted best effort by the handler after commit) instead of answering 500
//! (Q11).

use serde_json::{Value, json};
use sqlx::PgConnection;
use time::Date;
use uuid::Uuid;

use super::stages;
use crate::domain::loans::LoanError;
use crate::domain::loans::workflow::{LoanAction, LoanEffect, StageType, transition};
use crate::domain::org::OrgId;
use crate::services::audit::{self, Actor};
use crate::services::loans::LoanFailure;
use crate::services::loans::applications::{
    QuotePatch, SpouseFields, columns, merged_request, policy_out_of_date, reserve_failure, write,
};
use crate::services::loans::quote::{Applicant, quote_for, settings_or_defaults};
use crate::services::loans::record::{self, LoanRecord};
use crate::services::stock::{members, reservations};

/// What the admin sent.
#[derive(Clone, Debug, Default)]
pub struct EditRequest {
    pub patch: QuotePatch,
    pub spouse: SpouseFields,
    pub note: String,
    pub reset_workflow: bool,
    pub delete_documents: bool,
}

/// An object whose document row the edit deleted: `(provider, bucket, key)`.
pub type RemovedObject = (Option<String>, Option<String>, String);

/// The edited loan and what the handler must do after commit.
#[derive(Debug)]
pub struct Edited {
    pub loan: LoanRecord,
    pub removed_objects: Vec<RemovedObject>,
    /// The applicant's stock caches must be dropped (its reservations changed).
    pub invalidate_stock: bool,
}

fn recalculates(p: &QuotePatch) -> bool {
    p.selection_mode.is_some()
        || p.selection_value.is_some()
        || p.as_of_date.is_some()
        || p.desired_interest_type.is_some()
        || p.desired_repayment_method.is_some()
        || p.desired_term_months.is_some()
}

async fn delete_documents(
    conn: &mut PgConnection,
    org_id: &str,
    loan_id: Uuid,
) -> sqlx::Result<Vec<RemovedObject>> {
    type Row = (Option<String>, Option<String>, Option<String>, String);
    let rows: Vec<Row> = sqlx::query_as(
        "DELETE FROM loan_documents WHERE org_id = $1 AND loan_application_id = $2 \
         RETURNING storage_provider, storage_bucket, storage_object_key, storage_path_or_url",
    )
    .bind(org_id)
    .bind(loan_id)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(provider, bucket, key, path)| (provider, bucket, key.unwrap_or(path)))
        .collect())
}

/// Steps 2–10 of §5.4 (the blank-note check comes first, in the handler).
pub async fn edit(
    conn: &mut PgConnection,
    actor: Actor<'_>,
    org: &OrgId,
    loan_id: Uuid,
    req: &EditRequest,
    today: Date,
) -> Result<Edited, LoanFailure> {
    let org_id = org.as_str();
    let loan = record::load_for_update(conn, org, loan_id)
        .await?
        .ok_or(LoanFailure::NotFound)?;
    let recalc = recalculates(&req.patch);
    let step = transition(
        loan.status,
        LoanAction::AdminEdit {
            recalc,
            reset_workflow: req.reset_workflow,
            delete_documents: req.delete_documents,
        },
    )?;
    let facts = members::find(conn, org_id, loan.org_membership_id)
        .await?
        .ok_or_else(|| {
            LoanError::new(
                "membership_not_found",
                "Membership not found",
                json!({ "membership_id": loan.org_membership_id.to_string() }),
            )
        })?;
    let settings = settings_or_defaults(conn, org).await?;
    if !recalc && loan.policy_version_snapshot != Some(settings.policy_version) {
        return Err(policy_out_of_date(
            "Loan policy changed. Please refresh the quote before editing.",
            &settings,
            &loan,
        )
        .into());
    }
    let applicant = Applicant {
        membership_id: loan.org_membership_id,
        facts,
    };
    // Q10: the loan's own reservations are released before it is quoted again.
    let mut reservations_deleted = false;
    if step.effects.contains(&LoanEffect::DeleteReservations) {
        reservations::delete_for_application(conn, org_id, loan.id).await?;
        reservations_deleted = true;
    }
    let quote = if step.effects.contains(&LoanEffect::Requote) {
        let request = merged_request(&loan, &req.patch)?;
        let quoted = quote_for(conn, org, &applicant, &settings, &request).await?;
        Some(columns(
            &quoted,
            &request,
            Some(request.as_of_date),
            &settings,
        )?)
    } else {
        None
    };
    let mut removed_objects = Vec::new();
    let mut workflow_reset = false;
    let mut invalidate_stock = reservations_deleted;
    for effect in &step.effects {
        match effect {
            LoanEffect::DeleteDocuments => {
                removed_objects = delete_documents(conn, org_id, loan.id).await?;
            }
            LoanEffect::ResetWorkflowStages => {
                stages::delete_all(conn, org_id, loan.id).await?;
                stages::ensure(conn, org_id, loan.id, &StageType::CORE).await?;
                workflow_reset = true;
            }
            LoanEffect::ReserveShares { status } => {
                if let Some(c) = &quote {
                    reservations::reserve(
                        conn,
                        org_id,
                        loan.org_membership_id,
                        loan.id,
                        &c.allocations,
                        status.as_str(),
                        today,
                    )
                    .await
                    .map_err(reserve_failure)?;
                }
            }
            LoanEffect::InvalidateStockCaches => invalidate_stock = true,
            _ => {}
        }
    }
    let updated = write(conn, &loan, step.to, quote.as_ref(), None, &req.spouse).await?;
    let mut after = updated.audit_snapshot();
    if let Value::Object(map) = &mut after {
        map.insert("edit_note".into(), json!(req.note));
        map.insert("workflow_reset".into(), json!(workflow_reset));
        map.insert("documents_deleted".into(), json!(removed_objects.len()));
        map.insert("delete_documents".into(), json!(req.delete_documents));
        map.insert("reset_workflow".into(), json!(req.reset_workflow));
    }
    audit::record(
        conn,
        actor.entry(
            "loan_application.admin_edit",
            "loan_application",
            loan.id,
            Some(loan.audit_snapshot()),
            Some(after),
        ),
    )
    .await?;
    Ok(Edited {
        loan: updated,
        removed_objects,
        invalidate_stock,
    })
}
