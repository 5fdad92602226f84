//! Loan operations over the database: every function takes `&mut PgConnection` and never
//! commits; the pure rules live in `domain::loans`.

pub mod dashboard;
