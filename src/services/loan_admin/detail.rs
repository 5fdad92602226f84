//! `LoanDetail` (loan-admin §3.4): the 55 keys of the admin detail, the status and edit
//! answers and the `loan_application` of the stage views, with the payment status at today.

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::documents::{self, LoanDocument};
use super::stages::{self, Stage};
use super::summaries::{self, Applicant};
use crate::domain::decimal::{PyDec, at_column_scale, serde_py_str};
use crate::domain::loans::repayments::payment_status;
use crate::domain::loans::schedule::{Repayment, StoredLoan};
use crate::domain::loans::terms::{InterestType, RepaymentMethod, SelectionMode};
use crate::domain::loans::wire;
use crate::domain::loans::workflow::{DocumentType, LoanStatus, workflow_flags};
use crate::services::loans::record::LoanRecord;
use crate::timefmt;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LoanDetail {
    pub id: Uuid,
    pub org_id: String,
    pub org_membership_id: Uuid,
    pub status: LoanStatus,
    pub decision_reason: Option<String>,
    #[serde(with = "timefmt::z::option")]
    pub activation_date: Option<OffsetDateTime>,
    #[serde(with = "wire::date_opt")]
    pub election_83b_due_date: Option<Date>,
    pub version: i32,
    #[serde(with = "wire::date")]
    pub as_of_date: Date,
    pub selection_mode: SelectionMode,
    #[serde(with = "serde_py_str")]
    pub selection_value_snapshot: Decimal,
    pub shares_to_exercise: i64,
    pub total_exercisable_shares_snapshot: i64,
    #[serde(with = "serde_py_str")]
    pub purchase_price: Decimal,
    #[serde(with = "serde_py_str")]
    pub down_payment_amount: Decimal,
    #[serde(with = "serde_py_str")]
    pub loan_principal: Decimal,
    pub policy_version_snapshot: Option<i32>,
    pub interest_type: InterestType,
    pub repayment_method: RepaymentMethod,
    pub term_months: i32,
    #[serde(with = "serde_py_str")]
    pub nominal_annual_rate_percent: Decimal,
    #[serde(with = "serde_py_str")]
    pub estimated_monthly_payment: Decimal,
    #[serde(with = "serde_py_str")]
    pub total_payable_amount: Decimal,
    #[serde(with = "serde_py_str")]
    pub total_interest_amount: Decimal,
    #[serde(with = "wire::date_opt")]
    pub next_payment_date: Option<Date>,
    pub next_payment_amount: Option<PyDec>,
    pub next_principal_due: Option<PyDec>,
    pub next_interest_due: Option<PyDec>,
    pub principal_remaining: Option<PyDec>,
    pub interest_remaining: Option<PyDec>,
    pub total_remaining: Option<PyDec>,
    pub missed_payment_count: Option<usize>,
    pub missed_payment_amount_total: Option<PyDec>,
    pub missed_payment_dates: Option<Vec<String>>,
    pub quote_inputs_snapshot: Value,
    pub quote_option_snapshot: Value,
    pub allocation_strategy: String,
    pub allocation_snapshot: Value,
    pub org_settings_snapshot: Value,
    pub eligibility_result_snapshot: Value,
    pub marital_status_snapshot: Option<String>,
    pub spouse_first_name: Option<String>,
    pub spouse_middle_name: Option<String>,
    pub spouse_last_name: Option<String>,
    pub spouse_email: Option<String>,
    pub spouse_phone: Option<String>,
    pub spouse_address: Option<String>,
    pub workflow_stages: Vec<Stage>,
    pub documents: Vec<LoanDocument>,
    pub has_share_certificate: Option<bool>,
    pub has_83b_election: Option<bool>,
    pub days_until_83b_due: Option<i64>,
    pub applicant: Option<Applicant>,
    #[serde(with = "timefmt::z")]
    pub created_at: OffsetDateTime,
    #[serde(with = "timefmt::z")]
    pub updated_at: OffsetDateTime,
}

/// The loan's repayments as the schedule rules read them.
pub async fn repayments_of(
    conn: &mut PgConnection,
    org_id: &str,
    loan_id: Uuid,
) -> sqlx::Result<Vec<Repayment>> {
    let rows: Vec<(Date, OffsetDateTime, Decimal, Decimal, Decimal)> = sqlx::query_as(
        "SELECT payment_date, created_at, amount, principal_amount, interest_amount \
         FROM loan_repayments WHERE org_id = $1 AND loan_application_id = $2 \
         ORDER BY payment_date, created_at, id",
    )
    .bind(org_id)
    .bind(loan_id)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(payment_date, created_at, amount, principal_amount, interest_amount)| Repayment {
                payment_date,
                created_at,
                amount: at_column_scale(amount, 6),
                principal_amount: at_column_scale(principal_amount, 6),
                interest_amount: at_column_scale(interest_amount, 6),
            },
        )
        .collect())
}

/// What the schedule rules need of a loan row.
pub fn stored(loan: &LoanRecord) -> StoredLoan {
    StoredLoan {
        loan_id: loan.id,
        loan_principal: at_column_scale(loan.loan_principal, 6),
        nominal_annual_rate_percent: at_column_scale(loan.nominal_annual_rate_percent, 4),
        term_months: loan.term_months,
        repayment_method: loan.repayment_method,
        activation_date: loan.activation_date,
        as_of_date: loan.as_of_date,
    }
}

/// The detail of a loaded loan on `today`.
pub async fn detail(
    conn: &mut PgConnection,
    loan: &LoanRecord,
    today: Date,
) -> sqlx::Result<LoanDetail> {
    let org_id = loan.org_id.as_str();
    let stages = stages::of_loan(conn, org_id, loan.id).await?;
    let documents = documents::of_loan(conn, org_id, loan.id).await?;
    let repayments = repayments_of(conn, org_id, loan.id).await?;
    let applicant = summaries::applicant(conn, org_id, loan.org_membership_id).await?;
    let status = payment_status(&stored(loan), &repayments, today).ok();
    let types: Vec<DocumentType> = documents.iter().map(|d| d.document_type).collect();
    let (has_share_certificate, has_83b_election, days_until_83b_due) = workflow_flags(
        loan.activation_date,
        loan.election_83b_due_date,
        &types,
        today,
    );
    let money = |d: Decimal| at_column_scale(d, 6);
    Ok(LoanDetail {
        id: loan.id,
        org_id: loan.org_id.clone(),
        org_membership_id: loan.org_membership_id,
        status: loan.status,
        decision_reason: loan.decision_reason.clone(),
        activation_date: loan.activation_date,
        election_83b_due_date: loan.election_83b_due_date,
        version: loan.version,
        as_of_date: loan.as_of_date,
        selection_mode: loan.selection_mode,
        selection_value_snapshot: money(loan.selection_value_snapshot),
        shares_to_exercise: loan.shares_to_exercise,
        total_exercisable_shares_snapshot: loan.total_exercisable_shares_snapshot,
        purchase_price: money(loan.purchase_price),
        down_payment_amount: money(loan.down_payment_amount),
        loan_principal: money(loan.loan_principal),
        policy_version_snapshot: loan.policy_version_snapshot,
        interest_type: loan.interest_type,
        repayment_method: loan.repayment_method,
        term_months: loan.term_months,
        nominal_annual_rate_percent: at_column_scale(loan.nominal_annual_rate_percent, 4),
        estimated_monthly_payment: money(loan.estimated_monthly_payment),
        total_payable_amount: money(loan.total_payable_amount),
        total_interest_amount: money(loan.total_interest_amount),
        next_payment_date: status.as_ref().and_then(|s| s.next_payment_date),
        next_payment_amount: status.as_ref().and_then(|s| s.next_payment_amount),
        next_principal_due: status.as_ref().and_then(|s| s.next_principal_due),
        next_interest_due: status.as_ref().and_then(|s| s.next_interest_due),
        principal_remaining: status.as_ref().map(|s| s.principal_remaining),
        interest_remaining: status.as_ref().map(|s| s.interest_remaining),
        total_remaining: status.as_ref().map(|s| s.total_remaining),
        missed_payment_count: status.as_ref().map(|s| s.missed_payment_count),
        missed_payment_amount_total: status.as_ref().map(|s| s.missed_payment_amount_total),
        missed_payment_dates: status.as_ref().map(|s| {
            s.missed_payment_dates
                .iter()
                .map(|d| wire::iso_date(*d))
                .collect()
        }),
        quote_inputs_snapshot: loan.quote_inputs_snapshot.clone(),
        quote_option_snapshot: loan.quote_option_snapshot.clone(),
        allocation_strategy: loan.allocation_strategy.clone(),
        allocation_snapshot: loan.allocation_snapshot.clone(),
        org_settings_snapshot: loan.org_settings_snapshot.clone(),
        eligibility_result_snapshot: loan.eligibility_result_snapshot.clone(),
        marital_status_snapshot: loan.marital_status_snapshot.clone(),
        spouse_first_name: loan.spouse_first_name.clone(),
        spouse_middle_name: loan.spouse_middle_name.clone(),
        spouse_last_name: loan.spouse_last_name.clone(),
        spouse_email: loan.spouse_email.clone(),
        spouse_phone: loan.spouse_phone.clone(),
        spouse_address: loan.spouse_address.clone(),
        workflow_stages: stages,
        documents,
        has_share_certificate,
        has_83b_election,
        days_until_83b_due,
        applicant,
        created_at: loan.created_at,
        updated_at: loan.updated_at,
    })
}
