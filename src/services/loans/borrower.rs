//! The borrower's views of one of their loans (loans contract §2.10–§2.13): the ownership
//! check every `/me/loans/{id}` route starts with, the repayment list, and the remaining and
//! what-if schedules built by `domain::loans::schedule` from the stored loan and its
//! repayments.

use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::record::{self, LoanRecord};
use crate::domain::loans::LoanError;
use crate::domain::loans::schedule::{
    Repayment, Schedule, StoredLoan, WhatIfRequest, remaining_schedule, what_if_schedule,
};
use crate::domain::org::OrgId;

pub const MEMBERSHIP_NOT_FOUND: &str = "Membership not found";
pub const LOAN_NOT_FOUND: &str = "Loan application not found";

/// Why a borrower view could not be served.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// 404 with this detail.
    #[error("{0}")]
    NotFound(&'static str),
    /// 400 with the rule's code, message and details.
    #[error(transparent)]
    Rule(#[from] LoanError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The caller's membership in the org, or 404 `Membership not found` (a superuser acting in
/// an org where its user id has none).
pub async fn membership_of(
    conn: &mut PgConnection,
    org: &OrgId,
    user_id: Uuid,
) -> Result<Uuid, ViewError> {
    let id: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM org_memberships WHERE org_id = $1 AND user_id = $2")
            .bind(org.as_str())
            .bind(user_id)
            .fetch_optional(conn)
            .await?;
    id.ok_or(ViewError::NotFound(MEMBERSHIP_NOT_FOUND))
}

/// The loan `loan_id` of the caller, any status; another member's or another org's loan is
/// 404 `Loan application not found`.
pub async fn own_loan(
    conn: &mut PgConnection,
    org: &OrgId,
    user_id: Uuid,
    loan_id: Uuid,
) -> Result<LoanRecord, ViewError> {
    let membership = membership_of(conn, org, user_id).await?;
    match record::load(conn, org, loan_id).await? {
        Some(loan) if loan.org_membership_id == membership => Ok(loan),
        _ => Err(ViewError::NotFound(LOAN_NOT_FOUND)),
    }
}

/// What the schedule rules read from the row.
pub fn stored_loan(loan: &LoanRecord) -> StoredLoan {
    StoredLoan {
        loan_id: loan.id,
        loan_principal: loan.loan_principal,
        nominal_annual_rate_percent: loan.nominal_annual_rate_percent,
        term_months: loan.term_months,
        repayment_method: loan.repayment_method,
        activation_date: loan.activation_date,
        as_of_date: loan.as_of_date,
    }
}

/// The loan's repayments dated on or before `through`, as the waterfall reads them.
pub async fn repayments_through(
    conn: &mut PgConnection,
    org: &OrgId,
    loan_id: Uuid,
    through: Date,
) -> sqlx::Result<Vec<Repayment>> {
    let rows: Vec<(Date, OffsetDateTime, Decimal, Decimal, Decimal)> = sqlx::query_as(
        "SELECT payment_date, created_at, amount, principal_amount, interest_amount \
         FROM loan_repayments WHERE org_id = $1 AND loan_application_id = $2 \
         AND payment_date <= $3 ORDER BY payment_date, created_at, id",
    )
    .bind(org.as_str())
    .bind(loan_id)
    .bind(through)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(payment_date, created_at, amount, principal_amount, interest_amount)| Repayment {
                payment_date,
                created_at,
                amount,
                principal_amount,
                interest_amount,
            },
        )
        .collect())
}

/// The remaining schedule at `as_of` (§5.3): what is still due after the repayments dated on
/// or before it.
pub async fn remaining(
    conn: &mut PgConnection,
    org: &OrgId,
    loan: &LoanRecord,
    as_of: Date,
    include_paid: bool,
) -> Result<Schedule, ViewError> {
    let repayments = repayments_through(conn, org, loan.id, as_of).await?;
    Ok(remaining_schedule(
        &stored_loan(loan),
        &repayments,
        as_of,
        include_paid,
    )?)
}

/// A what-if schedule (§5.4): the loan's terms with the request's overrides; without a
/// principal, what is left after the repayments dated on or before the request's date (or
/// `today`). Nothing is stored.
pub async fn what_if(
    conn: &mut PgConnection,
    org: &OrgId,
    loan: &LoanRecord,
    request: &WhatIfRequest,
    today: Date,
) -> Result<Schedule, ViewError> {
    let through = request.as_of_date.unwrap_or(today);
    let repayments = repayments_through(conn, org, loan.id, through).await?;
    Ok(what_if_schedule(
        &stored_loan(loan),
        &repayments,
        request,
        today,
    )?)
}

pub use super::repayments::RepaymentOut;

/// `LoanRepaymentListResponse`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RepaymentList {
    pub loan_id: Uuid,
    pub total: usize,
    pub items: Vec<RepaymentOut>,
}

/// Every repayment of the loan, any payment date, newest first.
pub async fn repayments(
    conn: &mut PgConnection,
    org: &OrgId,
    loan_id: Uuid,
) -> sqlx::Result<RepaymentList> {
    let items = super::repayments::of_loan(conn, org.as_str(), loan_id).await?;
    Ok(RepaymentList {
        loan_id,
        total: items.len(),
        items,
    })
}
