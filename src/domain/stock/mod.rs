//! The stock domain as pure rules (contract `domain-stock.md`): grants and their schedule
//! rules, the vesting engine, exercise eligibility, reservations arithmetic and the dashboard
//! aggregations. No SQL, no HTTP, no clock: every figure takes the date it is computed for.
//!
//! - [`values`]: the legacy strings (value sets, reason codes, messages).
//! - [`schedule`]: create/preview/update rules (§4.1, §3.5) with the exact 400 texts.
//! - [`vesting`]: grants, events and the engine (§4.2–§4.3).
//! - [`eligibility`]: §5, and the dashboard buckets.
//! - [`reservations`]: §6 arithmetic and the submit-time availability check.
//! - [`policy`]: the four stock settings and their snapshot (§8).
//! - [`summary`]: the member summary (§3.6).
//! - [`dashboard`]: the org dashboard (§9.1) and the stock parts of the self dashboard (§9.2).
//! - [`record`]: a stored grant, its `GrantOut` and audit snapshot; the preview answer.
//! - [`landing`]: the wire shape of the self dashboard (the workspace landing page).
//! - [`wire`]: serde helpers (dates, timestamps, ordered count maps).

pub mod dashboard;
pub mod eligibility;
pub mod landing;
pub mod policy;
pub mod record;
pub mod reservations;
pub mod schedule;
pub mod summary;
pub mod values;
pub mod vesting;
pub mod wire;

#[cfg(test)]
mod tests;
