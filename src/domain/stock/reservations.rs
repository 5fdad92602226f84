//! Share reservations (contract §6): vested shares of one grant held for one loan
//! application. The loan side writes them; this module is the arithmetic both sides share.

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::values::reservation_status;
use super::vesting::StockGrant;
use super::wire::{self, CountMap};
use crate::domain::decimal::{Rounding, ctx, quantize};

/// A `stock_grant_reservations` row; serializes as `StockReservationSummary`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    #[serde(rename = "reservation_id")]
    pub id: Uuid,
    pub loan_application_id: Uuid,
    pub grant_id: Uuid,
    pub shares_reserved: i64,
    pub status: String,
    #[serde(with = "wire::timestamp")]
    pub created_at: OffsetDateTime,
}

/// `SUBMITTED`, `IN_REVIEW` and `ACTIVE` hold shares; `REJECTED`, `COMPLETED` and anything
/// else do not.
pub fn is_holding(status: &str) -> bool {
    reservation_status::HOLDING.contains(&status)
}

impl Reservation {
    pub fn is_holding(&self) -> bool {
        is_holding(&self.status)
    }
}

/// Σ `shares_reserved` of the holding reservations per grant, for the grants in `grants` only
/// (the summaries count reservations on ACTIVE grants only, Q8).
pub fn reserved_by_grant(
    reservations: &[Reservation],
    grants: &[StockGrant],
) -> HashMap<Uuid, i64> {
    let mut out: HashMap<Uuid, i64> = HashMap::new();
    for r in reservations.iter().filter(|r| r.is_holding()) {
        if grants.iter().any(|g| g.id == r.grant_id) {
            let entry = out.entry(r.grant_id).or_insert(0);
            *entry = entry.saturating_add(r.shares_reserved);
        }
    }
    out
}

/// Σ `shares_reserved` per status in first-seen order (pass the rows the figure covers: the
/// member's holding reservations for the self dashboard, every row of the org for the org
/// dashboard).
pub fn reserved_by_status(reservations: &[Reservation]) -> CountMap {
    let mut out = CountMap::new();
    for r in reservations {
        out.add(&r.status, r.shares_reserved);
    }
    out
}

/// Vested shares not held by a reservation: `max(vested − reserved, 0)` (reservations are
/// never checked against later grant edits, so reserved can exceed vested).
pub fn available_shares(vested: i64, reserved: i64) -> i64 {
    vested.saturating_sub(reserved).max(0)
}

/// `reserved / vested × 100` rounded half-up to 2 places, as Python computes it (the quotient
/// at 28 digits first), or `None` when nothing is vested. The org dashboard shows `"0.00"`
/// then ([`org_reserved_percent`]), the self dashboard `"0"` ([`self_reserved_percent`]) (Q15).
pub fn reserved_percent_of_vested(reserved: i64, vested: i64) -> Option<Decimal> {
    if vested <= 0 {
        return None;
    }
    let ratio = ctx::div(Decimal::from(reserved), Decimal::from(vested))?;
    let percent = ctx::mul(ratio, Decimal::ONE_HUNDRED)?;
    Some(quantize(percent, 2, Rounding::HalfUp))
}

/// Org dashboard `reserved_share_percent_of_vested` (`"0.00"` when nothing is vested).
pub fn org_reserved_percent(reserved: i64, vested: i64) -> Decimal {
    reserved_percent_of_vested(reserved, vested).unwrap_or(Decimal::new(0, 2))
}

/// Self dashboard `reserved_share_percent_of_vested` (`"0"` when nothing is vested).
pub fn self_reserved_percent(reserved: i64, vested: i64) -> Decimal {
    reserved_percent_of_vested(reserved, vested).unwrap_or(Decimal::ZERO)
}

/// A reservation that cannot be made (400 `insufficient_available_shares`, details as named).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InsufficientShares {
    pub grant_id: Uuid,
    pub available_vested_shares: i64,
    pub requested_shares: i64,
}

/// The check made at loan submission under `SELECT … FOR UPDATE` of the member's grants: the
/// grant's shares vested **today** minus its holding reservations must cover the request.
pub fn check_reservation(
    grant: &StockGrant,
    already_reserved: i64,
    requested: i64,
    today: Date,
) -> Result<(), InsufficientShares> {
    let vested = grant.schedule.vesting_at(today).vested;
    let available = vested.saturating_sub(already_reserved);
    if available >= requested {
        Ok(())
    } else {
        Err(InsufficientShares {
            grant_id: grant.id,
            available_vested_shares: available,
            requested_shares: requested,
        })
    }
}

/// One grant's part of an exercise: the shares a loan quote takes from it and the submit
/// reserves on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Allocation {
    pub grant_id: Uuid,
    pub shares: i64,
}

/// Spreads `shares` over the ACTIVE `grants`, oldest `grant_date` first (equal dates keep the
/// given order: pass the grants ordered by `created_at, id`), each giving what it has vested
/// at `as_of` and not reserved, up to what remains. Grants with nothing free are skipped.
/// Returns the allocations and the shares left unplaced (0 when covered).
pub fn allocate(
    grants: &[StockGrant],
    reserved_by_grant: &HashMap<Uuid, i64>,
    shares: i64,
    as_of: Date,
) -> (Vec<Allocation>, i64) {
    let mut oldest_first: Vec<&StockGrant> = grants.iter().filter(|g| g.is_active()).collect();
    oldest_first.sort_by_key(|g| g.schedule.grant_date);
    let mut remaining = shares;
    let mut out = Vec::new();
    for g in oldest_first {
        if remaining <= 0 {
            break;
        }
        let reserved = reserved_by_grant.get(&g.id).copied().unwrap_or(0);
        let free = available_shares(g.schedule.vesting_at(as_of).vested, reserved);
        if free == 0 {
            continue;
        }
        let take = free.min(remaining);
        out.push(Allocation {
            grant_id: g.id,
            shares: take,
        });
        remaining -= take;
    }
    (out, remaining.max(0))
}
