//! The recorded answers of the legacy service, rebuilt from its seed data and compared as
//! serialized JSON (field names, order, value formats, numbers).

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::fixture::{self, INVITED, Org, Stage, date, id, member, sole_llc};
use super::goldens;
use crate::domain::stock::dashboard::{
    OrgStock, ProfileFields, SelfStock, StockDashboard, org_dashboard, profile_completion,
    self_stock,
};
use crate::domain::stock::eligibility::MemberFacts;
use crate::domain::stock::policy::StockPolicy;
use crate::domain::stock::summary::{MemberStock, StockSummary, member_summary};

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap()
}

fn summary_of(org: &Org, who: &str, policy: &StockPolicy, as_of: &str) -> StockSummary {
    let grants = org.grants_of(who);
    let reservations = org.reservations_of(who);
    member_summary(&MemberStock {
        membership_id: member(who),
        member: &org.members[&member(who)],
        policy,
        grants: &grants,
        reservations: &reservations,
        as_of: date(as_of),
    })
}

fn dashboard_of(org: &Org, golden: &str, policy: &StockPolicy) -> StockDashboard {
    // The GROUP BY counts come from SQL: take them from the recording.
    let recorded: StockDashboard = serde_json::from_str(golden).unwrap();
    org_dashboard(&OrgStock {
        org_id: &recorded.org_id,
        as_of: recorded.as_of,
        grants: &org.grants,
        members: &org.members,
        policy,
        reservations: &org.reservations,
        grant_mix: &recorded.grant_mix,
        memberships: &recorded.membership_snapshot,
    })
}

fn self_stock_json(stock: &SelfStock) -> String {
    let mut map = Map::new();
    let mut put = |k: &str, v: Value| {
        map.insert(k.to_owned(), v);
    };
    put(
        "stock_totals",
        serde_json::to_value(&stock.stock_totals).unwrap(),
    );
    put(
        "stock_eligibility",
        serde_json::to_value(&stock.stock_eligibility).unwrap(),
    );
    put(
        "vesting_timeline",
        serde_json::to_value(&stock.vesting_timeline).unwrap(),
    );
    put("grant_mix", serde_json::to_value(&stock.grant_mix).unwrap());
    put(
        "reservations",
        serde_json::to_value(&stock.reservations).unwrap(),
    );
    put("grants", serde_json::to_value(&stock.grants).unwrap());
    put("grants_total", Value::from(stock.grants_total));
    json(&map)
}

fn self_stock_of(org: &Org, who: &str, policy: &StockPolicy, as_of: &str) -> String {
    let grants = org.grants_of(who);
    let reservations = org.reservations_of(who);
    self_stock_json(&self_stock(&MemberStock {
        membership_id: member(who),
        member: &org.members[&member(who)],
        policy,
        grants: &grants,
        reservations: &reservations,
        as_of: date(as_of),
    }))
}

/// Worked example A (§4.4): evan at 2025-01-01, byte for byte.
#[test]
fn member_summary_at_a_past_date() {
    let org = sole_llc(Stage::Seeded);
    let summary = summary_of(&org, "evan", &StockPolicy::default(), "2025-01-01");
    assert_eq!(json(&summary), goldens::MEMBER_SUMMARY_EVAN_2025_01_01);
}

#[test]
fn member_summary_before_any_vesting() {
    let org = sole_llc(Stage::Seeded);
    let summary = summary_of(&org, "evan", &StockPolicy::default(), "2021-01-01");
    assert_eq!(json(&summary), goldens::MEMBER_SUMMARY_EVAN_2021_01_01);
}

#[test]
fn member_summary_of_an_invited_member_without_grants() {
    let facts = MemberFacts {
        employment_status: Some("ACTIVE".into()),
        platform_status: Some("INVITED".into()),
        employment_start_date: Some(date("2025-03-01")),
    };
    let summary = member_summary(&MemberStock {
        membership_id: id(INVITED),
        member: &facts,
        policy: &StockPolicy::default(),
        grants: &[],
        reservations: &[],
        as_of: date("2026-12-07"),
    });
    assert_eq!(json(&summary), goldens::MEMBER_SUMMARY_INVITED_NO_GRANTS);
}

/// Worked example C's pattern on priya: a SUBMITTED reservation on the oldest grant.
#[test]
fn member_summary_with_a_reservation() {
    let org = sole_llc(Stage::Loans);
    let summary = summary_of(&org, "priya", &StockPolicy::default(), "2026-12-07");
    assert_eq!(json(&summary), goldens::MEMBER_SUMMARY_PRIYA_RESERVED);
}

#[test]
fn member_summary_round_trips_through_the_cache_json() {
    // The legacy service reads back what sole writes under the same key, and vice versa.
    for golden in [
        goldens::MEMBER_SUMMARY_EVAN_2025_01_01,
        goldens::MEMBER_SUMMARY_PRIYA_RESERVED,
        goldens::MEMBER_SUMMARY_INVITED_NO_GRANTS,
    ] {
        let parsed: StockSummary = serde_json::from_str(golden).unwrap();
        assert_eq!(json(&parsed), golden);
    }
    for golden in [
        goldens::ORG_DASHBOARD_RESERVATIONS,
        goldens::ORG_DASHBOARD_BOTH_RULES,
    ] {
        let parsed: StockDashboard = serde_json::from_str(golden).unwrap();
        assert_eq!(json(&parsed), golden);
    }
}

#[test]
fn org_dashboard_before_any_loan() {
    let org = sole_llc(Stage::Seeded);
    let golden = goldens::ORG_DASHBOARD_2025_01_01;
    assert_eq!(
        json(&dashboard_of(&org, golden, &StockPolicy::default())),
        golden
    );
}

/// Worked example E (§4.4): 6000 / 88125 → "6.81".
#[test]
fn org_dashboard_with_reservations() {
    let org = sole_llc(Stage::Loans);
    let golden = goldens::ORG_DASHBOARD_RESERVATIONS;
    assert_eq!(
        json(&dashboard_of(&org, golden, &StockPolicy::default())),
        golden
    );
    let golden = goldens::ORG_DASHBOARD_2030_01_01;
    assert_eq!(
        json(&dashboard_of(&org, golden, &StockPolicy::default())),
        golden
    );
}

/// Q8: the reservation of a cancelled grant leaves the total but stays in `reserved_by_status`.
#[test]
fn org_dashboard_with_a_cancelled_reserved_grant() {
    let org = sole_llc(Stage::EvanGrantCancelled);
    let golden = goldens::ORG_DASHBOARD_CANCELLED_GRANT;
    assert_eq!(
        json(&dashboard_of(&org, golden, &StockPolicy::default())),
        golden
    );
}

/// §5 worked examples: eligible 4, service 5, min_vested 2, other 0.
#[test]
fn org_dashboard_buckets_under_both_rules() {
    let org = sole_llc(Stage::Terminated);
    let golden = goldens::ORG_DASHBOARD_BOTH_RULES;
    assert_eq!(
        json(&dashboard_of(&org, golden, &fixture::both_rules())),
        golden
    );
    let golden = goldens::ORG_DASHBOARD_MIX_EVERY_STATUS;
    assert_eq!(
        json(&dashboard_of(&org, golden, &StockPolicy::default())),
        golden
    );
}

#[test]
fn org_dashboard_of_the_second_org() {
    // acme-corp got the same 16 demo grants, none of the recording's additions.
    let mut org = sole_llc(Stage::Seeded);
    org.grants.retain(|g| {
        ![
            "b76f9114-e929-4031-99fd-b1581e65da9e",
            "278f5599-e29f-4ee0-a543-319ee9cf6025",
        ]
        .contains(&g.id.to_string().as_str())
    });
    let golden = goldens::ORG_DASHBOARD_SECOND_ORG;
    assert_eq!(
        json(&dashboard_of(&org, golden, &StockPolicy::default())),
        golden
    );
}

/// Worked example D (§4.4): priya at 2026-03-01.
#[test]
fn self_dashboard_timeline_and_weighted_price() {
    let org = sole_llc(Stage::Seeded);
    let got = self_stock_of(&org, "priya", &StockPolicy::default(), "2026-03-01");
    assert_eq!(got, goldens::SELF_STOCK_PRIYA_2026_03_01);
}

#[test]
fn self_dashboard_with_a_reservation() {
    let org = sole_llc(Stage::Loans);
    let got = self_stock_of(&org, "priya", &StockPolicy::default(), "2026-12-07");
    assert_eq!(got, goldens::SELF_STOCK_PRIYA_RESERVED);
    let got = self_stock_of(&org, "priya", &fixture::both_rules(), "2025-06-01");
    assert_eq!(got, goldens::SELF_STOCK_PRIYA_BOTH_RULES);
}

#[test]
fn self_dashboard_without_grants_or_membership() {
    let admin = fixture::active_member(None);
    let got = self_stock_json(&self_stock(&MemberStock {
        membership_id: member("admin"),
        member: &admin,
        policy: &StockPolicy::default(),
        grants: &[],
        reservations: &[],
        as_of: date("2026-12-07"),
    }));
    assert_eq!(got, goldens::SELF_STOCK_ADMIN_NO_GRANTS);
    assert_eq!(
        self_stock_json(&SelfStock::without_membership()),
        goldens::SELF_STOCK_NO_MEMBERSHIP
    );
}

#[test]
fn profile_completion_as_recorded() {
    let no_address = ProfileFields::default();
    let us = |c: &str| c == "US";
    assert_eq!(
        json(&profile_completion(Some(&no_address), us)),
        goldens::PROFILE_ADMIN_NO_ADDRESS
    );
    assert_eq!(
        json(&profile_completion(None, us)),
        goldens::PROFILE_ADMIN_NO_ADDRESS
    );
    let priya = ProfileFields {
        phone_number: Some("+1-555-101-0005".into()),
        timezone: Some("America/Los_Angeles".into()),
        marital_status: Some("SINGLE".into()),
        country: Some("us".into()),
        state: Some("WA".into()),
        address_line1: Some("400 Broad Street".into()),
        postal_code: Some("98109".into()),
    };
    assert_eq!(
        json(&profile_completion(Some(&priya), us)),
        goldens::PROFILE_PRIYA
    );
    // Scenario 54: a US address without phone → 7 required, 6/7 = 85.7 % → 86.
    let no_phone = ProfileFields {
        phone_number: Some("  ".into()),
        ..priya.clone()
    };
    let got = profile_completion(Some(&no_phone), us);
    assert_eq!(got.missing_fields, ["phone_number"]);
    assert_eq!((got.total_required_fields, got.completion_percent), (7, 86));
    // A country without subdivisions drops `state`.
    let elsewhere = ProfileFields {
        country: Some("MC".into()),
        state: None,
        ..priya
    };
    let got = profile_completion(Some(&elsewhere), us);
    assert_eq!(
        (got.total_required_fields, got.completion_percent),
        (6, 100)
    );
}

fn eligibility_json(org: &Org, who: &str, policy: &StockPolicy, as_of: &str) -> String {
    json(&summary_of(org, who, policy, as_of).eligibility_result)
}

/// The §5 worked examples (samples "summary under both rules …").
#[test]
fn eligibility_worked_examples() {
    let org = sole_llc(Stage::Terminated);
    let rules = fixture::both_rules();
    let cases = [
        ("priya", goldens::ELIGIBILITY_PRIYA_BOTH_RULES),
        ("robert", goldens::ELIGIBILITY_ROBERT_BOTH_RULES),
        ("admin", goldens::ELIGIBILITY_ADMIN_NO_START_DATE),
        ("daniel", goldens::ELIGIBILITY_DANIEL_TERMINATED),
    ];
    for (who, golden) in cases {
        assert_eq!(
            eligibility_json(&org, who, &rules, "2025-06-01"),
            golden,
            "{who}"
        );
    }
}

/// 2.5 years = 913.125 days: day 913 is short, day 914 passes.
#[test]
fn service_threshold_at_two_and_a_half_years() {
    let org = sole_llc(Stage::Terminated);
    let rule = StockPolicy {
        min_service_duration_years: Some(rust_decimal::Decimal::new(250, 2)),
        enforce_service_duration_rule: true,
        ..StockPolicy::default()
    };
    let got = eligibility_json(&org, "priya", &rule, "2025-08-02");
    assert_eq!(got, goldens::ELIGIBILITY_PRIYA_DAY_913);
    let got = eligibility_json(&org, "priya", &rule, "2025-08-03");
    assert_eq!(got, goldens::ELIGIBILITY_PRIYA_DAY_914);
}

/// Q10 (kept): the min-vested rule at 0 makes a member with nothing vested eligible.
#[test]
fn min_vested_rule_at_zero() {
    let org = sole_llc(Stage::Seeded);
    let rule = StockPolicy {
        min_vested_shares_to_exercise: Some(0),
        enforce_min_vested_to_exercise: true,
        ..StockPolicy::default()
    };
    assert_eq!(
        eligibility_json(&org, "evan", &rule, "2021-01-01"),
        goldens::ELIGIBILITY_EVAN_MIN_ZERO
    );
}

/// Worked example C (§4.4): robert's reservation and the self dashboard's percentages.
#[test]
fn reservation_worked_example() {
    let org = sole_llc(Stage::Loans);
    let summary = summary_of(&org, "robert", &StockPolicy::default(), "2026-12-07");
    let by_grant: HashMap<String, (i64, i64)> = summary
        .grants
        .iter()
        .map(|g| {
            (
                g.grant_date.to_string(),
                (g.reserved_shares, g.available_vested_shares),
            )
        })
        .collect();
    assert_eq!(by_grant["2021-02-01"], (2000, 7000));
    assert_eq!(by_grant["2024-05-01"], (0, 4000));
    assert_eq!(
        (
            summary.total_reserved_shares,
            summary.total_available_vested_shares
        ),
        (2000, 11000)
    );
    let grants = org.grants_of("robert");
    let reservations = org.reservations_of("robert");
    let stock = self_stock(&MemberStock {
        membership_id: member("robert"),
        member: &org.members[&member("robert")],
        policy: &StockPolicy::default(),
        grants: &grants,
        reservations: &reservations,
        as_of: date("2026-12-07"),
    });
    let text = |d: &rust_decimal::Decimal| crate::domain::decimal::py_str(d);
    assert_eq!(
        text(&stock.reservations.reserved_share_percent_of_vested),
        "15.38"
    );
    assert_eq!(
        stock
            .stock_totals
            .weighted_avg_exercise_price
            .as_ref()
            .map(text)
            .as_deref(),
        Some("12.42")
    );
}
