//! Validated domain types.

pub mod decimal;
pub mod email;
pub mod geo;
pub mod loans;
pub mod membership;
pub mod org;
pub mod org_policy;
pub mod people;
pub mod permissions;
pub mod profile;
pub mod stock;
