//! Validated domain types.

pub mod geo;
pub mod org;
