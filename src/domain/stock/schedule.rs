//! Grant creation and update rules (contract §3.2–§3.5, §4.1): the schedule rules with their
//! exact 400 texts, the membership gate, and how a PATCH resolves against the stored grant.

use time::Date;

use super::values::{GrantStatus, MEMBERSHIP_ACTIVE, VestingStrategy, messages};
use super::vesting::{Schedule, VestingEvent};
use crate::domain::decimal::DecimalInput;

/// A broken schedule rule; only the first failing rule is reported (400 `bad_request`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("{}", messages::IMMEDIATE_SINGLE_EVENT)]
    ImmediateNeedsSingleEvent,
    #[error("{}", messages::IMMEDIATE_EVENT_SHARES)]
    ImmediateEventShares,
    #[error("{}", messages::IMMEDIATE_EVENT_DATE)]
    ImmediateEventDate,
    /// The stored event of an IMMEDIATE grant no longer matches (PATCH without events).
    #[error("{}", messages::IMMEDIATE_STORED_EVENT)]
    ImmediateStoredEvent,
    #[error("{}", messages::SCHEDULED_NEEDS_EVENTS)]
    ScheduledNeedsEvents,
    #[error("{}", messages::DUPLICATE_VEST_DATE)]
    DuplicateVestDate,
    #[error("{}", messages::EVENT_BEFORE_GRANT)]
    EventBeforeGrantDate,
    #[error("{}", messages::SHARES_SUM)]
    SharesSum,
}

/// The create rules (create, preview, PATCH with `vesting_events`), in the legacy order.
/// IMMEDIATE without events gets one generated event `{grant_date, total_shares}`; otherwise
/// the events are kept as given, in request order (preview echoes that order, Q2).
pub fn build_schedule(
    strategy: VestingStrategy,
    grant_date: Date,
    total_shares: i64,
    events: Vec<VestingEvent>,
) -> Result<Schedule, ScheduleError> {
    match strategy {
        VestingStrategy::Immediate => check_immediate_request(grant_date, total_shares, &events)?,
        VestingStrategy::Scheduled => {
            if events.is_empty() {
                return Err(ScheduleError::ScheduledNeedsEvents);
            }
            if has_duplicate_dates(&events) {
                return Err(ScheduleError::DuplicateVestDate);
            }
            check_dates_and_sum(grant_date, total_shares, &events)?;
        }
    }
    let events = if events.is_empty() {
        vec![VestingEvent {
            vest_date: grant_date,
            shares: total_shares,
        }]
    } else {
        events
    };
    Ok(Schedule {
        strategy,
        grant_date,
        total_shares,
        events,
    })
}

fn check_immediate_request(
    grant_date: Date,
    total_shares: i64,
    events: &[VestingEvent],
) -> Result<(), ScheduleError> {
    match events {
        [] => Ok(()),
        [only] if only.shares != total_shares => Err(ScheduleError::ImmediateEventShares),
        [only] if only.vest_date != grant_date => Err(ScheduleError::ImmediateEventDate),
        [_] => Ok(()),
        _ => Err(ScheduleError::ImmediateNeedsSingleEvent),
    }
}

fn has_duplicate_dates(events: &[VestingEvent]) -> bool {
    let mut dates: Vec<Date> = events.iter().map(|e| e.vest_date).collect();
    dates.sort_unstable();
    dates.windows(2).any(|w| w[0] == w[1])
}

/// Rules 3 and 4 of SCHEDULED: no event before the grant date (on it is fine), and the shares
/// add up to the total (summed without overflow).
fn check_dates_and_sum(
    grant_date: Date,
    total_shares: i64,
    events: &[VestingEvent],
) -> Result<(), ScheduleError> {
    if events.iter().any(|e| e.vest_date < grant_date) {
        return Err(ScheduleError::EventBeforeGrantDate);
    }
    let sum: i128 = events.iter().map(|e| i128::from(e.shares)).sum();
    if sum != i128::from(total_shares) {
        return Err(ScheduleError::SharesSum);
    }
    Ok(())
}

/// The "existing events" rules: a PATCH without `vesting_events` re-checks the stored events
/// against the resulting strategy, date and total (no duplicate check: the unique constraint
/// already prevents duplicates).
pub fn recheck_stored_events(schedule: &Schedule) -> Result<(), ScheduleError> {
    match schedule.strategy {
        VestingStrategy::Immediate => match schedule.events.as_slice() {
            [only]
                if only.shares == schedule.total_shares
                    && only.vest_date == schedule.grant_date =>
            {
                Ok(())
            }
            [_] => Err(ScheduleError::ImmediateStoredEvent),
            _ => Err(ScheduleError::ImmediateNeedsSingleEvent),
        },
        VestingStrategy::Scheduled => {
            if schedule.events.is_empty() {
                return Err(ScheduleError::ScheduledNeedsEvents);
            }
            check_dates_and_sum(schedule.grant_date, schedule.total_shares, &schedule.events)
        }
    }
}

/// Whether a membership may receive (or have changed) stock grants: upper-cased
/// `employment_status` and `platform_status` both `ACTIVE` (an onboarded user still `INVITED`
/// may not). Refused with [`messages::MEMBERSHIP_NOT_ACTIVE`].
pub fn membership_accepts_grants(
    employment_status: Option<&str>,
    platform_status: Option<&str>,
) -> bool {
    let active = |s: Option<&str>| s.unwrap_or("").to_uppercase() == MEMBERSHIP_ACTIVE;
    active(employment_status) && active(platform_status)
}

/// The largest `total_shares` / event `shares` (the `bigint` column); above it the legacy
/// service answered 500 (Q6), `sole` answers 422.
pub const MAX_SHARES: i64 = i64::MAX;

/// `exercise_price` must stay below this (`numeric(18,6)` holds 12 integer digits); the
/// legacy service answered 500 above it (Q6), `sole` answers 422 `less_than`.
pub const EXERCISE_PRICE_LIMIT: i64 = 1_000_000_000_000;

/// Why an `exercise_price` is refused (422), with pydantic's type, message and `ctx`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PriceError {
    /// `ge=0` of the legacy schema.
    Negative,
    /// `sole`'s upper bound (Q6).
    TooLarge,
}

impl PriceError {
    pub fn error_type(self) -> &'static str {
        match self {
            Self::Negative => "greater_than_equal",
            Self::TooLarge => "less_than",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Self::Negative => "Input should be greater than or equal to 0",
            Self::TooLarge => "Input should be less than 1000000000000",
        }
    }

    /// `{"ge": 0}` / `{"lt": 1000000000000}`.
    pub fn ctx(self) -> serde_json::Value {
        match self {
            Self::Negative => serde_json::json!({"ge": 0}),
            Self::TooLarge => serde_json::json!({"lt": EXERCISE_PRICE_LIMIT}),
        }
    }
}

/// Checks a parsed `exercise_price` against `0 ≤ price < 10^12` (`-0` passes, as in Python).
pub fn check_exercise_price(price: &DecimalInput) -> Result<(), PriceError> {
    let value = price.value();
    if value.is_sign_negative() && !value.is_zero() {
        Err(PriceError::Negative)
    } else if value >= rust_decimal::Decimal::from(EXERCISE_PRICE_LIMIT) {
        Err(PriceError::TooLarge)
    } else {
        Ok(())
    }
}

/// A validated `PATCH /org/stock/grants/{id}` body: only the keys present in the JSON.
/// Explicit nulls of non-nullable fields never reach here (the legacy 500s of Q5 are refused
/// at parsing); `notes: null` clears the note; `vesting_events: null` counts as absent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GrantPatch {
    pub grant_date: Option<Date>,
    pub total_shares: Option<i64>,
    pub exercise_price: Option<DecimalInput>,
    pub status: Option<GrantStatus>,
    pub vesting_strategy: Option<VestingStrategy>,
    /// `Some(None)` clears the note.
    pub notes: Option<Option<String>>,
    pub vesting_events: Option<Vec<VestingEvent>>,
}

impl GrantPatch {
    /// Whether the patch changes anything but `status` and `notes`. Only such patches need an
    /// ACTIVE membership: `sole` lets a terminated employee's grant be cancelled, marked
    /// exercised or annotated (the legacy service froze it entirely, Q4).
    pub fn changes_terms(&self) -> bool {
        self.grant_date.is_some()
            || self.total_shares.is_some()
            || self.exercise_price.is_some()
            || self.vesting_strategy.is_some()
            || self.vesting_events.is_some()
    }
}

/// Why a PATCH is refused (400), in the legacy order: membership first, then the schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    #[error("{}", messages::MEMBERSHIP_NOT_ACTIVE)]
    MembershipNotActive,
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
}

/// The schedule a PATCH leaves, and whether its events are new rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatchedSchedule {
    pub schedule: Schedule,
    /// The stored events are replaced by `schedule.events` (new ids).
    pub events_replaced: bool,
}

/// Resolves a PATCH against the stored schedule (§3.5 steps 4–5): the membership gate (only
/// for [`GrantPatch::changes_terms`]), then the schedule rules on the resulting strategy, date
/// and total: the create rules on new events, else the stored events re-checked.
pub fn resolve_patch(
    stored: &Schedule,
    patch: &GrantPatch,
    membership_active: bool,
) -> Result<PatchedSchedule, PatchError> {
    if patch.changes_terms() && !membership_active {
        return Err(PatchError::MembershipNotActive);
    }
    let strategy = patch.vesting_strategy.unwrap_or(stored.strategy);
    let grant_date = patch.grant_date.unwrap_or(stored.grant_date);
    let total_shares = patch.total_shares.unwrap_or(stored.total_shares);
    match &patch.vesting_events {
        Some(events) => Ok(PatchedSchedule {
            schedule: build_schedule(strategy, grant_date, total_shares, events.clone())?,
            events_replaced: true,
        }),
        None => {
            let schedule = Schedule {
                strategy,
                grant_date,
                total_shares,
                events: stored.events.clone(),
            };
            recheck_stored_events(&schedule)?;
            Ok(PatchedSchedule {
                schedule,
                events_replaced: false,
            })
        }
    }
}
