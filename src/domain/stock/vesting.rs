//! The vesting engine (contract §4.2–§4.3). Share counts are whole shares (`bigint` columns,
//! JSON integers): vesting is a date comparison on the stored events, with no cliff, rounding
//! or partial period beyond what the events say. Every function takes the date it computes
//! for; none reads the clock.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::Date;
use uuid::Uuid;

use super::values::{GrantStatus, VestingStrategy, messages};
use super::wire;

/// One stored (or requested) vesting event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VestingEvent {
    pub vest_date: Date,
    pub shares: i64,
}

/// What vests when: a grant's strategy, date, total and events (in any order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub strategy: VestingStrategy,
    pub grant_date: Date,
    pub total_shares: i64,
    pub events: Vec<VestingEvent>,
}

/// A loaded `employee_stock_grants` row with its events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockGrant {
    pub id: Uuid,
    pub membership_id: Uuid,
    /// At the column scale (`numeric(18,6)`), so it prints `"16.000000"`.
    pub exercise_price: Decimal,
    pub status: GrantStatus,
    pub schedule: Schedule,
}

impl StockGrant {
    pub fn is_active(&self) -> bool {
        self.status == GrantStatus::Active
    }
}

/// Shares vesting on one date (`NextVestingEvent` on the wire: `{vest_date, shares}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VestingAmount {
    #[serde(with = "wire::date")]
    pub vest_date: Date,
    pub shares: i64,
}

/// Vested and unvested shares of one grant at a date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vesting {
    pub vested: i64,
    pub unvested: i64,
}

/// Engine totals over a set of grants.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VestingTotals {
    pub granted: i64,
    pub vested: i64,
    pub unvested: i64,
}

/// Upcoming vesting of one calendar month (`vested_by_month` entry, `{month:"YYYY-MM", shares}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthlyVesting {
    pub month: String,
    pub shares: i64,
}

impl Schedule {
    /// The engine's rule (§4.3): IMMEDIATE vests everything on the grant date (events
    /// ignored); SCHEDULED vests the events dated on or before `as_of`; vested is capped at the
    /// total, unvested is never negative.
    pub fn vesting_at(&self, as_of: Date) -> Vesting {
        let vested = match self.strategy {
            VestingStrategy::Immediate if self.grant_date <= as_of => self.total_shares,
            VestingStrategy::Immediate => 0,
            VestingStrategy::Scheduled => self.shares_vested_by(as_of),
        };
        let vested = vested.min(self.total_shares);
        Vesting {
            vested,
            unvested: self.total_shares.saturating_sub(vested).max(0),
        }
    }

    /// Σ shares of the events dated on or before `as_of`, whatever the strategy.
    fn shares_vested_by(&self, as_of: Date) -> i64 {
        sum_shares(
            self.events
                .iter()
                .filter(|e| e.vest_date <= as_of)
                .map(|e| e.shares),
        )
    }

    /// The vesting that follows `as_of` strictly: IMMEDIATE → the whole grant on its date if
    /// that is later; SCHEDULED → the earliest event after `as_of`.
    pub fn next_vesting_after(&self, as_of: Date) -> Option<VestingAmount> {
        match self.strategy {
            VestingStrategy::Immediate => (self.grant_date > as_of).then_some(VestingAmount {
                vest_date: self.grant_date,
                shares: self.total_shares,
            }),
            VestingStrategy::Scheduled => self
                .events
                .iter()
                .filter(|e| e.vest_date > as_of)
                .min_by_key(|e| e.vest_date)
                .map(|e| VestingAmount {
                    vest_date: e.vest_date,
                    shares: e.shares,
                }),
        }
    }

    /// What vests on each date after `as_of` (strictly, or on/after with `inclusive`), one
    /// entry per event (IMMEDIATE: one for the grant).
    fn vesting_from(&self, as_of: Date, inclusive: bool) -> Vec<VestingAmount> {
        let after = |d: Date| d > as_of || (inclusive && d == as_of);
        match self.strategy {
            VestingStrategy::Immediate if after(self.grant_date) => vec![VestingAmount {
                vest_date: self.grant_date,
                shares: self.total_shares,
            }],
            VestingStrategy::Immediate => Vec::new(),
            VestingStrategy::Scheduled => self
                .events
                .iter()
                .filter(|e| after(e.vest_date))
                .map(|e| VestingAmount {
                    vest_date: e.vest_date,
                    shares: e.shares,
                })
                .collect(),
        }
    }
}

/// Engine totals over `grants` at `as_of` (pass the ACTIVE grants: the legacy loaders do).
pub fn vesting_totals(grants: &[StockGrant], as_of: Date) -> VestingTotals {
    grants.iter().fold(VestingTotals::default(), |acc, g| {
        let v = g.schedule.vesting_at(as_of);
        VestingTotals {
            granted: acc.granted.saturating_add(g.schedule.total_shares),
            vested: acc.vested.saturating_add(v.vested),
            unvested: acc.unvested.saturating_add(v.unvested),
        }
    })
}

/// The first `limit` dates after `as_of` on which any of `grants` vests, shares summed per
/// date, ascending (`next_vesting_events`: 3; `upcoming_events`: 3 or 6).
pub fn upcoming_vesting(grants: &[StockGrant], as_of: Date, limit: usize) -> Vec<VestingAmount> {
    let amounts = grants
        .iter()
        .flat_map(|g| g.schedule.vesting_from(as_of, false));
    let mut per_date = sum_per_date(amounts);
    per_date.truncate(limit);
    per_date
}

/// The earliest date after `as_of` on which any of `grants` vests, with its summed shares.
pub fn next_vesting(grants: &[StockGrant], as_of: Date) -> Option<VestingAmount> {
    upcoming_vesting(grants, as_of, 1).into_iter().next()
}

/// `vested_by_month` (self dashboard; despite its name, **upcoming** vesting): every event
/// dated on or after `as_of` (≥, while "next" uses >, Q16) in the `months` calendar months
/// starting with `as_of`'s month, summed per month, ascending; months without shares omitted.
pub fn vested_by_month(grants: &[StockGrant], as_of: Date, months: i32) -> Vec<MonthlyVesting> {
    let amounts = grants
        .iter()
        .flat_map(|g| g.schedule.vesting_from(as_of, true))
        .filter(|a| (0..months).contains(&month_index(as_of, a.vest_date)));
    let mut out: Vec<MonthlyVesting> = Vec::new();
    for amount in amounts {
        let month = format!(
            "{:04}-{:02}",
            amount.vest_date.year(),
            u8::from(amount.vest_date.month())
        );
        match out.iter_mut().find(|m| m.month == month) {
            Some(m) => m.shares = m.shares.saturating_add(amount.shares),
            None => out.push(MonthlyVesting {
                month,
                shares: amount.shares,
            }),
        }
    }
    out.sort_by(|a, b| a.month.cmp(&b.month));
    out
}

/// Calendar months from `from`'s month to `to`'s month.
fn month_index(from: Date, to: Date) -> i32 {
    (to.year() - from.year()) * 12
        + (i32::from(u8::from(to.month())) - i32::from(u8::from(from.month())))
}

fn sum_per_date(amounts: impl Iterator<Item = VestingAmount>) -> Vec<VestingAmount> {
    let mut per_date: Vec<VestingAmount> = Vec::new();
    for amount in amounts {
        match per_date
            .iter_mut()
            .find(|a| a.vest_date == amount.vest_date)
        {
            Some(a) => a.shares = a.shares.saturating_add(amount.shares),
            None => per_date.push(amount),
        }
    }
    per_date.sort_by_key(|a| a.vest_date);
    per_date
}

fn sum_shares(shares: impl Iterator<Item = i64>) -> i64 {
    shares.fold(0i64, i64::saturating_add)
}

/// The vested figures of a grant on GrantOut / PreviewOut (§4.2), relative to `today`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedGrantFigures {
    pub vested_shares: i64,
    pub unvested_shares: i64,
    pub next_vesting_event: Option<VestingAmount>,
    /// `Next vesting on <date> (<shares> shares)`.
    pub next_vesting_summary: Option<String>,
}

/// §4.2 as the legacy grant endpoints compute it: vested = Σ events on or before `today` for
/// every strategy, **not** capped at the total (Q3: it only differs from the engine on rows
/// that break the schedule rules); unvested = max(total − vested, 0); next per
/// [`Schedule::next_vesting_after`].
pub fn listed_grant_figures(schedule: &Schedule, today: Date) -> ListedGrantFigures {
    let vested = schedule.shares_vested_by(today);
    let next = schedule.next_vesting_after(today);
    ListedGrantFigures {
        vested_shares: vested,
        unvested_shares: schedule.total_shares.saturating_sub(vested).max(0),
        next_vesting_summary: next
            .map(|n| messages::next_vesting_summary(&wire::iso_date(n.vest_date), n.shares)),
        next_vesting_event: next,
    }
}
