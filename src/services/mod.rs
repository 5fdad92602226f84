//! Business operations. Every function takes `&mut PgConnection` and never commits: the HTTP
//! handler (or command) that owns the transaction commits once, after writing the audit row.

pub mod acls;
pub mod announcements;
pub mod assets;
pub mod audit;
pub mod audit_logs;
pub mod departments;
pub mod documents;
pub mod identities;
pub mod loan_admin;
pub mod loans;
pub mod members;
pub mod mfa;
pub mod onboarding;
pub mod org_settings;
pub mod orgs;
pub mod permissions;
pub mod profiles;
pub mod roles;
pub mod seed;
pub mod self_context;
pub mod sessions;
pub mod stock;
pub mod uploads;
pub mod user_summary;
pub mod users;
