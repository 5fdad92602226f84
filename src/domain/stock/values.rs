//! Every legacy string of the stock domain in one place: value sets (with their pydantic
//! input errors), reason codes and the user-visible message texts the frontend displays.

use serde::{Deserialize, Serialize};

/// `vesting_strategy` of a grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VestingStrategy {
    Immediate,
    Scheduled,
}

impl VestingStrategy {
    /// pydantic's message for any other input (the enum is case-sensitive, Q24).
    pub const EXPECTED: &'static str = "Input should be 'IMMEDIATE' or 'SCHEDULED'";

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Immediate => "IMMEDIATE",
            Self::Scheduled => "SCHEDULED",
        }
    }

    /// A request value: exactly `IMMEDIATE` or `SCHEDULED`.
    pub fn parse(input: &str) -> Option<Self> {
        match input {
            "IMMEDIATE" => Some(Self::Immediate),
            "SCHEDULED" => Some(Self::Scheduled),
            _ => None,
        }
    }

    /// A stored value as the legacy engine reads it: upper-cased `IMMEDIATE` is immediate,
    /// anything else (null included) counts as scheduled.
    pub fn from_column(stored: Option<&str>) -> Self {
        match stored {
            Some(s) if s.to_uppercase() == "IMMEDIATE" => Self::Immediate,
            _ => Self::Scheduled,
        }
    }
}

/// `status` of a grant. No state machine: any status may follow any other (Q7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GrantStatus {
    Active,
    Cancelled,
    ExercisedOut,
}

impl GrantStatus {
    /// pydantic's message for any other input.
    pub const EXPECTED: &'static str = "Input should be 'ACTIVE', 'CANCELLED' or 'EXERCISED_OUT'";

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Cancelled => "CANCELLED",
            Self::ExercisedOut => "EXERCISED_OUT",
        }
    }

    /// A request or stored value (case-sensitive).
    pub fn parse(input: &str) -> Option<Self> {
        match input {
            "ACTIVE" => Some(Self::Active),
            "CANCELLED" => Some(Self::Cancelled),
            "EXERCISED_OUT" => Some(Self::ExercisedOut),
            _ => None,
        }
    }
}

/// Eligibility reason `code` (§5), in the order reasons are appended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReasonCode {
    EmploymentInactive,
    InsufficientServiceDuration,
    NoVestedShares,
    BelowMinVestedThreshold,
}

impl ReasonCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EmploymentInactive => "EMPLOYMENT_INACTIVE",
            Self::InsufficientServiceDuration => "INSUFFICIENT_SERVICE_DURATION",
            Self::NoVestedShares => "NO_VESTED_SHARES",
            Self::BelowMinVestedThreshold => "BELOW_MIN_VESTED_THRESHOLD",
        }
    }
}

/// Reservation statuses: a copy of the owning loan application's status when written (§6).
pub mod reservation_status {
    pub const SUBMITTED: &str = "SUBMITTED";
    pub const IN_REVIEW: &str = "IN_REVIEW";
    pub const ACTIVE: &str = "ACTIVE";
    pub const REJECTED: &str = "REJECTED";
    /// Written when the loan completes, releasing the shares (the legacy service left them
    /// `ACTIVE` forever, Q11).
    pub const COMPLETED: &str = "COMPLETED";
    /// The statuses that hold shares.
    pub const HOLDING: [&str; 3] = [SUBMITTED, IN_REVIEW, ACTIVE];
}

/// Step-up actions of this domain (§12): inert unless the org requires two-factor and lists
/// them.
pub mod step_up_action {
    /// Creating a grant.
    pub const STOCK_GRANT_ASSIGNMENT: &str = "STOCK_GRANT_ASSIGNMENT";
    /// A grant PATCH whose body carries a non-null `status` (even an unchanged one, Q23).
    pub const STOCK_STATUS_CHANGE: &str = "STOCK_STATUS_CHANGE";
}

/// Permission codes of the stock endpoints (§12).
pub mod permission {
    pub const VIEW: &str = "stock.view";
    pub const MANAGE: &str = "stock.manage";
    pub const VESTING_VIEW: &str = "stock.vesting.view";
    pub const ELIGIBILITY_VIEW: &str = "stock.eligibility.view";
    pub const DASHBOARD_VIEW: &str = "stock.dashboard.view";
    pub const SELF_VIEW: &str = "stock.self.view";
}

/// The membership status value both `employment_status` and `platform_status` must have.
pub const MEMBERSHIP_ACTIVE: &str = "ACTIVE";

/// User-visible texts (400/404 messages and eligibility reasons), verbatim from the legacy
/// service: the frontend shows them as they are.
pub mod messages {
    pub const MEMBERSHIP_NOT_FOUND: &str = "Membership not found";
    pub const GRANT_NOT_FOUND: &str = "Grant not found";
    pub const MEMBERSHIP_NOT_ACTIVE: &str = "Membership must be ACTIVE to assign stock grants";

    pub const IMMEDIATE_SINGLE_EVENT: &str = "Immediate vesting requires a single vesting event";
    pub const IMMEDIATE_EVENT_SHARES: &str = "Immediate vesting event must match total_shares";
    pub const IMMEDIATE_EVENT_DATE: &str =
        "Immediate vesting event must use grant_date as vest_date";
    pub const IMMEDIATE_STORED_EVENT: &str =
        "Immediate vesting event must match total_shares and grant_date";
    pub const SCHEDULED_NEEDS_EVENTS: &str = "Scheduled vesting requires vesting_events";
    pub const DUPLICATE_VEST_DATE: &str = "Vesting events cannot share the same vest_date";
    pub const EVENT_BEFORE_GRANT: &str = "Vesting events cannot occur before grant_date";
    pub const SHARES_SUM: &str = "Sum of vesting_events.shares must equal total_shares";

    pub const EMPLOYMENT_INACTIVE: &str = "Employment or platform status is not active";
    pub const START_DATE_MISSING: &str = "Employment start date is missing";
    pub const NO_VESTED_SHARES: &str = "No vested shares are available to exercise";

    /// `Minimum service duration is 3.00 years` (the stored `numeric(6,2)` text).
    pub fn min_service(years: &str) -> String {
        format!("Minimum service duration is {years} years")
    }

    /// `Minimum vested shares required is 6000`.
    pub fn min_vested(shares: i64) -> String {
        format!("Minimum vested shares required is {shares}")
    }

    /// `Next vesting on 2027-01-15 (1000 shares)` (GrantOut / PreviewOut).
    pub fn next_vesting_summary(vest_date: &str, shares: i64) -> String {
        format!("Next vesting on {vest_date} ({shares} shares)")
    }
}
