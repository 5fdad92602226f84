//! Schedule rules (§4.1), PATCH resolution (§3.5 with the Q4 fix), GrantOut figures (§4.2),
//! reservations and the small dashboard rules.

use rust_decimal::Decimal;
use std::str::FromStr;

use super::fixture::{date, events, id, schedule};
use crate::domain::decimal::{DecimalInput, py_str};
use crate::domain::stock::dashboard::days_until_83b_due;
use crate::domain::stock::policy::StockPolicy;
use crate::domain::stock::reservations::{
    InsufficientShares, check_reservation, is_holding, org_reserved_percent, self_reserved_percent,
};
use crate::domain::stock::schedule::{
    GrantPatch, PatchError, PriceError, ScheduleError, build_schedule, check_exercise_price,
    membership_accepts_grants, resolve_patch,
};
use crate::domain::stock::values::{GrantStatus, VestingStrategy};
use crate::domain::stock::vesting::{StockGrant, VestingAmount, listed_grant_figures};

use VestingStrategy::{Immediate, Scheduled};

fn build(
    strategy: VestingStrategy,
    grant_date: &str,
    total: i64,
    list: &[(&str, i64)],
) -> Result<Vec<(String, i64)>, String> {
    build_schedule(strategy, date(grant_date), total, events(list))
        .map(|s| {
            s.events
                .iter()
                .map(|e| (e.vest_date.to_string(), e.shares))
                .collect()
        })
        .map_err(|e| e.to_string())
}

#[test]
fn each_schedule_rule_has_its_legacy_text() {
    let err = |r: Result<Vec<(String, i64)>, String>| r.unwrap_err();
    assert_eq!(
        err(build(Scheduled, "2026-01-15", 100, &[])),
        "Scheduled vesting requires vesting_events"
    );
    assert_eq!(
        err(build(
            Scheduled,
            "2026-01-15",
            100,
            &[("2027-01-15", 50), ("2027-01-15", 50)]
        )),
        "Vesting events cannot share the same vest_date"
    );
    assert_eq!(
        err(build(Scheduled, "2026-01-15", 100, &[("2026-01-14", 100)])),
        "Vesting events cannot occur before grant_date"
    );
    assert_eq!(
        err(build(Scheduled, "2026-01-15", 100, &[("2027-01-15", 60)])),
        "Sum of vesting_events.shares must equal total_shares"
    );
    assert_eq!(
        err(build(
            Immediate,
            "2026-01-15",
            100,
            &[("2026-01-15", 50), ("2026-02-15", 50)]
        )),
        "Immediate vesting requires a single vesting event"
    );
    assert_eq!(
        err(build(Immediate, "2026-01-15", 100, &[("2026-01-15", 99)])),
        "Immediate vesting event must match total_shares"
    );
    assert_eq!(
        err(build(Immediate, "2026-01-15", 100, &[("2026-01-16", 100)])),
        "Immediate vesting event must use grant_date as vest_date"
    );
}

#[test]
fn only_the_first_broken_rule_is_reported() {
    // Duplicate date, an event before the grant date and a wrong sum: the duplicate wins.
    let got = build(
        Scheduled,
        "2026-01-15",
        999,
        &[("2025-01-01", 1), ("2025-01-01", 1)],
    );
    assert_eq!(
        got.unwrap_err(),
        "Vesting events cannot share the same vest_date"
    );
    // IMMEDIATE: shares are checked before the date.
    let got = build(Immediate, "2026-01-15", 100, &[("2030-01-01", 1)]);
    assert_eq!(
        got.unwrap_err(),
        "Immediate vesting event must match total_shares"
    );
}

#[test]
fn accepted_schedules() {
    // An event on the grant date, zero shares, a zero total; request order is kept.
    assert_eq!(
        build(
            Scheduled,
            "2026-01-15",
            100,
            &[("2027-01-15", 100), ("2026-01-15", 0)]
        )
        .unwrap(),
        [("2027-01-15".to_owned(), 100), ("2026-01-15".to_owned(), 0)]
    );
    assert_eq!(
        build(Scheduled, "2026-01-15", 0, &[("2026-01-15", 0)])
            .unwrap()
            .len(),
        1
    );
    // IMMEDIATE without events: one generated at the grant date (samples 13 and 33).
    assert_eq!(
        build(Immediate, "2030-03-01", 500, &[]).unwrap(),
        [("2030-03-01".to_owned(), 500)]
    );
    assert_eq!(
        build(Immediate, "2026-01-15", 0, &[]).unwrap(),
        [("2026-01-15".to_owned(), 0)]
    );
    // Shares that overflow i64 when summed are compared exactly.
    let huge = build(
        Scheduled,
        "2026-01-15",
        i64::MAX,
        &[("2027-01-15", i64::MAX), ("2028-01-15", 1)],
    );
    assert_eq!(
        huge.unwrap_err(),
        "Sum of vesting_events.shares must equal total_shares"
    );
}

#[test]
fn membership_gate_upper_cases_both_statuses() {
    assert!(membership_accepts_grants(Some("active"), Some("ACTIVE")));
    assert!(!membership_accepts_grants(Some("ACTIVE"), Some("INVITED")));
    assert!(!membership_accepts_grants(
        Some("TERMINATED"),
        Some("ACTIVE")
    ));
    assert!(!membership_accepts_grants(None, Some("ACTIVE")));
}

fn stored_scheduled() -> crate::domain::stock::vesting::Schedule {
    schedule(
        Scheduled,
        "2026-01-15",
        2000,
        &[("2027-01-15", 1000), ("2028-01-15", 1000)],
    )
}

fn patch_error(
    stored: &crate::domain::stock::vesting::Schedule,
    patch: &GrantPatch,
    active: bool,
) -> String {
    resolve_patch(stored, patch, active)
        .unwrap_err()
        .to_string()
}

#[test]
fn patch_scenarios_19_to_22() {
    let stored = stored_scheduled();
    // 19: new events replace the stored ones, checked against the stored date and total.
    let patch = GrantPatch {
        vesting_events: Some(events(&[("2026-06-01", 500), ("2027-06-01", 1500)])),
        ..GrantPatch::default()
    };
    let got = resolve_patch(&stored, &patch, true).unwrap();
    assert!(got.events_replaced);
    assert_eq!(
        got.schedule.events,
        events(&[("2026-06-01", 500), ("2027-06-01", 1500)])
    );
    // 20: total alone no longer matches the stored events; with matching events it does.
    let total_only = GrantPatch {
        total_shares: Some(3000),
        ..GrantPatch::default()
    };
    assert_eq!(
        patch_error(&stored, &total_only, true),
        "Sum of vesting_events.shares must equal total_shares"
    );
    let with_events = GrantPatch {
        total_shares: Some(3000),
        vesting_events: Some(events(&[("2027-01-15", 3000)])),
        ..GrantPatch::default()
    };
    assert_eq!(
        resolve_patch(&stored, &with_events, true)
            .unwrap()
            .schedule
            .total_shares,
        3000
    );
    // 21: a grant date after a stored event.
    let later = GrantPatch {
        grant_date: Some(date("2027-06-01")),
        ..GrantPatch::default()
    };
    assert_eq!(
        patch_error(&stored, &later, true),
        "Vesting events cannot occur before grant_date"
    );
    // 22: IMMEDIATE with two stored events, then with one matching event.
    let immediate = GrantPatch {
        vesting_strategy: Some(Immediate),
        ..GrantPatch::default()
    };
    assert_eq!(
        patch_error(&stored, &immediate, true),
        "Immediate vesting requires a single vesting event"
    );
    let single = schedule(Scheduled, "2026-01-15", 5000, &[("2026-01-15", 5000)]);
    let got = resolve_patch(&single, &immediate, true).unwrap();
    assert_eq!(
        (got.schedule.strategy, got.events_replaced),
        (Immediate, false)
    );
    // ... and on that IMMEDIATE grant, a new grant date alone breaks the combined rule.
    let moved = GrantPatch {
        grant_date: Some(date("2026-02-01")),
        ..GrantPatch::default()
    };
    assert_eq!(
        patch_error(&got.schedule, &moved, true),
        "Immediate vesting event must match total_shares and grant_date"
    );
    // {} changes nothing.
    let same = resolve_patch(&stored, &GrantPatch::default(), true).unwrap();
    assert_eq!((same.schedule, same.events_replaced), (stored, false));
}

/// Q4 fixed: an inactive member's grant can be cancelled or annotated, not re-termed.
#[test]
fn inactive_members_grants_accept_status_and_notes_only() {
    let stored = stored_scheduled();
    let cancel = GrantPatch {
        status: Some(GrantStatus::Cancelled),
        notes: Some(None),
        ..GrantPatch::default()
    };
    assert!(!cancel.changes_terms());
    assert!(resolve_patch(&stored, &cancel, false).is_ok());
    let reprice = GrantPatch {
        exercise_price: Some(DecimalInput::parse("2").unwrap()),
        ..GrantPatch::default()
    };
    assert_eq!(
        resolve_patch(&stored, &reprice, false),
        Err(PatchError::MembershipNotActive)
    );
    assert_eq!(
        patch_error(&stored, &reprice, false),
        "Membership must be ACTIVE to assign stock grants"
    );
    // The membership check comes before the schedule rules.
    let broken = GrantPatch {
        total_shares: Some(1),
        ..GrantPatch::default()
    };
    assert_eq!(
        resolve_patch(&stored, &broken, false),
        Err(PatchError::MembershipNotActive)
    );
    assert_eq!(
        resolve_patch(&stored, &broken, true),
        Err(PatchError::Schedule(ScheduleError::SharesSum))
    );
}

#[test]
fn exercise_price_bounds() {
    let check = |s: &str| check_exercise_price(&DecimalInput::parse(s).unwrap());
    assert_eq!(check("0"), Ok(()));
    assert_eq!(check("-0"), Ok(()));
    assert_eq!(check("999999999999.999999"), Ok(()));
    assert_eq!(check("-0.01"), Err(PriceError::Negative));
    assert_eq!(check("1000000000000"), Err(PriceError::TooLarge));
    assert_eq!(
        PriceError::TooLarge.message(),
        "Input should be less than 1000000000000"
    );
    assert_eq!(
        PriceError::Negative.message(),
        "Input should be greater than or equal to 0"
    );
}

/// Worked example B (§4.4) and scenario 7, relative to the recording day 2026-12-07.
#[test]
fn listed_grant_figures_relative_to_today() {
    let today = date("2026-12-07");
    let b = schedule(
        Scheduled,
        "2026-01-15",
        4000,
        &[
            ("2026-07-15", 1000),
            ("2027-01-15", 1000),
            ("2027-07-15", 1000),
            ("2028-01-15", 1000),
        ],
    );
    let got = listed_grant_figures(&b, today);
    assert_eq!((got.vested_shares, got.unvested_shares), (1000, 3000));
    assert_eq!(
        got.next_vesting_event,
        Some(VestingAmount {
            vest_date: date("2027-01-15"),
            shares: 1000
        })
    );
    assert_eq!(
        got.next_vesting_summary.as_deref(),
        Some("Next vesting on 2027-01-15 (1000 shares)")
    );
    let seven = schedule(
        Scheduled,
        "2025-01-01",
        200,
        &[("2025-01-01", 100), ("2099-01-01", 100)],
    );
    let got = listed_grant_figures(&seven, today);
    assert_eq!((got.vested_shares, got.unvested_shares), (100, 100));
    assert_eq!(
        got.next_vesting_summary.as_deref(),
        Some("Next vesting on 2099-01-01 (100 shares)")
    );
    let future = schedule(Immediate, "2099-01-01", 50, &[("2099-01-01", 50)]);
    let got = listed_grant_figures(&future, today);
    assert_eq!(got.vested_shares, 0);
    assert_eq!(
        got.next_vesting_event.map(|n| (n.vest_date, n.shares)),
        Some((date("2099-01-01"), 50))
    );
    let past = schedule(Immediate, "2024-03-01", 500, &[("2024-03-01", 500)]);
    let got = listed_grant_figures(&past, today);
    assert_eq!(
        (
            got.vested_shares,
            got.next_vesting_event,
            got.next_vesting_summary
        ),
        (500, None, None)
    );
    // Preview of sample 12: events in request order, next = the earliest after today.
    let preview = build_schedule(
        Scheduled,
        date("2026-01-15"),
        4000,
        events(&[
            ("2027-01-15", 1000),
            ("2026-07-15", 1000),
            ("2027-07-15", 1000),
            ("2028-01-15", 1000),
        ]),
    )
    .unwrap();
    assert_eq!(
        listed_grant_figures(&preview, today)
            .next_vesting_summary
            .as_deref(),
        Some("Next vesting on 2027-01-15 (1000 shares)")
    );
}

/// Q3: on rows that break the rules the listed figures sum events, uncapped.
#[test]
fn listed_figures_keep_the_legacy_sum_on_broken_rows() {
    let broken = schedule(
        Immediate,
        "2020-01-01",
        100,
        &[("2020-01-01", 80), ("2020-02-01", 80)],
    );
    let got = listed_grant_figures(&broken, date("2026-12-07"));
    assert_eq!((got.vested_shares, got.unvested_shares), (160, 0));
    assert_eq!(broken.vesting_at(date("2026-12-07")).vested, 100);
}

#[test]
fn policy_changes_compare_numerically() {
    // Q12 fixed: 2.5 re-sent over a stored 2.50 is no change.
    let stored = StockPolicy {
        min_service_duration_years: Some(Decimal::from_str("2.50").unwrap()),
        enforce_service_duration_rule: true,
        ..StockPolicy::default()
    };
    let resent = StockPolicy {
        min_service_duration_years: Some(DecimalInput::parse("2.5").unwrap().value()),
        ..stored.clone()
    };
    assert!(!stored.differs_from(&resent));
    let changed = StockPolicy {
        min_service_duration_years: Some(Decimal::from_str("2.51").unwrap()),
        ..stored.clone()
    };
    assert!(stored.differs_from(&changed));
    assert_eq!(
        serde_json::to_string(&stored).unwrap(),
        r#"{"min_vested_shares_to_exercise":null,"enforce_min_vested_to_exercise":false,"min_service_duration_years":"2.50","enforce_service_duration_rule":true}"#
    );
}

#[test]
fn reservation_statuses_and_check() {
    for status in ["SUBMITTED", "IN_REVIEW", "ACTIVE"] {
        assert!(is_holding(status), "{status}");
    }
    for status in ["REJECTED", "COMPLETED", "DRAFT", "submitted"] {
        assert!(!is_holding(status), "{status}");
    }
    let grant = StockGrant {
        id: id("e13e0c78-6b63-401c-a806-804349a22c78"),
        membership_id: id("880981c5-61d4-4ffc-9d93-3a7c226519d3"),
        exercise_price: Decimal::new(10_000_000, 6),
        status: GrantStatus::Active,
        schedule: schedule(
            Scheduled,
            "2021-04-01",
            10000,
            &[
                ("2022-04-01", 2500),
                ("2023-04-01", 2500),
                ("2024-04-01", 2500),
                ("2025-04-01", 2500),
            ],
        ),
    };
    let today = date("2026-12-07");
    assert_eq!(check_reservation(&grant, 7000, 3000, today), Ok(()));
    assert_eq!(
        check_reservation(&grant, 7000, 3001, today),
        Err(InsufficientShares {
            grant_id: grant.id,
            available_vested_shares: 3000,
            requested_shares: 3001
        })
    );
    // Vesting as of today: before the last event only 7500 are vested.
    assert!(check_reservation(&grant, 0, 7501, date("2025-03-31")).is_err());
}

#[test]
fn reserved_percent_formats() {
    let text = |d: Decimal| py_str(&d);
    assert_eq!(text(org_reserved_percent(6000, 88125)), "6.81");
    assert_eq!(text(org_reserved_percent(0, 0)), "0.00");
    assert_eq!(text(self_reserved_percent(0, 0)), "0");
    assert_eq!(text(self_reserved_percent(0, 5250)), "0.00");
    assert_eq!(text(self_reserved_percent(2000, 13000)), "15.38");
    // Reservations can exceed what is vested after grant edits.
    assert_eq!(text(org_reserved_percent(3, 2)), "150.00");
}

#[test]
fn days_until_83b_due_counts_from_as_of() {
    // Q17 fixed: the requested date, not the server's today.
    assert_eq!(
        days_until_83b_due(date("2027-01-06"), date("2026-12-07")),
        30
    );
    assert_eq!(
        days_until_83b_due(date("2027-01-06"), date("2027-03-12")),
        -65
    );
}

/// domain-loans.md §4.6: G1 2023-01-15 4000 SCHEDULED, G2 2025-03-01 1000 IMMEDIATE.
#[test]
fn allocation_takes_the_oldest_grants_first() {
    use crate::domain::stock::reservations::{Allocation, allocate};
    use std::collections::HashMap;
    let g1 = StockGrant {
        id: uuid::Uuid::from_u128(1),
        membership_id: uuid::Uuid::from_u128(9),
        exercise_price: Decimal::new(2_500_000, 6),
        status: GrantStatus::Active,
        schedule: schedule(
            Scheduled,
            "2023-01-15",
            4000,
            &[
                ("2024-01-15", 1000),
                ("2025-01-15", 1000),
                ("2026-01-15", 1000),
                ("2027-01-15", 1000),
            ],
        ),
    };
    let g2 = StockGrant {
        id: uuid::Uuid::from_u128(2),
        exercise_price: Decimal::new(4_125_000, 6),
        schedule: schedule(Immediate, "2025-03-01", 1000, &[("2025-03-01", 1000)]),
        ..g1.clone()
    };
    // Loaded newest first; allocated oldest first.
    let grants = [g2.clone(), g1.clone()];
    let none = HashMap::new();
    let today = date("2026-12-07");
    // A: 3500 shares → 3000 from G1, 500 from G2.
    assert_eq!(
        allocate(&grants, &none, 3500, today),
        (
            vec![
                Allocation {
                    grant_id: g1.id,
                    shares: 3000
                },
                Allocation {
                    grant_id: g2.id,
                    shares: 500
                }
            ],
            0
        )
    );
    // F: at 2027-02-01 all 5000 are vested.
    let (parts, left) = allocate(&grants, &none, 5000, date("2027-02-01"));
    assert_eq!((parts.len(), left), (2, 0));
    // Reserved shares are not free; what cannot be placed is reported.
    let reserved = HashMap::from([(g1.id, 2500)]);
    assert_eq!(
        allocate(&grants, &reserved, 2000, today),
        (
            vec![
                Allocation {
                    grant_id: g1.id,
                    shares: 500
                },
                Allocation {
                    grant_id: g2.id,
                    shares: 1000
                }
            ],
            500
        )
    );
    // A cancelled grant gives nothing.
    let cancelled = StockGrant {
        status: GrantStatus::Cancelled,
        ..g1
    };
    assert_eq!(allocate(&[cancelled], &none, 10, today), (vec![], 10));
}
