//! The loan application state machine and the workflow stage lifecycle (loan-admin contract §4,
//! loans contract §7).
//!
//! [`transition`] is the one place that decides whether an action may move a loan and what
//! has to happen when it does: the new status, the side effects in the order the legacy service
//! performs them, or the exact legacy refusal. [`stage_transition`] does the same for one
//! workflow stage. The services execute the effects inside the request's transaction.

use serde_json::json;
use time::{Date, Duration, OffsetDateTime};

use super::LoanError;

string_enum! {
    /// `loan_applications.status` (CHECK `ck_loan_app_status`). Reservation rows copy these
    /// strings as their own status.
    pub enum LoanStatus {
        Draft => "DRAFT",
        Submitted => "SUBMITTED",
        Cancelled => "CANCELLED",
        InReview => "IN_REVIEW",
        Active => "ACTIVE",
        Completed => "COMPLETED",
        Rejected => "REJECTED",
    }
}

impl LoanStatus {
    /// The status of a new application.
    pub const INITIAL: Self = Self::Draft;

    /// No route leaves these.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Cancelled | Self::Rejected | Self::Completed)
    }

    /// Whether a reservation row with this status holds shares (quotes, stock summaries and
    /// the reservation check count SUBMITTED, IN_REVIEW and ACTIVE rows).
    pub fn holds_shares(self) -> bool {
        matches!(self, Self::Submitted | Self::InReview | Self::Active)
    }

    /// The statuses whose reservation rows hold shares, for `status = ANY($1)` queries.
    pub const SHARE_HOLDING: [Self; 3] = [Self::Submitted, Self::InReview, Self::Active];

    /// Loans whose workflow stages may still change (the HR/finance/legal queues list these).
    pub fn in_workflow(self) -> bool {
        matches!(self, Self::Submitted | Self::InReview)
    }
}

string_enum! {
    /// `loan_workflow_stages.stage_type`, in the canonical order HR_REVIEW, FINANCE_PROCESSING,
    /// LEGAL_EXECUTION, LEGAL_POST_ISSUANCE, BORROWER_83B_ELECTION.
    pub enum StageType {
        HrReview => "HR_REVIEW",
        FinanceProcessing => "FINANCE_PROCESSING",
        LegalExecution => "LEGAL_EXECUTION",
        LegalPostIssuance => "LEGAL_POST_ISSUANCE",
        Borrower83bElection => "BORROWER_83B_ELECTION",
    }
}

impl StageType {
    /// The three stages created at submission; all must be COMPLETED to activate a loan.
    pub const CORE: [Self; 3] = [
        Self::HrReview,
        Self::FinanceProcessing,
        Self::LegalExecution,
    ];

    /// The stages created at activation, in creation order.
    pub const POST_ACTIVATION: [Self; 2] = [Self::LegalPostIssuance, Self::Borrower83bElection];

    pub fn is_core(self) -> bool {
        Self::CORE.contains(&self)
    }

    /// `assigned_role_hint` written when the stage row is created.
    pub fn role_hint(self) -> &'static str {
        match self {
            Self::HrReview => "HR",
            Self::FinanceProcessing => "FINANCE",
            Self::LegalExecution | Self::LegalPostIssuance => "LEGAL",
            Self::Borrower83bElection => "BORROWER",
        }
    }

    /// Rank in the canonical order; breaks ties between stages created in the same
    /// transaction (quirk Q8: the legacy "current stage" was undefined for them).
    pub fn canonical_rank(self) -> usize {
        match self {
            Self::HrReview => 0,
            Self::FinanceProcessing => 1,
            Self::LegalExecution => 2,
            Self::LegalPostIssuance => 3,
            Self::Borrower83bElection => 4,
        }
    }

    /// The word the review routes use in their messages ("HR stage status must be …",
    /// "Finance workflow stage not found"); `None` for stages without a review route.
    pub fn review_label(self) -> Option<&'static str> {
        match self {
            Self::HrReview => Some("HR"),
            Self::FinanceProcessing => Some("Finance"),
            Self::LegalExecution => Some("Legal"),
            Self::LegalPostIssuance | Self::Borrower83bElection => None,
        }
    }

    /// Permission to complete the stage or be assigned to it (core stages only).
    pub fn manage_permission(self) -> Option<&'static str> {
        match self {
            Self::HrReview => Some("loan.workflow.hr.manage"),
            Self::FinanceProcessing => Some("loan.workflow.finance.manage"),
            Self::LegalExecution => Some("loan.workflow.legal.manage"),
            Self::LegalPostIssuance | Self::Borrower83bElection => None,
        }
    }

    /// Permission of the stage's queue and review view (core stages only).
    pub fn queue_view_permission(self) -> Option<&'static str> {
        match self {
            Self::HrReview => Some("loan.queue.hr.view"),
            Self::FinanceProcessing => Some("loan.queue.finance.view"),
            Self::LegalExecution => Some("loan.queue.legal.view"),
            Self::LegalPostIssuance | Self::Borrower83bElection => None,
        }
    }

    /// Permission the admin upload-url checks for documents of this stage (quirk Q2: the
    /// post-issuance stage uses the legal one); `None` for the borrower-only 83(b) stage.
    pub fn document_manage_permission(self) -> Option<&'static str> {
        match self {
            Self::HrReview => Some("loan.document.manage_hr"),
            Self::FinanceProcessing => Some("loan.document.manage_finance"),
            Self::LegalExecution | Self::LegalPostIssuance => Some("loan.document.manage_legal"),
            Self::Borrower83bElection => None,
        }
    }
}

string_enum! {
    /// `loan_workflow_stages.status`.
    pub enum StageStatus {
        Pending => "PENDING",
        InProgress => "IN_PROGRESS",
        Completed => "COMPLETED",
    }
}

string_enum! {
    /// `loan_documents.document_type`, in the legacy declaration order.
    pub enum DocumentType {
        NoticeOfStockOptionGrant => "NOTICE_OF_STOCK_OPTION_GRANT",
        PaymentInstructions => "PAYMENT_INSTRUCTIONS",
        PaymentConfirmation => "PAYMENT_CONFIRMATION",
        StockOptionExerciseAndLoanAgreement => "STOCK_OPTION_EXERCISE_AND_LOAN_AGREEMENT",
        SecuredPromissoryNote => "SECURED_PROMISSORY_NOTE",
        SpousePartnerConsent => "SPOUSE_PARTNER_CONSENT",
        StockPowerAndAssignment => "STOCK_POWER_AND_ASSIGNMENT",
        InvestmentRepresentationStatement => "INVESTMENT_REPRESENTATION_STATEMENT",
        ShareCertificate => "SHARE_CERTIFICATE",
        Section83bElection => "SECTION_83B_ELECTION",
    }
}

impl DocumentType {
    /// The stage a document of this type is stored under.
    pub fn stage(self) -> StageType {
        match self {
            Self::NoticeOfStockOptionGrant | Self::SpousePartnerConsent => StageType::HrReview,
            Self::PaymentInstructions | Self::PaymentConfirmation => StageType::FinanceProcessing,
            Self::StockOptionExerciseAndLoanAgreement
            | Self::SecuredPromissoryNote
            | Self::StockPowerAndAssignment
            | Self::InvestmentRepresentationStatement => StageType::LegalExecution,
            Self::ShareCertificate => StageType::LegalPostIssuance,
            Self::Section83bElection => StageType::Borrower83bElection,
        }
    }
}

/// The documents a stage needs before it can be COMPLETED through its review route, sorted
/// by their string (the order of `missing_document_types`).
pub fn required_documents(stage: StageType) -> &'static [DocumentType] {
    match stage {
        StageType::HrReview => &[
            DocumentType::NoticeOfStockOptionGrant,
            DocumentType::SpousePartnerConsent,
        ],
        StageType::FinanceProcessing => &[DocumentType::PaymentInstructions],
        StageType::LegalExecution => &[
            DocumentType::InvestmentRepresentationStatement,
            DocumentType::SecuredPromissoryNote,
            DocumentType::StockOptionExerciseAndLoanAgreement,
            DocumentType::StockPowerAndAssignment,
        ],
        StageType::LegalPostIssuance | StageType::Borrower83bElection => &[],
    }
}

/// Refuses completing `stage` unless the loan has every required document filed under that
/// stage. `documents` are the loan's `(stage_type, document_type)` pairs; several documents of
/// one type are fine (quirk Q14: the legacy finance check answered 500 for two).
pub fn check_required_documents(
    stage: StageType,
    documents: &[(StageType, DocumentType)],
) -> Result<(), LoanError> {
    let missing: Vec<&'static str> = required_documents(stage)
        .iter()
        .filter(|required| !documents.contains(&(stage, **required)))
        .map(|required| required.as_str())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(match stage {
        StageType::HrReview => LoanError::new(
            "document_required",
            "All required HR documents must be uploaded before completing HR review",
            json!({ "missing_document_types": missing }),
        ),
        StageType::FinanceProcessing => LoanError::new(
            "document_required",
            "Payment instructions document is required before completing Finance processing",
            json!({ "document_type": DocumentType::PaymentInstructions.as_str() }),
        ),
        _ => LoanError::new(
            "document_required",
            "All required legal documents must be uploaded before completing Legal execution",
            json!({ "missing_document_types": missing }),
        ),
    })
}

/// One stage row as the rules need it. `created_at` is whatever orders rows by creation (the
/// timestamp column in practice).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StageSnapshot<T> {
    pub stage_type: StageType,
    pub status: StageStatus,
    pub created_at: T,
}

/// The loan's "current stage": the first stage that is not COMPLETED by creation time, ties
/// broken by the canonical stage order (quirk Q8). `None` when every stage is completed or
/// there is none (drafts).
pub fn current_stage<T: Ord + Copy>(stages: &[StageSnapshot<T>]) -> Option<StageSnapshot<T>> {
    stages
        .iter()
        .filter(|s| s.status != StageStatus::Completed)
        .min_by_key(|s| (s.created_at, s.stage_type.canonical_rank()))
        .copied()
}

/// Activation condition (§4.3): every core stage type is present and all of its rows are
/// COMPLETED. The loan status is checked by [`transition`].
pub fn core_stages_completed(stages: &[(StageType, StageStatus)]) -> bool {
    StageType::CORE.iter().all(|core| {
        let mut rows = stages.iter().filter(|(t, _)| t == core).peekable();
        rows.peek().is_some() && rows.all(|(_, status)| *status == StageStatus::Completed)
    })
}

/// `activation_date` and `election_83b_due_date` for an activation at `now`: the timestamp
/// itself (UTC) and the UTC date 30 days later.
pub fn activation_dates(now: OffsetDateTime) -> (OffsetDateTime, Date) {
    let now = now.to_offset(time::UtcOffset::UTC);
    (now, (now + Duration::days(30)).date())
}

/// The three 83(b)/certificate flags of the loan views: all `None` unless the loan has both
/// activation fields; then whether a SHARE_CERTIFICATE / SECTION_83B_ELECTION document exists
/// and the days left until the election is due (negative when overdue).
pub fn workflow_flags(
    activation_date: Option<OffsetDateTime>,
    election_83b_due_date: Option<Date>,
    documents: &[DocumentType],
    today: Date,
) -> (Option<bool>, Option<bool>, Option<i64>) {
    match (activation_date, election_83b_due_date) {
        (Some(_), Some(due)) => (
            Some(documents.contains(&DocumentType::ShareCertificate)),
            Some(documents.contains(&DocumentType::Section83bElection)),
            Some((due - today).whole_days()),
        ),
        _ => (None, None, None),
    }
}

/// Something that moves a loan (or tries to).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoanAction<'a> {
    /// Borrower `PATCH /me/loan-applications/{id}` (recalculating or not).
    UpdateDraft,
    /// Borrower `POST …/submit`. `sent_key` is the trimmed, non-empty `Idempotency-Key`;
    /// `stored_key` the loan's `submit_idempotency_key`.
    Submit {
        sent_key: Option<&'a str>,
        stored_key: Option<&'a str>,
    },
    /// Borrower `POST …/cancel`.
    Cancel,
    /// Admin `PATCH /org/loans/{id}` after [`validate_status_update`].
    AdminSetStatus {
        target: LoanStatus,
        decision_reason_given: bool,
    },
    /// Admin `PATCH /org/loans/{id}/edit` after the note check. `recalc` = a quote field was
    /// sent.
    AdminEdit {
        recalc: bool,
        reset_workflow: bool,
        delete_documents: bool,
    },
    /// The activation check (stage completion, backlog maintenance). `core_stages_completed`
    /// comes from [`core_stages_completed`].
    Activate { core_stages_completed: bool },
    /// A repayment was recorded; `completes` comes from `repayments::completes_loan`.
    RecordRepayment { completes: bool },
}

/// A side effect of a transition, in the order the services perform them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoanEffect {
    /// Re-run the quote with the merged request and store it (§7.2 of the loans contract).
    Requote,
    /// Store the sent key as `submit_idempotency_key`.
    StoreSubmitKey,
    /// Delete every reservation row of the loan.
    DeleteReservations,
    /// Insert one reservation row per allocation item with this status, after locking the
    /// grants and checking today's availability (`grant_not_found`,
    /// `insufficient_available_shares`). Skipped when the loan already has reservations.
    ReserveShares { status: LoanStatus },
    /// Set the status of every reservation row of the loan.
    SetReservationStatus(LoanStatus),
    /// Delete the loan's document rows (and, best effort, their objects).
    DeleteDocuments,
    /// Create HR_REVIEW, FINANCE_PROCESSING, LEGAL_EXECUTION (PENDING, with their role hints)
    /// where missing.
    EnsureCoreStages,
    /// Delete every stage of the loan and create the three core stages PENDING.
    ResetWorkflowStages,
    /// Write the request's `decision_reason` (never cleared by a null).
    SetDecisionReason,
    /// Set `activation_date` and `election_83b_due_date` ([`activation_dates`]).
    StampActivation,
    /// Create LEGAL_POST_ISSUANCE (LEGAL) and BORROWER_83B_ELECTION (BORROWER) PENDING where
    /// missing.
    EnsurePostActivationStages,
    /// Write an audit row with this action for the loan.
    Audit(&'static str),
    /// Drop the applicant's cached stock summaries and the org stock dashboard, after commit.
    InvalidateStockCaches,
}

/// The outcome of an allowed action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub from: LoanStatus,
    pub to: LoanStatus,
    pub effects: Vec<LoanEffect>,
}

impl Transition {
    fn new(from: LoanStatus, to: LoanStatus, effects: Vec<LoanEffect>) -> Self {
        Self { from, to, effects }
    }

    /// Nothing to do (an activation check that finds the loan not ready).
    pub fn is_noop(&self) -> bool {
        self.from == self.to && self.effects.is_empty()
    }

    pub fn changes_status(&self) -> bool {
        self.from != self.to
    }
}

fn invalid_status(message: &'static str, status: LoanStatus) -> LoanError {
    LoanError::new(
        "invalid_status",
        message,
        json!({ "status": status.as_str() }),
    )
}

fn invalid_status_transition(message: &'static str) -> LoanError {
    LoanError::bare("invalid_status_transition", message)
}

/// The pre-checks of the admin status update, made before the loan is loaded:
/// `missing_status`, then `decision_reason_required` for a REJECTED target without a
/// non-blank reason.
pub fn validate_status_update(
    status: Option<LoanStatus>,
    decision_reason: Option<&str>,
) -> Result<LoanStatus, LoanError> {
    let Some(target) = status else {
        return Err(LoanError::new(
            "missing_status",
            "status is required",
            json!({ "field": "status" }),
        ));
    };
    if target == LoanStatus::Rejected && decision_reason.is_none_or(|r| r.trim().is_empty()) {
        return Err(LoanError::new(
            "decision_reason_required",
            "decision_reason is required when rejecting a loan",
            json!({ "field": "decision_reason" }),
        ));
    }
    Ok(target)
}

/// The state machine: may `action` move a loan in status `from`, and what must happen.
///
/// Deliberate differences from the legacy service (the effects are what the legacy code
/// intended; the handlers commit them): the admin status update and edit are committed (Q1),
/// and activation and reservation-changing edits invalidate the stock caches (Q15).
pub fn transition(from: LoanStatus, action: LoanAction<'_>) -> Result<Transition, LoanError> {
    use LoanEffect as E;
    use LoanStatus as S;
    match action {
        LoanAction::UpdateDraft => match from {
            S::Draft => Ok(Transition::new(
                from,
                S::Draft,
                vec![E::Audit("loan_application.updated")],
            )),
            _ => Err(invalid_status(
                "Only DRAFT applications can be updated",
                from,
            )),
        },
        LoanAction::Submit {
            sent_key,
            stored_key,
        } => {
            if from != S::Draft {
                if from == S::Submitted && sent_key.is_some() && sent_key == stored_key {
                    // An idempotent replay: the answer is the loan as it is.
                    return Ok(Transition::new(from, from, vec![E::EnsureCoreStages]));
                }
                return Err(invalid_status(
                    "Only DRAFT applications can be submitted",
                    from,
                ));
            }
            if let (Some(sent), Some(stored)) = (sent_key, stored_key)
                && sent != stored
            {
                return Err(LoanError::new(
                    "idempotency_conflict",
                    "Submission already processed with a different idempotency key",
                    json!({ "submitted_key": stored }),
                ));
            }
            let mut effects = vec![E::Requote];
            if sent_key.is_some() {
                effects.push(E::StoreSubmitKey);
            }
            effects.extend([
                E::ReserveShares {
                    status: S::Submitted,
                },
                E::EnsureCoreStages,
                E::Audit("loan_application.submitted"),
                E::InvalidateStockCaches,
            ]);
            Ok(Transition::new(from, S::Submitted, effects))
        }
        LoanAction::Cancel => match from {
            S::Draft => Ok(Transition::new(
                from,
                S::Cancelled,
                vec![E::Audit("loan_application.cancelled")],
            )),
            _ => Err(invalid_status(
                "Only DRAFT applications can be cancelled",
                from,
            )),
        },
        LoanAction::AdminSetStatus {
            target,
            decision_reason_given,
        } => {
            if target != from {
                match target {
                    S::InReview if !from.in_workflow() => {
                        return Err(invalid_status_transition(
                            "Only SUBMITTED loans can transition to IN_REVIEW",
                        ));
                    }
                    S::Rejected if !from.in_workflow() => {
                        return Err(invalid_status_transition(
                            "Only SUBMITTED or IN_REVIEW loans can be rejected",
                        ));
                    }
                    S::InReview | S::Rejected => {}
                    _ => {
                        return Err(invalid_status_transition(
                            "Only IN_REVIEW or REJECTED status updates are supported",
                        ));
                    }
                }
            }
            let mut effects = Vec::new();
            if decision_reason_given {
                effects.push(E::SetDecisionReason);
            }
            if matches!(target, S::InReview | S::Rejected) {
                effects.push(E::SetReservationStatus(target));
            }
            effects.push(E::Audit("loan_application.admin_update"));
            // The reservations' status is part of the cached stock summaries, and this change
            // is committed (the legacy service rolled it back, so it never needed to drop them).
            if matches!(target, S::InReview | S::Rejected) {
                effects.push(E::InvalidateStockCaches);
            }
            Ok(Transition::new(from, target, effects))
        }
        LoanAction::AdminEdit {
            recalc,
            reset_workflow,
            delete_documents,
        } => {
            if !matches!(from, S::Draft | S::Submitted | S::InReview) {
                return Err(invalid_status(
                    "Only DRAFT, SUBMITTED, or IN_REVIEW applications can be edited",
                    from,
                ));
            }
            let to = if reset_workflow && from != S::Draft {
                S::InReview
            } else {
                from
            };
            let mut effects = Vec::new();
            let mut reservations_changed = false;
            if recalc {
                effects.push(E::Requote);
                if from.in_workflow() || reset_workflow {
                    effects.push(E::DeleteReservations);
                    if delete_documents {
                        effects.push(E::DeleteDocuments);
                    }
                    if reset_workflow {
                        effects.push(E::ResetWorkflowStages);
                    }
                    // The legacy reserves with the loan's new status: a reset DRAFT gets rows
                    // with status DRAFT, which hold no shares.
                    effects.push(E::ReserveShares { status: to });
                    reservations_changed = true;
                }
            } else {
                if delete_documents {
                    effects.push(E::DeleteDocuments);
                }
                if reset_workflow {
                    effects.push(E::ResetWorkflowStages);
                }
            }
            effects.push(E::Audit("loan_application.admin_edit"));
            if reservations_changed {
                effects.push(E::InvalidateStockCaches);
            }
            Ok(Transition::new(from, to, effects))
        }
        LoanAction::Activate {
            core_stages_completed,
        } => {
            if from.in_workflow() && core_stages_completed {
                Ok(Transition::new(
                    from,
                    S::Active,
                    vec![
                        E::StampActivation,
                        E::SetReservationStatus(S::Active),
                        E::Audit("loan_application.activated"),
                        E::EnsurePostActivationStages,
                        E::InvalidateStockCaches,
                    ],
                ))
            } else {
                Ok(Transition::new(from, from, Vec::new()))
            }
        }
        LoanAction::RecordRepayment { completes } => match from {
            S::Active if completes => Ok(Transition::new(
                from,
                S::Completed,
                vec![
                    E::Audit("loan_application.completed"),
                    E::Audit("loan_repayment.recorded"),
                ],
            )),
            S::Active | S::Completed => Ok(Transition::new(
                from,
                from,
                vec![E::Audit("loan_repayment.recorded")],
            )),
            _ => Err(LoanError::bare(
                "invalid_repayment",
                "Repayments can only be recorded for ACTIVE or COMPLETED loans",
            )),
        },
    }
}

/// Something that moves one workflow stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StageAction {
    /// `POST …/workflow/{stage_type}/assign` (self or another reviewer).
    Assign,
    /// `PATCH …/hr|finance|legal` with `status` = `target`; `notes_unchanged` = the sent notes
    /// equal the stored ones.
    Review {
        target: StageStatus,
        notes_unchanged: bool,
    },
    /// A SHARE_CERTIFICATE was registered through the legal-issuance routes.
    ShareCertificate,
    /// `activate-backlog` found a SHARE_CERTIFICATE for the loan.
    BacklogShareCertificate,
    /// The borrower registered a SECTION_83B_ELECTION.
    Election83b,
}

/// A side effect on the stage row, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StageEffect {
    /// `assigned_to_user_id` = assignee, `assigned_by_user_id` = caller, `assigned_at` = now.
    SetAssignment,
    /// `notes` = the request's value (null clears).
    ReplaceNotes,
    /// `completed_at` = now, `completed_by_user_id` = caller.
    StampCompletion,
    /// `completed_at` and `completed_by_user_id` cleared.
    ClearCompletion,
    /// Run the loan activation check ([`LoanAction::Activate`]); its audit row comes before
    /// the stage's.
    TryActivateLoan,
    /// Write an audit row with this action for the stage.
    Audit(&'static str),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageTransition {
    pub from: StageStatus,
    pub to: StageStatus,
    pub effects: Vec<StageEffect>,
}

/// `unsupported_stage_type` for assignments outside HR, Finance and Legal (checked before
/// anything else by the assign route).
pub fn check_assignable(stage: StageType) -> Result<(), LoanError> {
    if stage.is_core() {
        Ok(())
    } else {
        Err(LoanError::new(
            "unsupported_stage_type",
            "Assignment is only supported for HR, Finance, and Legal stages",
            json!({ "stage_type": stage.as_str() }),
        ))
    }
}

/// `invalid_stage_status` for a review PATCH to PENDING (checked before the step-up and the
/// document checks).
pub fn check_review_target(stage: StageType, target: StageStatus) -> Result<(), LoanError> {
    let label = stage.review_label().ok_or_else(|| {
        LoanError::new(
            "unsupported_stage_type",
            "Stage reviews are only supported for HR, Finance, and Legal stages",
            json!({ "stage_type": stage.as_str() }),
        )
    })?;
    if target == StageStatus::Pending {
        return Err(LoanError::new(
            "invalid_stage_status",
            format!("{label} stage status must be IN_PROGRESS or COMPLETED"),
            json!({ "status": target.as_str() }),
        ));
    }
    Ok(())
}

/// The stage lifecycle (loan-admin §4.4): may `action` move a stage of type `stage` in status
/// `from` on a loan in status `loan`, and what must happen.
///
/// The review route calls [`check_review_target`], then the step-up check, then
/// [`check_required_documents`] (for COMPLETED), then this.
///
/// Deliberate difference (quirk Q22): a review that would change the stage of a loan that is
/// not SUBMITTED or IN_REVIEW answered 500 in the legacy service and stored nothing; here it is
/// a 400 `invalid_status`. A review that changes nothing still answers as before.
pub fn stage_transition(
    stage: StageType,
    from: StageStatus,
    loan: LoanStatus,
    action: StageAction,
) -> Result<StageTransition, LoanError> {
    use StageEffect as E;
    use StageStatus as St;
    let done =
        |to: StageStatus, effects: Vec<StageEffect>| Ok(StageTransition { from, to, effects });
    match action {
        StageAction::Assign => {
            check_assignable(stage)?;
            if from == St::Completed {
                return Err(LoanError::new(
                    "stage_completed",
                    "Completed workflow stages cannot be reassigned",
                    json!({ "stage_type": stage.as_str() }),
                ));
            }
            done(
                St::InProgress,
                vec![E::SetAssignment, E::Audit("loan_workflow_stage.assigned")],
            )
        }
        StageAction::Review {
            target,
            notes_unchanged,
        } => {
            check_review_target(stage, target)?;
            let changes = target == St::Completed || target != from || !notes_unchanged;
            if changes && !loan.in_workflow() {
                return Err(LoanError::new(
                    "invalid_status",
                    "Workflow stages can only be updated while the loan is SUBMITTED or IN_REVIEW",
                    json!({ "status": loan.as_str() }),
                ));
            }
            let completion = if target == St::Completed {
                E::StampCompletion
            } else {
                E::ClearCompletion
            };
            let mut effects = Vec::new();
            if changes {
                effects.extend([E::ReplaceNotes, completion]);
            }
            effects.extend([E::TryActivateLoan, E::Audit("loan_workflow_stage.updated")]);
            done(target, effects)
        }
        StageAction::ShareCertificate => {
            if stage != StageType::LegalPostIssuance {
                return Err(wrong_stage(stage, StageType::LegalPostIssuance));
            }
            if loan != LoanStatus::Active {
                return Err(invalid_status(
                    "Loan must be ACTIVE before uploading share certificates",
                    loan,
                ));
            }
            done(
                St::Completed,
                vec![E::StampCompletion, E::Audit("loan_workflow_stage.updated")],
            )
        }
        StageAction::BacklogShareCertificate => {
            if stage != StageType::LegalPostIssuance {
                return Err(wrong_stage(stage, StageType::LegalPostIssuance));
            }
            if from == St::Completed {
                return done(from, Vec::new());
            }
            done(
                St::Completed,
                vec![E::StampCompletion, E::Audit("loan_workflow_stage.updated")],
            )
        }
        StageAction::Election83b => {
            if stage != StageType::Borrower83bElection {
                return Err(wrong_stage(stage, StageType::Borrower83bElection));
            }
            if loan != LoanStatus::Active {
                return Err(invalid_status(
                    "Loan must be ACTIVE before uploading 83(b) documents",
                    loan,
                ));
            }
            done(
                St::Completed,
                vec![E::StampCompletion, E::Audit("loan_workflow_stage.updated")],
            )
        }
    }
}

fn wrong_stage(stage: StageType, expected: StageType) -> LoanError {
    LoanError::new(
        "unsupported_stage_type",
        format!(
            "This action applies to the {} stage only",
            expected.as_str()
        ),
        json!({ "stage_type": stage.as_str() }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    /// Every action with every payload shape that matters. The match makes a new `LoanAction`
    /// variant a compile error here until it is added to the list.
    fn all_actions() -> Vec<LoanAction<'static>> {
        let keys = [None, Some("k1"), Some("k2")];
        let mut actions = vec![LoanAction::UpdateDraft, LoanAction::Cancel];
        for sent_key in keys {
            for stored_key in keys {
                actions.push(LoanAction::Submit {
                    sent_key,
                    stored_key,
                });
            }
        }
        for &target in LoanStatus::ALL {
            for decision_reason_given in [false, true] {
                actions.push(LoanAction::AdminSetStatus {
                    target,
                    decision_reason_given,
                });
            }
        }
        for recalc in [false, true] {
            for reset_workflow in [false, true] {
                for delete_documents in [false, true] {
                    actions.push(LoanAction::AdminEdit {
                        recalc,
                        reset_workflow,
                        delete_documents,
                    });
                }
            }
        }
        for flag in [false, true] {
            actions.push(LoanAction::Activate {
                core_stages_completed: flag,
            });
            actions.push(LoanAction::RecordRepayment { completes: flag });
        }
        for action in &actions {
            match action {
                LoanAction::UpdateDraft
                | LoanAction::Submit { .. }
                | LoanAction::Cancel
                | LoanAction::AdminSetStatus { .. }
                | LoanAction::AdminEdit { .. }
                | LoanAction::Activate { .. }
                | LoanAction::RecordRepayment { .. } => {}
            }
        }
        actions
    }

    /// The contract's transition table (loans §7.1, loan-admin §4.2), stated row by row:
    /// `Ok(new status)` or `Err((code, message))`.
    fn contract(from: LoanStatus, action: LoanAction<'_>) -> Result<LoanStatus, (&str, &str)> {
        use LoanStatus::*;
        let in_workflow = from == Submitted || from == InReview;
        match action {
            LoanAction::UpdateDraft if from == Draft => Ok(Draft),
            LoanAction::UpdateDraft => {
                Err(("invalid_status", "Only DRAFT applications can be updated"))
            }
            LoanAction::Cancel if from == Draft => Ok(Cancelled),
            LoanAction::Cancel => {
                Err(("invalid_status", "Only DRAFT applications can be cancelled"))
            }
            LoanAction::Submit {
                sent_key: Some(sent),
                stored_key: Some(stored),
            } if from == Submitted && sent == stored => Ok(Submitted),
            LoanAction::Submit { .. } if from != Draft => {
                Err(("invalid_status", "Only DRAFT applications can be submitted"))
            }
            LoanAction::Submit {
                sent_key: Some(sent),
                stored_key: Some(stored),
            } if sent != stored => Err((
                "idempotency_conflict",
                "Submission already processed with a different idempotency key",
            )),
            LoanAction::Submit { .. } => Ok(Submitted),
            LoanAction::AdminSetStatus { target, .. } if target == from => Ok(from),
            LoanAction::AdminSetStatus {
                target: InReview, ..
            } if in_workflow => Ok(InReview),
            LoanAction::AdminSetStatus {
                target: InReview, ..
            } => Err((
                "invalid_status_transition",
                "Only SUBMITTED loans can transition to IN_REVIEW",
            )),
            LoanAction::AdminSetStatus {
                target: Rejected, ..
            } if in_workflow => Ok(Rejected),
            LoanAction::AdminSetStatus {
                target: Rejected, ..
            } => Err((
                "invalid_status_transition",
                "Only SUBMITTED or IN_REVIEW loans can be rejected",
            )),
            LoanAction::AdminSetStatus { .. } => Err((
                "invalid_status_transition",
                "Only IN_REVIEW or REJECTED status updates are supported",
            )),
            LoanAction::AdminEdit {
                reset_workflow: true,
                ..
            } if in_workflow => Ok(InReview),
            LoanAction::AdminEdit { .. } if from == Draft || in_workflow => Ok(from),
            LoanAction::AdminEdit { .. } => Err((
                "invalid_status",
                "Only DRAFT, SUBMITTED, or IN_REVIEW applications can be edited",
            )),
            LoanAction::Activate {
                core_stages_completed: true,
            } if in_workflow => Ok(Active),
            LoanAction::Activate { .. } => Ok(from),
            LoanAction::RecordRepayment { completes: true } if from == Active => Ok(Completed),
            LoanAction::RecordRepayment { .. } if from == Active || from == Completed => Ok(from),
            LoanAction::RecordRepayment { .. } => Err((
                "invalid_repayment",
                "Repayments can only be recorded for ACTIVE or COMPLETED loans",
            )),
        }
    }

    #[test]
    fn every_state_and_action_follows_the_contract_table() {
        let mut pairs = 0;
        for &from in LoanStatus::ALL {
            for action in all_actions() {
                pairs += 1;
                let got = transition(from, action);
                match (contract(from, action), &got) {
                    (Ok(to), Ok(t)) => {
                        assert_eq!(t.to, to, "{from} {action:?}");
                        assert_eq!(t.from, from);
                    }
                    (Err((code, message)), Err(e)) => {
                        assert_eq!(e.code, code, "{from} {action:?}");
                        assert_eq!(e.message, message, "{from} {action:?}");
                    }
                    (want, got) => panic!("{from} {action:?}: want {want:?}, got {got:?}"),
                }
            }
        }
        assert_eq!(pairs, LoanStatus::ALL.len() * all_actions().len());
    }

    #[test]
    fn terminal_states_are_left_by_nothing() {
        for &from in LoanStatus::ALL.iter().filter(|s| s.is_terminal()) {
            for action in all_actions() {
                if let Ok(t) = transition(from, action) {
                    assert_eq!(t.to, from, "{from} left by {action:?}");
                }
            }
        }
    }

    #[test]
    fn invalid_status_errors_carry_the_current_status() {
        let err = transition(LoanStatus::Cancelled, LoanAction::UpdateDraft).unwrap_err();
        assert_eq!(err.details, json!({"status": "CANCELLED"}));
        let err = transition(
            LoanStatus::Active,
            LoanAction::AdminEdit {
                recalc: true,
                reset_workflow: false,
                delete_documents: false,
            },
        )
        .unwrap_err();
        assert_eq!(err.details, json!({"status": "ACTIVE"}));
        let err = transition(
            LoanStatus::Draft,
            LoanAction::AdminSetStatus {
                target: LoanStatus::InReview,
                decision_reason_given: false,
            },
        )
        .unwrap_err();
        assert_eq!(err.details, json!({}));
        let err = transition(
            LoanStatus::Draft,
            LoanAction::Submit {
                sent_key: Some("new"),
                stored_key: Some("old"),
            },
        )
        .unwrap_err();
        assert_eq!(err.details, json!({"submitted_key": "old"}));
    }

    #[test]
    fn submission_reserves_creates_stages_and_audits() {
        let t = transition(
            LoanStatus::Draft,
            LoanAction::Submit {
                sent_key: Some("k"),
                stored_key: None,
            },
        )
        .unwrap();
        assert_eq!(
            t.effects,
            vec![
                LoanEffect::Requote,
                LoanEffect::StoreSubmitKey,
                LoanEffect::ReserveShares {
                    status: LoanStatus::Submitted
                },
                LoanEffect::EnsureCoreStages,
                LoanEffect::Audit("loan_application.submitted"),
                LoanEffect::InvalidateStockCaches,
            ]
        );
        let without_key = transition(
            LoanStatus::Draft,
            LoanAction::Submit {
                sent_key: None,
                stored_key: None,
            },
        )
        .unwrap();
        assert!(!without_key.effects.contains(&LoanEffect::StoreSubmitKey));
        // The replay with the same key only makes sure the stages exist: no audit, no
        // reservation.
        let replay = transition(
            LoanStatus::Submitted,
            LoanAction::Submit {
                sent_key: Some("k"),
                stored_key: Some("k"),
            },
        )
        .unwrap();
        assert_eq!(replay.effects, vec![LoanEffect::EnsureCoreStages]);
        assert!(!replay.changes_status());
        // No key, or another key, on a submitted loan is refused.
        for sent_key in [None, Some("other")] {
            let err = transition(
                LoanStatus::Submitted,
                LoanAction::Submit {
                    sent_key,
                    stored_key: Some("k"),
                },
            )
            .unwrap_err();
            assert_eq!(err.code, "invalid_status");
        }
    }

    #[test]
    fn decisions_move_reservations_and_invalidate_caches() {
        let t = transition(
            LoanStatus::InReview,
            LoanAction::AdminSetStatus {
                target: LoanStatus::Rejected,
                decision_reason_given: true,
            },
        )
        .unwrap();
        assert_eq!(
            t.effects,
            vec![
                LoanEffect::SetDecisionReason,
                LoanEffect::SetReservationStatus(LoanStatus::Rejected),
                LoanEffect::Audit("loan_application.admin_update"),
                LoanEffect::InvalidateStockCaches,
            ]
        );
        assert!(!LoanStatus::Rejected.holds_shares());
        let review = transition(
            LoanStatus::Submitted,
            LoanAction::AdminSetStatus {
                target: LoanStatus::InReview,
                decision_reason_given: false,
            },
        )
        .unwrap();
        assert_eq!(
            review.effects,
            vec![
                LoanEffect::SetReservationStatus(LoanStatus::InReview),
                LoanEffect::Audit("loan_application.admin_update"),
                // The summaries show each reservation's status.
                LoanEffect::InvalidateStockCaches,
            ]
        );
        // Same status on a completed loan is an allowed no-op (recorded sample) that touches
        // no reservation.
        let same = transition(
            LoanStatus::Completed,
            LoanAction::AdminSetStatus {
                target: LoanStatus::Completed,
                decision_reason_given: false,
            },
        )
        .unwrap();
        assert_eq!(
            same.effects,
            vec![LoanEffect::Audit("loan_application.admin_update")]
        );
    }

    #[test]
    fn status_update_prechecks_come_before_the_loan() {
        let err = validate_status_update(None, Some("x")).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_ref(), err.details),
            (
                "missing_status",
                "status is required",
                json!({"field": "status"})
            )
        );
        for reason in [None, Some(""), Some("   ")] {
            let err = validate_status_update(Some(LoanStatus::Rejected), reason).unwrap_err();
            assert_eq!(err.code, "decision_reason_required");
            assert_eq!(
                err.message,
                "decision_reason is required when rejecting a loan"
            );
            assert_eq!(err.details, json!({"field": "decision_reason"}));
        }
        assert_eq!(
            validate_status_update(Some(LoanStatus::Rejected), Some("no")),
            Ok(LoanStatus::Rejected)
        );
        assert_eq!(
            validate_status_update(Some(LoanStatus::InReview), None),
            Ok(LoanStatus::InReview)
        );
    }

    #[test]
    fn admin_edit_effects_follow_the_legacy_branches() {
        let edit = |from, recalc, reset_workflow, delete_documents| {
            transition(
                from,
                LoanAction::AdminEdit {
                    recalc,
                    reset_workflow,
                    delete_documents,
                },
            )
            .unwrap()
        };
        use LoanEffect as E;
        // Recalculating a submitted loan re-reserves with its (unchanged) status.
        assert_eq!(
            edit(LoanStatus::Submitted, true, false, true).effects,
            vec![
                E::Requote,
                E::DeleteReservations,
                E::DeleteDocuments,
                E::ReserveShares {
                    status: LoanStatus::Submitted
                },
                E::Audit("loan_application.admin_edit"),
                E::InvalidateStockCaches,
            ]
        );
        // With a reset the loan goes IN_REVIEW and the new rows say so.
        let reset = edit(LoanStatus::Submitted, true, true, false);
        assert_eq!(reset.to, LoanStatus::InReview);
        assert_eq!(
            reset.effects,
            vec![
                E::Requote,
                E::DeleteReservations,
                E::ResetWorkflowStages,
                E::ReserveShares {
                    status: LoanStatus::InReview
                },
                E::Audit("loan_application.admin_edit"),
                E::InvalidateStockCaches,
            ]
        );
        // A recalculated DRAFT without reset ignores delete_documents and reserves nothing.
        assert_eq!(
            edit(LoanStatus::Draft, true, false, true).effects,
            vec![E::Requote, E::Audit("loan_application.admin_edit"),]
        );
        // A reset DRAFT stays DRAFT and gets rows that hold no shares.
        let draft_reset = edit(LoanStatus::Draft, true, true, false);
        assert_eq!(draft_reset.to, LoanStatus::Draft);
        assert!(draft_reset.effects.contains(&E::ReserveShares {
            status: LoanStatus::Draft
        }));
        assert!(!LoanStatus::Draft.holds_shares());
        // Without recalculation: documents and stages only, reservations untouched.
        assert_eq!(
            edit(LoanStatus::InReview, false, true, true).effects,
            vec![
                E::DeleteDocuments,
                E::ResetWorkflowStages,
                E::Audit("loan_application.admin_edit"),
            ]
        );
        assert_eq!(
            edit(LoanStatus::Submitted, false, false, false).effects,
            vec![E::Audit("loan_application.admin_edit")]
        );
    }

    #[test]
    fn activation_needs_every_core_stage_completed() {
        use StageStatus::*;
        use StageType::*;
        let all_done = [
            (HrReview, Completed),
            (FinanceProcessing, Completed),
            (LegalExecution, Completed),
        ];
        assert!(core_stages_completed(&all_done));
        assert!(!core_stages_completed(&[]));
        // A missing core stage blocks activation even when the others are done.
        assert!(!core_stages_completed(&all_done[..2]));
        assert!(!core_stages_completed(&[
            (HrReview, Completed),
            (FinanceProcessing, InProgress),
            (LegalExecution, Completed),
        ]));
        // Post-activation stages do not matter.
        let mut with_post = all_done.to_vec();
        with_post.push((LegalPostIssuance, Pending));
        assert!(core_stages_completed(&with_post));
        // A duplicated core row that is still open keeps the loan waiting.
        with_post.push((HrReview, Pending));
        assert!(!core_stages_completed(&with_post));

        let t = transition(
            LoanStatus::InReview,
            LoanAction::Activate {
                core_stages_completed: true,
            },
        )
        .unwrap();
        assert_eq!(t.to, LoanStatus::Active);
        assert_eq!(
            t.effects,
            vec![
                LoanEffect::StampActivation,
                LoanEffect::SetReservationStatus(LoanStatus::Active),
                LoanEffect::Audit("loan_application.activated"),
                LoanEffect::EnsurePostActivationStages,
                LoanEffect::InvalidateStockCaches,
            ]
        );
        for &status in LoanStatus::ALL {
            let t = transition(
                status,
                LoanAction::Activate {
                    core_stages_completed: false,
                },
            )
            .unwrap();
            assert!(t.is_noop(), "{status}");
        }
        assert!(
            transition(
                LoanStatus::Active,
                LoanAction::Activate {
                    core_stages_completed: true
                }
            )
            .unwrap()
            .is_noop()
        );
    }

    #[test]
    fn activation_dates_are_utc_and_thirty_days() {
        let (at, due) = activation_dates(datetime!(2026-12-07 00:36:52.867032 UTC));
        assert_eq!(at, datetime!(2026-12-07 00:36:52.867032 UTC));
        assert_eq!(due, date!(2027 - 01 - 06));
        // 23:30 in New York on Dec 6 is Dec 7 in UTC: the due date follows UTC.
        let (_, due) = activation_dates(datetime!(2026-12-06 23:30 -5));
        assert_eq!(due, date!(2027 - 01 - 06));
    }

    #[test]
    fn workflow_flags_need_both_activation_fields() {
        let docs = [DocumentType::Section83bElection];
        assert_eq!(
            workflow_flags(
                None,
                Some(date!(2027 - 01 - 06)),
                &docs,
                date!(2026 - 12 - 07)
            ),
            (None, None, None)
        );
        assert_eq!(
            workflow_flags(
                Some(datetime!(2026-12-07 0:00 UTC)),
                Some(date!(2027 - 01 - 06)),
                &[],
                date!(2026 - 12 - 07)
            ),
            (Some(false), Some(false), Some(30))
        );
        assert_eq!(
            workflow_flags(
                Some(datetime!(2026-12-07 0:00 UTC)),
                Some(date!(2027 - 01 - 06)),
                &docs,
                date!(2027 - 01 - 10)
            ),
            (Some(false), Some(true), Some(-4))
        );
    }

    #[test]
    fn current_stage_breaks_same_time_ties_by_the_canonical_order() {
        use StageStatus::*;
        use StageType::*;
        let snap = |stage_type, status, created_at| StageSnapshot {
            stage_type,
            status,
            created_at,
        };
        // The three core stages share one transaction time; the list order is irrelevant.
        let stages = [
            snap(LegalExecution, Pending, 1),
            snap(FinanceProcessing, Pending, 1),
            snap(HrReview, Pending, 1),
        ];
        assert_eq!(current_stage(&stages).map(|s| s.stage_type), Some(HrReview));
        let stages = [
            snap(LegalExecution, Pending, 1),
            snap(FinanceProcessing, InProgress, 1),
            snap(HrReview, Completed, 1),
            snap(Borrower83bElection, Pending, 2),
            snap(LegalPostIssuance, Pending, 2),
        ];
        assert_eq!(
            current_stage(&stages).map(|s| s.stage_type),
            Some(FinanceProcessing)
        );
        let after_activation = [
            snap(HrReview, Completed, 1),
            snap(FinanceProcessing, Completed, 1),
            snap(LegalExecution, Completed, 1),
            snap(Borrower83bElection, Pending, 2),
            snap(LegalPostIssuance, Pending, 2),
        ];
        assert_eq!(
            current_stage(&after_activation).map(|s| s.stage_type),
            Some(LegalPostIssuance)
        );
        assert_eq!(current_stage::<i32>(&[]), None);
    }

    #[test]
    fn required_documents_and_their_errors() {
        use DocumentType::*;
        use StageType::*;
        let err = check_required_documents(HrReview, &[(HrReview, NoticeOfStockOptionGrant)])
            .unwrap_err();
        assert_eq!(err.code, "document_required");
        assert_eq!(
            err.message,
            "All required HR documents must be uploaded before completing HR review"
        );
        assert_eq!(
            err.details,
            json!({"missing_document_types": ["SPOUSE_PARTNER_CONSENT"]})
        );
        // The document must be filed under the stage being completed.
        let err = check_required_documents(
            FinanceProcessing,
            &[
                (HrReview, PaymentInstructions),
                (FinanceProcessing, PaymentConfirmation),
            ],
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "Payment instructions document is required before completing Finance processing"
        );
        assert_eq!(
            err.details,
            json!({"document_type": "PAYMENT_INSTRUCTIONS"})
        );
        // Two payment instructions are fine (the legacy answered 500).
        assert_eq!(
            check_required_documents(
                FinanceProcessing,
                &[
                    (FinanceProcessing, PaymentInstructions),
                    (FinanceProcessing, PaymentInstructions),
                ]
            ),
            Ok(())
        );
        let err = check_required_documents(
            LegalExecution,
            &[(LegalExecution, StockOptionExerciseAndLoanAgreement)],
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "All required legal documents must be uploaded before completing Legal execution"
        );
        // Sorted by name, as the legacy `sorted(set)` does.
        assert_eq!(
            err.details,
            json!({"missing_document_types": [
                "INVESTMENT_REPRESENTATION_STATEMENT",
                "SECURED_PROMISSORY_NOTE",
                "STOCK_POWER_AND_ASSIGNMENT"
            ]})
        );
        for &stage in StageType::ALL {
            let names: Vec<&str> = required_documents(stage)
                .iter()
                .map(|d| d.as_str())
                .collect();
            let mut sorted = names.clone();
            sorted.sort_unstable();
            assert_eq!(names, sorted);
            for doc in required_documents(stage) {
                assert_eq!(doc.stage(), stage);
            }
            let all: Vec<_> = required_documents(stage)
                .iter()
                .map(|d| (stage, *d))
                .collect();
            assert_eq!(check_required_documents(stage, &all), Ok(()));
        }
    }

    fn all_stage_actions() -> Vec<StageAction> {
        let mut actions = vec![
            StageAction::Assign,
            StageAction::ShareCertificate,
            StageAction::BacklogShareCertificate,
            StageAction::Election83b,
        ];
        for &target in StageStatus::ALL {
            for notes_unchanged in [false, true] {
                actions.push(StageAction::Review {
                    target,
                    notes_unchanged,
                });
            }
        }
        for action in &actions {
            match action {
                StageAction::Assign
                | StageAction::Review { .. }
                | StageAction::ShareCertificate
                | StageAction::BacklogShareCertificate
                | StageAction::Election83b => {}
            }
        }
        actions
    }

    /// Loan-admin §4.4, row by row, with the Q22 fix.
    fn stage_contract(
        stage: StageType,
        from: StageStatus,
        loan: LoanStatus,
        action: StageAction,
    ) -> Result<StageStatus, &'static str> {
        use StageStatus::*;
        match action {
            StageAction::Assign if !stage.is_core() => Err("unsupported_stage_type"),
            StageAction::Assign if from == Completed => Err("stage_completed"),
            StageAction::Assign => Ok(InProgress),
            StageAction::Review { .. } if !stage.is_core() => Err("unsupported_stage_type"),
            StageAction::Review {
                target: Pending, ..
            } => Err("invalid_stage_status"),
            StageAction::Review {
                target,
                notes_unchanged,
            } => {
                let noop = target == from && target != Completed && notes_unchanged;
                if noop || loan == LoanStatus::Submitted || loan == LoanStatus::InReview {
                    Ok(target)
                } else {
                    Err("invalid_status")
                }
            }
            StageAction::ShareCertificate | StageAction::BacklogShareCertificate
                if stage != StageType::LegalPostIssuance =>
            {
                Err("unsupported_stage_type")
            }
            StageAction::ShareCertificate if loan != LoanStatus::Active => Err("invalid_status"),
            StageAction::ShareCertificate | StageAction::BacklogShareCertificate => Ok(Completed),
            StageAction::Election83b if stage != StageType::Borrower83bElection => {
                Err("unsupported_stage_type")
            }
            StageAction::Election83b if loan != LoanStatus::Active => Err("invalid_status"),
            StageAction::Election83b => Ok(Completed),
        }
    }

    #[test]
    fn every_stage_state_and_action_follows_the_lifecycle() {
        let mut combos = 0;
        for &stage in StageType::ALL {
            for &from in StageStatus::ALL {
                for &loan in LoanStatus::ALL {
                    for action in all_stage_actions() {
                        combos += 1;
                        let got = stage_transition(stage, from, loan, action);
                        match (stage_contract(stage, from, loan, action), &got) {
                            (Ok(to), Ok(t)) => assert_eq!(t.to, to),
                            (Err(code), Err(e)) => assert_eq!(e.code, code),
                            (want, got) => panic!(
                                "{stage} {from} loan {loan} {action:?}: want {want:?}, got {got:?}"
                            ),
                        }
                    }
                }
            }
        }
        assert_eq!(combos, 5 * 3 * 7 * all_stage_actions().len());
    }

    #[test]
    fn stage_errors_have_the_legacy_texts() {
        let err = stage_transition(
            StageType::LegalPostIssuance,
            StageStatus::Pending,
            LoanStatus::Active,
            StageAction::Assign,
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "Assignment is only supported for HR, Finance, and Legal stages"
        );
        assert_eq!(err.details, json!({"stage_type": "LEGAL_POST_ISSUANCE"}));
        let err = stage_transition(
            StageType::HrReview,
            StageStatus::Completed,
            LoanStatus::Submitted,
            StageAction::Assign,
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "Completed workflow stages cannot be reassigned"
        );
        assert_eq!(err.details, json!({"stage_type": "HR_REVIEW"}));
        for (stage, text) in [
            (
                StageType::HrReview,
                "HR stage status must be IN_PROGRESS or COMPLETED",
            ),
            (
                StageType::FinanceProcessing,
                "Finance stage status must be IN_PROGRESS or COMPLETED",
            ),
            (
                StageType::LegalExecution,
                "Legal stage status must be IN_PROGRESS or COMPLETED",
            ),
        ] {
            let err = check_review_target(stage, StageStatus::Pending).unwrap_err();
            assert_eq!(err.message, text);
            assert_eq!(err.details, json!({"status": "PENDING"}));
        }
        let err = stage_transition(
            StageType::LegalPostIssuance,
            StageStatus::Pending,
            LoanStatus::Submitted,
            StageAction::ShareCertificate,
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "Loan must be ACTIVE before uploading share certificates"
        );
        assert_eq!(err.details, json!({"status": "SUBMITTED"}));
    }

    #[test]
    fn reviews_reopen_complete_and_stay_quiet_when_nothing_changes() {
        use StageEffect as E;
        let review = |from, loan, target, notes_unchanged| {
            stage_transition(
                StageType::HrReview,
                from,
                loan,
                StageAction::Review {
                    target,
                    notes_unchanged,
                },
            )
        };
        let done = review(
            StageStatus::InProgress,
            LoanStatus::Submitted,
            StageStatus::Completed,
            true,
        )
        .unwrap();
        assert_eq!(
            done.effects,
            vec![
                E::ReplaceNotes,
                E::StampCompletion,
                E::TryActivateLoan,
                E::Audit("loan_workflow_stage.updated"),
            ]
        );
        // Re-opening a completed stage clears the completion (before activation only).
        let reopened = review(
            StageStatus::Completed,
            LoanStatus::Submitted,
            StageStatus::InProgress,
            true,
        )
        .unwrap();
        assert_eq!(reopened.effects[..2], [E::ReplaceNotes, E::ClearCompletion]);
        // On an active loan the same request is a 400, not the legacy 500.
        let err = review(
            StageStatus::Completed,
            LoanStatus::Active,
            StageStatus::InProgress,
            true,
        )
        .unwrap_err();
        assert_eq!(err.code, "invalid_status");
        assert_eq!(err.details, json!({"status": "ACTIVE"}));
        // Completing again always writes (completed_at moves), so it is refused too.
        assert!(
            review(
                StageStatus::Completed,
                LoanStatus::Active,
                StageStatus::Completed,
                true
            )
            .is_err()
        );
        // A request that changes nothing answers as before, on any loan.
        let quiet = review(
            StageStatus::InProgress,
            LoanStatus::Active,
            StageStatus::InProgress,
            true,
        )
        .unwrap();
        assert_eq!(
            quiet.effects,
            vec![E::TryActivateLoan, E::Audit("loan_workflow_stage.updated")]
        );
    }

    #[test]
    fn backlog_completes_post_issuance_once() {
        let first = stage_transition(
            StageType::LegalPostIssuance,
            StageStatus::Pending,
            LoanStatus::Submitted,
            StageAction::BacklogShareCertificate,
        )
        .unwrap();
        assert_eq!(first.to, StageStatus::Completed);
        assert_eq!(first.effects.len(), 2);
        let again = stage_transition(
            StageType::LegalPostIssuance,
            StageStatus::Completed,
            LoanStatus::Active,
            StageAction::BacklogShareCertificate,
        )
        .unwrap();
        assert!(again.effects.is_empty());
    }

    #[test]
    fn value_sets_round_trip_their_legacy_strings() {
        for &s in LoanStatus::ALL {
            assert_eq!(LoanStatus::parse(s.as_str()), Some(s));
            let json = serde_json::to_value(s).unwrap();
            assert_eq!(json, json!(s.as_str()));
            assert_eq!(serde_json::from_value::<LoanStatus>(json).unwrap(), s);
        }
        for &t in StageType::ALL {
            assert_eq!(StageType::parse(t.as_str()), Some(t));
            assert_eq!(StageType::ALL[t.canonical_rank()], t);
        }
        for &d in DocumentType::ALL {
            assert_eq!(DocumentType::parse(d.as_str()), Some(d));
        }
        assert_eq!(LoanStatus::parse("PENDING"), None);
        assert_eq!(LoanStatus::parse("draft"), None);
        assert_eq!(
            LoanStatus::expected_message(),
            "Input should be 'DRAFT', 'SUBMITTED', 'CANCELLED', 'IN_REVIEW', 'ACTIVE', \
             'COMPLETED' or 'REJECTED'"
        );
        let err = serde_json::from_value::<StageStatus>(json!("DONE")).unwrap_err();
        assert!(
            err.to_string()
                .contains("Input should be 'PENDING', 'IN_PROGRESS' or 'COMPLETED'")
        );
        assert_eq!(
            StageType::POST_ACTIVATION.map(StageType::role_hint),
            ["LEGAL", "BORROWER"]
        );
        assert_eq!(
            StageType::CORE.map(StageType::role_hint),
            ["HR", "FINANCE", "LEGAL"]
        );
        assert_eq!(
            LoanStatus::SHARE_HOLDING.map(LoanStatus::as_str),
            ["SUBMITTED", "IN_REVIEW", "ACTIVE"]
        );
    }
}
