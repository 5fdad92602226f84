//! The loan domain's database side (contract `domain-loans.md`): the shared row model
//! ([`record`]) that every loan route reads.
//!
//! Every function takes `&mut PgConnection` and never commits; the handler owns the
//! transaction.
//!
//! - [`record`]: the `loan_applications` row as [`record::LoanRecord`], its loaders, the
//!   stage and document rows of the views, and the borrower's wire shape
//!   [`record::SelfLoan`].

pub mod record;
