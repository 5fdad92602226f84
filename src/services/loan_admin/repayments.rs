//! Recording a repayment (`POST /org/loans/{id}/repayments`, loan-admin §5.10): what the next
//! repayment must be, the evidence it carries, the row, the completion of the loan and the
//! audit rows. The amounts come from `domain::loans::repayments` (one engine with the loan
//! views); the state machine (`domain::loans::workflow`) decides what a status allows.
//!
//! The handler calls, in one transaction: [`lock`] (404), [`plan`] (the amount refusals),
//! the evidence checks ([`evidence_from_key`], [`check_evidence_content_type`]),
//! [`check_status`], then — after the evidence file, if any, is stored — [`insert`].

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::detail::{repayments_of, stored};
use crate::domain::decimal::{PyDec, at_column_scale, py_str};
use crate::domain::loans::LoanError;
use crate::domain::loans::repayments::{
    PaymentStatus, RepaymentPlan, RepaymentRequest, completes_loan, payment_status, plan_repayment,
};
use crate::domain::loans::schedule::Repayment;
use crate::domain::loans::wire;
use crate::domain::loans::workflow::{self, LoanAction, LoanEffect, LoanStatus};
use crate::domain::org::OrgId;
use crate::services::audit::{self, Actor};
use crate::services::loans::record::{self, LoanRecord};
use crate::services::loans::repayments::RepaymentOut;
use crate::services::uploads::{self, RegisterError};
use crate::storage::Storage;
use crate::storage::content::is_evidence_content_type;
use crate::storage::key::{KeyError, ObjectKey};
use crate::timefmt;

/// Why a repayment was refused.
#[derive(Debug, thiserror::Error)]
pub enum RepaymentError {
    #[error("{0}")]
    Rule(#[from] LoanError),
    #[error("loan application not found")]
    NotFound,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The evidence columns of the new row (all null without evidence).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Evidence {
    pub file_name: Option<String>,
    pub storage_path_or_url: Option<String>,
    pub storage_provider: Option<String>,
    pub storage_bucket: Option<String>,
    pub storage_object_key: Option<String>,
    pub content_type: Option<String>,
    pub size_bytes: Option<i64>,
    pub checksum: Option<String>,
}

/// The `evidence_*` form fields that describe an object uploaded through the upload URL.
#[derive(Clone, Debug, Default)]
pub struct EvidenceKey<'a> {
    pub key: &'a str,
    pub file_name: Option<&'a str>,
    pub provider: Option<&'a str>,
    pub bucket: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub size_bytes: Option<i64>,
    pub checksum: Option<&'a str>,
}

/// 400 `invalid_evidence_type` unless the content type is a PDF or image type.
pub fn check_evidence_content_type(content_type: &str) -> Result<(), LoanError> {
    if is_evidence_content_type(content_type) {
        Ok(())
    } else {
        Err(LoanError::new(
            "invalid_evidence_type",
            "Evidence must be a PDF or image",
            json!({ "content_type": content_type }),
        ))
    }
}

fn invalid_key(message: &'static str) -> LoanError {
    LoanError::bare("invalid_storage_key", message)
}

/// The legacy checks of an evidence key, in their order: a URL, then the `orgs/<org>/` scope
/// (plus the storage layer's segment rules: no `..`, no empty segments), then the content
/// type (required, PDF or image), then provider and bucket (the ones sent, else the
/// deployment's; `gcs` needs a bucket). The file name defaults to the key's last segment.
pub fn evidence_from_key(
    storage: &Storage,
    org: &OrgId,
    sent: &EvidenceKey<'_>,
) -> Result<Evidence, LoanError> {
    let key = ObjectKey::parse_for_org(sent.key, org.as_str()).map_err(|e| match e {
        KeyError::Url => invalid_key("evidence_storage_key must be an object key, not a URL"),
        KeyError::NotScoped => invalid_key("evidence_storage_key is not scoped to org"),
        KeyError::Invalid => invalid_key("evidence_storage_key is not a valid object key"),
    })?;
    let content_type = sent.content_type.filter(|c| !c.is_empty()).ok_or_else(|| {
        LoanError::bare(
            "missing_evidence_content_type",
            "evidence_content_type is required for external uploads",
        )
    })?;
    check_evidence_content_type(content_type)?;
    let target = uploads::resolve_target(
        storage,
        org.as_str(),
        key.as_str(),
        sent.provider,
        sent.bucket,
    )
    .map_err(|e| match e {
        RegisterError::MissingBucket => LoanError::bare(
            "missing_storage_bucket",
            "evidence_storage_bucket is required for GCS uploads",
        ),
        RegisterError::UnknownProvider => LoanError::bare(
            "invalid_storage_provider",
            "evidence_storage_provider must be 'local' or 'gcs'",
        ),
        _ => invalid_key("evidence_storage_key is not scoped to org"),
    })?;
    let file_name = sent
        .file_name
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .or_else(|| key.segments().last().map(str::to_owned));
    Ok(Evidence {
        file_name,
        storage_path_or_url: Some(key.as_str().to_owned()),
        storage_provider: Some(target.provider.as_str().to_owned()),
        storage_bucket: target.bucket,
        storage_object_key: Some(key.into_string()),
        content_type: Some(content_type.to_owned()),
        size_bytes: sent.size_bytes,
        checksum: sent.checksum.map(str::to_owned),
    })
}

/// The loan, locked until the transaction ends: two repayments of one loan are planned one
/// after the other, so neither can charge the same instalment twice.
pub async fn lock(
    conn: &mut PgConnection,
    org: &OrgId,
    loan_id: Uuid,
) -> Result<LoanRecord, RepaymentError> {
    record::load_for_update(conn, org, loan_id)
        .await?
        .ok_or(RepaymentError::NotFound)
}

/// The date the payment status of a new repayment is computed at: its payment date, or the
/// latest payment date already recorded when that is later.
///
/// Deliberate difference (Q16): the legacy service computed the instalment from the
/// repayments dated on or before the new payment date only, so a back-dated repayment
/// recorded after later-dated ones was charged instalments already paid. Here every recorded
/// repayment counts; for payments recorded in date order (every golden sample) nothing
/// changes.
fn status_date(repayments: &[Repayment], payment_date: Date) -> Date {
    repayments
        .iter()
        .map(|r| r.payment_date)
        .max()
        .map_or(payment_date, |latest| latest.max(payment_date))
}

/// What the new repayment must be (§5.10 steps 4–9): the next instalment plus the extras,
/// checked against what remains and against the amounts the caller asserted.
pub async fn plan(
    conn: &mut PgConnection,
    loan: &LoanRecord,
    payment_date: Date,
    request: &RepaymentRequest,
) -> Result<RepaymentPlan, RepaymentError> {
    let repayments = repayments_of(conn, &loan.org_id, loan.id).await?;
    let status = payment_status(
        &stored(loan),
        &repayments,
        status_date(&repayments, payment_date),
    )?;
    Ok(plan_repayment(&status, request)?)
}

/// 400 `invalid_repayment` unless the loan is ACTIVE or COMPLETED.
pub fn check_status(loan: &LoanRecord) -> Result<(), LoanError> {
    workflow::transition(
        loan.status,
        LoanAction::RecordRepayment { completes: false },
    )
    .map(|_| ())
}

/// The `RepaymentRecorded` answer (§3.8): the row, then the payment status after it.
#[derive(Clone, Debug, Serialize)]
pub struct Recorded {
    pub repayment: RepaymentOut,
    #[serde(with = "wire::date_opt")]
    pub next_payment_date: Option<Date>,
    pub next_payment_amount: Option<PyDec>,
    pub next_principal_due: Option<PyDec>,
    pub next_interest_due: Option<PyDec>,
    pub principal_remaining: PyDec,
    pub interest_remaining: PyDec,
    pub total_remaining: PyDec,
    /// Not on the wire: whether this repayment completed the loan.
    #[serde(skip)]
    pub completed: bool,
    #[serde(skip)]
    pub org_membership_id: Uuid,
}

impl Recorded {
    fn new(
        repayment: RepaymentOut,
        s: PaymentStatus,
        completed: bool,
        org_membership_id: Uuid,
    ) -> Self {
        Self {
            repayment,
            next_payment_date: s.next_payment_date,
            next_payment_amount: s.next_payment_amount,
            next_principal_due: s.next_principal_due,
            next_interest_due: s.next_interest_due,
            principal_remaining: s.principal_remaining,
            interest_remaining: s.interest_remaining,
            total_remaining: s.total_remaining,
            completed,
            org_membership_id,
        }
    }
}

fn snapshot(r: &RepaymentOut, recorded_by: Uuid) -> Value {
    json!({
        "id": r.id.to_string(),
        "org_id": r.org_id,
        "loan_application_id": r.loan_application_id.to_string(),
        "amount": py_str(&r.amount),
        "principal_amount": py_str(&r.principal_amount),
        "interest_amount": py_str(&r.interest_amount),
        "payment_date": wire::iso_date(r.payment_date),
        "recorded_by_user_id": recorded_by.to_string(),
        "evidence_file_name": r.evidence_file_name,
        "evidence_storage_path_or_url": r.evidence_storage_path_or_url,
        "evidence_storage_provider": r.evidence_storage_provider,
        "evidence_storage_bucket": r.evidence_storage_bucket,
        "evidence_storage_object_key": r.evidence_storage_object_key,
        "evidence_content_type": r.evidence_content_type,
        "evidence_size_bytes": r.evidence_size_bytes,
        "evidence_checksum": r.evidence_checksum,
        "created_at": timefmt::iso_offset(r.created_at),
    })
}

/// Inserts the planned repayment, completes the loan when it is paid (the sum of all its
/// repayments reaches `total_payable_amount`, or every instalment of its schedule is paid:
/// `domain::loans::repayments::completes_loan`), and writes `loan_application.completed` then
/// `loan_repayment.recorded` with the real ids. Reservations are left as they are (ACTIVE).
pub async fn insert(
    conn: &mut PgConnection,
    actor: Actor<'_>,
    org: &OrgId,
    loan: &LoanRecord,
    payment_date: Date,
    plan: &RepaymentPlan,
    evidence: &Evidence,
) -> Result<Recorded, RepaymentError> {
    let org_id = loan.org_id.as_str();
    let id = Uuid::new_v4();
    let created_at: OffsetDateTime = sqlx::query_scalar(
        "INSERT INTO loan_repayments (id, org_id, loan_application_id, amount, principal_amount, \
         interest_amount, payment_date, recorded_by_user_id, evidence_file_name, \
         evidence_storage_path_or_url, evidence_storage_provider, evidence_storage_bucket, \
         evidence_storage_object_key, evidence_content_type, evidence_size_bytes, \
         evidence_checksum) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
         $14, $15, $16) RETURNING created_at",
    )
    .bind(id)
    .bind(org_id)
    .bind(loan.id)
    .bind(plan.amount)
    .bind(plan.principal_amount)
    .bind(plan.interest_amount)
    .bind(payment_date)
    .bind(actor.user_id)
    .bind(&evidence.file_name)
    .bind(&evidence.storage_path_or_url)
    .bind(&evidence.storage_provider)
    .bind(&evidence.storage_bucket)
    .bind(&evidence.storage_object_key)
    .bind(&evidence.content_type)
    .bind(evidence.size_bytes)
    .bind(&evidence.checksum)
    .fetch_one(&mut *conn)
    .await?;
    let six = |d: Decimal| at_column_scale(d, 6);
    let repayment = RepaymentOut {
        id,
        org_id: org_id.to_owned(),
        loan_application_id: loan.id,
        amount: six(plan.amount),
        principal_amount: six(plan.principal_amount),
        interest_amount: six(plan.interest_amount),
        payment_date,
        // The create answer carries no recorder name (Q12); the list shows the e-mail.
        recorded_by_name: None,
        evidence_file_name: evidence.file_name.clone(),
        evidence_storage_path_or_url: evidence.storage_path_or_url.clone(),
        evidence_storage_provider: evidence.storage_provider.clone(),
        evidence_storage_bucket: evidence.storage_bucket.clone(),
        evidence_storage_object_key: evidence.storage_object_key.clone(),
        evidence_content_type: evidence.content_type.clone(),
        evidence_size_bytes: evidence.size_bytes,
        evidence_checksum: evidence.checksum.clone(),
        created_at,
    };
    let repayments = repayments_of(conn, org_id, loan.id).await?;
    let terms = stored(loan);
    let completes = completes_loan(
        loan.status,
        loan.total_payable_amount,
        &terms.base_schedule()?,
        &repayments,
    );
    let step = workflow::transition(loan.status, LoanAction::RecordRepayment { completes })?;
    if step.changes_status() {
        sqlx::query(
            "UPDATE loan_applications SET status = $3, version = version + 1, updated_at = now() \
             WHERE org_id = $1 AND id = $2",
        )
        .bind(org_id)
        .bind(loan.id)
        .bind(step.to.as_str())
        .execute(&mut *conn)
        .await?;
    }
    for effect in &step.effects {
        if let LoanEffect::Audit(action) = effect {
            let entry = if *action == "loan_repayment.recorded" {
                actor.entry(
                    action,
                    "loan_repayment",
                    id,
                    None,
                    Some(snapshot(&repayment, actor.user_id)),
                )
            } else {
                let after = record::load(conn, org, loan.id)
                    .await?
                    .ok_or(RepaymentError::NotFound)?;
                actor.entry(
                    action,
                    "loan_application",
                    loan.id,
                    Some(loan.audit_snapshot()),
                    Some(after.audit_snapshot()),
                )
            };
            audit::record(conn, entry).await?;
        }
    }
    let status = payment_status(&terms, &repayments, status_date(&repayments, payment_date))?;
    Ok(Recorded::new(
        repayment,
        status,
        step.to == LoanStatus::Completed && step.changes_status(),
        loan.org_membership_id,
    ))
}
