//! The org loan dashboard (`GET /org/dashboard/loan-summary`, loans contract §10), assembled
//! from aggregates the caller loaded. Everything but the two 30-day windows describes the
//! current state of the org's loans; `as_of` does not rewind statuses.

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Map, Value};
use time::{Date, Duration, OffsetDateTime, Time};

use super::workflow::{LoanStatus, StageType};
use crate::domain::decimal::serde_py_str;

/// The `[start, end]` window of the "last 30 days" counts: `end` is the last microsecond of
/// `as_of` (UTC), `start` 30 days before it.
pub fn window(as_of: Date) -> (OffsetDateTime, OffsetDateTime) {
    let last = Time::from_hms_micro(23, 59, 59, 999_999).unwrap_or(Time::MIDNIGHT);
    let end = as_of.with_time(last).assume_utc();
    (end - Duration::days(30), end)
}

/// What the dashboard reads from the database. Sums are `coalesce(sum(col), 0)`: the column
/// scale (`2500.000000`), or a bare `0` when no row matched.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoanAggregates {
    /// `(status, count)` in the order to show (by status name).
    pub status_counts: Vec<(String, i64)>,
    /// `(stage_type, count)` of the stages not COMPLETED, any loan status, by stage name.
    pub open_stage_counts: Vec<(String, i64)>,
    pub created_in_window: i64,
    pub activated_in_window: i64,
    pub active_principal_sum: Decimal,
    pub active_shares_sum: i64,
    pub completed_shares_sum: i64,
    /// Σ `total_payable_amount` of ACTIVE and COMPLETED loans.
    pub payable_sum: Decimal,
    /// Σ `amount` / Σ `interest_amount` of the repayments of loans now ACTIVE or COMPLETED.
    pub paid_sum: Decimal,
    pub interest_sum: Decimal,
    pub active_fixed: i64,
    pub active_variable: i64,
    pub active_balloon: i64,
    pub active_principal_and_interest: i64,
}

/// `LoanDashboardSummary`, keys in wire order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LoanDashboard {
    pub org_id: String,
    #[serde(with = "super::wire::date")]
    pub as_of: Date,
    pub total_loans: i64,
    pub status_counts: Map<String, Value>,
    pub open_stage_counts: Map<String, Value>,
    pub created_last_30_days: i64,
    pub activated_last_30_days: i64,
    pub total_applications: i64,
    pub approved_count: i64,
    pub draft_count: i64,
    #[serde(with = "serde_py_str")]
    pub active_loan_principal_sum: Decimal,
    #[serde(with = "serde_py_str")]
    pub sum_amount_paid: Decimal,
    #[serde(with = "serde_py_str")]
    pub sum_amount_owed: Decimal,
    #[serde(with = "serde_py_str")]
    pub interest_earned_total: Decimal,
    pub active_loan_total_shares: i64,
    pub completed_loan_total_shares: i64,
    pub pending_hr: i64,
    pub pending_finance: i64,
    pub pending_legal: i64,
    pub active_fixed_count: i64,
    pub active_variable_count: i64,
    pub active_balloon_count: i64,
    pub active_principal_and_interest_count: i64,
}

fn count_of(counts: &[(String, i64)], key: &str) -> i64 {
    counts
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, n)| *n)
        .sum()
}

fn count_map(counts: &[(String, i64)]) -> Map<String, Value> {
    counts
        .iter()
        .map(|(k, n)| (k.clone(), Value::from(*n)))
        .collect()
}

impl LoanDashboard {
    pub fn new(org_id: &str, as_of: Date, agg: &LoanAggregates) -> Self {
        let total: i64 = agg.status_counts.iter().map(|(_, n)| *n).sum();
        let owed = agg.payable_sum - agg.paid_sum;
        Self {
            org_id: org_id.to_owned(),
            as_of,
            total_loans: total,
            status_counts: count_map(&agg.status_counts),
            open_stage_counts: count_map(&agg.open_stage_counts),
            created_last_30_days: agg.created_in_window,
            activated_last_30_days: agg.activated_in_window,
            total_applications: total,
            approved_count: count_of(&agg.status_counts, LoanStatus::Active.as_str())
                + count_of(&agg.status_counts, LoanStatus::Completed.as_str()),
            draft_count: count_of(&agg.status_counts, LoanStatus::Draft.as_str()),
            active_loan_principal_sum: agg.active_principal_sum,
            sum_amount_paid: agg.paid_sum,
            // A negative balance (overpaid loans) shows as a bare zero.
            sum_amount_owed: if owed.is_sign_negative() && !owed.is_zero() {
                Decimal::ZERO
            } else {
                owed
            },
            interest_earned_total: agg.interest_sum,
            active_loan_total_shares: agg.active_shares_sum,
            completed_loan_total_shares: agg.completed_shares_sum,
            pending_hr: count_of(&agg.open_stage_counts, StageType::HrReview.as_str()),
            pending_finance: count_of(
                &agg.open_stage_counts,
                StageType::FinanceProcessing.as_str(),
            ),
            pending_legal: count_of(&agg.open_stage_counts, StageType::LegalExecution.as_str()),
            active_fixed_count: agg.active_fixed,
            active_variable_count: agg.active_variable,
            active_balloon_count: agg.active_balloon,
            active_principal_and_interest_count: agg.active_principal_and_interest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;
    use serde_json::json;
    use time::macros::{date, datetime};

    #[test]
    fn the_window_ends_with_the_last_microsecond_of_the_day() {
        let (start, end) = window(date!(2026 - 12 - 07));
        assert_eq!(end, datetime!(2026-12-07 23:59:59.999999 UTC));
        assert_eq!(start, datetime!(2026-11-07 23:59:59.999999 UTC));
    }

    #[test]
    fn an_org_without_loans_shows_bare_zeros() {
        let zero = Decimal::ZERO;
        let d = LoanDashboard::new(
            "acme-corp",
            date!(2026 - 12 - 07),
            &LoanAggregates {
                active_principal_sum: zero,
                payable_sum: zero,
                paid_sum: zero,
                interest_sum: zero,
                ..LoanAggregates::default()
            },
        );
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["status_counts"], json!({}));
        assert_eq!(v["active_loan_principal_sum"], "0");
        assert_eq!(v["sum_amount_owed"], "0");
        assert_eq!(v["pending_hr"], 0);
    }

    #[test]
    fn the_recorded_dashboard_figures_follow_from_the_aggregates() {
        let agg = LoanAggregates {
            status_counts: vec![
                ("ACTIVE".into(), 2),
                ("CANCELLED".into(), 2),
                ("SUBMITTED".into(), 3),
            ],
            open_stage_counts: vec![
                ("BORROWER_83B_ELECTION".into(), 1),
                ("FINANCE_PROCESSING".into(), 3),
                ("HR_REVIEW".into(), 3),
                ("LEGAL_EXECUTION".into(), 3),
                ("LEGAL_POST_ISSUANCE".into(), 2),
            ],
            created_in_window: 7,
            activated_in_window: 2,
            active_principal_sum: dec!(2950.000000),
            active_shares_sum: 1150,
            completed_shares_sum: 0,
            payable_sum: dec!(3048.120000),
            paid_sum: dec!(990.710000),
            interest_sum: dec!(35.220000),
            active_fixed: 2,
            active_principal_and_interest: 2,
            ..LoanAggregates::default()
        };
        let v = serde_json::to_value(LoanDashboard::new("sole-llc", date!(2026 - 12 - 07), &agg))
            .unwrap();
        assert_eq!(v["total_loans"], 7);
        assert_eq!(v["approved_count"], 2);
        assert_eq!(v["sum_amount_owed"], "2057.410000");
        assert_eq!(v["pending_legal"], 3);
        let keys: Vec<&String> = v["status_counts"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["ACTIVE", "CANCELLED", "SUBMITTED"]);
    }

    #[test]
    fn overpaid_loans_owe_zero() {
        let agg = LoanAggregates {
            payable_sum: dec!(100.000000),
            paid_sum: dec!(100.010000),
            ..LoanAggregates::default()
        };
        let d = LoanDashboard::new("o", date!(2026 - 01 - 01), &agg);
        assert_eq!(serde_json::to_value(&d).unwrap()["sum_amount_owed"], "0");
    }
}
