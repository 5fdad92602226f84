//! The pure parts of the dashboards (contract §9): the org stock dashboard (§9.1) and the
//! stock, profile and date figures of the self dashboard (§9.2), aggregated over rows the
//! caller loaded. The loan figures of the self dashboard belong to the loan domain.

use std::collections::{HashMap, HashSet};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::Date;
use uuid::Uuid;

use super::eligibility::{Bucket, Eligibility, MemberFacts, bucket, evaluate};
use super::policy::StockPolicy;
use super::reservations::{
    Reservation, available_shares, org_reserved_percent, reserved_by_status, self_reserved_percent,
};
use super::summary::{GrantSummary, MemberFigures, MemberStock, SUMMARY_UPCOMING};
use super::vesting::{
    MonthlyVesting, StockGrant, VestingAmount, next_vesting, upcoming_vesting, vested_by_month,
    vesting_totals,
};
use super::wire::{self, CountMap};
use crate::domain::decimal::{Rounding, ctx, quantize, serde_py_str, serde_py_str_opt};

// ---------------------------------------------------------------------------------------------
// §9.1 Org stock dashboard
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardTotals {
    pub program_employees: i64,
    pub grant_count: i64,
    pub total_granted_shares: i64,
    pub total_vested_shares: i64,
    pub total_unvested_shares: i64,
    pub total_reserved_shares: i64,
    pub total_available_vested_shares: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardEligibility {
    pub eligible_to_exercise_count: i64,
    pub not_eligible_due_to_service_count: i64,
    pub not_eligible_due_to_min_vested_count: i64,
    pub not_eligible_due_to_other_count: i64,
}

impl DashboardEligibility {
    fn count(&mut self, b: Bucket) {
        let slot = match b {
            Bucket::Eligible => &mut self.eligible_to_exercise_count,
            Bucket::Service => &mut self.not_eligible_due_to_service_count,
            Bucket::MinVested => &mut self.not_eligible_due_to_min_vested_count,
            Bucket::Other => &mut self.not_eligible_due_to_other_count,
        };
        *slot += 1;
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardTimeline {
    #[serde(with = "wire::date::option")]
    pub next_vesting_date: Option<Date>,
    pub next_vesting_shares: Option<i64>,
    pub upcoming_events: Vec<VestingAmount>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantMix {
    pub by_status: CountMap,
    pub by_vesting_strategy: CountMap,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceRange {
    #[serde(with = "serde_py_str_opt")]
    pub min: Option<Decimal>,
    #[serde(with = "serde_py_str_opt")]
    pub max: Option<Decimal>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReservationPressure {
    #[serde(with = "serde_py_str")]
    pub reserved_share_percent_of_vested: Decimal,
    pub reserved_by_status: CountMap,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipCounts {
    pub by_platform_status: CountMap,
    pub by_employment_status: CountMap,
}

/// `StockDashboard`, keys in wire order (also the JSON of its Redis cache entry).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockDashboard {
    pub org_id: String,
    #[serde(with = "wire::date")]
    pub as_of: Date,
    pub totals: DashboardTotals,
    pub eligibility: DashboardEligibility,
    pub vesting_timeline: DashboardTimeline,
    pub grant_mix: GrantMix,
    pub exercise_price_range: PriceRange,
    pub reservation_pressure: ReservationPressure,
    pub membership_snapshot: MembershipCounts,
}

/// The rows and counts the org dashboard is computed from.
#[derive(Clone, Copy, Debug)]
pub struct OrgStock<'a> {
    pub org_id: &'a str,
    pub as_of: Date,
    /// The org's grants; only the ACTIVE ones count (load them newest first).
    pub grants: &'a [StockGrant],
    /// The memberships owning those grants.
    pub members: &'a HashMap<Uuid, MemberFacts>,
    pub policy: &'a StockPolicy,
    /// Every reservation row of the org (any status, any grant).
    pub reservations: &'a [Reservation],
    /// `GROUP BY status` / `vesting_strategy` over **all** grants of the org.
    pub grant_mix: &'a GrantMix,
    /// `GROUP BY` over all memberships of the org.
    pub memberships: &'a MembershipCounts,
}

/// `StockDashboard` of an org at `as_of`. Its maps (`grant_mix`, `reserved_by_status`,
/// `membership_snapshot`) come from `GROUP BY`s in the legacy service, in the database's
/// unspecified order; they are written with ascending keys here, as every recording shows.
pub fn org_dashboard(input: &OrgStock<'_>) -> StockDashboard {
    let active: Vec<StockGrant> = input
        .grants
        .iter()
        .filter(|g| g.is_active())
        .cloned()
        .collect();
    let totals = vesting_totals(&active, input.as_of);
    let reserved: i64 = super::reservations::reserved_by_grant(input.reservations, &active)
        .values()
        .fold(0i64, |a, b| a.saturating_add(*b));
    let next = next_vesting(&active, input.as_of);
    let prices = active.iter().map(|g| g.exercise_price);
    StockDashboard {
        org_id: input.org_id.to_owned(),
        as_of: input.as_of,
        totals: DashboardTotals {
            program_employees: len_i64(program_members(&active).len()),
            grant_count: len_i64(active.len()),
            total_granted_shares: totals.granted,
            total_vested_shares: totals.vested,
            total_unvested_shares: totals.unvested,
            total_reserved_shares: reserved,
            total_available_vested_shares: available_shares(totals.vested, reserved),
        },
        eligibility: eligibility_buckets(input, &active),
        vesting_timeline: DashboardTimeline {
            next_vesting_date: next.map(|n| n.vest_date),
            next_vesting_shares: next.map(|n| n.shares),
            upcoming_events: upcoming_vesting(&active, input.as_of, SUMMARY_UPCOMING),
        },
        grant_mix: GrantMix {
            by_status: input.grant_mix.by_status.sorted(),
            by_vesting_strategy: input.grant_mix.by_vesting_strategy.sorted(),
        },
        exercise_price_range: PriceRange {
            min: prices.clone().reduce(crate::domain::decimal::py_min),
            max: prices.reduce(crate::domain::decimal::py_max),
        },
        reservation_pressure: ReservationPressure {
            reserved_share_percent_of_vested: org_reserved_percent(reserved, totals.vested),
            // Every row, whatever its status and its grant's (Q8, kept).
            reserved_by_status: reserved_by_status(input.reservations).sorted(),
        },
        membership_snapshot: MembershipCounts {
            by_platform_status: input.memberships.by_platform_status.sorted(),
            by_employment_status: input.memberships.by_employment_status.sorted(),
        },
    }
}

/// Distinct memberships owning at least one of `grants`.
fn program_members(grants: &[StockGrant]) -> HashSet<Uuid> {
    grants.iter().map(|g| g.membership_id).collect()
}

/// §5 once per membership owning ACTIVE grants, bucketed (members without a loaded
/// membership row are skipped, as the legacy service did).
fn eligibility_buckets(input: &OrgStock<'_>, active: &[StockGrant]) -> DashboardEligibility {
    let mut counts = DashboardEligibility::default();
    for membership_id in program_members(active) {
        let Some(member) = input.members.get(&membership_id) else {
            continue;
        };
        let own: Vec<StockGrant> = active
            .iter()
            .filter(|g| g.membership_id == membership_id)
            .cloned()
            .collect();
        let totals = vesting_totals(&own, input.as_of);
        counts.count(bucket(&evaluate(
            member,
            input.policy,
            &totals,
            input.as_of,
        )));
    }
    counts
}

fn len_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

// ---------------------------------------------------------------------------------------------
// §9.2 Self dashboard: stock parts
// ---------------------------------------------------------------------------------------------

/// How many upcoming dates and months the self dashboard lists.
pub const SELF_UPCOMING: usize = 6;
pub const SELF_MONTHS: i32 = 6;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelfStockTotals {
    pub grant_count: i64,
    pub total_granted_shares: i64,
    pub total_vested_shares: i64,
    pub total_unvested_shares: i64,
    pub total_reserved_shares: i64,
    pub total_available_vested_shares: i64,
    #[serde(with = "serde_py_str_opt")]
    pub exercise_price_min: Option<Decimal>,
    #[serde(with = "serde_py_str_opt")]
    pub exercise_price_max: Option<Decimal>,
    #[serde(with = "serde_py_str_opt")]
    pub weighted_avg_exercise_price: Option<Decimal>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelfTimeline {
    #[serde(with = "wire::date::option")]
    pub next_vesting_date: Option<Date>,
    pub next_vesting_shares: Option<i64>,
    pub upcoming_events: Vec<VestingAmount>,
    pub vested_by_month: Vec<MonthlyVesting>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelfReservations {
    #[serde(with = "serde_py_str")]
    pub reserved_share_percent_of_vested: Decimal,
    pub reserved_by_status: CountMap,
    pub reservations_active: Vec<Reservation>,
}

/// `SelfGrantSummary`: a GrantSummary plus the grant's own next vesting at `as_of`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelfGrantSummary {
    #[serde(flatten)]
    pub grant: GrantSummary,
    #[serde(with = "wire::date::option")]
    pub next_vesting_date: Option<Date>,
    pub next_vesting_shares: Option<i64>,
}

/// The stock keys of `SelfDashboard`, each serializable in wire order; the handler writes
/// them between `profile_completion` and `policy_snapshot` in this order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelfStock {
    pub stock_totals: SelfStockTotals,
    pub stock_eligibility: Eligibility,
    pub vesting_timeline: SelfTimeline,
    pub grant_mix: GrantMix,
    pub reservations: SelfReservations,
    pub grants: Vec<SelfGrantSummary>,
    pub grants_total: i64,
}

impl SelfStock {
    /// The answer without a membership (a superuser acting in another org, Q22).
    pub fn without_membership() -> Self {
        Self {
            stock_totals: SelfStockTotals {
                grant_count: 0,
                total_granted_shares: 0,
                total_vested_shares: 0,
                total_unvested_shares: 0,
                total_reserved_shares: 0,
                total_available_vested_shares: 0,
                exercise_price_min: None,
                exercise_price_max: None,
                weighted_avg_exercise_price: None,
            },
            stock_eligibility: Eligibility::no_membership(),
            vesting_timeline: SelfTimeline {
                next_vesting_date: None,
                next_vesting_shares: None,
                upcoming_events: Vec::new(),
                vested_by_month: Vec::new(),
            },
            grant_mix: GrantMix::default(),
            reservations: SelfReservations {
                reserved_share_percent_of_vested: Decimal::ZERO,
                reserved_by_status: CountMap::new(),
                reservations_active: Vec::new(),
            },
            grants: Vec::new(),
            grants_total: 0,
        }
    }
}

/// The stock parts of the self dashboard for the caller's membership.
pub fn self_stock(input: &MemberStock<'_>) -> SelfStock {
    let figures = MemberFigures::compute(input);
    let next = next_vesting(&figures.active, input.as_of);
    let grants: Vec<SelfGrantSummary> = figures
        .grant_summaries(input.as_of)
        .into_iter()
        .zip(&figures.active)
        .map(|(grant, g)| {
            let own_next = g.schedule.next_vesting_after(input.as_of);
            SelfGrantSummary {
                grant,
                next_vesting_date: own_next.map(|n| n.vest_date),
                next_vesting_shares: own_next.map(|n| n.shares),
            }
        })
        .collect();
    SelfStock {
        stock_totals: SelfStockTotals {
            grant_count: len_i64(figures.active.len()),
            total_granted_shares: figures.totals.granted,
            total_vested_shares: figures.totals.vested,
            total_unvested_shares: figures.totals.unvested,
            total_reserved_shares: figures.total_reserved,
            total_available_vested_shares: figures.available(),
            exercise_price_min: figures.price_min,
            exercise_price_max: figures.price_max,
            weighted_avg_exercise_price: weighted_avg_exercise_price(&figures.active),
        },
        stock_eligibility: figures.eligibility.clone(),
        vesting_timeline: SelfTimeline {
            next_vesting_date: next.map(|n| n.vest_date),
            next_vesting_shares: next.map(|n| n.shares),
            upcoming_events: upcoming_vesting(&figures.active, input.as_of, SELF_UPCOMING),
            vested_by_month: vested_by_month(&figures.active, input.as_of, SELF_MONTHS),
        },
        grant_mix: active_grant_mix(&figures.active),
        reservations: SelfReservations {
            reserved_share_percent_of_vested: self_reserved_percent(
                figures.total_reserved,
                figures.totals.vested,
            ),
            // All holding reservations, also on grants no longer ACTIVE (Q8, kept).
            reserved_by_status: reserved_by_status(&figures.reservations),
            reservations_active: figures.reservations.clone(),
        },
        grants_total: len_i64(grants.len()),
        grants,
    }
}

/// Σ(price × total_shares) / Σ total_shares over `grants`, half-up to 2 places after Python's
/// 28-digit division; `None` when no share is granted.
pub fn weighted_avg_exercise_price(grants: &[StockGrant]) -> Option<Decimal> {
    let shares = grants
        .iter()
        .fold(0i64, |a, g| a.saturating_add(g.schedule.total_shares));
    if shares == 0 {
        return None;
    }
    let mut weighted = Decimal::ZERO;
    for g in grants {
        let product = ctx::mul(g.exercise_price, Decimal::from(g.schedule.total_shares))?;
        weighted = ctx::add(weighted, product)?;
    }
    let average = ctx::div(weighted, Decimal::from(shares))?;
    Some(quantize(average, 2, Rounding::HalfUp))
}

/// The self dashboard's mix: the member's ACTIVE grants only, so `by_status` is `{"ACTIVE": n}`
/// (Q14, kept); keys in first-seen order, newest grant first.
fn active_grant_mix(grants: &[StockGrant]) -> GrantMix {
    let mut mix = GrantMix::default();
    for g in grants {
        mix.by_status.add(g.status.as_str(), 1);
        mix.by_vesting_strategy.add(g.schedule.strategy.as_str(), 1);
    }
    mix
}

// ---------------------------------------------------------------------------------------------
// §9.2 Self dashboard: profile completion and the 83(b) countdown
// ---------------------------------------------------------------------------------------------

/// The profile fields the completion figure reads (raw values).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfileFields {
    pub phone_number: Option<String>,
    pub timezone: Option<String>,
    pub marital_status: Option<String>,
    pub country: Option<String>,
    pub state: Option<String>,
    pub address_line1: Option<String>,
    pub postal_code: Option<String>,
}

/// `profile_completion`, keys in wire order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileCompletion {
    pub completion_percent: i64,
    pub missing_fields: Vec<String>,
    pub required_fields: Vec<String>,
    pub total_required_fields: i64,
    pub missing_count: i64,
    pub is_complete: bool,
}

/// The required fields in their legacy order.
pub const PROFILE_REQUIRED_FIELDS: [&str; 7] = [
    "phone_number",
    "timezone",
    "marital_status",
    "country",
    "state",
    "address_line1",
    "postal_code",
];

/// Profile completion: the required fields minus `state` when the country is missing or has
/// no subdivisions (`has_subdivisions` gets the upper-cased country); a field is missing when
/// null or blank; percent = round-half-even(100 × complete / required), 100 when nothing is
/// required. `None` = no profile row (6 required, all missing).
pub fn profile_completion(
    profile: Option<&ProfileFields>,
    has_subdivisions: impl Fn(&str) -> bool,
) -> ProfileCompletion {
    let empty = ProfileFields::default();
    let p = profile.unwrap_or(&empty);
    let country = p.country.as_deref().filter(|c| !c.is_empty());
    let needs_state = country.is_some_and(|c| has_subdivisions(&c.to_uppercase()));
    let value = |field: &str| -> Option<&str> {
        match field {
            "phone_number" => p.phone_number.as_deref(),
            "timezone" => p.timezone.as_deref(),
            "marital_status" => p.marital_status.as_deref(),
            "country" => p.country.as_deref(),
            "state" => p.state.as_deref(),
            "address_line1" => p.address_line1.as_deref(),
            "postal_code" => p.postal_code.as_deref(),
            _ => None,
        }
    };
    let required: Vec<String> = PROFILE_REQUIRED_FIELDS
        .iter()
        .filter(|f| needs_state || **f != "state")
        .map(|f| (*f).to_owned())
        .collect();
    let missing: Vec<String> = required
        .iter()
        .filter(|f| value(f).is_none_or(|v| v.trim().is_empty()))
        .cloned()
        .collect();
    let total = len_i64(required.len());
    let complete = total - len_i64(missing.len());
    ProfileCompletion {
        completion_percent: percent_half_even(complete, total),
        is_complete: missing.is_empty(),
        missing_count: len_i64(missing.len()),
        total_required_fields: total,
        missing_fields: missing,
        required_fields: required,
    }
}

/// round-half-even(100 × part / whole) in exact integer arithmetic (the legacy float
/// computation has no tie for 6 or 7 fields, so both agree); 100 for an empty whole.
fn percent_half_even(part: i64, whole: i64) -> i64 {
    if whole <= 0 {
        return 100;
    }
    let numerator = 100 * part;
    let (q, r) = (numerator / whole, numerator % whole);
    let rounded = match (2 * r).cmp(&whole) {
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal if q % 2 == 1 => q + 1,
        _ => q,
    };
    rounded.clamp(0, 100)
}

/// `days_until_83b_due`: days from `as_of` to the election's due date (negative once past).
/// `sole` counts from the requested `as_of`, like every other loan figure of the dashboard; the
/// legacy service counted from the server's today whatever `as_of` was (Q17). Without `as_of`
/// both are today.
pub fn days_until_83b_due(due: Date, as_of: Date) -> i64 {
    (due - as_of).whole_days()
}
