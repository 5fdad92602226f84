//! The loan domain's database side (contract `domain-loans.md`): the shared row model
//! ([`record`]) that every loan route reads, and the operations built on it.
//!
//! Every function takes `&mut PgConnection` and never commits; the handler owns the
//! transaction. The pure rules live in `domain::loans`.
//!
//! - [`record`]: the `loan_applications` row as [`record::LoanRecord`], its loaders, the
//!   stage and document rows of the views, and the borrower's wire shape
//!   [`record::SelfLoan`].
//! - [`dashboard`]: the org loan dashboard's aggregates.

pub mod dashboard;
pub mod record;
