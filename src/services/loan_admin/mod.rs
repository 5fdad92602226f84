//! Loan administration (loan-admin contract): the org-side list and queues, the HR, finance
//! and legal workflow with activation, documents and repayments as reviewers see them.
//! Every function takes `&mut PgConnection` and never commits.

pub mod detail;
pub mod documents;
pub mod edit;
pub mod repayments;
pub mod stage_documents;
pub mod stages;
pub mod summaries;
pub mod workflow;
