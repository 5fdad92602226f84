//! Repayment schedules (loans contract §5, loan-admin §7.1–§7.5): the base schedule of a
//! stored loan, the repayment waterfall, the remaining schedule and the what-if schedule.
//!
//! Interest is monthly `balance × annual / 1200` whatever the number of days (a 30/360-style
//! nominal monthly rate); due dates are the start date plus k calendar months, clamped to the
//! end of the month. Every value is a [`PyDec`] so scales follow Python exactly: entries are
//! cents, except the single principal of a one-month schedule, which is the input principal
//! unrounded (`"2500.000000"`), and remaining amounts reduced by numeric(18,6) repayments carry
//! six places (`"564.980000"`).

use std::cmp::Ordering;

use serde::Serialize;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::LoanError;
use super::terms::RepaymentMethod;
use crate::domain::decimal::{PyDec, Rounding};

/// The longest schedule built (100 years). The legacy service had no bound, so a what-if for
/// a billion months tied up a worker; such a request is now a 400.
pub const MAX_TERM_MONTHS: i32 = 1200;

/// `annual / 1200` in Python's context (`6.5` → `0.005416666666666666666666666667`).
pub fn monthly_rate(annual_rate_percent: PyDec) -> PyDec {
    // 1200 is not zero, so the division always has a result.
    annual_rate_percent
        .checked_div(PyDec::from_i64(1200))
        .unwrap_or(PyDec::ZERO)
}

/// The level payment of a principal-and-interest loan over `term_months ≥ 1`, rounded half-up
/// to cents: `P / n` at a zero rate, else `P × r × f / (f − 1)` with `f = (1 + r)^n`, each
/// step in Python's context. `None` when the rate is so small that `1 + r` rounds to 1 (the
/// legacy service divided by zero) or a value leaves the representable range.
pub fn annuity_payment(
    principal: PyDec,
    annual_rate_percent: PyDec,
    term_months: i32,
) -> Option<PyDec> {
    let n = u32::try_from(term_months).ok().filter(|n| *n >= 1)?;
    let rate = monthly_rate(annual_rate_percent);
    let raw = if rate.is_zero() {
        principal.checked_div(PyDec::from_i64(i64::from(n)))?
    } else {
        let factor = (PyDec::ONE + rate).powi(n);
        (principal * rate * factor).checked_div(factor - PyDec::ONE)?
    };
    Some(raw.quantize(2, Rounding::HalfUp))
}

/// `start` plus `months` calendar months, the day clamped to the target month's length
/// (2027-01-31 + 1 → 2027-02-28).
pub fn add_months(start: Date, months: i32) -> Option<Date> {
    let index =
        i64::from(start.year()) * 12 + i64::from(u8::from(start.month())) - 1 + i64::from(months);
    let year = i32::try_from(index.div_euclid(12)).ok()?;
    let month = time::Month::try_from(u8::try_from(index.rem_euclid(12) + 1).ok()?).ok()?;
    let day = start.day().min(month.length(year));
    Date::from_calendar_date(year, month, day).ok()
}

/// One row of a schedule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ScheduleEntry {
    pub period: i32,
    #[serde(with = "super::wire::date")]
    pub due_date: Date,
    pub payment: PyDec,
    pub principal: PyDec,
    pub interest: PyDec,
    pub remaining_balance: PyDec,
}

/// `LoanScheduleResponse`, keys in wire order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Schedule {
    pub loan_id: Uuid,
    #[serde(with = "super::wire::date")]
    pub as_of_date: Date,
    pub repayment_method: RepaymentMethod,
    pub term_months: i32,
    pub principal: PyDec,
    pub annual_rate_percent: PyDec,
    pub estimated_monthly_payment: PyDec,
    pub entries: Vec<ScheduleEntry>,
}

/// The terms a schedule is built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScheduleTerms {
    /// Kept as given: `2500.000000` from the column, `1000` from a what-if body.
    pub principal: PyDec,
    pub annual_rate_percent: PyDec,
    pub term_months: i32,
    pub repayment_method: RepaymentMethod,
    pub start_date: Date,
}

fn invalid_schedule(message: impl Into<std::borrow::Cow<'static, str>>) -> LoanError {
    LoanError::bare("invalid_schedule", message)
}

fn cents(v: PyDec) -> PyDec {
    v.quantize(2, Rounding::HalfUp)
}

fn due_date(start: Date, period: i32) -> Result<Date, LoanError> {
    add_months(start, period).ok_or_else(|| invalid_schedule("due date is out of range"))
}

/// The full schedule of some terms (§5.1). The error texts are the `invalid_schedule`
/// messages of the schedule routes.
pub fn build_schedule(loan_id: Uuid, terms: &ScheduleTerms) -> Result<Schedule, LoanError> {
    let n = terms.term_months;
    if n < 1 {
        return Err(invalid_schedule("term_months must be >= 1"));
    }
    if n > MAX_TERM_MONTHS {
        return Err(invalid_schedule(format!(
            "term_months must be <= {MAX_TERM_MONTHS}"
        )));
    }
    let principal = terms.principal;
    let rate = monthly_rate(terms.annual_rate_percent);
    let mut balance = principal;
    let mut entries = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
    let estimated = match terms.repayment_method {
        RepaymentMethod::PrincipalAndInterest => {
            let payment = annuity_payment(principal, terms.annual_rate_percent, n)
                .ok_or_else(|| invalid_schedule("annual_rate_percent is too small to amortize"))?;
            for period in 1..=n {
                let interest = cents(balance * rate);
                let (principal_k, payment_k) = if period == n {
                    // The last instalment takes the running balance and absorbs the rounding.
                    (balance, cents(balance + interest))
                } else {
                    (cents(payment - interest), payment)
                };
                balance = cents(balance - principal_k);
                entries.push(ScheduleEntry {
                    period,
                    due_date: due_date(terms.start_date, period)?,
                    payment: payment_k,
                    principal: principal_k,
                    interest,
                    remaining_balance: balance,
                });
            }
            payment
        }
        RepaymentMethod::Balloon => {
            let interest = cents(principal * rate);
            let zero = PyDec::from_decimal(rust_decimal::Decimal::new(0, 2));
            for period in 1..=n {
                let (principal_k, payment_k) = if period == n {
                    (balance, cents(interest + balance))
                } else {
                    (zero, interest)
                };
                balance = cents(balance - principal_k);
                entries.push(ScheduleEntry {
                    period,
                    due_date: due_date(terms.start_date, period)?,
                    payment: payment_k,
                    principal: principal_k,
                    interest,
                    remaining_balance: balance,
                });
            }
            interest
        }
    };
    Ok(Schedule {
        loan_id,
        as_of_date: terms.start_date,
        repayment_method: terms.repayment_method,
        term_months: n,
        principal,
        annual_rate_percent: terms.annual_rate_percent,
        estimated_monthly_payment: estimated,
        entries,
    })
}

/// What a schedule needs from a `loan_applications` row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredLoan {
    pub loan_id: Uuid,
    /// numeric(18,6).
    pub loan_principal: rust_decimal::Decimal,
    /// numeric(10,4): the quote's rate rounded to cents (quirk 5).
    pub nominal_annual_rate_percent: rust_decimal::Decimal,
    pub term_months: i32,
    pub repayment_method: RepaymentMethod,
    pub activation_date: Option<OffsetDateTime>,
    pub as_of_date: Date,
}

impl StoredLoan {
    /// The UTC date of activation, else the quote date (schedules of any status).
    pub fn start_date(&self) -> Date {
        self.activation_date
            .map(|at| at.to_offset(time::UtcOffset::UTC).date())
            .unwrap_or(self.as_of_date)
    }

    pub fn terms(&self) -> ScheduleTerms {
        ScheduleTerms {
            principal: PyDec::from_decimal(self.loan_principal),
            annual_rate_percent: PyDec::from_decimal(self.nominal_annual_rate_percent),
            term_months: self.term_months,
            repayment_method: self.repayment_method,
            start_date: self.start_date(),
        }
    }

    /// The full schedule of the loan (§5.1).
    pub fn base_schedule(&self) -> Result<Schedule, LoanError> {
        build_schedule(self.loan_id, &self.terms())
    }
}

/// A `loan_repayments` row as the schedule rules read it (values as stored, numeric(18,6)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repayment {
    pub payment_date: Date,
    pub created_at: OffsetDateTime,
    pub amount: rust_decimal::Decimal,
    pub principal_amount: rust_decimal::Decimal,
    pub interest_amount: rust_decimal::Decimal,
}

/// What is left of each instalment after the repayments (§5.3 step 3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waterfall {
    pub principal_left: Vec<PyDec>,
    pub interest_left: Vec<PyDec>,
}

impl Waterfall {
    /// Applies the repayments dated on or before `through` (all of them for `None`), in
    /// (payment date, creation time) order: each repayment's principal pays the instalments'
    /// principal from period 1 upward, then its interest pays their interest likewise. Extra
    /// principal therefore pays the earliest open instalments, and nothing is re-amortized.
    pub fn apply(
        entries: &[ScheduleEntry],
        repayments: &[Repayment],
        through: Option<Date>,
    ) -> Self {
        let mut principal_left: Vec<PyDec> = entries.iter().map(|e| e.principal).collect();
        let mut interest_left: Vec<PyDec> = entries.iter().map(|e| e.interest).collect();
        let mut ordered: Vec<&Repayment> = repayments
            .iter()
            .filter(|r| through.is_none_or(|d| r.payment_date <= d))
            .collect();
        ordered.sort_by_key(|r| (r.payment_date, r.created_at));
        for repayment in ordered {
            spend(
                &mut principal_left,
                PyDec::from_decimal(repayment.principal_amount),
            );
            spend(
                &mut interest_left,
                PyDec::from_decimal(repayment.interest_amount),
            );
        }
        Self {
            principal_left,
            interest_left,
        }
    }

    /// Σ of the principal left, unrounded (`sum(…, Decimal("0"))`).
    pub fn principal_total(&self) -> PyDec {
        self.principal_left
            .iter()
            .fold(PyDec::ZERO, |acc, v| acc + *v)
    }

    /// Σ of the interest left, unrounded.
    pub fn interest_total(&self) -> PyDec {
        self.interest_left
            .iter()
            .fold(PyDec::ZERO, |acc, v| acc + *v)
    }

    /// Whether every instalment is paid (nothing left of any principal or interest).
    pub fn fully_paid(&self) -> bool {
        self.principal_left
            .iter()
            .zip(&self.interest_left)
            .all(|(p, i)| !(*p + *i).is_positive())
    }
}

/// Spends `payment` on the slots from the first upward. On a tie the slot takes the
/// payment's value (Python's `min` returns its first argument), which is what gives a fully
/// paid slot the repayment's six places.
fn spend(slots: &mut [PyDec], mut payment: PyDec) {
    for slot in slots.iter_mut() {
        if !payment.is_positive() {
            break;
        }
        if !slot.is_positive() {
            continue;
        }
        let applied = if slot.cmp_value(payment) == Ordering::Less {
            *slot
        } else {
            payment
        };
        *slot = *slot - applied;
        payment = payment - applied;
    }
}

/// The estimate shown with a remaining schedule: the level payment of `principal` over
/// `term_months` (`"0.00"` for no months) or the balloon's monthly interest.
fn estimate(
    principal: PyDec,
    annual: PyDec,
    term_months: i32,
    method: RepaymentMethod,
) -> Result<PyDec, LoanError> {
    match method {
        RepaymentMethod::PrincipalAndInterest if term_months <= 0 => {
            Ok(PyDec::from_decimal(rust_decimal::Decimal::new(0, 2)))
        }
        RepaymentMethod::PrincipalAndInterest => annuity_payment(principal, annual, term_months)
            .ok_or_else(|| invalid_schedule("annual_rate_percent is too small to amortize")),
        RepaymentMethod::Balloon => Ok(cents(principal * monthly_rate(annual))),
    }
}

/// The remaining schedule at `as_of` (§5.3; `GET …/schedule` and the exports): the
/// instalments still open after the repayments dated on or before `as_of`, all in cents.
/// With `include_paid` every instalment is listed (paid ones as zeros) and the running
/// balance still starts from the remaining principal.
pub fn remaining_schedule(
    loan: &StoredLoan,
    repayments: &[Repayment],
    as_of: Date,
    include_paid: bool,
) -> Result<Schedule, LoanError> {
    let base = loan.base_schedule()?;
    let left = Waterfall::apply(&base.entries, repayments, Some(as_of));
    let remaining_total = left.principal_total();
    let mut balance = remaining_total;
    let mut entries = Vec::new();
    for ((entry, principal_due), interest_due) in base
        .entries
        .iter()
        .zip(&left.principal_left)
        .zip(&left.interest_left)
    {
        let due = cents(*principal_due + *interest_due);
        if !due.is_positive() && !include_paid {
            continue;
        }
        let principal = cents(*principal_due);
        balance = cents(balance - principal);
        entries.push(ScheduleEntry {
            period: entry.period,
            due_date: entry.due_date,
            payment: due,
            principal,
            interest: cents(*interest_due),
            remaining_balance: balance,
        });
    }
    let term_months = if include_paid {
        base.term_months
    } else {
        i32::try_from(entries.len()).unwrap_or(i32::MAX)
    };
    Ok(Schedule {
        loan_id: loan.loan_id,
        as_of_date: as_of,
        repayment_method: base.repayment_method,
        term_months,
        principal: cents(remaining_total),
        annual_rate_percent: base.annual_rate_percent,
        estimated_monthly_payment: estimate(
            remaining_total,
            base.annual_rate_percent,
            term_months,
            base.repayment_method,
        )?,
        entries,
    })
}

/// The body of `POST …/schedule/what-if` (after the HTTP layer's checks: `term_months ≥ 1`,
/// `annual_rate_percent ≥ 0`, `principal ≥ 0`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WhatIfRequest {
    pub as_of_date: Option<Date>,
    pub repayment_method: Option<RepaymentMethod>,
    pub term_months: Option<i32>,
    /// Exactly as sent (echoed: `"5"`, `"4.935"`).
    pub annual_rate_percent: Option<PyDec>,
    /// Exactly as sent (echoed: `"1000"`).
    pub principal: Option<PyDec>,
}

/// A fresh schedule from the loan's terms with the request's overrides (§5.4): the principal
/// defaults to what is left after the repayments dated on or before `as_of_date` (or
/// `today`), unrounded; the start is `as_of_date`, else the activation date, else the quote
/// date. No repayment is applied to the new entries.
pub fn what_if_schedule(
    loan: &StoredLoan,
    repayments: &[Repayment],
    request: &WhatIfRequest,
    today: Date,
) -> Result<Schedule, LoanError> {
    let principal = match request.principal {
        Some(p) => p,
        None => {
            let base = loan.base_schedule()?;
            let through = request.as_of_date.unwrap_or(today);
            Waterfall::apply(&base.entries, repayments, Some(through)).principal_total()
        }
    };
    let terms = ScheduleTerms {
        principal,
        annual_rate_percent: request
            .annual_rate_percent
            .unwrap_or_else(|| PyDec::from_decimal(loan.nominal_annual_rate_percent)),
        term_months: request.term_months.unwrap_or(loan.term_months),
        repayment_method: request.repayment_method.unwrap_or(loan.repayment_method),
        start_date: request.as_of_date.unwrap_or_else(|| loan.start_date()),
    };
    build_schedule(loan.loan_id, &terms)
}

/// The sum of a schedule's instalments (what a borrower pays by following it).
pub fn schedule_total(schedule: &Schedule) -> PyDec {
    schedule
        .entries
        .iter()
        .fold(PyDec::ZERO, |acc, e| acc + e.payment)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal::Decimal;
    use rust_decimal_macros::dec;
    use serde_json::{Value, json};
    use sha2::Digest;
    use time::macros::{date, datetime};

    pub(crate) fn recorded(name: &str) -> Value {
        let all: Value = serde_json::from_str(include_str!("testdata/recorded.json")).unwrap();
        all.get(name)
            .cloned()
            .unwrap_or_else(|| panic!("no recording {name:?}"))
    }

    pub(crate) fn iso(d: &str) -> Date {
        Date::parse(d, time::macros::format_description!("[year]-[month]-[day]")).unwrap()
    }

    /// Loan L1 of the samples: 2500.00 at 6.5 %, P&I over 12 months, activated 2026-12-07.
    pub(crate) fn l1() -> StoredLoan {
        StoredLoan {
            loan_id: "2bbf2c20-8763-434a-a6c9-9ae3b088addf".parse().unwrap(),
            loan_principal: dec!(2500.000000),
            nominal_annual_rate_percent: dec!(6.5000),
            term_months: 12,
            repayment_method: RepaymentMethod::PrincipalAndInterest,
            activation_date: Some(datetime!(2026-12-07 00:36:52.867032 UTC)),
            as_of_date: date!(2026 - 12 - 07),
        }
    }

    /// L1's two recorded repayments: period 1, then period 2 with 100.00 extra principal.
    pub(crate) fn l1_repayments() -> Vec<Repayment> {
        vec![
            Repayment {
                payment_date: date!(2026 - 12 - 07),
                created_at: datetime!(2026-12-07 00:36:53.230463 UTC),
                amount: dec!(215.740000),
                principal_amount: dec!(202.200000),
                interest_amount: dec!(13.540000),
            },
            Repayment {
                payment_date: date!(2026 - 12 - 07),
                created_at: datetime!(2026-12-07 00:36:53.283824 UTC),
                amount: dec!(315.740000),
                principal_amount: dec!(303.290000),
                interest_amount: dec!(12.450000),
            },
        ]
    }

    /// The admin samples' loan: 4000.00 at 6 %, P&I over 6 months, activated 2026-12-07.
    pub(crate) fn admin_loan() -> StoredLoan {
        StoredLoan {
            loan_id: "fd8e7ce4-2674-4855-a123-0c934ed6d552".parse().unwrap(),
            loan_principal: dec!(4000.000000),
            nominal_annual_rate_percent: dec!(6.0000),
            term_months: 6,
            repayment_method: RepaymentMethod::PrincipalAndInterest,
            activation_date: Some(datetime!(2026-12-07 00:36:19.544786 UTC)),
            as_of_date: date!(2026 - 12 - 07),
        }
    }

    pub(crate) fn admin_repayments() -> Vec<Repayment> {
        let r = |day: Date, at: OffsetDateTime, p: Decimal, i: Decimal| Repayment {
            payment_date: day,
            created_at: at,
            amount: p + i,
            principal_amount: p,
            interest_amount: i,
        };
        vec![
            r(
                date!(2026 - 12 - 07),
                datetime!(2026-12-07 00:36:27.575240 UTC),
                dec!(658.380000),
                dec!(20.000000),
            ),
            r(
                date!(2026 - 12 - 07),
                datetime!(2026-12-07 00:36:27.678949 UTC),
                dec!(761.670000),
                dec!(16.710000),
            ),
            r(
                date!(2027 - 03 - 07),
                datetime!(2026-12-07 00:36:27.949160 UTC),
                dec!(2579.950000),
                dec!(33.580000),
            ),
        ]
    }

    /// The SUBMITTED BALLOON loan of the admin samples (no activation date yet).
    pub(crate) fn balloon_loan() -> StoredLoan {
        StoredLoan {
            loan_id: "634ecee2-eb7c-4fa5-b401-e2bc6144d6db".parse().unwrap(),
            loan_principal: dec!(1800.000000),
            nominal_annual_rate_percent: dec!(6.0000),
            term_months: 12,
            repayment_method: RepaymentMethod::Balloon,
            activation_date: None,
            as_of_date: date!(2026 - 12 - 07),
        }
    }

    fn assert_recorded(schedule: &Schedule, name: &str) {
        let rec = recorded(name);
        assert_eq!(rec["status"], 200);
        let wire = serde_json::to_value(schedule).unwrap();
        assert_eq!(wire, rec["response"], "{name}");
        assert_eq!(
            serde_json::to_string(&wire).unwrap(),
            serde_json::to_string(&rec["response"]).unwrap(),
            "{name}: key order"
        );
    }

    #[test]
    fn the_worked_example_of_section_5_2() {
        let base = l1().base_schedule().unwrap();
        let table: Vec<String> = base
            .entries
            .iter()
            .map(|e| {
                format!(
                    "{} {} {} {} {} {}",
                    e.period,
                    super::super::wire::iso_date(e.due_date),
                    e.payment,
                    e.principal,
                    e.interest,
                    e.remaining_balance
                )
            })
            .collect();
        assert_eq!(
            table,
            [
                "1 2027-01-07 215.74 202.20 13.54 2297.80",
                "2 2027-02-07 215.74 203.29 12.45 2094.51",
                "3 2027-03-07 215.74 204.39 11.35 1890.12",
                "4 2027-04-07 215.74 205.50 10.24 1684.62",
                "5 2027-05-07 215.74 206.61 9.13 1478.01",
                "6 2027-06-07 215.74 207.73 8.01 1270.28",
                "7 2027-07-07 215.74 208.86 6.88 1061.42",
                "8 2027-08-07 215.74 209.99 5.75 851.43",
                "9 2027-09-07 215.74 211.13 4.61 640.30",
                "10 2027-10-07 215.74 212.27 3.47 428.03",
                "11 2027-11-07 215.74 213.42 2.32 214.61",
                "12 2027-12-07 215.77 214.61 1.16 0.00",
            ]
        );
        assert_eq!(schedule_total(&base).to_string(), "2588.91");
        // The header keeps the stored principal and rate.
        assert_eq!(base.principal.to_string(), "2500.000000");
        assert_eq!(base.annual_rate_percent.to_string(), "6.5000");
        assert_eq!(base.estimated_monthly_payment.to_string(), "215.74");
    }

    #[test]
    fn loan_lb_sums_a_cent_below_its_quote() {
        let lb = StoredLoan {
            loan_principal: dec!(450.000000),
            nominal_annual_rate_percent: dec!(7.0000),
            term_months: 6,
            ..l1()
        };
        let base = lb.base_schedule().unwrap();
        let split: Vec<(String, String)> = base
            .entries
            .iter()
            .map(|e| (e.principal.to_string(), e.interest.to_string()))
            .collect();
        assert_eq!(
            split,
            [
                ("73.91".into(), "2.63".into()),
                ("74.35".into(), "2.19".into()),
                ("74.78".into(), "1.76".into()),
                ("75.22".into(), "1.32".into()),
                ("75.65".into(), "0.89".into()),
                ("76.09".into(), "0.44".into()),
            ]
        );
        assert_eq!(base.entries[5].payment.to_string(), "76.53");
        assert_eq!(base.estimated_monthly_payment.to_string(), "76.54");
        assert_eq!(schedule_total(&base).to_string(), "459.23");
    }

    #[test]
    fn recorded_remaining_schedules() {
        let loan = l1();
        let reps = l1_repayments();
        assert_recorded(
            &remaining_schedule(&loan, &[], date!(2026 - 12 - 07), false).unwrap(),
            "get SUBMITTED loan schedule 200 (no status check; starts from as_of_date)",
        );
        assert_recorded(
            &remaining_schedule(&loan, &reps, date!(2026 - 12 - 07), false).unwrap(),
            "schedule 200 after repayments (remaining entries, re-amortized estimate)",
        );
        assert_recorded(
            &remaining_schedule(&loan, &reps, date!(2026 - 12 - 07), true).unwrap(),
            "schedule 200 include_paid=true",
        );
        assert_recorded(
            &remaining_schedule(&loan, &reps, date!(2026 - 01 - 01), false).unwrap(),
            "schedule 200 as_of before the repayments (they are ignored)",
        );
        let admin = admin_loan();
        let all = admin_repayments();
        assert_recorded(
            &remaining_schedule(&admin, &all, date!(2026 - 12 - 07), false).unwrap(),
            "schedule (remaining, default as_of today)",
        );
        assert_recorded(
            &remaining_schedule(&admin, &all, date!(2026 - 12 - 07), true).unwrap(),
            "schedule include_paid=true",
        );
        assert_recorded(
            &remaining_schedule(&admin, &all, date!(2026 - 12 - 06), false).unwrap(),
            "schedule as_of before any repayment",
        );
        assert_recorded(
            &remaining_schedule(&balloon_loan(), &[], date!(2026 - 12 - 07), false).unwrap(),
            "schedule of a SUBMITTED BALLOON loan (starts at as_of_date)",
        );
        // Fully paid: nothing left, no months, "0.00".
        let paid = remaining_schedule(&admin, &all, date!(2027 - 03 - 07), false).unwrap();
        assert!(paid.entries.is_empty());
        assert_eq!(paid.term_months, 0);
        assert_eq!(paid.principal.to_string(), "0.00");
        assert_eq!(paid.estimated_monthly_payment.to_string(), "0.00");
        let paid_all = remaining_schedule(&admin, &all, date!(2027 - 03 - 07), true).unwrap();
        assert_eq!(paid_all.entries.len(), 6);
        assert!(
            paid_all
                .entries
                .iter()
                .all(|e| e.payment.to_string() == "0.00")
        );
    }

    fn what_if_request(body: &Value) -> WhatIfRequest {
        WhatIfRequest {
            as_of_date: body["as_of_date"].as_str().map(iso),
            repayment_method: body["repayment_method"]
                .as_str()
                .map(|m| RepaymentMethod::parse(m).unwrap()),
            term_months: body["term_months"]
                .as_i64()
                .map(|t| i32::try_from(t).unwrap()),
            annual_rate_percent: body["annual_rate_percent"]
                .as_str()
                .map(|r| PyDec::parse(r).unwrap()),
            principal: body["principal"].as_str().map(|p| PyDec::parse(p).unwrap()),
        }
    }

    #[test]
    fn recorded_what_ifs() {
        let today = date!(2026 - 12 - 07);
        for (loan, reps, name) in [
            (
                l1(),
                l1_repayments(),
                "what-if 200 empty body (remaining principal, original terms, start = activation date)",
            ),
            (l1(), l1_repayments(), "what-if 200 term 24 at 5 %"),
            (
                l1(),
                l1_repayments(),
                "what-if 200 BALLOON with explicit principal",
            ),
            (balloon_loan(), vec![], "what-if (as the SPA sends it)"),
            (balloon_loan(), vec![], "what-if with principal override"),
        ] {
            let req = what_if_request(&recorded(name)["request"]);
            assert_recorded(&what_if_schedule(&loan, &reps, &req, today).unwrap(), name);
        }
        // Zero rate over three months: the last instalment takes the odd cent.
        let req = WhatIfRequest {
            term_months: Some(3),
            annual_rate_percent: Some(PyDec::parse("0").unwrap()),
            principal: Some(PyDec::parse("100").unwrap()),
            ..WhatIfRequest::default()
        };
        let s = what_if_schedule(&l1(), &[], &req, today).unwrap();
        let pays: Vec<String> = s.entries.iter().map(|e| e.payment.to_string()).collect();
        assert_eq!(pays, ["33.33", "33.33", "33.34"]);
    }

    #[test]
    fn one_month_keeps_the_principal_unrounded_and_terms_are_bounded() {
        let one = StoredLoan {
            term_months: 1,
            ..l1()
        };
        let s = one.base_schedule().unwrap();
        assert_eq!(s.entries[0].principal.to_string(), "2500.000000");
        assert_eq!(s.entries[0].payment.to_string(), "2513.54");
        let err = build_schedule(
            Uuid::nil(),
            &ScheduleTerms {
                term_months: 0,
                ..l1().terms()
            },
        )
        .unwrap_err();
        assert_eq!(
            (err.code, err.message.as_ref()),
            ("invalid_schedule", "term_months must be >= 1")
        );
        assert!(
            build_schedule(
                Uuid::nil(),
                &ScheduleTerms {
                    term_months: MAX_TERM_MONTHS + 1,
                    ..l1().terms()
                }
            )
            .is_err()
        );
        // A rate so small that 1 + r rounds to 1 cannot amortize (the legacy divided by zero).
        let err = build_schedule(
            Uuid::nil(),
            &ScheduleTerms {
                annual_rate_percent: PyDec::parse("1E-30").unwrap(),
                ..l1().terms()
            },
        )
        .unwrap_err();
        assert_eq!(err.code, "invalid_schedule");
    }

    #[test]
    fn due_dates_clamp_to_the_month_end() {
        let start = date!(2027 - 01 - 31);
        let got: Vec<Date> = (1..=6).map(|k| add_months(start, k).unwrap()).collect();
        assert_eq!(
            got,
            [
                date!(2027 - 02 - 28),
                date!(2027 - 03 - 31),
                date!(2027 - 04 - 30),
                date!(2027 - 05 - 31),
                date!(2027 - 06 - 30),
                date!(2027 - 07 - 31),
            ]
        );
        assert_eq!(
            add_months(date!(2028 - 01 - 31), 1),
            Some(date!(2028 - 02 - 29))
        );
        assert_eq!(
            add_months(date!(2026 - 12 - 07), 12),
            Some(date!(2027 - 12 - 07))
        );
        // The activation timestamp's UTC date starts the schedule.
        let late = StoredLoan {
            activation_date: Some(datetime!(2026-12-07 23:30 -5)),
            ..l1()
        };
        assert_eq!(late.start_date(), date!(2026 - 12 - 08));
    }

    fn digest(entries: &[ScheduleEntry]) -> String {
        let text = entries
            .iter()
            .map(|e| {
                format!(
                    "{},{},{},{},{},{}",
                    e.period,
                    super::super::wire::iso_date(e.due_date),
                    e.payment,
                    e.principal,
                    e.interest,
                    e.remaining_balance
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        hex::encode(sha2::Sha256::digest(text.as_bytes()))
    }

    /// Schedules, repayments, remaining schedules and payment statuses computed by Python's
    /// decimal module with the legacy formulas (testdata/gen_vectors.py).
    #[test]
    fn schedules_match_python_decimal() {
        let vectors: Value =
            serde_json::from_str(include_str!("testdata/python-vectors.json")).unwrap();
        let cases = vectors["schedules"].as_array().unwrap();
        assert!(cases.len() >= 200);
        for case in cases {
            let loan = StoredLoan {
                loan_id: Uuid::nil(),
                loan_principal: case["principal"].as_str().unwrap().parse().unwrap(),
                nominal_annual_rate_percent: case["annual"].as_str().unwrap().parse().unwrap(),
                term_months: i32::try_from(case["n"].as_i64().unwrap()).unwrap(),
                repayment_method: RepaymentMethod::parse(case["method"].as_str().unwrap()).unwrap(),
                activation_date: None,
                as_of_date: iso(case["start"].as_str().unwrap()),
            };
            let base = loan.base_schedule().unwrap();
            let last = base.entries.last().unwrap();
            assert_eq!(
                json!([
                    last.payment.to_string(),
                    last.principal.to_string(),
                    last.interest.to_string()
                ]),
                case["last"],
                "{case}"
            );
            assert_eq!(
                base.estimated_monthly_payment.to_string(),
                case["estimated"],
                "{case}"
            );
            assert_eq!(digest(&base.entries), case["digest"], "{case}");

            let repayments: Vec<Repayment> = case["repayments"]
                .as_array()
                .unwrap()
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let p: Decimal = r[1].as_str().unwrap().parse().unwrap();
                    let int: Decimal = r[2].as_str().unwrap().parse().unwrap();
                    Repayment {
                        payment_date: iso(r[0].as_str().unwrap()),
                        created_at: datetime!(2026-01-01 0:00 UTC)
                            + time::Duration::seconds(i64::try_from(i).unwrap()),
                        amount: p + int,
                        principal_amount: p,
                        interest_amount: int,
                    }
                })
                .collect();
            let as_of = iso(case["as_of"].as_str().unwrap());
            let include_paid = case["include_paid"].as_bool().unwrap();
            let rem = remaining_schedule(&loan, &repayments, as_of, include_paid).unwrap();
            let want = &case["remaining"];
            assert_eq!(
                json!({
                    "term_months": rem.term_months,
                    "principal": rem.principal.to_string(),
                    "estimated": rem.estimated_monthly_payment.to_string(),
                    "count": rem.entries.len(),
                    "digest": digest(&rem.entries),
                }),
                *want,
                "{case}"
            );

            let status =
                super::super::repayments::payment_status(&loan, &repayments, as_of).unwrap();
            let want = &case["status"];
            assert_eq!(
                json!({
                    "next": status.next_payment_date.map(|d| json!([
                        super::super::wire::iso_date(d),
                        status.next_payment_amount.map(|v| v.to_string()),
                        status.next_principal_due.map(|v| v.to_string()),
                        status.next_interest_due.map(|v| v.to_string()),
                    ])),
                    "principal_remaining": status.principal_remaining.to_string(),
                    "interest_remaining": status.interest_remaining.to_string(),
                    "total_remaining": status.total_remaining.to_string(),
                    "missed_count": status.missed_payment_count,
                    "missed_first": status.missed_payment_dates.first().map(|d| super::super::wire::iso_date(*d)),
                    "missed_total": status.missed_payment_amount_total.to_string(),
                }),
                *want,
                "{case}"
            );
        }
    }

    fn cents_strategy() -> impl Strategy<Value = Decimal> {
        (1i64..=1_000_000_000).prop_map(|c| Decimal::new(c, 2))
    }

    fn rate_strategy() -> impl Strategy<Value = Decimal> {
        prop_oneof![
            Just(Decimal::ZERO),
            (0i64..=300_000).prop_map(|r| Decimal::new(r, 4))
        ]
    }

    fn method_strategy() -> impl Strategy<Value = RepaymentMethod> {
        prop_oneof![
            Just(RepaymentMethod::PrincipalAndInterest),
            Just(RepaymentMethod::Balloon)
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// Principal sums to the amount, no balance goes negative, every instalment is
        /// exactly its principal plus its interest (no cent appears or disappears), and the
        /// balance ends at zero.
        #[test]
        fn schedules_amortize_exactly(
            principal in cents_strategy(),
            annual in rate_strategy(),
            n in 1i32..=120,
            method in method_strategy(),
        ) {
            let terms = ScheduleTerms {
                principal: PyDec::from_decimal(principal),
                annual_rate_percent: PyDec::from_decimal(annual),
                term_months: n,
                repayment_method: method,
                start_date: date!(2026 - 01 - 31),
            };
            let s = build_schedule(Uuid::nil(), &terms).unwrap();
            prop_assert_eq!(s.entries.len(), usize::try_from(n).unwrap());
            let mut principal_sum = PyDec::ZERO;
            let mut balance = PyDec::from_decimal(principal);
            for e in &s.entries {
                prop_assert!(!e.remaining_balance.is_negative());
                prop_assert!(!e.principal.is_negative());
                prop_assert!(!e.interest.is_negative());
                prop_assert_eq!(
                    e.payment.cmp_value(e.principal + e.interest),
                    Ordering::Equal
                );
                balance = balance - e.principal;
                prop_assert_eq!(balance.cmp_value(e.remaining_balance), Ordering::Equal);
                principal_sum = principal_sum + e.principal;
            }
            prop_assert_eq!(
                principal_sum.cmp_value(PyDec::from_decimal(principal)),
                Ordering::Equal
            );
            let last = s.entries.last().unwrap();
            prop_assert!(last.remaining_balance.is_zero());
            prop_assert_eq!(last.remaining_balance.to_string(), "0.00");
        }

        /// Paying the instalments as scheduled always completes the loan at the last one (the
        /// legacy gap left some loans ACTIVE forever), and never before it.
        #[test]
        fn paying_the_schedule_completes_the_loan(
            principal in cents_strategy(),
            annual in rate_strategy(),
            n in 1i32..=60,
            method in method_strategy(),
        ) {
            use super::super::quote::quote_option;
            use super::super::repayments::completes_loan;
            use super::super::terms::InterestType;
            let option = quote_option(
                InterestType::Fixed,
                method,
                n,
                PyDec::from_decimal(annual),
                principal,
            )
            .unwrap();
            let loan = StoredLoan {
                loan_id: Uuid::nil(),
                loan_principal: principal,
                nominal_annual_rate_percent: annual,
                term_months: n,
                repayment_method: method,
                activation_date: None,
                as_of_date: date!(2026 - 01 - 31),
            };
            let base = loan.base_schedule().unwrap();
            let repayments: Vec<Repayment> = base
                .entries
                .iter()
                .map(|e| {
                    let p = e.principal.quantize(6, Rounding::HalfUp).to_decimal().unwrap();
                    let i = e.interest.quantize(6, Rounding::HalfUp).to_decimal().unwrap();
                    Repayment {
                        payment_date: e.due_date,
                        created_at: datetime!(2026-01-01 0:00 UTC),
                        amount: p + i,
                        principal_amount: p,
                        interest_amount: i,
                    }
                })
                .collect();
            let all_but_last = &repayments[..repayments.len() - 1];
            let status = super::super::workflow::LoanStatus::Active;
            prop_assert!(completes_loan(status, option.total_payable, &base, &repayments));
            let paid_early: Decimal = all_but_last.iter().map(|r| r.amount).sum();
            if paid_early < option.total_payable {
                prop_assert!(!completes_loan(status, option.total_payable, &base, all_but_last));
            }
            let rest = remaining_schedule(&loan, &repayments, date!(2040 - 01 - 01), false).unwrap();
            prop_assert!(rest.entries.is_empty());
        }
    }
}
