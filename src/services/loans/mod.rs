//! The loan domain's database side (contract `domain-loans.md`): the shared row model
//! ([`record`]) that every loan route reads, and the operations built on it.
//!
//! Every function takes `&mut PgConnection` and never commits; the handler owns the
//! transaction. The pure rules live in `domain::loans`.
//!
//! - [`record`]: the `loan_applications` row as [`record::LoanRecord`], its loaders, the
//!   stage and document rows of the views, and the borrower's wire shape
//!   [`record::SelfLoan`].
//! - [`quote`]: quotes over the stock engine, the loan policy and the PBGC rate.
//! - [`applications`]: the borrower's create, update, submit, cancel and list.
//! - [`pbgc`]: the global PBGC rate table.
//! - [`dashboard`]: the org loan dashboard's aggregates.
//! - [`borrower`], [`documents`]: the borrower's loan views, schedules, repayments, exports
//!   and 83(b) documents.

pub mod applications;
pub mod borrower;
pub mod dashboard;
pub mod documents;
pub mod pbgc;
pub mod quote;
pub mod record;
pub mod repayments;

use crate::domain::loans::LoanError;

/// Why a loan operation refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum LoanFailure {
    /// A legacy domain error (400 with its code, message and details).
    #[error(transparent)]
    Domain(#[from] LoanError),
    /// The application is not the caller's (404 `Loan application not found`).
    #[error("loan application not found")]
    NotFound,
    /// The optimistic version check lost (409 `concurrent_update`).
    #[error("concurrent update")]
    Conflict,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}
