//! The loan engine's pure CPU cost (issue 17): a full quote (eligibility figures, allocation over
//! the grants, every allowed option) and the schedules a loan page builds, timed in-process on
//! the release build. Run by `scripts/bench loans`; prints one `name ns_per_op ops_per_s` line
//! per case.
//!
//! The inputs are the recorded sample borrower of `domain-loans.md` §4.6 (two grants, one
//! SCHEDULED and one IMMEDIATE) under the samples' policy (FIXED and VARIABLE, P&I and
//! BALLOON, 6..60 months), so the figures cover the same code paths as the golden samples.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use rust_decimal_macros::dec;
use time::macros::date;
use uuid::Uuid;

use sole::domain::decimal::PyDec;
use sole::domain::loans::quote::{LoanPolicy, QuoteInputs, QuoteRequest, quote};
use sole::domain::loans::schedule::{ScheduleTerms, build_schedule};
use sole::domain::loans::terms::{InterestType, RepaymentMethod, SelectionMode};
use sole::domain::stock::eligibility::{MemberFacts, evaluate};
use sole::domain::stock::policy::StockPolicy;
use sole::domain::stock::values::{GrantStatus, VestingStrategy};
use sole::domain::stock::vesting::{Schedule, StockGrant, VestingEvent, vesting_totals};

/// Runs `f` for about `budget` after a warm-up and returns nanoseconds per call.
fn time_per_op(budget: Duration, mut f: impl FnMut()) -> f64 {
    for _ in 0..1_000 {
        f();
    }
    let mut iterations: u64 = 0;
    let start = Instant::now();
    while start.elapsed() < budget {
        for _ in 0..100 {
            f();
        }
        iterations += 100;
    }
    start.elapsed().as_nanos() as f64 / iterations as f64
}

fn grant(id: u128, grant_date: time::Date, price: rust_decimal::Decimal, total: i64) -> StockGrant {
    let events = if total == 4000 {
        (2024..=2027)
            .map(|year| VestingEvent {
                vest_date: grant_date.replace_year(year).expect("valid date"),
                shares: 1000,
            })
            .collect()
    } else {
        Vec::new()
    };
    StockGrant {
        id: Uuid::from_u128(id),
        membership_id: Uuid::nil(),
        exercise_price: price,
        status: GrantStatus::Active,
        schedule: Schedule {
            strategy: if events.is_empty() {
                VestingStrategy::Immediate
            } else {
                VestingStrategy::Scheduled
            },
            grant_date,
            total_shares: total,
            events,
        },
    }
}

fn main() {
    let budget = Duration::from_millis(
        std::env::var("BENCH_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1500),
    );
    let today = date!(2026 - 12 - 07);
    let grants = vec![
        grant(1, date!(2023 - 01 - 15), dec!(2.500000), 4000),
        grant(2, date!(2025 - 03 - 01), dec!(4.125000), 1000),
    ];
    let member = MemberFacts {
        employment_status: Some("ACTIVE".into()),
        platform_status: Some("ACTIVE".into()),
        employment_start_date: Some(date!(2020 - 01 - 01)),
    };
    let stock_policy = StockPolicy {
        min_vested_shares_to_exercise: None,
        enforce_min_vested_to_exercise: false,
        min_service_duration_years: None,
        enforce_service_duration_rule: false,
    };
    let policy = LoanPolicy {
        allowed_interest_types: vec![InterestType::Fixed, InterestType::Variable],
        allowed_repayment_methods: vec![
            RepaymentMethod::Balloon,
            RepaymentMethod::PrincipalAndInterest,
        ],
        min_loan_term_months: Some(6),
        max_loan_term_months: Some(60),
        fixed_interest_rate_annual_percent: Some(dec!(6.5000)),
        variable_margin_annual_percent: Some(dec!(1.1250)),
        require_down_payment: false,
        down_payment_percent: None,
    };
    let reserved: HashMap<Uuid, i64> = HashMap::from([(Uuid::from_u128(1), 500)]);
    let request = QuoteRequest {
        selection_mode: SelectionMode::Percent,
        selection_value: PyDec::from_i64(50),
        as_of_date: today,
        desired_interest_type: None,
        desired_repayment_method: None,
        desired_term_months: Some(24),
    };

    let mut lines = Vec::new();
    let quote_ns = time_per_op(budget, || {
        // Eligibility is part of every quote request (the service computes it per call).
        let eligibility = evaluate(
            &member,
            &stock_policy,
            &vesting_totals(&grants, today),
            today,
        );
        let q = quote(QuoteInputs {
            request: &request,
            policy: &policy,
            grants: &grants,
            reserved_by_grant: &reserved,
            eligibility: &eligibility,
            pbgc_annual_rate_percent: Some(dec!(3.8100)),
        })
        .expect("the sample borrower can borrow");
        black_box(q);
    });
    lines.push(("quote (4 options, 2 grants)".to_owned(), quote_ns));

    for (method, months) in [
        (RepaymentMethod::PrincipalAndInterest, 12),
        (RepaymentMethod::PrincipalAndInterest, 60),
        (RepaymentMethod::Balloon, 60),
    ] {
        let terms = ScheduleTerms {
            principal: PyDec::parse("16000.000000").expect("a decimal"),
            annual_rate_percent: PyDec::parse("6.5000").expect("a decimal"),
            term_months: months,
            repayment_method: method,
            start_date: today,
        };
        let ns = time_per_op(budget, || {
            black_box(build_schedule(Uuid::nil(), black_box(&terms)).expect("valid terms"));
        });
        lines.push((format!("schedule {} {months} months", method.as_str()), ns));
    }

    for (name, ns) in lines {
        println!("{name}\t{ns:.0}\t{:.0}", 1e9 / ns);
    }
}
