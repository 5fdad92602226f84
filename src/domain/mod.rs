//! Validated domain types.

pub mod geo;
pub mod membership;
pub mod org;
pub mod permissions;
