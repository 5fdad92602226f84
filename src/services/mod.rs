//! Business operations. Every function takes `&mut PgConnection` and never commits: the HTTP
//! handler (or command) that owns the transaction commits once, after writing the audit row.

pub mod announcements;
pub mod audit;
pub mod identities;
pub mod mfa;
pub mod org_settings;
pub mod orgs;
pub mod permissions;
pub mod roles;
pub mod users;
