//! Repayments and payment status (loans contract §6, loan-admin §5.10 and §7.2–§7.3): what a
//! loan owes at a date, what the next repayment must be, and when a loan is complete.

use std::cmp::Ordering;

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::json;
use time::Date;

use super::LoanError;
use super::schedule::{Repayment, Schedule, StoredLoan, Waterfall};
use super::workflow::LoanStatus;
use crate::domain::decimal::{PyDec, Rounding};

/// The payment status of a loan at date D (`compute_payment_status`): the ten fields of the
/// admin loan views, in their wire order. Nothing is rounded: an untouched instalment keeps
/// cents, anything reduced by a numeric(18,6) repayment carries six places.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PaymentStatus {
    #[serde(with = "super::wire::date_opt")]
    pub next_payment_date: Option<Date>,
    pub next_payment_amount: Option<PyDec>,
    pub next_principal_due: Option<PyDec>,
    pub next_interest_due: Option<PyDec>,
    pub principal_remaining: PyDec,
    pub interest_remaining: PyDec,
    pub total_remaining: PyDec,
    pub missed_payment_count: usize,
    /// `"0"` when nothing is missed.
    pub missed_payment_amount_total: PyDec,
    #[serde(with = "super::wire::dates")]
    pub missed_payment_dates: Vec<Date>,
}

/// The payment status at `as_of` from the repayments dated on or before it (the loan views
/// use today, the repayment route the payment date).
pub fn payment_status(
    loan: &StoredLoan,
    repayments: &[Repayment],
    as_of: Date,
) -> Result<PaymentStatus, LoanError> {
    let base = loan.base_schedule()?;
    Ok(status_of(&base, repayments, as_of))
}

fn status_of(base: &Schedule, repayments: &[Repayment], as_of: Date) -> PaymentStatus {
    let left = Waterfall::apply(&base.entries, repayments, Some(as_of));
    let mut next = None;
    let mut missed_dates = Vec::new();
    let mut missed_total = PyDec::ZERO;
    for ((entry, principal), interest) in base
        .entries
        .iter()
        .zip(&left.principal_left)
        .zip(&left.interest_left)
    {
        let open = *principal + *interest;
        if !open.is_positive() {
            continue;
        }
        if next.is_none() {
            next = Some((entry.due_date, open, *principal, *interest));
        }
        if entry.due_date < as_of {
            missed_dates.push(entry.due_date);
            missed_total = missed_total + open;
        }
    }
    let principal_remaining = left.principal_total();
    let interest_remaining = left.interest_total();
    PaymentStatus {
        next_payment_date: next.map(|n| n.0),
        next_payment_amount: next.map(|n| n.1),
        next_principal_due: next.map(|n| n.2),
        next_interest_due: next.map(|n| n.3),
        principal_remaining,
        interest_remaining,
        total_remaining: principal_remaining + interest_remaining,
        missed_payment_count: missed_dates.len(),
        missed_payment_amount_total: missed_total,
        missed_payment_dates: missed_dates,
    }
}

/// The optional amounts of `POST /org/loans/{id}/repayments`, parsed. `amount`,
/// `principal_amount` and `interest_amount` only assert what the route computes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RepaymentRequest {
    pub extra_principal_amount: Option<PyDec>,
    pub extra_interest_amount: Option<PyDec>,
    pub amount: Option<PyDec>,
    pub principal_amount: Option<PyDec>,
    pub interest_amount: Option<PyDec>,
}

/// The amounts to insert: the next instalment plus the extras, rounded half-up to cents (the
/// column keeps six places: `658.38` is stored and read back as `658.380000`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RepaymentPlan {
    pub amount: Decimal,
    pub principal_amount: Decimal,
    pub interest_amount: Decimal,
}

fn expected(code: &'static str, message: &'static str, value: PyDec) -> LoanError {
    LoanError::new(code, message, json!({ "expected": value.to_string() }))
}

/// What the next repayment must be, given the payment status at its payment date (computed
/// from the repayments dated on or before it), in the legacy order of refusals:
/// `loan_fully_paid`, `principal_overpayment`, `interest_overpayment`, then the three
/// assertion mismatches.
///
/// Deliberate difference (quirk Q13): a negative extra amount answered 500 in the legacy
/// service (after these checks); here it is a 400 `invalid_repayment` naming the field.
pub fn plan_repayment(
    status: &PaymentStatus,
    request: &RepaymentRequest,
) -> Result<RepaymentPlan, LoanError> {
    let (Some(next_principal), Some(next_interest)) =
        (status.next_principal_due, status.next_interest_due)
    else {
        return Err(LoanError::bare(
            "loan_fully_paid",
            "Loan has no scheduled payments remaining",
        ));
    };
    let extra_principal = request.extra_principal_amount.unwrap_or(PyDec::ZERO);
    let extra_interest = request.extra_interest_amount.unwrap_or(PyDec::ZERO);
    let principal_total = next_principal + extra_principal;
    let interest_total = next_interest + extra_interest;
    let amount_total = principal_total + interest_total;
    if principal_total.cmp_value(status.principal_remaining) == Ordering::Greater {
        return Err(LoanError::new(
            "principal_overpayment",
            "principal_amount exceeds remaining principal balance",
            json!({ "remaining_principal": status.principal_remaining.to_string() }),
        ));
    }
    if interest_total.cmp_value(status.interest_remaining) == Ordering::Greater {
        return Err(LoanError::new(
            "interest_overpayment",
            "interest_amount exceeds remaining interest balance",
            json!({ "remaining_interest": status.interest_remaining.to_string() }),
        ));
    }
    let differs = |sent: Option<PyDec>, want: PyDec| {
        sent.is_some_and(|s| s.cmp_value(want) != Ordering::Equal)
    };
    if differs(request.amount, amount_total) {
        return Err(expected(
            "invalid_repayment_amount",
            "amount must match scheduled payment plus extras",
            amount_total,
        ));
    }
    if differs(request.principal_amount, principal_total) {
        return Err(expected(
            "invalid_principal_amount",
            "principal_amount must match scheduled principal plus extra_principal_amount",
            principal_total,
        ));
    }
    if differs(request.interest_amount, interest_total) {
        return Err(expected(
            "invalid_interest_amount",
            "interest_amount must match scheduled interest plus extra_interest_amount",
            interest_total,
        ));
    }
    for (field, value) in [
        ("extra_principal_amount", extra_principal),
        ("extra_interest_amount", extra_interest),
    ] {
        if value.is_negative() && !value.is_zero() {
            return Err(LoanError::new(
                "invalid_repayment",
                format!("{field} must be greater than or equal to 0"),
                json!({ "field": field }),
            ));
        }
    }
    let to_cents = |v: PyDec| {
        v.quantize(2, Rounding::HalfUp)
            .to_decimal()
            .ok_or_else(|| LoanError::bare("invalid_repayment", "Repayment amount is out of range"))
    };
    let plan = RepaymentPlan {
        amount: to_cents(amount_total)?,
        principal_amount: to_cents(principal_total)?,
        interest_amount: to_cents(interest_total)?,
    };
    // The service-level rule of the legacy `record_repayment`; holds by construction.
    if (plan.principal_amount + plan.interest_amount - plan.amount).abs() > Decimal::new(1, 2) {
        return Err(LoanError::bare(
            "invalid_repayment",
            "principal_amount + interest_amount must equal amount",
        ));
    }
    Ok(plan)
}

/// Whether recording a repayment completes the loan. `repayments` are **all** the loan's
/// repayments including the new one, whatever their dates.
///
/// Deliberate difference (quirk 7 / Q17, the completion rounding gap): the legacy service
/// completed a loan only when the amounts paid reached the quoted `total_payable_amount`
/// (`payment × n`), while the schedule's last instalment absorbs the rounding. A loan whose
/// schedule sums to less (450.00 at 7 % over 6 months: 459.23 against 459.24) stayed ACTIVE
/// after its last instalment and refused every further repayment with `loan_fully_paid`. Here a
/// loan also completes once every instalment of its schedule is paid. Every legacy completion
/// still happens, at the same repayment.
pub fn completes_loan(
    status: LoanStatus,
    total_payable_amount: Decimal,
    base_schedule: &Schedule,
    repayments: &[Repayment],
) -> bool {
    if status == LoanStatus::Completed {
        return false;
    }
    let paid = repayments
        .iter()
        .fold(PyDec::ZERO, |acc, r| acc + PyDec::from_decimal(r.amount));
    paid.cmp_value(PyDec::from_decimal(total_payable_amount)) != Ordering::Less
        || Waterfall::apply(&base_schedule.entries, repayments, None).fully_paid()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::loans::schedule::tests::{
        admin_loan, admin_repayments, iso, l1, l1_repayments, recorded,
    };
    use rust_decimal_macros::dec;
    use serde_json::{Value, json};
    use time::macros::{date, datetime};

    /// The ten payment-status fields of a recorded admin loan detail.
    fn recorded_status(name: &str) -> Value {
        let rec = recorded(name)["response"].clone();
        let keys = [
            "next_payment_date",
            "next_payment_amount",
            "next_principal_due",
            "next_interest_due",
            "principal_remaining",
            "interest_remaining",
            "total_remaining",
            "missed_payment_count",
            "missed_payment_amount_total",
            "missed_payment_dates",
        ];
        let mut out = serde_json::Map::new();
        for k in keys {
            out.insert(k.to_owned(), rec[k].clone());
        }
        Value::Object(out)
    }

    /// The seven fields of a recorded repayment answer (`{repayment, next_*, *_remaining}`).
    fn recorded_answer(name: &str) -> Value {
        let mut rec = recorded(name)["response"].clone();
        rec.as_object_mut().unwrap().remove("repayment");
        rec
    }

    fn answer_fields(status: &PaymentStatus) -> Value {
        let mut v = serde_json::to_value(status).unwrap();
        let obj = v.as_object_mut().unwrap();
        for k in [
            "missed_payment_count",
            "missed_payment_amount_total",
            "missed_payment_dates",
        ] {
            obj.remove(k);
        }
        v
    }

    #[test]
    fn recorded_payment_statuses_of_the_loan_views() {
        let loan = admin_loan();
        let all = admin_repayments();
        let today = date!(2026 - 12 - 07);
        let status = payment_status(&loan, &[], today).unwrap();
        assert_eq!(
            serde_json::to_value(&status).unwrap(),
            recorded_status("loan detail after activation (ACTIVE)")
        );
        let status = payment_status(&loan, &all[..2], today).unwrap();
        assert_eq!(
            serde_json::to_value(&status).unwrap(),
            recorded_status("loan detail with payment status after two repayments")
        );
        // After the payoff dated 2027-03-07 the detail (today) still ignores it (Q16).
        let status = payment_status(&loan, &all, today).unwrap();
        assert_eq!(
            serde_json::to_value(&status).unwrap(),
            recorded_status("loan detail after payoff")
        );
    }

    #[test]
    fn recorded_repayment_answers() {
        let loan = admin_loan();
        let all = admin_repayments();
        // Each answer is the status at the payment date with the new repayment included.
        for (count, name) in [
            (1, "record scheduled repayment with registered evidence key"),
            (
                2,
                "record repayment with explicit amounts and an evidence file",
            ),
            (3, "record payoff repayment (extra principal and interest)"),
        ] {
            let day = all[count - 1].payment_date;
            let status = payment_status(&loan, &all[..count], day).unwrap();
            assert_eq!(answer_fields(&status), recorded_answer(name), "{name}");
        }
        let l1 = l1();
        let reps = l1_repayments();
        for (count, name) in [
            (1, "admin POST repayment 201 (scheduled period 1)"),
            (
                2,
                "admin POST repayment 201 (period 2 + 100.00 extra principal)",
            ),
        ] {
            let status = payment_status(&l1, &reps[..count], date!(2026 - 12 - 07)).unwrap();
            assert_eq!(answer_fields(&status), recorded_answer(name), "{name}");
        }
    }

    fn form(name: &str) -> RepaymentRequest {
        let body = &recorded(name)["request"]["multipart"];
        let field = |k: &str| body[k].as_str().map(|v| PyDec::parse(v).unwrap());
        RepaymentRequest {
            extra_principal_amount: field("extra_principal_amount"),
            extra_interest_amount: field("extra_interest_amount"),
            amount: field("amount"),
            principal_amount: field("principal_amount"),
            interest_amount: field("interest_amount"),
        }
    }

    fn plan_at(name: &str, repayments: &[Repayment]) -> Result<RepaymentPlan, LoanError> {
        let day = iso(recorded(name)["request"]["multipart"]["payment_date"]
            .as_str()
            .unwrap());
        let status = payment_status(&admin_loan(), repayments, day).unwrap();
        plan_repayment(&status, &form(name))
    }

    #[test]
    fn recorded_repayment_refusals() {
        for name in [
            "record repayment 400 invalid_repayment_amount",
            "record repayment 400 invalid_principal_amount",
            "record repayment 400 invalid_interest_amount",
            "record repayment 400 principal_overpayment",
            "record repayment 400 interest_overpayment",
        ] {
            let err = plan_at(name, &[]).unwrap_err();
            assert_eq!(
                json!({"code": err.code, "message": err.message, "details": err.details}),
                recorded(name)["response"],
                "{name}"
            );
        }
        let err = plan_at("record repayment 400 loan_fully_paid", &admin_repayments()).unwrap_err();
        assert_eq!(
            json!({"code": err.code, "message": err.message, "details": err.details}),
            recorded("record repayment 400 loan_fully_paid")["response"]
        );
    }

    #[test]
    fn recorded_repayments_are_planned_to_the_cent() {
        let all = admin_repayments();
        let plan = plan_at(
            "record scheduled repayment with registered evidence key",
            &[],
        )
        .unwrap();
        assert_eq!(
            (plan.amount, plan.principal_amount, plan.interest_amount),
            (dec!(678.38), dec!(658.38), dec!(20.00))
        );
        let plan = plan_at(
            "record repayment with explicit amounts and an evidence file",
            &all[..1],
        )
        .unwrap();
        assert_eq!(
            (plan.amount, plan.principal_amount, plan.interest_amount),
            (dec!(778.38), dec!(761.67), dec!(16.71))
        );
        let plan = plan_at(
            "record payoff repayment (extra principal and interest)",
            &all[..2],
        )
        .unwrap();
        assert_eq!(
            (plan.amount, plan.principal_amount, plan.interest_amount),
            (dec!(2613.53), dec!(2579.95), dec!(33.58))
        );
        // Matching assertions pass, numerically ("678.380" = 678.38).
        let status = payment_status(&admin_loan(), &[], date!(2026 - 12 - 07)).unwrap();
        let ok = plan_repayment(
            &status,
            &RepaymentRequest {
                amount: PyDec::parse("678.380"),
                principal_amount: PyDec::parse("658.38"),
                interest_amount: PyDec::parse("20"),
                ..RepaymentRequest::default()
            },
        );
        assert!(ok.is_ok());
        // Negative extras are a 400 here (the legacy answered 500).
        let err = plan_repayment(
            &status,
            &RepaymentRequest {
                extra_interest_amount: PyDec::parse("-1"),
                ..RepaymentRequest::default()
            },
        )
        .unwrap_err();
        assert_eq!(err.code, "invalid_repayment");
        assert_eq!(err.details, json!({"field": "extra_interest_amount"}));
    }

    #[test]
    fn missed_instalments_are_listed_before_the_date() {
        let status = payment_status(
            &admin_loan(),
            &admin_repayments()[..1],
            date!(2027 - 03 - 08),
        )
        .unwrap();
        assert_eq!(status.missed_payment_count, 2);
        assert_eq!(
            serde_json::to_value(&status).unwrap()["missed_payment_dates"],
            json!(["2027-02-07", "2027-03-07"])
        );
        assert_eq!(status.missed_payment_amount_total.to_string(), "1356.76");
        // Due on the date itself is not missed yet.
        let status = payment_status(&admin_loan(), &[], date!(2027 - 01 - 07)).unwrap();
        assert_eq!(status.missed_payment_count, 0);
        assert_eq!(status.missed_payment_amount_total.to_string(), "0");
    }

    /// Loan LB (450.00 at 7 %, 6 months): its schedule sums to 459.23 against a quoted
    /// 459.24. The legacy loan stayed ACTIVE forever; here the sixth instalment completes it.
    #[test]
    fn the_completion_rounding_gap_is_closed() {
        let lb = StoredLoan {
            loan_principal: dec!(450.000000),
            nominal_annual_rate_percent: dec!(7.0000),
            term_months: 6,
            ..l1()
        };
        let base = lb.base_schedule().unwrap();
        let mut paid = Vec::new();
        for (k, entry) in base.entries.iter().enumerate() {
            let status = payment_status(&lb, &paid, entry.due_date).unwrap();
            let plan = plan_repayment(&status, &RepaymentRequest::default()).unwrap();
            paid.push(Repayment {
                payment_date: entry.due_date,
                created_at: datetime!(2027-01-01 0:00 UTC),
                // As read back from numeric(18,6).
                amount: plan.amount.round_dp(6),
                principal_amount: plan.principal_amount,
                interest_amount: plan.interest_amount,
            });
            let done = completes_loan(LoanStatus::Active, dec!(459.240000), &base, &paid);
            assert_eq!(done, k == 5, "after instalment {}", k + 1);
        }
        let total: Decimal = paid.iter().map(|r| r.amount).sum();
        assert_eq!(total, dec!(459.23));
        // A seventh repayment is refused: nothing is due any more.
        let status = payment_status(&lb, &paid, date!(2027 - 12 - 31)).unwrap();
        assert_eq!(
            plan_repayment(&status, &RepaymentRequest::default())
                .unwrap_err()
                .code,
            "loan_fully_paid"
        );
        // Reaching the quoted total still completes (every legacy completion is kept), and a
        // completed loan is not completed twice.
        let l1 = l1();
        let l1_base = l1.base_schedule().unwrap();
        let big = Repayment {
            amount: dec!(2588.880000),
            ..l1_repayments()[0]
        };
        assert!(completes_loan(
            LoanStatus::Active,
            dec!(2588.880000),
            &l1_base,
            &[big]
        ));
        assert!(!completes_loan(
            LoanStatus::Completed,
            dec!(2588.880000),
            &l1_base,
            &[big]
        ));
        assert!(!completes_loan(
            LoanStatus::Active,
            dec!(2588.880000),
            &l1_base,
            &l1_repayments()
        ));
    }
}
