//! The loan quote (loans contract §4): shares to exercise, the oldest-first allocation across
//! grants, purchase price, down payment, principal, the policy checks and one option per
//! (interest type × repayment method) with its payment, total and interest.
//!
//! Vesting, eligibility and the oldest-first split of the shares over the grants are the stock
//! engine's ([`crate::domain::stock`]): the caller passes the member's grants, the shares their
//! reservations hold and the engine's eligibility result, and this module prices them.
//! Arithmetic is Python's `Decimal` default context ([`PyDec`]) with the explicit roundings of
//! the contract (ROUND_HALF_UP to cents, ROUND_FLOOR for the percent share count), so every
//! figure and its string form is the legacy one.

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::json;
use time::Date;
use uuid::Uuid;

use super::LoanError;
use super::schedule::{annuity_payment, monthly_rate};
use super::terms::{ALLOCATION_STRATEGY, InterestType, RepaymentMethod, SelectionMode};
use crate::domain::decimal::{PyDec, Rounding, at_column_scale, py_str, serde_py_str};
use crate::domain::stock::eligibility::Eligibility;
use crate::domain::stock::reservations::{allocate as split_over_grants, available_shares};
use crate::domain::stock::vesting::StockGrant;

/// The request of `POST /me/loan-applications/quote` (and of the re-quotes of PATCH, submit
/// and the admin edit), after the HTTP layer's validation (`selection_value > 0`,
/// `desired_term_months >= 1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuoteRequest {
    pub selection_mode: SelectionMode,
    /// Exactly as parsed (echoed with its Python `str()`); for the re-quotes of a PERCENT loan
    /// the 28-digit quotient of [`derived_selection_value`].
    pub selection_value: PyDec,
    /// The body's date or today.
    pub as_of_date: Date,
    pub desired_interest_type: Option<InterestType>,
    pub desired_repayment_method: Option<RepaymentMethod>,
    pub desired_term_months: Option<i32>,
}

/// The loan policy fields of `org_settings` the quote reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoanPolicy {
    /// In stored order (the option order follows it).
    pub allowed_interest_types: Vec<InterestType>,
    pub allowed_repayment_methods: Vec<RepaymentMethod>,
    pub min_loan_term_months: Option<i32>,
    pub max_loan_term_months: Option<i32>,
    /// numeric(10,4); null counts as 0.
    pub fixed_interest_rate_annual_percent: Option<Decimal>,
    /// numeric(10,4); null makes every VARIABLE quote fail.
    pub variable_margin_annual_percent: Option<Decimal>,
    pub require_down_payment: bool,
    /// numeric(5,2); null counts as 0.
    pub down_payment_percent: Option<Decimal>,
}

/// Everything a quote depends on.
#[derive(Clone, Copy, Debug)]
pub struct QuoteInputs<'a> {
    pub request: &'a QuoteRequest,
    pub policy: &'a LoanPolicy,
    /// The member's ACTIVE grants, ordered by `created_at, id`: grants of the same date give
    /// their shares in this order (the legacy order was undefined, quirk 28).
    pub grants: &'a [StockGrant],
    /// Shares held per grant by the member's SUBMITTED / IN_REVIEW / ACTIVE reservations on
    /// these grants (`stock::reservations::reserved_by_grant`). For the admin re-quote of a
    /// submitted loan, without the loan's own reservations (quirk Q10).
    pub reserved_by_grant: &'a HashMap<Uuid, i64>,
    /// The stock engine's eligibility at the quote date (`stock::eligibility::evaluate` on
    /// the totals of `grants`).
    pub eligibility: &'a Eligibility,
    /// The newest non-null PBGC annual rate (§9.5), the VARIABLE base rate.
    pub pbgc_annual_rate_percent: Option<Decimal>,
}

/// One allocation line (`{grant_id, grant_date, shares, exercise_price, purchase_price}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AllocationItem {
    pub grant_id: Uuid,
    #[serde(with = "super::wire::date")]
    pub grant_date: Date,
    pub shares: i64,
    /// Shown rounded to cents (4.125 → "4.13"); the purchase price used the full value.
    #[serde(with = "serde_py_str")]
    pub exercise_price: Decimal,
    #[serde(with = "serde_py_str")]
    pub purchase_price: Decimal,
}

/// One quote option (`LoanQuoteOption`), every amount at two places.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QuoteOption {
    pub interest_type: InterestType,
    pub repayment_method: RepaymentMethod,
    pub term_months: i32,
    /// The annual rate rounded to cents. Stored as `nominal_annual_rate_percent` and used by
    /// every later schedule, while the payment here used the unrounded rate (quirk 5).
    #[serde(with = "serde_py_str")]
    pub nominal_annual_rate: Decimal,
    #[serde(with = "serde_py_str")]
    pub estimated_monthly_payment: Decimal,
    #[serde(with = "serde_py_str")]
    pub total_payable: Decimal,
    /// Negative for a zero-rate P&I loan whose term does not divide the principal into whole
    /// cents (quirk 6); see [`QuoteOption::check_storable`].
    #[serde(with = "serde_py_str")]
    pub total_interest: Decimal,
}

impl QuoteOption {
    /// Refuses to store an option the `loan_applications` CHECK constraints would reject
    /// (`total_interest_amount >= 0`). The legacy create answered 500 here; the quote itself
    /// keeps answering the numbers.
    pub fn check_storable(&self) -> Result<(), LoanError> {
        if self.total_interest.is_sign_negative() && !self.total_interest.is_zero() {
            return Err(LoanError::new(
                "invalid_quote",
                "Quote produces a negative total interest",
                json!({ "total_interest": py_str(&self.total_interest) }),
            ));
        }
        Ok(())
    }
}

/// The quote answer (`LoanQuote`), keys in wire order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Quote {
    #[serde(with = "super::wire::date")]
    pub as_of_date: Date,
    pub selection_mode: SelectionMode,
    pub selection_value: PyDec,
    pub total_exercisable_shares: i64,
    pub shares_to_exercise: i64,
    #[serde(with = "serde_py_str")]
    pub purchase_price: Decimal,
    /// The literal `0` (wire `"0"`) without a down payment rule, else cents.
    #[serde(with = "serde_py_str")]
    pub down_payment_amount: Decimal,
    #[serde(with = "serde_py_str")]
    pub loan_principal: Decimal,
    pub options: Vec<QuoteOption>,
    pub eligibility_result: Eligibility,
    pub allocation_strategy: &'static str,
    pub allocation: Vec<AllocationItem>,
}

fn out_of_range() -> LoanError {
    LoanError::bare("invalid_quote", "Quote amounts are out of range")
}

fn cents(value: PyDec) -> Result<Decimal, LoanError> {
    value
        .quantize(2, Rounding::HalfUp)
        .to_decimal()
        .ok_or_else(out_of_range)
}

/// A JSON number for a share count (Python ints are unbounded; beyond `u64` the value is
/// clamped, which only a nonsensical request can reach).
fn share_count(shares: i128) -> serde_json::Value {
    match i64::try_from(shares) {
        Ok(v) => json!(v),
        Err(_) => json!(u64::try_from(shares.max(0)).unwrap_or(u64::MAX)),
    }
}

/// Shares to exercise for the selection (§4.3), or the legacy refusal.
pub fn shares_to_exercise(
    mode: SelectionMode,
    value: PyDec,
    available: i64,
) -> Result<i64, LoanError> {
    if available <= 0 {
        return Err(LoanError::new(
            "no_exercisable_shares",
            "No exercisable shares are available",
            json!({ "field": "selection_value", "total_exercisable_shares": available }),
        ));
    }
    let invalid = |message: &'static str, constraint: &'static str| {
        LoanError::new(
            "invalid_selection",
            message,
            json!({
                "field": "selection_value",
                "constraint": constraint,
                "selection_value": value.to_string(),
            }),
        )
    };
    let shares: i128 = match mode {
        SelectionMode::Percent => {
            let hundred = PyDec::from_i64(100);
            if !value.is_positive() || value.cmp_value(hundred).is_gt() {
                return Err(invalid(
                    "Selection percent must be between 0 and 100",
                    "0 < value <= 100",
                ));
            }
            let raw = (PyDec::from_i64(available) * value)
                .checked_div(hundred)
                .ok_or_else(out_of_range)?;
            raw.quantize(0, Rounding::Floor)
                .to_integer()
                .ok_or_else(out_of_range)?
        }
        SelectionMode::Shares => {
            if !value.is_positive() {
                return Err(invalid(
                    "Selection shares must be greater than zero",
                    "value > 0",
                ));
            }
            if !value.is_integral() {
                return Err(invalid(
                    "Selection shares must be a whole number",
                    "integer",
                ));
            }
            value
                .quantize(0, Rounding::Down)
                .to_integer()
                .ok_or_else(out_of_range)?
        }
    };
    if shares <= 0 {
        return Err(invalid(
            "Selection results in zero exercisable shares",
            "results_in_positive_shares",
        ));
    }
    if shares > i128::from(available) {
        return Err(LoanError::new(
            "shares_exceed_eligibility",
            "Requested shares exceed exercisable shares",
            json!({
                "field": "selection_value",
                "requested_shares": share_count(shares),
                "total_exercisable_shares": available,
            }),
        ));
    }
    i64::try_from(shares).map_err(|_| out_of_range())
}

/// The selection value a stored loan is re-quoted with (PATCH without a value, submit, admin
/// edit): the share count for SHARES, else `shares × 100 / total_exercisable_shares_snapshot`
/// as Python divides it (28 significant digits; `1000 × 100 / 3000` =
/// `33.33333333333333333333333333`, which floors back to 999 shares of 3000).
pub fn derived_selection_value(
    mode: SelectionMode,
    shares_to_exercise: i64,
    total_exercisable_shares_snapshot: i64,
) -> Result<PyDec, LoanError> {
    match mode {
        SelectionMode::Shares => Ok(PyDec::from_i64(shares_to_exercise)),
        SelectionMode::Percent => {
            if total_exercisable_shares_snapshot <= 0 {
                return Err(LoanError::new(
                    "invalid_selection",
                    "Cannot derive selection percent from zero exercisable shares",
                    json!({
                        "total_exercisable_shares_snapshot": total_exercisable_shares_snapshot
                    }),
                ));
            }
            (PyDec::from_i64(shares_to_exercise) * PyDec::from_i64(100))
                .checked_div(PyDec::from_i64(total_exercisable_shares_snapshot))
                .ok_or_else(out_of_range)
        }
    }
}

/// The stock engine's oldest-first split of `shares`, priced: each grant's purchase is its
/// full-precision exercise price times its shares, rounded to cents; the line shows the price
/// rounded to cents (4.125 → "4.13").
fn allocate(
    grants: &[StockGrant],
    reserved_by_grant: &HashMap<Uuid, i64>,
    shares: i64,
    as_of: Date,
) -> Result<(Decimal, Vec<AllocationItem>), LoanError> {
    let (split, _unplaced) = split_over_grants(grants, reserved_by_grant, shares, as_of);
    let mut total = PyDec::ZERO;
    let mut items = Vec::with_capacity(split.len());
    for part in split {
        let Some(grant) = grants.iter().find(|g| g.id == part.grant_id) else {
            continue;
        };
        let price = PyDec::from_decimal(grant.exercise_price);
        let purchase = cents(price * PyDec::from_i64(part.shares))?;
        items.push(AllocationItem {
            grant_id: grant.id,
            grant_date: grant.schedule.grant_date,
            shares: part.shares,
            exercise_price: cents(price)?,
            purchase_price: purchase,
        });
        total = total + PyDec::from_decimal(purchase);
    }
    Ok((cents(total)?, items))
}

/// One option (§4.5): the payment on the unrounded annual rate, the total, the interest.
pub fn quote_option(
    interest_type: InterestType,
    repayment_method: RepaymentMethod,
    term_months: i32,
    annual_rate_percent: PyDec,
    principal: Decimal,
) -> Result<QuoteOption, LoanError> {
    let p = PyDec::from_decimal(principal);
    let n = PyDec::from_i64(i64::from(term_months));
    let (payment, total_payable) = match repayment_method {
        RepaymentMethod::PrincipalAndInterest => {
            let payment = if term_months <= 0 {
                Decimal::ZERO
            } else {
                annuity_payment(p, annual_rate_percent, term_months)
                    .and_then(PyDec::to_decimal)
                    .ok_or_else(out_of_range)?
            };
            let total = cents(PyDec::from_decimal(payment) * n)?;
            (payment, total)
        }
        RepaymentMethod::Balloon => {
            let payment = cents(p * monthly_rate(annual_rate_percent))?;
            let total = cents(PyDec::from_decimal(payment) * n + p)?;
            (payment, total)
        }
    };
    let total_interest = cents(PyDec::from_decimal(total_payable) - p)?;
    Ok(QuoteOption {
        interest_type,
        repayment_method,
        term_months,
        nominal_annual_rate: cents(annual_rate_percent)?,
        estimated_monthly_payment: payment,
        total_payable,
        total_interest,
    })
}

/// The quote (§4), or the first legacy refusal in the legacy order: eligibility, selection,
/// allocation, interest type, repayment method, term, variable rate data.
pub fn quote(inputs: QuoteInputs<'_>) -> Result<Quote, LoanError> {
    let QuoteInputs {
        request,
        policy,
        grants,
        reserved_by_grant,
        eligibility,
        pbgc_annual_rate_percent,
    } = inputs;
    let as_of = request.as_of_date;
    let total_vested = grants
        .iter()
        .filter(|g| g.is_active())
        .fold(0i64, |acc, g| {
            acc.saturating_add(g.schedule.vesting_at(as_of).vested)
        });
    let total_reserved = reserved_by_grant
        .values()
        .fold(0i64, |acc, r| acc.saturating_add(*r));
    let available = available_shares(total_vested, total_reserved);

    if !eligibility.eligible_to_exercise {
        return Err(LoanError::new(
            "exercise_ineligible",
            "Employee is not eligible to exercise shares",
            json!({ "reasons": eligibility.reasons }),
        ));
    }
    let shares = shares_to_exercise(request.selection_mode, request.selection_value, available)?;
    let (purchase_price, allocation) = allocate(grants, reserved_by_grant, shares, as_of)?;

    let down_payment_amount = if policy.require_down_payment {
        let percent = PyDec::from_decimal(policy.down_payment_percent.unwrap_or_default());
        let raw = (PyDec::from_decimal(purchase_price) * percent)
            .checked_div(PyDec::from_i64(100))
            .ok_or_else(out_of_range)?;
        cents(raw)?
    } else {
        Decimal::ZERO
    };
    let loan_principal =
        cents(PyDec::from_decimal(purchase_price) - PyDec::from_decimal(down_payment_amount))?;

    if let Some(wanted) = request.desired_interest_type
        && !policy.allowed_interest_types.contains(&wanted)
    {
        return Err(LoanError::new(
            "interest_type_not_allowed",
            "Desired interest type is not allowed by org policy",
            json!({
                "field": "desired_interest_type",
                "allowed_interest_types": policy.allowed_interest_types,
            }),
        ));
    }
    if let Some(wanted) = request.desired_repayment_method
        && !policy.allowed_repayment_methods.contains(&wanted)
    {
        return Err(LoanError::new(
            "repayment_method_not_allowed",
            "Desired repayment method is not allowed by org policy",
            json!({
                "field": "desired_repayment_method",
                "allowed_repayment_methods": policy.allowed_repayment_methods,
            }),
        ));
    }
    let min_term = policy.min_loan_term_months.unwrap_or(0);
    let max_term = policy.max_loan_term_months.unwrap_or(0);
    // `desired or min`: a desired term of 0 (refused by the HTTP layer) would fall back too.
    let term = request
        .desired_term_months
        .filter(|t| *t != 0)
        .unwrap_or(min_term);
    if term < min_term || term > max_term {
        return Err(LoanError::new(
            "invalid_term",
            "Loan term is outside of org policy bounds",
            json!({
                "field": "desired_term_months",
                "min_loan_term_months": min_term,
                "max_loan_term_months": max_term,
            }),
        ));
    }

    let interest_types = match request.desired_interest_type {
        Some(t) => vec![t],
        None => policy.allowed_interest_types.clone(),
    };
    let methods = match request.desired_repayment_method {
        Some(m) => vec![m],
        None => policy.allowed_repayment_methods.clone(),
    };
    let mut options = Vec::with_capacity(interest_types.len() * methods.len());
    for interest_type in interest_types {
        let annual = annual_rate(interest_type, policy, pbgc_annual_rate_percent)?;
        for &method in &methods {
            options.push(quote_option(
                interest_type,
                method,
                term,
                annual,
                loan_principal,
            )?);
        }
    }
    if options.is_empty() {
        return Err(LoanError::bare(
            "no_quote_options",
            "No loan quote options could be generated",
        ));
    }

    Ok(Quote {
        as_of_date: request.as_of_date,
        selection_mode: request.selection_mode,
        selection_value: request.selection_value,
        total_exercisable_shares: available,
        shares_to_exercise: shares,
        purchase_price,
        down_payment_amount,
        loan_principal,
        options,
        eligibility_result: eligibility.clone(),
        allocation_strategy: ALLOCATION_STRATEGY,
        allocation,
    })
}

/// The annual rate of an interest type: the policy's fixed rate (null → 0), or the PBGC rate
/// plus the margin. The stored `variable_base_rate_annual_percent` is never used; without a
/// PBGC rate or a margin the whole quote fails (quirk 4).
pub fn annual_rate(
    interest_type: InterestType,
    policy: &LoanPolicy,
    pbgc_annual_rate_percent: Option<Decimal>,
) -> Result<PyDec, LoanError> {
    match interest_type {
        InterestType::Fixed => Ok(PyDec::from_decimal(
            policy
                .fixed_interest_rate_annual_percent
                .unwrap_or_default(),
        )),
        InterestType::Variable => {
            // Python's `value or 0`: a missing or zero value becomes the integer 0 (`"0"`).
            let or_zero = |v: Option<Decimal>| match v {
                Some(d) if !d.is_zero() => PyDec::from_decimal(d),
                _ => PyDec::ZERO,
            };
            let base = or_zero(pbgc_annual_rate_percent);
            let margin = or_zero(policy.variable_margin_annual_percent);
            match (
                pbgc_annual_rate_percent,
                policy.variable_margin_annual_percent,
            ) {
                (Some(_), Some(_)) => Ok(base + margin),
                _ => Err(LoanError::new(
                    "variable_rate_missing",
                    "Variable rate data is required for variable interest quotes",
                    json!({
                        "variable_base_rate_annual_percent": base.to_string(),
                        "variable_margin_annual_percent": margin.to_string(),
                    }),
                )),
            }
        }
    }
}

/// `variable_base_rate_annual_percent` as `GET/PUT /org/settings`, `GET /self/policy` and the
/// applications' `org_settings_snapshot` show it: the newest PBGC annual rate when there is one
/// (numeric(10,4): `"3.8100"`), else the stored column. The stored value itself is never used
/// to price a loan ([`annual_rate`]).
pub fn shown_variable_base_rate(
    stored: Option<Decimal>,
    pbgc_annual_rate_percent: Option<Decimal>,
) -> Option<Decimal> {
    pbgc_annual_rate_percent
        .map(|rate| at_column_scale(rate, 4))
        .or(stored)
}

/// `Idempotency-Key` of create and submit: trimmed, empty means none, at most 100 characters.
pub fn validate_idempotency_key(raw: Option<&str>) -> Result<Option<String>, LoanError> {
    let Some(key) = raw.map(str::trim).filter(|k| !k.is_empty()) else {
        return Ok(None);
    };
    if key.chars().count() > 100 {
        return Err(LoanError::new(
            "invalid_idempotency_key",
            "Idempotency-Key is too long",
            json!({ "field": "Idempotency-Key", "max_length": 100 }),
        ));
    }
    Ok(Some(key.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::stock::eligibility::{MemberFacts, evaluate};
    use crate::domain::stock::policy::StockPolicy;
    use crate::domain::stock::values::{GrantStatus, VestingStrategy};
    use crate::domain::stock::vesting::{Schedule, VestingEvent, vesting_totals};
    use rust_decimal_macros::dec;
    use serde_json::Value;
    use time::macros::date;

    /// Exchanges copied from the golden samples (testdata/extract_recorded.py).
    fn recorded(name: &str) -> Value {
        let all: Value = serde_json::from_str(include_str!("testdata/recorded.json")).unwrap();
        all.get(name)
            .cloned()
            .unwrap_or_else(|| panic!("no recording {name:?}"))
    }

    fn grant_ids() -> (Uuid, Uuid) {
        (
            "d27bae02-1313-42cc-8ded-cea781530785".parse().unwrap(),
            "d9cfcf1f-c524-4fbf-b301-db0aa27acbe5".parse().unwrap(),
        )
    }

    fn grant(
        id: Uuid,
        day: Date,
        price: Decimal,
        total: i64,
        events: &[(Date, i64)],
    ) -> StockGrant {
        StockGrant {
            id,
            membership_id: Uuid::nil(),
            exercise_price: price,
            status: GrantStatus::Active,
            schedule: Schedule {
                strategy: if events.is_empty() {
                    VestingStrategy::Immediate
                } else {
                    VestingStrategy::Scheduled
                },
                grant_date: day,
                total_shares: total,
                events: events
                    .iter()
                    .map(|&(vest_date, shares)| VestingEvent { vest_date, shares })
                    .collect(),
            },
        }
    }

    /// The sample borrower of §4.6: G1 2023-01-15, 4000 at 2.50, 1000 a year from
    /// 2024-01-15 (3000 vested on 2026-12-07); G2 2025-03-01, 1000 at 4.125, immediate.
    /// Loaded in creation order (G1 first).
    fn borrower_grants() -> Vec<StockGrant> {
        let (g1, g2) = grant_ids();
        vec![
            grant(
                g1,
                date!(2023 - 01 - 15),
                dec!(2.500000),
                4000,
                &[
                    (date!(2024 - 01 - 15), 1000),
                    (date!(2025 - 01 - 15), 1000),
                    (date!(2026 - 01 - 15), 1000),
                    (date!(2027 - 01 - 15), 1000),
                ],
            ),
            grant(g2, date!(2025 - 03 - 01), dec!(4.125000), 1000, &[]),
        ]
    }

    /// An active member who started in 2020, under `stock_policy`.
    fn eligibility(grants: &[StockGrant], stock_policy: &StockPolicy, as_of: Date) -> Eligibility {
        let member = MemberFacts {
            employment_status: Some("ACTIVE".into()),
            platform_status: Some("ACTIVE".into()),
            employment_start_date: Some(date!(2020 - 01 - 01)),
        };
        evaluate(&member, stock_policy, &vesting_totals(grants, as_of), as_of)
    }

    fn rules_off() -> StockPolicy {
        StockPolicy {
            min_vested_shares_to_exercise: None,
            enforce_min_vested_to_exercise: false,
            min_service_duration_years: None,
            enforce_service_duration_rule: false,
        }
    }

    /// The org policy of the samples after `PUT /org/settings` (fixed 6.5, margin 1.125, 6..60).
    fn policy() -> LoanPolicy {
        LoanPolicy {
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
        }
    }

    fn default_policy() -> LoanPolicy {
        LoanPolicy {
            fixed_interest_rate_annual_percent: Some(dec!(0.0000)),
            variable_margin_annual_percent: None,
            ..policy()
        }
    }

    /// The request of a recorded quote body, as the HTTP layer parses it.
    fn request(body: &Value, today: Date) -> QuoteRequest {
        let value = match &body["selection_value"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        QuoteRequest {
            selection_mode: SelectionMode::parse(body["selection_mode"].as_str().unwrap()).unwrap(),
            selection_value: PyDec::parse(&value).unwrap(),
            as_of_date: body["as_of_date"]
                .as_str()
                .map(|d| {
                    Date::parse(d, time::macros::format_description!("[year]-[month]-[day]"))
                        .unwrap()
                })
                .unwrap_or(today),
            desired_interest_type: body["desired_interest_type"]
                .as_str()
                .map(|t| InterestType::parse(t).unwrap()),
            desired_repayment_method: body["desired_repayment_method"]
                .as_str()
                .map(|m| RepaymentMethod::parse(m).unwrap()),
            desired_term_months: body["desired_term_months"]
                .as_i64()
                .map(|t| i32::try_from(t).unwrap()),
        }
    }

    const TODAY: Date = date!(2026 - 12 - 07);
    const PBGC: Option<Decimal> = Some(dec!(3.8100));

    /// Runs the recorded request against the borrower (with `reserved_g1` shares of G1 held
    /// by other loans) and compares the whole answer, or the whole error, with the recording.
    fn check_recorded(name: &str, policy: &LoanPolicy, pbgc: Option<Decimal>, reserved_g1: i64) {
        check_member(
            name,
            policy,
            pbgc,
            reserved_g1,
            &borrower_grants(),
            &rules_off(),
        );
    }

    fn check_member(
        name: &str,
        policy: &LoanPolicy,
        pbgc: Option<Decimal>,
        reserved_g1: i64,
        grants: &[StockGrant],
        stock_policy: &StockPolicy,
    ) {
        let rec = recorded(name);
        let req = request(&rec["request"], TODAY);
        let reserved: HashMap<Uuid, i64> = [(grant_ids().0, reserved_g1)].into_iter().collect();
        let eligibility = eligibility(grants, stock_policy, req.as_of_date);
        let got = quote(QuoteInputs {
            request: &req,
            policy,
            grants,
            reserved_by_grant: &reserved,
            eligibility: &eligibility,
            pbgc_annual_rate_percent: pbgc,
        });
        match got {
            Ok(q) => {
                assert_eq!(rec["status"], 200, "{name}: got {q:?}");
                let wire = serde_json::to_value(&q).unwrap();
                assert_eq!(wire, rec["response"], "{name}");
                // Same key order as the recording.
                assert_eq!(
                    serde_json::to_string(&wire).unwrap(),
                    serde_json::to_string(&rec["response"]).unwrap()
                );
            }
            Err(e) => {
                assert_eq!(rec["status"], 400, "{name}: got {e:?}");
                assert_eq!(
                    json!({"code": e.code, "message": e.message, "details": e.details}),
                    rec["response"],
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn recorded_quotes_match_to_the_cent_and_the_string() {
        check_recorded(
            "quote 200 SHARES 3500 FIXED P&I 12 (allocation across two grants)",
            &policy(),
            PBGC,
            0,
        );
        check_recorded(
            "quote 200 PERCENT 50, no desired terms (all type x method options, term = min)",
            &policy(),
            PBGC,
            0,
        );
        check_recorded(
            "quote 200 VARIABLE BALLOON 24 (rate = PBGC + margin, displayed rounded)",
            &policy(),
            PBGC,
            0,
        );
        check_recorded(
            "quote 200 future as_of_date counts future vesting",
            &policy(),
            PBGC,
            0,
        );
        check_recorded(
            "quote 200 zero-rate FIXED P&I (principal / term)",
            &default_policy(),
            None,
            0,
        );
        let with_down_payment = LoanPolicy {
            fixed_interest_rate_annual_percent: Some(dec!(7.0000)),
            require_down_payment: true,
            down_payment_percent: Some(dec!(10.00)),
            ..policy()
        };
        // L1 (1000) and the 200-share loan hold G1 shares: 2800 left.
        check_recorded(
            "quote 200 with 10 % down payment",
            &with_down_payment,
            PBGC,
            1200,
        );
    }

    #[test]
    fn recorded_refusals_match() {
        check_recorded(
            "quote 400 variable_rate_missing (no desired type; VARIABLE allowed, no PBGC rate, no margin)",
            &default_policy(),
            None,
            0,
        );
        for name in [
            "quote 400 invalid_selection percent > 100",
            "quote 400 invalid_selection shares not whole",
            "quote 400 invalid_selection results in zero shares",
            "quote 400 shares_exceed_eligibility",
            "quote 400 invalid_term below min",
        ] {
            check_recorded(name, &policy(), PBGC, 0);
        }
        check_recorded(
            "quote 400 shares_exceed_eligibility after reservation (available = vested - reserved)",
            &policy(),
            PBGC,
            1000,
        );
        check_recorded(
            "quote 400 no_exercisable_shares (everything reserved)",
            &policy(),
            PBGC,
            3000 + 1000,
        );
        let fixed_only = LoanPolicy {
            allowed_interest_types: vec![InterestType::Fixed],
            ..policy()
        };
        check_recorded("quote 400 interest_type_not_allowed", &fixed_only, PBGC, 0);
        let balloon_only = LoanPolicy {
            allowed_repayment_methods: vec![RepaymentMethod::Balloon],
            ..policy()
        };
        check_recorded(
            "quote 400 repayment_method_not_allowed",
            &balloon_only,
            PBGC,
            0,
        );
    }

    #[test]
    fn ineligibility_comes_from_the_stock_engine_in_order() {
        // Service 10 years and 100000 vested shares required: two reasons, in that order.
        let strict = StockPolicy {
            min_vested_shares_to_exercise: Some(100_000),
            enforce_min_vested_to_exercise: true,
            min_service_duration_years: Some(dec!(10.00)),
            enforce_service_duration_rule: true,
        };
        check_member(
            "quote 400 exercise_ineligible (service duration + min vested)",
            &policy(),
            PBGC,
            0,
            &borrower_grants(),
            &strict,
        );
        // A member without grants: NO_VESTED_SHARES.
        check_member(
            "quote 400 exercise_ineligible (no grants)",
            &policy(),
            PBGC,
            0,
            &[],
            &rules_off(),
        );
    }

    /// §4.6 A–E, by their numbers in the contract text.
    #[test]
    fn worked_examples_of_the_contract() {
        let pi = RepaymentMethod::PrincipalAndInterest;
        let fixed = InterestType::Fixed;
        // A: 9562.50 at 6.5 % over 12 months.
        let a = quote_option(
            fixed,
            pi,
            12,
            PyDec::parse("6.5000").unwrap(),
            dec!(9562.50),
        )
        .unwrap();
        assert_eq!(
            (
                a.estimated_monthly_payment.to_string(),
                a.total_payable.to_string(),
                a.total_interest.to_string(),
                a.nominal_annual_rate.to_string()
            ),
            (
                "825.21".into(),
                "9902.52".into(),
                "340.02".into(),
                "6.50".into()
            )
        );
        let rate = monthly_rate(PyDec::parse("6.5").unwrap());
        assert_eq!(rate.to_string(), "0.005416666666666666666666666667");
        assert_eq!(
            (PyDec::ONE + rate).powi(12).to_string(),
            "1.066971852002543818038223969"
        );
        // C: VARIABLE 3.81 + 1.125 = 4.935 (shown 4.94), BALLOON 24 on 2500.00.
        let annual = annual_rate(InterestType::Variable, &policy(), PBGC).unwrap();
        assert_eq!(annual.to_string(), "4.9350");
        assert_eq!(monthly_rate(annual).to_string(), "0.0041125");
        let c = quote_option(
            InterestType::Variable,
            RepaymentMethod::Balloon,
            24,
            annual,
            dec!(2500.00),
        )
        .unwrap();
        assert_eq!(c.estimated_monthly_payment.to_string(), "10.28");
        assert_eq!(c.total_payable.to_string(), "2746.72");
        assert_eq!(c.total_interest.to_string(), "246.72");
        assert_eq!(c.nominal_annual_rate.to_string(), "4.94");
        // D: zero rate over 7 months loses two cents, and cannot be stored.
        let d = quote_option(fixed, pi, 7, PyDec::parse("0.0000").unwrap(), dec!(2500.00)).unwrap();
        assert_eq!(d.estimated_monthly_payment.to_string(), "357.14");
        assert_eq!(d.total_payable.to_string(), "2499.98");
        assert_eq!(d.total_interest.to_string(), "-0.02");
        let err = d.check_storable().unwrap_err();
        assert_eq!(err.code, "invalid_quote");
        assert_eq!(err.message, "Quote produces a negative total interest");
        assert_eq!(err.details, json!({"total_interest": "-0.02"}));
        assert_eq!(a.check_storable(), Ok(()));
        // E: 333 shares with 10 % down: 832.50 − 83.25 = 749.25 at 7 % over 6 months.
        let e = quote_option(fixed, pi, 6, PyDec::parse("7.0000").unwrap(), dec!(749.25)).unwrap();
        assert_eq!(
            (
                e.estimated_monthly_payment.to_string(),
                e.total_payable.to_string(),
                e.total_interest.to_string()
            ),
            ("127.44".into(), "764.64".into(), "15.39".into())
        );
    }

    #[test]
    fn recorded_draft_options_including_a_half_cent_tie() {
        // 500.00 at 6.5 % BALLOON 6 (sample "create draft 201 …"): 2.708333… → 2.71.
        let rec =
            recorded("create draft 201 (to be overtaken by a policy change)")["response"].clone();
        let o = quote_option(
            InterestType::Fixed,
            RepaymentMethod::Balloon,
            6,
            PyDec::parse("6.5000").unwrap(),
            dec!(500.00),
        )
        .unwrap();
        assert_eq!(rec["estimated_monthly_payment"], "2.710000");
        assert_eq!(o.estimated_monthly_payment, dec!(2.71));
        assert_eq!(o.total_payable, dec!(516.26));
        assert_eq!(o.total_interest, dec!(16.26));
        // 450.00 at 7 % BALLOON 6: 450 × 7/1200 is exactly 2.625. Python's 28-digit rate is
        // a hair low (…3333), the product rounds back to 2.625000…, and half-up gives 2.63
        // (sample "patch 200 recalc …"). A 28-place rate would give 2.62.
        let rec = recorded("patch 200 recalc refreshes policy snapshot (down payment applied)")["response"]
            .clone();
        let o = quote_option(
            InterestType::Fixed,
            RepaymentMethod::Balloon,
            6,
            PyDec::parse("7.0000").unwrap(),
            dec!(450.00),
        )
        .unwrap();
        assert_eq!(rec["estimated_monthly_payment"], "2.630000");
        assert_eq!(rec["total_payable_amount"], "465.780000");
        assert_eq!(o.estimated_monthly_payment, dec!(2.63));
        assert_eq!(o.total_payable, dec!(465.78));
        assert_eq!(o.total_interest, dec!(15.78));
    }

    /// 1000 random options computed by Python's decimal module with the legacy formulas
    /// (testdata/gen_vectors.py).
    #[test]
    fn options_match_python_decimal() {
        let vectors: Value =
            serde_json::from_str(include_str!("testdata/python-vectors.json")).unwrap();
        let cases = vectors["options"].as_array().unwrap();
        assert!(cases.len() >= 1000);
        for case in cases {
            let principal: Decimal = case[0].as_str().unwrap().parse().unwrap();
            let annual = PyDec::parse(case[1].as_str().unwrap()).unwrap();
            let n = i32::try_from(case[2].as_i64().unwrap()).unwrap();
            let method = RepaymentMethod::parse(case[3].as_str().unwrap()).unwrap();
            let o = quote_option(InterestType::Fixed, method, n, annual, principal).unwrap();
            let got = json!([
                py_str(&o.nominal_annual_rate),
                py_str(&o.estimated_monthly_payment),
                py_str(&o.total_payable),
                py_str(&o.total_interest)
            ]);
            assert_eq!(got, case[4], "{case}");
        }
    }

    #[test]
    fn selection_rules() {
        let v = |s: &str| PyDec::parse(s).unwrap();
        assert_eq!(
            shares_to_exercise(SelectionMode::Percent, v("50"), 4000),
            Ok(2000)
        );
        assert_eq!(
            shares_to_exercise(SelectionMode::Percent, v("100"), 5000),
            Ok(5000)
        );
        // floor, never rounding up
        assert_eq!(
            shares_to_exercise(SelectionMode::Percent, v("33.33"), 100),
            Ok(33)
        );
        assert_eq!(
            shares_to_exercise(SelectionMode::Shares, v("10.0"), 4000),
            Ok(10)
        );
        assert_eq!(
            shares_to_exercise(SelectionMode::Shares, v("1E+3"), 4000),
            Ok(1000)
        );
        let err = shares_to_exercise(SelectionMode::Shares, v("0"), 4000).unwrap_err();
        assert_eq!(err.message, "Selection shares must be greater than zero");
        assert_eq!(err.details["constraint"], "value > 0");
        let err = shares_to_exercise(SelectionMode::Percent, v("0"), 4000).unwrap_err();
        assert_eq!(err.details["selection_value"], "0");
        let err = shares_to_exercise(SelectionMode::Percent, v("100.0001"), 4000).unwrap_err();
        assert_eq!(err.details["constraint"], "0 < value <= 100");
        let err = shares_to_exercise(SelectionMode::Shares, v("10"), 0).unwrap_err();
        assert_eq!(
            err.details,
            json!({"field": "selection_value", "total_exercisable_shares": 0})
        );
        let err = shares_to_exercise(SelectionMode::Shares, v("99999999999999999999999"), 10)
            .unwrap_err();
        assert_eq!(err.code, "shares_exceed_eligibility");
        assert_eq!(err.details["requested_shares"], json!(u64::MAX));
    }

    #[test]
    fn derived_percent_is_pythons_quotient() {
        let d = derived_selection_value(SelectionMode::Percent, 1000, 3000).unwrap();
        assert_eq!(d.to_string(), "33.33333333333333333333333333");
        // …and re-quoting with it floors one share short.
        assert_eq!(shares_to_exercise(SelectionMode::Percent, d, 3000), Ok(999));
        let d = derived_selection_value(SelectionMode::Percent, 2000, 4000).unwrap();
        assert_eq!(d.to_string(), "50");
        let d = derived_selection_value(SelectionMode::Percent, 1, 3000).unwrap();
        assert_eq!(d.to_string(), "0.03333333333333333333333333333");
        let d = derived_selection_value(SelectionMode::Shares, 1000, 0).unwrap();
        assert_eq!(d.to_string(), "1000");
        let err = derived_selection_value(SelectionMode::Percent, 10, 0).unwrap_err();
        assert_eq!(
            err.message,
            "Cannot derive selection percent from zero exercisable shares"
        );
        assert_eq!(err.details, json!({"total_exercisable_shares_snapshot": 0}));
    }

    #[test]
    fn allocation_is_oldest_first_and_keeps_the_load_order_on_ties() {
        let (g1, g2) = grant_ids();
        let day = date!(2024 - 01 - 01);
        // Same grant date: the order given (creation order) decides.
        let grants = [
            grant(g2, day, dec!(1.000000), 100, &[]),
            grant(g1, day, dec!(1.000000), 100, &[]),
        ];
        let (total, items) = allocate(&grants, &HashMap::new(), 150, TODAY).unwrap();
        assert_eq!(
            items
                .iter()
                .map(|i| (i.grant_id, i.shares))
                .collect::<Vec<_>>(),
            vec![(g2, 100), (g1, 50)]
        );
        assert_eq!(total.to_string(), "150.00");
        // Over-reserved grants give nothing and never a negative count.
        let reserved: HashMap<Uuid, i64> = [(g2, 150), (g1, 100)].into_iter().collect();
        let (total, items) = allocate(&grants, &reserved, 10, TODAY).unwrap();
        assert!(items.is_empty());
        assert_eq!(total.to_string(), "0.00");
        // Cancelled grants count for nothing.
        let cancelled = StockGrant {
            status: GrantStatus::Cancelled,
            ..grant(g1, day, dec!(1.000000), 100, &[])
        };
        let (_, items) = allocate(&[cancelled], &HashMap::new(), 10, TODAY).unwrap();
        assert!(items.is_empty());
    }

    #[test]
    fn variable_rate_data_and_idempotency_keys() {
        let err = annual_rate(InterestType::Variable, &policy(), None).unwrap_err();
        assert_eq!(
            err.details,
            json!({"variable_base_rate_annual_percent": "0", "variable_margin_annual_percent": "1.1250"})
        );
        let no_margin = LoanPolicy {
            variable_margin_annual_percent: None,
            ..policy()
        };
        let err = annual_rate(InterestType::Variable, &no_margin, PBGC).unwrap_err();
        assert_eq!(
            err.details,
            json!({"variable_base_rate_annual_percent": "3.8100", "variable_margin_annual_percent": "0"})
        );
        let zero_margin = LoanPolicy {
            variable_margin_annual_percent: Some(dec!(0.0000)),
            ..policy()
        };
        assert_eq!(
            annual_rate(InterestType::Variable, &zero_margin, PBGC)
                .unwrap()
                .to_string(),
            "3.8100"
        );
        // Settings show the PBGC rate over the stored one; the stored one only without PBGC.
        let shown = shown_variable_base_rate(Some(dec!(6.5000)), Some(dec!(3.81)));
        assert_eq!(shown.map(|d| py_str(&d)), Some("3.8100".to_owned()));
        let shown = shown_variable_base_rate(Some(dec!(6.5000)), None);
        assert_eq!(shown.map(|d| py_str(&d)), Some("6.5000".to_owned()));
        assert_eq!(shown_variable_base_rate(None, None), None);
        // …while a stored base rate without any PBGC row still cannot price VARIABLE.
        assert_eq!(
            annual_rate(InterestType::Variable, &policy(), None)
                .unwrap_err()
                .code,
            "variable_rate_missing"
        );
        assert_eq!(validate_idempotency_key(None), Ok(None));
        assert_eq!(validate_idempotency_key(Some("   ")), Ok(None));
        assert_eq!(validate_idempotency_key(Some(" k ")), Ok(Some("k".into())));
        assert!(validate_idempotency_key(Some(&"x".repeat(100))).is_ok());
        let err = validate_idempotency_key(Some(&"x".repeat(101))).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_ref(), err.details),
            (
                "invalid_idempotency_key",
                "Idempotency-Key is too long",
                json!({"field": "Idempotency-Key", "max_length": 100})
            )
        );
    }
}
