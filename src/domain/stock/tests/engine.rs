//! The engine's rules on small cases, and its invariants over generated schedules.

use proptest::prelude::*;
use time::{Date, Duration};
use uuid::Uuid;

use super::fixture::{date, schedule};
use crate::domain::stock::eligibility::{MemberFacts, service_years};
use crate::domain::stock::policy::StockPolicy;
use crate::domain::stock::reservations::Reservation;
use crate::domain::stock::schedule::build_schedule;
use crate::domain::stock::summary::{MemberStock, member_summary};
use crate::domain::stock::values::{GrantStatus, VestingStrategy};
use crate::domain::stock::vesting::{
    MonthlyVesting, Schedule, StockGrant, VestingEvent, listed_grant_figures, upcoming_vesting,
    vested_by_month, vesting_totals,
};

use VestingStrategy::{Immediate, Scheduled};

fn grant(n: u128, s: Schedule) -> StockGrant {
    StockGrant {
        id: Uuid::from_u128(n),
        membership_id: Uuid::from_u128(1),
        exercise_price: rust_decimal::Decimal::new(1_000_000, 6),
        status: GrantStatus::Active,
        schedule: s,
    }
}

#[test]
fn immediate_vests_on_the_grant_date_whatever_its_events() {
    let s = schedule(Immediate, "2027-03-01", 300, &[("2027-03-01", 300)]);
    assert_eq!(s.vesting_at(date("2027-02-28")).vested, 0);
    assert_eq!(s.vesting_at(date("2027-03-01")).vested, 300);
    // A hand-written row: the engine ignores the events and caps at the total (Q3).
    let odd = schedule(Immediate, "2020-01-01", 100, &[("2030-01-01", 500)]);
    assert_eq!(odd.vesting_at(date("2021-01-01")).vested, 100);
    let over = schedule(
        Scheduled,
        "2020-01-01",
        100,
        &[("2020-01-01", 80), ("2020-06-01", 80)],
    );
    let v = over.vesting_at(date("2021-01-01"));
    assert_eq!((v.vested, v.unvested), (100, 0));
}

#[test]
fn upcoming_dates_are_summed_across_grants_and_limited() {
    let grants = [
        grant(
            1,
            schedule(
                Scheduled,
                "2024-01-01",
                300,
                &[
                    ("2025-01-01", 100),
                    ("2026-01-01", 100),
                    ("2027-01-01", 100),
                ],
            ),
        ),
        grant(
            2,
            schedule(Immediate, "2026-01-01", 50, &[("2026-01-01", 50)]),
        ),
        grant(
            3,
            schedule(
                Scheduled,
                "2024-06-01",
                20,
                &[("2025-01-01", 10), ("2028-01-01", 10)],
            ),
        ),
    ];
    let got: Vec<(String, i64)> = upcoming_vesting(&grants, date("2025-01-01"), 3)
        .iter()
        .map(|a| (a.vest_date.to_string(), a.shares))
        .collect();
    // 2025-01-01 itself is vested, not upcoming; 2026-01-01 sums two grants.
    assert_eq!(
        got,
        [
            ("2026-01-01".into(), 150),
            ("2027-01-01".into(), 100),
            ("2028-01-01".into(), 10)
        ]
    );
    assert_eq!(upcoming_vesting(&grants, date("2025-01-01"), 1).len(), 1);
    let t = vesting_totals(&grants, date("2025-01-01"));
    assert_eq!((t.granted, t.vested, t.unvested), (370, 110, 260));
}

/// Q16 kept: an event on `as_of` is both vested and listed per month; six months from the
/// `as_of` month.
#[test]
fn vested_by_month_window() {
    let grants = [
        grant(
            1,
            schedule(
                Scheduled,
                "2026-01-01",
                600,
                &[
                    ("2026-03-01", 100),
                    ("2026-03-31", 100),
                    ("2026-08-31", 100),
                    ("2026-09-01", 100),
                    ("2025-12-01", 200),
                ],
            ),
        ),
        grant(
            2,
            schedule(Immediate, "2026-05-15", 40, &[("2026-05-15", 40)]),
        ),
    ];
    let got = vested_by_month(&grants, date("2026-03-01"), 6);
    let expected = [("2026-03", 200), ("2026-05", 40), ("2026-08", 100)].map(|(month, shares)| {
        MonthlyVesting {
            month: month.into(),
            shares,
        }
    });
    assert_eq!(got, expected);
}

#[test]
fn service_years_are_days_over_365_25() {
    let start = date("2023-02-01");
    assert_eq!(
        service_years(start, date("2025-08-02")).to_string(),
        "2.499657768651608487337440110"
    );
    assert_eq!(
        service_years(start, date("2025-08-03")).to_string(),
        "2.502395619438740588637919233"
    );
    assert!(service_years(start, date("2022-02-01")).is_sign_negative());
    // Q18: one calendar year is short of 1.
    let one_year = service_years(date("2024-03-01"), date("2025-03-01"));
    assert!(one_year < rust_decimal::Decimal::ONE);
}

// ---------------------------------------------------------------------------------------------
// Invariants
// ---------------------------------------------------------------------------------------------

fn base() -> Date {
    date("2020-01-01")
}

/// Schedules that pass the create rules.
fn valid_schedule() -> impl Strategy<Value = Schedule> {
    (
        0i64..3000,
        any::<bool>(),
        prop::collection::btree_map(0i64..2500, 0i64..100_000, 0..7),
    )
        .prop_map(|(start, immediate, offsets)| {
            let grant_date = base() + Duration::days(start);
            let total: i64 = offsets.values().sum();
            let events: Vec<VestingEvent> = offsets
                .iter()
                .map(|(days, shares)| VestingEvent {
                    vest_date: grant_date + Duration::days(*days),
                    shares: *shares,
                })
                .collect();
            if immediate || events.is_empty() {
                build_schedule(Immediate, grant_date, total, Vec::new())
            } else {
                build_schedule(Scheduled, grant_date, total, events)
            }
            .expect("generated schedules follow the rules")
        })
}

fn day() -> impl Strategy<Value = Date> {
    (0i64..7000).prop_map(|d| base() + Duration::days(d))
}

proptest! {
    #[test]
    fn vested_plus_unvested_is_the_total(s in valid_schedule(), as_of in day()) {
        let v = s.vesting_at(as_of);
        prop_assert!(v.vested >= 0 && v.unvested >= 0);
        prop_assert_eq!(v.vested + v.unvested, s.total_shares);
    }

    #[test]
    fn vesting_never_goes_back(s in valid_schedule(), a in day(), b in day()) {
        let (early, late) = if a <= b { (a, b) } else { (b, a) };
        prop_assert!(s.vesting_at(early).vested <= s.vesting_at(late).vested);
    }

    #[test]
    fn everything_is_vested_after_the_last_event(s in valid_schedule(), extra in 0i64..500) {
        let last = s.events.iter().map(|e| e.vest_date).max().unwrap_or(s.grant_date).max(s.grant_date);
        let v = s.vesting_at(last + Duration::days(extra));
        prop_assert_eq!((v.vested, v.unvested), (s.total_shares, 0));
        prop_assert!(s.next_vesting_after(last).is_none());
    }

    /// Q3: on rule-abiding schedules the grant endpoints' formula equals the engine's.
    #[test]
    fn listed_figures_equal_the_engine(s in valid_schedule(), as_of in day()) {
        let listed = listed_grant_figures(&s, as_of);
        let v = s.vesting_at(as_of);
        prop_assert_eq!((listed.vested_shares, listed.unvested_shares), (v.vested, v.unvested));
    }

    /// What is still to vest is exactly what is listed as upcoming.
    #[test]
    fn upcoming_shares_complete_the_vested_ones(
        schedules in prop::collection::vec(valid_schedule(), 0..5),
        as_of in day(),
    ) {
        let grants: Vec<StockGrant> = schedules.into_iter().enumerate().map(|(i, s)| grant(i as u128, s)).collect();
        let totals = vesting_totals(&grants, as_of);
        let upcoming: i64 = upcoming_vesting(&grants, as_of, usize::MAX).iter().map(|a| a.shares).sum();
        prop_assert_eq!(totals.vested + totals.unvested, totals.granted);
        prop_assert_eq!(totals.vested + upcoming, totals.granted);
    }

    /// Available shares never exceed vested minus reserved, per grant or in total, and the
    /// eligibility figures are the engine totals.
    #[test]
    fn available_never_exceeds_vested_minus_reserved(
        schedules in prop::collection::vec(valid_schedule(), 1..5),
        reserved in prop::collection::vec(0i64..150_000, 5),
        as_of in day(),
    ) {
        let grants: Vec<StockGrant> = schedules.into_iter().enumerate().map(|(i, s)| grant(i as u128, s)).collect();
        let reservations: Vec<Reservation> = grants
            .iter()
            .zip(&reserved)
            .enumerate()
            .map(|(i, (g, shares))| Reservation {
                id: Uuid::from_u128(100 + i as u128),
                loan_application_id: Uuid::from_u128(200 + i as u128),
                grant_id: g.id,
                shares_reserved: *shares,
                status: ["SUBMITTED", "ACTIVE", "REJECTED"][i % 3].into(),
                created_at: time::OffsetDateTime::UNIX_EPOCH,
            })
            .collect();
        let member = MemberFacts {
            employment_status: Some("ACTIVE".into()),
            platform_status: Some("ACTIVE".into()),
            employment_start_date: Some(base()),
        };
        let s = member_summary(&MemberStock {
            membership_id: Uuid::from_u128(1),
            member: &member,
            policy: &StockPolicy::default(),
            grants: &grants,
            reservations: &reservations,
            as_of,
        });
        for g in &s.grants {
            prop_assert!(g.available_vested_shares >= 0);
            prop_assert!(g.available_vested_shares <= g.vested_shares);
            prop_assert_eq!(g.available_vested_shares, (g.vested_shares - g.reserved_shares).max(0));
        }
        let per_grant: i64 = s.grants.iter().map(|g| g.available_vested_shares).sum();
        prop_assert!(s.total_available_vested_shares <= per_grant);
        prop_assert_eq!(
            s.total_available_vested_shares,
            (s.total_vested_shares - s.total_reserved_shares).max(0)
        );
        // REJECTED rows hold nothing.
        let holding: i64 = reservations.iter().filter(|r| r.status != "REJECTED").map(|r| r.shares_reserved).sum();
        prop_assert_eq!(s.total_reserved_shares, holding);
        prop_assert_eq!(s.eligibility_result.total_vested_shares, s.total_vested_shares);
        prop_assert_eq!(s.eligibility_result.eligible_to_exercise, s.total_vested_shares > 0);
    }
}
