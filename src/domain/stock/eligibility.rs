//! Exercise eligibility (contract §5): who may exercise (and so apply for a loan) at a date.
//! Reservations are not considered (Q27); the loan quote refuses reserved shares itself.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::Date;

use super::policy::StockPolicy;
use super::values::{ReasonCode, messages};
use super::vesting::VestingTotals;
use super::wire;
use crate::domain::decimal::{ctx, py_str};

/// The membership facts the rules read (raw column values).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberFacts {
    pub employment_status: Option<String>,
    pub platform_status: Option<String>,
    #[serde(with = "wire::date::option")]
    pub employment_start_date: Option<Date>,
}

impl MemberFacts {
    /// Upper-cased employment and platform status both `ACTIVE`.
    pub fn is_active(&self) -> bool {
        super::schedule::membership_accepts_grants(
            self.employment_status.as_deref(),
            self.platform_status.as_deref(),
        )
    }
}

/// One reason, `{code, message}` on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub code: ReasonCode,
    pub message: String,
}

impl Reason {
    fn new(code: ReasonCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// `EligibilityResult`, keys in wire order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Eligibility {
    pub eligible_to_exercise: bool,
    pub total_granted_shares: i64,
    pub total_vested_shares: i64,
    pub total_unvested_shares: i64,
    pub reasons: Vec<Reason>,
}

impl Eligibility {
    /// The self dashboard's answer without a membership: not eligible, no reason, zeros.
    pub fn no_membership() -> Self {
        Self {
            eligible_to_exercise: false,
            total_granted_shares: 0,
            total_vested_shares: 0,
            total_unvested_shares: 0,
            reasons: Vec::new(),
        }
    }

    pub fn has(&self, code: ReasonCode) -> bool {
        self.reasons.iter().any(|r| r.code == code)
    }
}

/// Evaluates the rules at `as_of` on the engine totals of the member's ACTIVE grants. Reasons
/// in order: employment inactive; (service rule on) start date missing or service too short;
/// (min-vested rule on) below the minimum, else (rule off) no vested shares. With the
/// min-vested rule on at 0, nothing vested is eligible (legacy Q10, kept).
pub fn evaluate(
    member: &MemberFacts,
    policy: &StockPolicy,
    totals: &VestingTotals,
    as_of: Date,
) -> Eligibility {
    let mut reasons = Vec::new();
    if !member.is_active() {
        reasons.push(Reason::new(
            ReasonCode::EmploymentInactive,
            messages::EMPLOYMENT_INACTIVE,
        ));
    }
    if policy.enforce_service_duration_rule
        && let Some(reason) = service_reason(member.employment_start_date, policy, as_of)
    {
        reasons.push(reason);
    }
    if policy.enforce_min_vested_to_exercise {
        let minimum = policy.min_vested_shares_to_exercise.unwrap_or(0);
        if totals.vested < minimum {
            reasons.push(Reason::new(
                ReasonCode::BelowMinVestedThreshold,
                messages::min_vested(minimum),
            ));
        }
    } else if totals.vested <= 0 {
        reasons.push(Reason::new(
            ReasonCode::NoVestedShares,
            messages::NO_VESTED_SHARES,
        ));
    }
    Eligibility {
        eligible_to_exercise: reasons.is_empty(),
        total_granted_shares: totals.granted,
        total_vested_shares: totals.vested,
        total_unvested_shares: totals.unvested,
        reasons,
    }
}

/// The service rule: a missing start date, or fewer [`service_years`] than required (null
/// counts as 0). The message names the stored `numeric(6,2)` text (`3.00`).
fn service_reason(start: Option<Date>, policy: &StockPolicy, as_of: Date) -> Option<Reason> {
    let Some(start) = start else {
        return Some(Reason::new(
            ReasonCode::InsufficientServiceDuration,
            messages::START_DATE_MISSING,
        ));
    };
    let required = policy.min_service_duration_years.unwrap_or(Decimal::ZERO);
    (service_years(start, as_of) < required).then(|| {
        Reason::new(
            ReasonCode::InsufficientServiceDuration,
            messages::min_service(&py_str(&required)),
        )
    })
}

/// Years of service: calendar days from the start date to `as_of` divided by 365.25 (Python
/// decimal division; negative before the start). One calendar year is 0.99932 years, so a
/// 1-year rule passes on day 366 (Q18, kept); 2.5 years need day 914.
pub fn service_years(start: Date, as_of: Date) -> Decimal {
    let days = Decimal::from((as_of - start).whole_days());
    ctx::div(days, Decimal::new(36525, 2)).unwrap_or(Decimal::ZERO)
}

/// The org dashboard's bucket for a member (§9.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bucket {
    Eligible,
    /// Any INSUFFICIENT_SERVICE_DURATION reason.
    Service,
    /// Otherwise any BELOW_MIN_VESTED_THRESHOLD reason.
    MinVested,
    /// EMPLOYMENT_INACTIVE alone, NO_VESTED_SHARES.
    Other,
}

pub fn bucket(result: &Eligibility) -> Bucket {
    if result.eligible_to_exercise {
        Bucket::Eligible
    } else if result.has(ReasonCode::InsufficientServiceDuration) {
        Bucket::Service
    } else if result.has(ReasonCode::BelowMinVestedThreshold) {
        Bucket::MinVested
    } else {
        Bucket::Other
    }
}
