//! Validated domain types.

pub mod membership;
pub mod org;
pub mod permissions;
