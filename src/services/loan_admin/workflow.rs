//! Stage assignment, stage reviews and loan activation (loan-admin §4.3, §4.4, §5.7, §5.8).
//!
//! Lock order, everywhere: the loan row (`FOR UPDATE`), then its stage rows. Two reviewers
//! completing one stage, or the last two stages completing at once, therefore run one after
//! the other: the second sees the first's result, and a loan is activated exactly once.

use serde_json::json;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::stages::{self, Stage};
use crate::domain::loans::LoanError;
use crate::domain::loans::workflow::{
    self, DocumentType, LoanAction, LoanEffect, LoanStatus, StageAction, StageEffect, StageStatus,
    StageType,
};
use crate::services::audit::{self, Actor};
use crate::services::stock::reservations;
use crate::timefmt;

/// What the workflow needs of a loan row, read under its row lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoanHead {
    pub id: Uuid,
    pub org_membership_id: Uuid,
    pub status: LoanStatus,
}

/// Why a workflow write refused.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    #[error("{0}")]
    Rule(#[from] LoanError),
    #[error("not found: {0}")]
    NotFound(&'static str),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

async fn head(
    conn: &mut PgConnection,
    org_id: &str,
    loan_id: Uuid,
    lock: bool,
) -> sqlx::Result<Option<LoanHead>> {
    let row: Option<(Uuid, Uuid, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, org_membership_id, status FROM loan_applications WHERE org_id = $1 AND id = $2{}",
        if lock { " FOR UPDATE" } else { "" }
    )))
    .bind(org_id)
    .bind(loan_id)
    .fetch_optional(conn)
    .await?;
    row.map(|(id, org_membership_id, status)| {
        let status = LoanStatus::parse(&status).ok_or_else(|| {
            sqlx::Error::Decode(format!("loan_applications.status holds {status:?}").into())
        })?;
        Ok(LoanHead {
            id,
            org_membership_id,
            status,
        })
    })
    .transpose()
}

/// The loan's id, membership and status, without locking.
pub async fn find_loan(
    conn: &mut PgConnection,
    org_id: &str,
    loan_id: Uuid,
) -> sqlx::Result<Option<LoanHead>> {
    head(conn, org_id, loan_id, false).await
}

/// The loan row locked `FOR UPDATE` until the transaction ends.
pub async fn lock_loan(
    conn: &mut PgConnection,
    org_id: &str,
    loan_id: Uuid,
) -> sqlx::Result<Option<LoanHead>> {
    head(conn, org_id, loan_id, true).await
}

/// The `(stage_type, document_type)` pairs of the loan's documents.
pub async fn document_kinds(
    conn: &mut PgConnection,
    org_id: &str,
    loan_id: Uuid,
) -> sqlx::Result<Vec<(StageType, DocumentType)>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT stage_type, document_type FROM loan_documents \
         WHERE org_id = $1 AND loan_application_id = $2",
    )
    .bind(org_id)
    .bind(loan_id)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(s, d)| Some((StageType::parse(&s)?, DocumentType::parse(&d)?)))
        .collect())
}

/// A loan that was just activated, for the caches to drop after commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Activated {
    pub loan_id: Uuid,
    pub org_membership_id: Uuid,
}

/// The activation check (§4.3) on a locked loan: when the loan is SUBMITTED/IN_REVIEW and
/// every core stage is COMPLETED, stamps the activation, moves its reservations to ACTIVE,
/// writes `loan_application.activated` and creates the post-activation stages.
pub async fn try_activate(
    conn: &mut PgConnection,
    actor: Option<Actor<'_>>,
    org_id: &str,
    loan: &LoanHead,
    now: OffsetDateTime,
) -> sqlx::Result<Option<Activated>> {
    let rows = stages::of_loan(conn, org_id, loan.id).await?;
    let kinds: Vec<(StageType, StageStatus)> =
        rows.iter().map(|s| (s.stage_type, s.status)).collect();
    let Ok(transition) = workflow::transition(
        loan.status,
        LoanAction::Activate {
            core_stages_completed: workflow::core_stages_completed(&kinds),
        },
    ) else {
        return Ok(None);
    };
    if transition.is_noop() {
        return Ok(None);
    }
    let (activation_date, due) = workflow::activation_dates(now);
    for effect in &transition.effects {
        match effect {
            LoanEffect::StampActivation => {
                sqlx::query(
                    "UPDATE loan_applications SET status = $3, activation_date = $4, \
                     election_83b_due_date = $5, version = version + 1, updated_at = now() \
                     WHERE org_id = $1 AND id = $2",
                )
                .bind(org_id)
                .bind(loan.id)
                .bind(transition.to.as_str())
                .bind(activation_date)
                .bind(due)
                .execute(&mut *conn)
                .await?;
            }
            LoanEffect::SetReservationStatus(status) => {
                reservations::set_status_for_application(conn, org_id, loan.id, status.as_str())
                    .await?;
            }
            LoanEffect::Audit(action) => {
                let old = json!({ "status": loan.status.as_str() });
                let new = json!({
                    "status": transition.to.as_str(),
                    "activation_date": timefmt::iso_offset(activation_date),
                    "election_83b_due_date": crate::domain::loans::wire::iso_date(due),
                });
                let entry = match actor {
                    Some(actor) => {
                        actor.entry(action, "loan_application", loan.id, Some(old), Some(new))
                    }
                    None => audit::AuditEntry {
                        org_id,
                        actor_id: None,
                        impersonator_id: None,
                        action,
                        resource_type: "loan_application",
                        resource_id: loan.id.to_string(),
                        old_value: Some(old),
                        new_value: Some(new),
                    },
                };
                audit::record(conn, entry).await?;
            }
            LoanEffect::EnsurePostActivationStages => {
                stages::ensure(conn, org_id, loan.id, &StageType::POST_ACTIVATION).await?;
            }
            // After commit, by the caller.
            LoanEffect::InvalidateStockCaches => {}
            other => {
                return Err(sqlx::Error::Protocol(format!(
                    "unexpected activation effect {other:?}"
                )));
            }
        }
    }
    Ok(Some(Activated {
        loan_id: loan.id,
        org_membership_id: loan.org_membership_id,
    }))
}

/// Who gets a stage: the assignee's user row in any org, then their membership in the tenant,
/// then whether they hold `permission` (superusers do).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssigneeCheck {
    Ok,
    UserNotFound,
    MembershipNotFound,
    MissingPermission,
}

pub async fn check_assignee(
    conn: &mut PgConnection,
    org_id: &str,
    user_id: Uuid,
    permission: &str,
) -> sqlx::Result<AssigneeCheck> {
    let user: Option<(bool,)> = sqlx::query_as("SELECT is_superuser FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some((superuser,)) = user else {
        return Ok(AssigneeCheck::UserNotFound);
    };
    let member: Option<(Uuid,)> =
        sqlx::query_as("SELECT id FROM org_memberships WHERE org_id = $1 AND user_id = $2")
            .bind(org_id)
            .bind(user_id)
            .fetch_optional(&mut *conn)
            .await?;
    if member.is_none() {
        return Ok(AssigneeCheck::MembershipNotFound);
    }
    if superuser {
        return Ok(AssigneeCheck::Ok);
    }
    let perms = crate::services::permissions::effective(conn, org_id, user_id).await?;
    Ok(if perms.iter().any(|p| p == permission) {
        AssigneeCheck::Ok
    } else {
        AssigneeCheck::MissingPermission
    })
}

/// Assigns the loan's stage of `stage_type` to `assignee` (§5.7 steps 6–8): locks the loan and
/// the stage, refuses a completed stage, writes the assignment and its audit row.
pub async fn assign(
    conn: &mut PgConnection,
    actor: Actor<'_>,
    loan_id: Uuid,
    stage_type: StageType,
    assignee: Uuid,
    now: OffsetDateTime,
) -> Result<Stage, WorkflowError> {
    let org_id = actor.org_id;
    let loan = lock_loan(conn, org_id, loan_id)
        .await?
        .ok_or(WorkflowError::NotFound("Workflow stage not found"))?;
    let stage = stages::find(conn, org_id, loan_id, stage_type, true)
        .await?
        .ok_or(WorkflowError::NotFound("Workflow stage not found"))?;
    let step =
        workflow::stage_transition(stage_type, stage.status, loan.status, StageAction::Assign)?;
    let mut current = stage.clone();
    for effect in &step.effects {
        match effect {
            StageEffect::SetAssignment => {
                current = stages::assign(conn, stage.id, assignee, actor.user_id, now).await?;
            }
            StageEffect::Audit(action) => {
                audit::record(
                    conn,
                    actor.entry(
                        action,
                        "loan_workflow_stage",
                        stage.id,
                        Some(stage.snapshot()),
                        Some(current.snapshot()),
                    ),
                )
                .await?;
            }
            _ => {}
        }
    }
    Ok(current)
}

/// A review PATCH on a stage (§5.8 steps 4–7), after the handler checked the target status
/// and the step-up: locks the loan and the stage, checks the required documents for
/// COMPLETED, applies the stage rule, and activates the loan when this completed its last core
/// stage. Returns the stage and the activation, if any.
pub async fn review(
    conn: &mut PgConnection,
    actor: Actor<'_>,
    loan_id: Uuid,
    stage_type: StageType,
    target: StageStatus,
    notes: Option<&str>,
    now: OffsetDateTime,
) -> Result<(Stage, Option<Activated>), WorkflowError> {
    let org_id = actor.org_id;
    let not_found = || {
        WorkflowError::NotFound(match stage_type {
            StageType::HrReview => "HR workflow stage not found",
            StageType::FinanceProcessing => "Finance workflow stage not found",
            _ => "Legal workflow stage not found",
        })
    };
    let loan = lock_loan(conn, org_id, loan_id)
        .await?
        .ok_or_else(not_found)?;
    let stage = stages::find(conn, org_id, loan_id, stage_type, true)
        .await?
        .ok_or_else(not_found)?;
    if target == StageStatus::Completed {
        let kinds = document_kinds(conn, org_id, loan_id).await?;
        workflow::check_required_documents(stage_type, &kinds)?;
    }
    let step = workflow::stage_transition(
        stage_type,
        stage.status,
        loan.status,
        StageAction::Review {
            target,
            notes_unchanged: stage.notes.as_deref() == notes,
        },
    )?;
    let mut current = stage.clone();
    let mut activated = None;
    for effect in &step.effects {
        match effect {
            // One UPDATE writes the notes and the completion stamp.
            StageEffect::ReplaceNotes => {
                current = stages::review(conn, stage.id, target, notes, actor.user_id, now).await?;
            }
            StageEffect::StampCompletion | StageEffect::ClearCompletion => {}
            StageEffect::TryActivateLoan => {
                activated = try_activate(conn, Some(actor), org_id, &loan, now).await?;
            }
            StageEffect::Audit(action) => {
                audit::record(
                    conn,
                    actor.entry(
                        action,
                        "loan_workflow_stage",
                        stage.id,
                        Some(stage.snapshot()),
                        Some(current.snapshot()),
                    ),
                )
                .await?;
            }
            StageEffect::SetAssignment => {}
        }
    }
    Ok((current, activated))
}

/// The outcome of an admin status decision.
#[derive(Clone, Debug)]
pub struct Decided {
    pub to: LoanStatus,
    pub org_membership_id: Uuid,
    /// The applicant's stock caches must be dropped after commit (IN_REVIEW, REJECTED).
    pub invalidate_stock: bool,
}

/// `PATCH /org/loans/{id}` after the body checks (§5.3): locks the loan, applies the state
/// machine, writes status, reason, reservations and the `loan_application.admin_update` row.
/// The legacy service never committed this (Q1); the handler here does.
pub async fn decide(
    conn: &mut PgConnection,
    actor: Actor<'_>,
    org: &crate::domain::org::OrgId,
    loan_id: Uuid,
    target: LoanStatus,
    reason: Option<&str>,
) -> Result<Decided, WorkflowError> {
    use crate::services::loans::record;
    let loan = record::load_for_update(conn, org, loan_id)
        .await?
        .ok_or(WorkflowError::NotFound("Loan application not found"))?;
    let step = workflow::transition(
        loan.status,
        LoanAction::AdminSetStatus {
            target,
            decision_reason_given: reason.is_some(),
        },
    )?;
    let org_id = org.as_str();
    let changes = step.changes_status() || reason.is_some();
    if changes {
        sqlx::query(
            "UPDATE loan_applications SET status = $3, decision_reason = COALESCE($4, decision_reason), \
             version = version + 1, updated_at = now() WHERE org_id = $1 AND id = $2",
        )
        .bind(org_id)
        .bind(loan_id)
        .bind(step.to.as_str())
        .bind(reason)
        .execute(&mut *conn)
        .await?;
    }
    let mut invalidate_stock = false;
    for effect in &step.effects {
        match effect {
            LoanEffect::SetReservationStatus(status) => {
                reservations::set_status_for_application(conn, org_id, loan_id, status.as_str())
                    .await?;
            }
            LoanEffect::Audit(action) => {
                let after = record::load(conn, org, loan_id)
                    .await?
                    .ok_or(WorkflowError::NotFound("Loan application not found"))?;
                audit::record(
                    conn,
                    actor.entry(
                        action,
                        "loan_application",
                        loan_id,
                        Some(loan.audit_snapshot()),
                        Some(after.audit_snapshot()),
                    ),
                )
                .await?;
            }
            LoanEffect::InvalidateStockCaches => invalidate_stock = true,
            _ => {}
        }
    }
    Ok(Decided {
        to: step.to,
        org_membership_id: loan.org_membership_id,
        invalidate_stock,
    })
}

/// `activate-backlog`'s answer (§3.11).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct MaintenanceResult {
    pub checked: usize,
    pub activated: usize,
    pub skipped: usize,
    pub activated_ids: Vec<Uuid>,
    pub post_issuance_completed: usize,
    pub post_issuance_completed_ids: Vec<Uuid>,
}

/// `POST /org/loans/maintenance/activate-backlog` (§5.5): the tenant's SUBMITTED, IN_REVIEW and
/// ACTIVE loans oldest first (or the one `loan_id`, any status), each activated when its core
/// stages are done, and the post-issuance stage completed where a share certificate exists
/// (any number of them: Q14 fixed). Returns the result and the loans activated.
pub async fn activate_backlog(
    conn: &mut PgConnection,
    actor: Actor<'_>,
    loan_id: Option<Uuid>,
    limit: Option<i64>,
    offset: i64,
    now: OffsetDateTime,
) -> Result<(MaintenanceResult, Vec<Activated>), WorkflowError> {
    let org_id = actor.org_id;
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM loan_applications WHERE org_id = $1 AND \
         (($2::uuid IS NULL AND status IN ('SUBMITTED', 'IN_REVIEW', 'ACTIVE')) OR id = $2) \
         ORDER BY created_at, id LIMIT $3 OFFSET $4",
    )
    .bind(org_id)
    .bind(loan_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await?;
    if loan_id.is_some() && ids.is_empty() {
        return Err(WorkflowError::NotFound("Loan application not found"));
    }
    let mut result = MaintenanceResult::default();
    let mut activated_loans = Vec::new();
    for id in ids {
        let Some(loan) = lock_loan(conn, org_id, id).await? else {
            continue;
        };
        result.checked += 1;
        if let Some(a) = try_activate(conn, Some(actor), org_id, &loan, now).await? {
            result.activated += 1;
            result.activated_ids.push(id);
            activated_loans.push(a);
        }
        let has_certificate = document_kinds(conn, org_id, id)
            .await?
            .iter()
            .any(|(_, d)| *d == DocumentType::ShareCertificate);
        if !has_certificate {
            continue;
        }
        stages::ensure(conn, org_id, id, &[StageType::LegalPostIssuance]).await?;
        let Some(stage) =
            stages::find(conn, org_id, id, StageType::LegalPostIssuance, true).await?
        else {
            continue;
        };
        let step = workflow::stage_transition(
            StageType::LegalPostIssuance,
            stage.status,
            loan.status,
            StageAction::BacklogShareCertificate,
        )?;
        if step.effects.is_empty() {
            continue;
        }
        let done = stages::complete(conn, stage.id, actor.user_id, now).await?;
        audit::record(
            conn,
            actor.entry(
                "loan_workflow_stage.updated",
                "loan_workflow_stage",
                stage.id,
                Some(stage.snapshot()),
                Some(done.snapshot()),
            ),
        )
        .await?;
        result.post_issuance_completed += 1;
        result.post_issuance_completed_ids.push(id);
    }
    result.skipped = result.checked - result.activated;
    Ok((result, activated_loans))
}
