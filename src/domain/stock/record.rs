//! A stored grant as the grant endpoints show it (`GrantOut`), its audit snapshot, and the
//! engine's view of it ([`StockGrant`]).

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Value, json};
use time::Date;
use uuid::Uuid;

use super::values::{GrantStatus, VestingStrategy};
use super::vesting::{Schedule, StockGrant, VestingAmount, VestingEvent, listed_grant_figures};
use super::wire;
use crate::domain::decimal::py_str;

/// A `vesting_events` row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventRecord {
    pub id: Uuid,
    pub vest_date: Date,
    pub shares: i64,
}

/// An `employee_stock_grants` row with its events (ascending by `vest_date`). Status and
/// strategy are kept as stored: the grant endpoints echo them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantRecord {
    pub id: Uuid,
    pub org_id: String,
    pub membership_id: Uuid,
    pub grant_date: Date,
    pub total_shares: i64,
    /// At the column scale (`numeric(18,6)`).
    pub exercise_price: Decimal,
    pub status: String,
    pub vesting_strategy: String,
    pub notes: Option<String>,
    pub events: Vec<EventRecord>,
    /// The price text as the client sent it, when this request wrote it: create and update
    /// answers (and their audit snapshots) echo it, every later read shows the column scale
    /// (Q1, kept).
    pub price_echo: Option<String>,
}

impl GrantRecord {
    pub fn schedule(&self) -> Schedule {
        Schedule {
            strategy: VestingStrategy::from_column(Some(&self.vesting_strategy)),
            grant_date: self.grant_date,
            total_shares: self.total_shares,
            events: self
                .events
                .iter()
                .map(|e| VestingEvent {
                    vest_date: e.vest_date,
                    shares: e.shares,
                })
                .collect(),
        }
    }

    /// The engine's view. A stored status outside the value set counts as not ACTIVE (the
    /// legacy loaders filter on `status = 'ACTIVE'`).
    pub fn stock_grant(&self) -> StockGrant {
        StockGrant {
            id: self.id,
            membership_id: self.membership_id,
            exercise_price: self.exercise_price,
            status: GrantStatus::parse(&self.status).unwrap_or(GrantStatus::Cancelled),
            schedule: self.schedule(),
        }
    }

    /// The price as this request shows it (see [`Self::price_echo`]).
    pub fn price_text(&self) -> String {
        self.price_echo
            .clone()
            .unwrap_or_else(|| py_str(&self.exercise_price))
    }

    /// `GrantOut` with the vested figures of `today` (§4.2).
    pub fn out(&self, today: Date) -> GrantOut {
        let figures = listed_grant_figures(&self.schedule(), today);
        GrantOut {
            grant_date: self.grant_date,
            total_shares: self.total_shares,
            exercise_price: self.price_text(),
            vesting_strategy: self.vesting_strategy.clone(),
            notes: self.notes.clone(),
            id: self.id,
            org_id: self.org_id.clone(),
            org_membership_id: self.membership_id,
            status: self.status.clone(),
            vesting_events: self
                .events
                .iter()
                .map(|e| EventOut {
                    vest_date: e.vest_date,
                    shares: e.shares,
                    id: e.id,
                })
                .collect(),
            vested_shares: figures.vested_shares,
            unvested_shares: figures.unvested_shares,
            next_vesting_event: figures.next_vesting_event,
            next_vesting_summary: figures.next_vesting_summary,
        }
    }

    /// The audit snapshot (§11): the row's values and its events by date, without ids.
    pub fn snapshot(&self) -> Value {
        let events: Vec<Value> = self
            .events
            .iter()
            .map(|e| json!({"vest_date": wire::iso_date(e.vest_date), "shares": e.shares}))
            .collect();
        json!({
            "id": self.id,
            "org_id": self.org_id,
            "org_membership_id": self.membership_id,
            "grant_date": wire::iso_date(self.grant_date),
            "total_shares": self.total_shares,
            "exercise_price": self.price_text(),
            "status": self.status,
            "vesting_strategy": self.vesting_strategy,
            "notes": self.notes,
            "vesting_events": events,
        })
    }
}

/// `VestingEventOut`: `{vest_date, shares, id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EventOut {
    #[serde(with = "wire::date")]
    pub vest_date: Date,
    pub shares: i64,
    pub id: Uuid,
}

/// `EmployeeStockGrantOut`, keys in wire order. No `reserved_shares` /
/// `available_vested_shares` (Q19: the summaries carry them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GrantOut {
    #[serde(with = "wire::date")]
    pub grant_date: Date,
    pub total_shares: i64,
    /// `"10.000000"` (column scale), or the text sent on create/update (Q1).
    pub exercise_price: String,
    pub vesting_strategy: String,
    pub notes: Option<String>,
    pub id: Uuid,
    pub org_id: String,
    pub org_membership_id: Uuid,
    pub status: String,
    pub vesting_events: Vec<EventOut>,
    pub vested_shares: i64,
    pub unvested_shares: i64,
    pub next_vesting_event: Option<VestingAmount>,
    pub next_vesting_summary: Option<String>,
}

/// `{items, total}` of the grant lists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GrantList {
    pub items: Vec<GrantOut>,
    pub total: i64,
}

/// A requested event as preview echoes it: `{vest_date, shares}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PreviewEvent {
    #[serde(with = "wire::date")]
    pub vest_date: Date,
    pub shares: i64,
}

/// `StockGrantPreviewResponse`: the input echoed (price as sent, events in request order,
/// Q2) with the next vesting relative to today.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PreviewOut {
    #[serde(with = "wire::date")]
    pub grant_date: Date,
    pub total_shares: i64,
    pub exercise_price: crate::domain::decimal::DecimalInput,
    pub vesting_strategy: VestingStrategy,
    pub notes: Option<String>,
    pub vesting_events: Vec<PreviewEvent>,
    pub next_vesting_event: Option<VestingAmount>,
    pub next_vesting_summary: Option<String>,
}

impl PreviewOut {
    pub fn new(
        schedule: &Schedule,
        exercise_price: crate::domain::decimal::DecimalInput,
        notes: Option<String>,
        today: Date,
    ) -> Self {
        let figures = listed_grant_figures(schedule, today);
        Self {
            grant_date: schedule.grant_date,
            total_shares: schedule.total_shares,
            exercise_price,
            vesting_strategy: schedule.strategy,
            notes,
            vesting_events: schedule
                .events
                .iter()
                .map(|e| PreviewEvent {
                    vest_date: e.vest_date,
                    shares: e.shares,
                })
                .collect(),
            next_vesting_event: figures.next_vesting_event,
            next_vesting_summary: figures.next_vesting_summary,
        }
    }
}
