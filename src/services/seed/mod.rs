//! `sole seed`: orgs, system roles, the seed admin and (outside production) demo data.
//!
//! Everything is find-or-create and then brought in step with the seed data ("convergent"):
//! a second run changes nothing, a run after a change of `seeds/*.yaml` or of the settings
//! updates exactly what changed, and every update is part of the caller's transaction (the
//! legacy seed only flushed its updates, so they were lost unless something was also created).
//!
//! These functions take `&mut PgConnection` and never commit; `commands::seed` owns the
//! transaction, takes the advisory lock first ([`lock`]) and commits once.

pub mod apply;
pub mod data;
pub mod plan;

pub use apply::{OrgReport, lock, not_migrated, seed_org};
pub use data::SeedData;
pub use plan::{AdminSeed, PasswordCache, PlannedOrg, SeedPlan, derived_org_name};

/// `pg_advisory_xact_lock` key serialising seed runs ("sole-seed" in ASCII).
pub const LOCK_KEY: i64 = 0x736f_6c65_7365_6564;
