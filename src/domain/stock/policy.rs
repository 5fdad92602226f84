//! The four stock columns of `org_settings` (contract §8) and their snapshot on the wire.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::decimal::serde_py_str_opt;

/// The org's stock rules; serializes as `StockPolicySnapshot` (keys in wire order, the years
/// at the column scale: `"2.50"`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockPolicy {
    pub min_vested_shares_to_exercise: Option<i64>,
    pub enforce_min_vested_to_exercise: bool,
    /// `numeric(6,2)`: keep the column scale so messages read `3.00`.
    #[serde(with = "serde_py_str_opt")]
    pub min_service_duration_years: Option<Decimal>,
    pub enforce_service_duration_rule: bool,
}

impl StockPolicy {
    /// Whether a settings update changes the stock policy, comparing values numerically:
    /// re-sending `2.5` when `2.50` is stored is no change, so `policy_version` does not move
    /// (the legacy service compared the texts and bumped it, Q12).
    pub fn differs_from(&self, other: &Self) -> bool {
        self != other
    }
}
