//! Validated domain types.

pub mod org;
