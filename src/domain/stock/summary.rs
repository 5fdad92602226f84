//! The member stock summary (contract §3.6, shared by §3.7): `StockSummary` built from
//! already-loaded rows, serializable in wire order (also the JSON of its Redis cache entry).

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::Date;
use uuid::Uuid;

use super::eligibility::{Eligibility, MemberFacts, evaluate};
use super::policy::StockPolicy;
use super::reservations::{Reservation, available_shares, reserved_by_grant};
use super::values::{GrantStatus, VestingStrategy};
use super::vesting::{
    StockGrant, VestingAmount, VestingTotals, next_vesting, upcoming_vesting, vesting_totals,
};
use super::wire;
use crate::domain::decimal::{py_max, py_min, serde_py_str, serde_py_str_opt};

/// How many upcoming dates the member summary and the org dashboard list.
pub const SUMMARY_UPCOMING: usize = 3;

/// One ACTIVE grant in a summary (`GrantSummary`), keys in wire order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantSummary {
    pub grant_id: Uuid,
    #[serde(with = "wire::date")]
    pub grant_date: Date,
    pub total_shares: i64,
    pub vested_shares: i64,
    pub unvested_shares: i64,
    pub reserved_shares: i64,
    pub available_vested_shares: i64,
    #[serde(with = "serde_py_str")]
    pub exercise_price: Decimal,
    pub vesting_strategy: VestingStrategy,
    pub status: GrantStatus,
}

/// `StockSummary`, keys in wire order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockSummary {
    #[serde(with = "wire::date")]
    pub as_of_date: Date,
    pub org_membership_id: Uuid,
    pub grant_count: i64,
    pub total_granted_shares: i64,
    pub total_vested_shares: i64,
    pub total_unvested_shares: i64,
    pub total_reserved_shares: i64,
    pub total_available_vested_shares: i64,
    pub next_vesting_event: Option<VestingAmount>,
    pub next_vesting_events: Vec<VestingAmount>,
    pub eligibility_result: Eligibility,
    pub policy_snapshot: StockPolicy,
    pub membership_snapshot: MemberFacts,
    #[serde(with = "serde_py_str_opt")]
    pub exercise_price_min: Option<Decimal>,
    #[serde(with = "serde_py_str_opt")]
    pub exercise_price_max: Option<Decimal>,
    pub active_reservations: Vec<Reservation>,
    pub grants: Vec<GrantSummary>,
}

/// The rows a member summary is computed from.
#[derive(Clone, Copy, Debug)]
pub struct MemberStock<'a> {
    pub membership_id: Uuid,
    pub member: &'a MemberFacts,
    pub policy: &'a StockPolicy,
    /// The member's grants; only the ACTIVE ones count.
    pub grants: &'a [StockGrant],
    /// The member's reservations (any status, any grant); only holding ones count.
    pub reservations: &'a [Reservation],
    pub as_of: Date,
}

impl MemberStock<'_> {
    /// The member's ACTIVE grants, newest `grant_date` first (ties keep the given order:
    /// load them ordered by `grant_date DESC, id`).
    pub fn active_grants(&self) -> Vec<StockGrant> {
        let mut active: Vec<StockGrant> = self
            .grants
            .iter()
            .filter(|g| g.is_active())
            .cloned()
            .collect();
        active.sort_by_key(|g| std::cmp::Reverse(g.schedule.grant_date));
        active
    }

    /// Holding reservations, newest `created_at` first, including those on grants no longer
    /// ACTIVE (Q8); none when the member has no ACTIVE grant (the legacy lookup is skipped).
    pub fn listed_reservations(&self, active: &[StockGrant]) -> Vec<Reservation> {
        if active.is_empty() {
            return Vec::new();
        }
        let mut listed: Vec<Reservation> = self
            .reservations
            .iter()
            .filter(|r| r.is_holding())
            .cloned()
            .collect();
        listed.sort_by_key(|r| std::cmp::Reverse(r.created_at));
        listed
    }
}

/// The member figures shared by the summary and the self dashboard.
#[derive(Clone, Debug)]
pub struct MemberFigures {
    pub active: Vec<StockGrant>,
    pub totals: VestingTotals,
    pub reserved_by_grant: HashMap<Uuid, i64>,
    pub total_reserved: i64,
    pub eligibility: Eligibility,
    pub reservations: Vec<Reservation>,
    pub price_min: Option<Decimal>,
    pub price_max: Option<Decimal>,
}

impl MemberFigures {
    pub fn compute(input: &MemberStock<'_>) -> Self {
        let active = input.active_grants();
        let totals = vesting_totals(&active, input.as_of);
        let reserved_by_grant = reserved_by_grant(input.reservations, &active);
        let total_reserved = reserved_by_grant
            .values()
            .fold(0i64, |a, b| a.saturating_add(*b));
        let eligibility = evaluate(input.member, input.policy, &totals, input.as_of);
        let reservations = input.listed_reservations(&active);
        let prices = active.iter().map(|g| g.exercise_price);
        Self {
            price_min: prices.clone().reduce(py_min),
            price_max: prices.reduce(py_max),
            active,
            totals,
            reserved_by_grant,
            total_reserved,
            eligibility,
            reservations,
        }
    }

    pub fn available(&self) -> i64 {
        available_shares(self.totals.vested, self.total_reserved)
    }

    /// One `GrantSummary` per ACTIVE grant, newest first.
    pub fn grant_summaries(&self, as_of: Date) -> Vec<GrantSummary> {
        self.active
            .iter()
            .map(|g| {
                let vesting = g.schedule.vesting_at(as_of);
                let reserved = self.reserved_by_grant.get(&g.id).copied().unwrap_or(0);
                GrantSummary {
                    grant_id: g.id,
                    grant_date: g.schedule.grant_date,
                    total_shares: g.schedule.total_shares,
                    vested_shares: vesting.vested,
                    unvested_shares: vesting.unvested,
                    reserved_shares: reserved,
                    available_vested_shares: available_shares(vesting.vested, reserved),
                    exercise_price: g.exercise_price,
                    vesting_strategy: g.schedule.strategy,
                    status: g.status,
                }
            })
            .collect()
    }
}

/// `StockSummary` of one member at `as_of`.
pub fn member_summary(input: &MemberStock<'_>) -> StockSummary {
    let figures = MemberFigures::compute(input);
    StockSummary {
        as_of_date: input.as_of,
        org_membership_id: input.membership_id,
        grant_count: i64::try_from(figures.active.len()).unwrap_or(i64::MAX),
        total_granted_shares: figures.totals.granted,
        total_vested_shares: figures.totals.vested,
        total_unvested_shares: figures.totals.unvested,
        total_reserved_shares: figures.total_reserved,
        total_available_vested_shares: figures.available(),
        next_vesting_event: next_vesting(&figures.active, input.as_of),
        next_vesting_events: upcoming_vesting(&figures.active, input.as_of, SUMMARY_UPCOMING),
        eligibility_result: figures.eligibility.clone(),
        policy_snapshot: input.policy.clone(),
        membership_snapshot: input.member.clone(),
        exercise_price_min: figures.price_min,
        exercise_price_max: figures.price_max,
        grants: figures.grant_summaries(input.as_of),
        active_reservations: figures.reservations,
    }
}
