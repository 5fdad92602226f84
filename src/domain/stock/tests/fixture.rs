//! The legacy demo data of `sole-llc` as the golden samples saw it (contract §10 seed table,
//! the legacy seed's employment start dates, and the grants and loans the recording created),
//! with the real ids where a sample shows them.

use std::collections::HashMap;
use std::str::FromStr;

use rust_decimal::Decimal;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::domain::decimal::at_column_scale;
use crate::domain::stock::eligibility::MemberFacts;
use crate::domain::stock::policy::StockPolicy;
use crate::domain::stock::reservations::Reservation;
use crate::domain::stock::values::{GrantStatus, VestingStrategy};
use crate::domain::stock::vesting::{Schedule, StockGrant, VestingEvent};

pub fn date(s: &str) -> Date {
    Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).unwrap()
}

pub fn id(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap()
}

/// A `numeric(18,6)` price as read from the column.
pub fn price(s: &str) -> Decimal {
    at_column_scale(Decimal::from_str(s).unwrap(), 6)
}

pub fn events(list: &[(&str, i64)]) -> Vec<VestingEvent> {
    list.iter()
        .map(|(d, shares)| VestingEvent {
            vest_date: date(d),
            shares: *shares,
        })
        .collect()
}

pub fn schedule(
    strategy: VestingStrategy,
    grant_date: &str,
    total: i64,
    list: &[(&str, i64)],
) -> Schedule {
    Schedule {
        strategy,
        grant_date: date(grant_date),
        total_shares: total,
        events: events(list),
    }
}

pub const EVAN: &str = "880981c5-61d4-4ffc-9d93-3a7c226519d3";
pub const PRIYA: &str = "4a6c5eb5-362d-47e6-9083-14e37f01f3de";
pub const ROBERT: &str = "bff62fd9-f6bb-49c6-b05c-956752839a82";
pub const ADMIN: &str = "02a6ec3c-0ace-44b1-a7b4-c8e6722c3962";
pub const DANIEL: &str = "97d6a826-97e1-4fa2-80b2-32360798e8d0";
/// The onboarded user still `INVITED` (no grants).
pub const INVITED: &str = "9414a3be-ad87-4f80-aceb-ddcc875dbbe3";

pub const EVAN_2021_GRANT: &str = "e13e0c78-6b63-401c-a806-804349a22c78";
pub const PRIYA_2023_GRANT: &str = "9f6d058a-5f81-4362-9e9d-d2b1c064a886";

/// (member, employment start date in the legacy seed).
const ROSTER: [(&str, &str); 10] = [
    ("harper", "2022-03-15"),
    ("evan", "2021-01-10"),
    ("maria", "2020-07-01"),
    ("james", "2021-09-01"),
    ("priya", "2023-02-01"),
    ("daniel", "2022-06-15"),
    ("lisa", "2023-08-01"),
    ("robert", "2020-11-01"),
    ("sarah", "2024-01-15"),
    ("alex", "2019-05-01"),
];

pub fn member(name: &str) -> Uuid {
    match name {
        "evan" => id(EVAN),
        "priya" => id(PRIYA),
        "robert" => id(ROBERT),
        "daniel" => id(DANIEL),
        "admin" => id(ADMIN),
        other => {
            let index = ROSTER.iter().position(|(n, _)| *n == other).unwrap();
            Uuid::from_u128(index as u128 + 1)
        }
    }
}

pub fn active_member(start: Option<&str>) -> MemberFacts {
    MemberFacts {
        employment_status: Some("ACTIVE".into()),
        platform_status: Some("ACTIVE".into()),
        employment_start_date: start.map(date),
    }
}

/// One seeded grant: (member, grant id or None, grant_date, total, price, strategy, events).
type SeedRow = (
    &'static str,
    Option<&'static str>,
    &'static str,
    i64,
    &'static str,
    VestingStrategy,
    &'static [(&'static str, i64)],
);

use VestingStrategy::{Immediate as I, Scheduled as S};

/// The 16 demo grants of the legacy seed (contract §10), with the sample ids of evan's and
/// priya's.
const SEED: [SeedRow; 16] = [
    (
        "alex",
        None,
        "2019-08-01",
        12000,
        "6.5",
        S,
        &[
            ("2020-08-01", 3000),
            ("2021-08-01", 3000),
            ("2022-08-01", 3000),
            ("2023-08-01", 3000),
        ],
    ),
    (
        "alex",
        None,
        "2023-08-01",
        5000,
        "17",
        S,
        &[
            ("2024-08-01", 1666),
            ("2025-08-01", 1667),
            ("2026-08-01", 1667),
        ],
    ),
    (
        "alex",
        None,
        "2025-01-01",
        2500,
        "22.5",
        I,
        &[("2025-01-01", 2500)],
    ),
    (
        "daniel",
        None,
        "2022-09-01",
        4000,
        "13",
        S,
        &[
            ("2023-09-01", 1000),
            ("2024-09-01", 1000),
            ("2025-09-01", 1000),
            ("2026-09-01", 1000),
        ],
    ),
    (
        "evan",
        Some(EVAN_2021_GRANT),
        "2021-04-01",
        10000,
        "10",
        S,
        &[
            ("2022-04-01", 2500),
            ("2023-04-01", 2500),
            ("2024-04-01", 2500),
            ("2025-04-01", 2500),
        ],
    ),
    (
        "evan",
        Some("864ce040-7670-4a23-8ea8-443f94eff58c"),
        "2024-01-15",
        2000,
        "18.75",
        I,
        &[("2024-01-15", 2000)],
    ),
    (
        "harper",
        None,
        "2022-06-01",
        5000,
        "12.5",
        S,
        &[
            ("2023-06-01", 1250),
            ("2024-06-01", 1250),
            ("2025-06-01", 1250),
            ("2026-06-01", 1250),
        ],
    ),
    (
        "james",
        None,
        "2021-12-01",
        6000,
        "11.25",
        S,
        &[
            ("2022-12-01", 1500),
            ("2023-12-01", 1500),
            ("2024-12-01", 1500),
            ("2025-12-01", 1500),
        ],
    ),
    (
        "lisa",
        None,
        "2023-11-01",
        5000,
        "17.25",
        S,
        &[
            ("2024-11-01", 1250),
            ("2025-11-01", 1250),
            ("2026-11-01", 1250),
            ("2027-11-01", 1250),
        ],
    ),
    (
        "maria",
        None,
        "2020-10-01",
        8000,
        "8",
        S,
        &[
            ("2021-10-01", 2000),
            ("2022-10-01", 2000),
            ("2023-10-01", 2000),
            ("2024-10-01", 2000),
        ],
    ),
    (
        "maria",
        None,
        "2023-07-01",
        3000,
        "15.5",
        S,
        &[
            ("2024-07-01", 1000),
            ("2025-07-01", 1000),
            ("2026-07-01", 1000),
        ],
    ),
    (
        "priya",
        Some(PRIYA_2023_GRANT),
        "2023-05-01",
        7500,
        "16",
        S,
        &[
            ("2024-05-01", 1875),
            ("2025-05-01", 1875),
            ("2026-05-01", 1875),
            ("2027-05-01", 1875),
        ],
    ),
    (
        "priya",
        Some("fd8e8cad-f445-48ad-a7a5-d01273bfbce3"),
        "2025-02-01",
        1500,
        "22",
        I,
        &[("2025-02-01", 1500)],
    ),
    (
        "robert",
        None,
        "2021-02-01",
        9000,
        "9.5",
        S,
        &[
            ("2022-02-01", 3000),
            ("2023-02-01", 3000),
            ("2024-02-01", 3000),
        ],
    ),
    (
        "robert",
        None,
        "2024-05-01",
        4000,
        "19",
        S,
        &[("2025-05-01", 2000), ("2026-05-01", 2000)],
    ),
    (
        "sarah",
        None,
        "2024-04-01",
        3500,
        "20",
        S,
        &[
            ("2025-04-01", 875),
            ("2026-04-01", 875),
            ("2027-04-01", 875),
            ("2028-04-01", 875),
        ],
    ),
];

/// The grants the samples created for evan (the SCHEDULED one after its patches) and, later,
/// the admin's.
const CREATED: [SeedRow; 2] = [
    (
        "evan",
        Some("b76f9114-e929-4031-99fd-b1581e65da9e"),
        "2026-01-15",
        5000,
        "1.10",
        I,
        &[("2026-01-15", 5000)],
    ),
    (
        "evan",
        Some("278f5599-e29f-4ee0-a543-319ee9cf6025"),
        "2027-03-01",
        300,
        "3.50",
        I,
        &[("2027-03-01", 300)],
    ),
];
const ADMIN_GRANT: SeedRow = (
    "admin",
    None,
    "2024-01-01",
    8000,
    "1",
    I,
    &[("2024-01-01", 8000)],
);

fn grant(index: usize, row: &SeedRow) -> StockGrant {
    let (who, grant_id, grant_date, total, unit_price, strategy, list) = *row;
    StockGrant {
        id: grant_id
            .map(id)
            .unwrap_or(Uuid::from_u128(1000 + index as u128)),
        membership_id: member(who),
        exercise_price: price(unit_price),
        status: GrantStatus::Active,
        schedule: schedule(strategy, grant_date, total, list),
    }
}

/// How far the recording had gone.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Seed plus evan's two created grants; no loan yet.
    Seeded,
    /// Also the three loans' reservations: priya SUBMITTED 1000, robert ACTIVE 2000, evan
    /// SUBMITTED 3000.
    Loans,
    /// Also evan's 2021 grant cancelled (it backs his reservation).
    EvanGrantCancelled,
    /// The grant reactivated, the admin's grant added, daniel TERMINATED.
    Terminated,
}

pub struct Org {
    pub grants: Vec<StockGrant>,
    pub members: HashMap<Uuid, MemberFacts>,
    pub reservations: Vec<Reservation>,
}

pub fn sole_llc(stage: Stage) -> Org {
    let mut rows: Vec<SeedRow> = SEED.iter().chain(CREATED.iter()).copied().collect();
    if stage == Stage::Terminated {
        rows.push(ADMIN_GRANT);
    }
    let mut grants: Vec<StockGrant> = rows.iter().enumerate().map(|(i, r)| grant(i, r)).collect();
    if stage == Stage::EvanGrantCancelled {
        for g in &mut grants {
            if g.id == id(EVAN_2021_GRANT) {
                g.status = GrantStatus::Cancelled;
            }
        }
    }
    // Newest first, as the loaders return them.
    grants.sort_by_key(|g| std::cmp::Reverse(g.schedule.grant_date));
    let mut members: HashMap<Uuid, MemberFacts> = ROSTER
        .iter()
        .map(|(name, start)| (member(name), active_member(Some(start))))
        .collect();
    members.insert(id(ADMIN), active_member(None));
    if stage == Stage::Terminated
        && let Some(daniel) = members.get_mut(&id(DANIEL))
    {
        daniel.employment_status = Some("TERMINATED".into());
    }
    let reservations = if stage == Stage::Seeded {
        Vec::new()
    } else {
        loan_reservations(&grants)
    };
    Org {
        grants,
        members,
        reservations,
    }
}

/// Priya's reservation exactly as the samples show it; robert's and evan's on their oldest
/// grants (only their shares and statuses appear in the samples).
fn loan_reservations(grants: &[StockGrant]) -> Vec<Reservation> {
    let oldest = |who: &str| {
        grants
            .iter()
            .filter(|g| g.membership_id == member(who))
            .min_by_key(|g| g.schedule.grant_date)
            .unwrap()
            .id
    };
    let at =
        |s: &str| OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap();
    vec![
        Reservation {
            id: id("d488282c-ce65-4764-988a-bc715afc1c62"),
            loan_application_id: id("701ba751-b461-43e5-9326-09a0020c1505"),
            grant_id: id(PRIYA_2023_GRANT),
            shares_reserved: 1000,
            status: "SUBMITTED".into(),
            created_at: at("2026-12-07T00:37:02.589485Z"),
        },
        Reservation {
            id: Uuid::from_u128(501),
            loan_application_id: Uuid::from_u128(601),
            grant_id: oldest("robert"),
            shares_reserved: 2000,
            status: "ACTIVE".into(),
            created_at: at("2026-12-07T00:37:05Z"),
        },
        Reservation {
            id: Uuid::from_u128(502),
            loan_application_id: Uuid::from_u128(602),
            grant_id: oldest("evan"),
            shares_reserved: 3000,
            status: "SUBMITTED".into(),
            created_at: at("2026-12-07T00:38:00Z"),
        },
    ]
}

impl Org {
    pub fn grants_of(&self, who: &str) -> Vec<StockGrant> {
        self.grants
            .iter()
            .filter(|g| g.membership_id == member(who))
            .cloned()
            .collect()
    }

    pub fn reservations_of(&self, who: &str) -> Vec<Reservation> {
        let own = self.grants_of(who);
        self.reservations
            .iter()
            .filter(|r| own.iter().any(|g| g.id == r.grant_id))
            .cloned()
            .collect()
    }
}

/// Both rules on: 3 years of service, 6000 vested shares (samples 114–121).
pub fn both_rules() -> StockPolicy {
    StockPolicy {
        min_vested_shares_to_exercise: Some(6000),
        enforce_min_vested_to_exercise: true,
        min_service_duration_years: Some(Decimal::new(300, 2)),
        enforce_service_duration_rule: true,
    }
}
