//! The org policy's own rules, pure: the exact decimal the settings are validated in, and the
//! legacy stock and loan rule checks of `PUT /org/settings` with their exact texts and order.
//! `services::org_settings` applies them inside its update; nothing here touches the database.

/// An exact decimal: sign, integer digits without leading zeros, fraction digits without
/// trailing zeros. Parsed from text, never from a float computation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decimal {
    negative: bool,
    int: String,
    frac: String,
}

impl Decimal {
    /// Python `Decimal` syntax without NaN/Infinity: `[+-]digits[.digits][e[+-]digits]`.
    /// Exponents beyond ±1000 are refused.
    pub fn parse(raw: &str) -> Option<Self> {
        let s = raw.trim();
        let (negative, s) = match s.as_bytes().first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let (mantissa, exp) = match s.find(['e', 'E']) {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        };
        let exp: i64 = match exp {
            None => 0,
            Some(e) => {
                let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
                if digits.is_empty()
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                    || digits.len() > 4
                {
                    return None;
                }
                let v: i64 = digits.parse().ok()?;
                if e.starts_with('-') { -v } else { v }
            }
        };
        if exp.abs() > 1000 {
            return None;
        }
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
            return None;
        }
        // digits × 10^(exp − frac.len())
        let digits = format!("{int}{frac}");
        let point = i64::try_from(int.len()).ok()? + exp;
        let (int, frac) = if point <= 0 {
            let zeros = usize::try_from(-point).ok()?;
            (String::new(), format!("{}{digits}", "0".repeat(zeros)))
        } else {
            let p = usize::try_from(point).ok()?;
            if p >= digits.len() {
                (
                    format!("{digits}{}", "0".repeat(p - digits.len())),
                    String::new(),
                )
            } else {
                (digits[..p].to_owned(), digits[p..].to_owned())
            }
        };
        let int = int.trim_start_matches('0').to_owned();
        let frac = frac.trim_end_matches('0').to_owned();
        let zero = int.is_empty() && frac.is_empty();
        Some(Self {
            negative: negative && !zero,
            int,
            frac,
        })
    }

    pub fn is_zero(&self) -> bool {
        self.int.is_empty() && self.frac.is_empty()
    }

    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// Digits before the decimal point.
    pub fn whole_digits(&self) -> usize {
        self.int.len()
    }

    /// Compares with a non-negative integer.
    pub fn cmp_int(&self, n: u64) -> std::cmp::Ordering {
        use std::cmp::Ordering;
        if self.negative {
            return Ordering::Less;
        }
        let n = n.to_string();
        let n = n.trim_start_matches('0');
        match self.int.len().cmp(&n.len()) {
            Ordering::Equal => match self.int.as_str().cmp(n) {
                Ordering::Equal if !self.frac.is_empty() => Ordering::Greater,
                other => other,
            },
            other => other,
        }
    }

    /// Plain text PostgreSQL parses as `numeric` ("-0.5", "12.5", "0").
    pub fn to_plain(&self) -> String {
        let int = if self.int.is_empty() { "0" } else { &self.int };
        let sign = if self.negative { "-" } else { "" };
        if self.frac.is_empty() {
            format!("{sign}{int}")
        } else {
            format!("{sign}{int}.{}", self.frac)
        }
    }
}

/// The stock rules (legacy `_validate_stock_rules`).
pub fn stock_rule_errors(
    enforce_service: bool,
    years: Option<&Decimal>,
    enforce_vested: bool,
    shares: Option<i64>,
) -> Vec<String> {
    let mut errors = Vec::new();
    if enforce_service {
        match years {
            None => errors.push(
                "min_service_duration_years is required when enforce_service_duration_rule is true"
                    .to_owned(),
            ),
            Some(y) if y.is_negative() => {
                errors.push("min_service_duration_years must be >= 0".to_owned())
            }
            Some(_) => {}
        }
    } else if years.is_some() {
        errors.push(
            "min_service_duration_years must be null when enforce_service_duration_rule is false"
                .to_owned(),
        );
    }
    if enforce_vested {
        match shares {
            None => errors.push(
                "min_vested_shares_to_exercise is required when enforce_min_vested_to_exercise is true"
                    .to_owned(),
            ),
            Some(s) if s < 0 => {
                errors.push("min_vested_shares_to_exercise must be >= 0".to_owned())
            }
            Some(_) => {}
        }
    } else if shares.is_some() {
        errors.push(
            "min_vested_shares_to_exercise must be null when enforce_min_vested_to_exercise is false"
                .to_owned(),
        );
    }
    errors
}

pub struct LoanCandidate<'a> {
    pub repayment_methods: Option<&'a [String]>,
    pub min_term: Option<i32>,
    pub max_term: Option<i32>,
    pub interest_types: Option<&'a [String]>,
    pub fixed: Option<&'a Decimal>,
    pub variable_base: Option<&'a Decimal>,
    pub variable_margin: Option<&'a Decimal>,
    pub require_down_payment: bool,
    pub down_payment: Option<&'a Decimal>,
}

/// The loan rules (legacy `_validate_loan_policy`).
pub fn loan_rule_errors(c: &LoanCandidate<'_>) -> Vec<String> {
    let mut errors = Vec::new();
    if c.repayment_methods.is_none_or(<[String]>::is_empty) {
        errors.push(
            "allowed_repayment_methods must include at least one repayment method".to_owned(),
        );
    }
    if c.interest_types.is_none_or(<[String]>::is_empty) {
        errors.push("allowed_interest_types must include at least one interest type".to_owned());
    }
    match (c.min_term, c.max_term) {
        (Some(min), Some(max)) if min > max => {
            errors.push("min_loan_term_months must be <= max_loan_term_months".to_owned())
        }
        (Some(_), Some(_)) => {}
        _ => errors.push("min_loan_term_months and max_loan_term_months are required".to_owned()),
    }
    if c.fixed.is_none() {
        errors.push("fixed_interest_rate_annual_percent is required".to_owned());
    }
    for (value, field) in [
        (c.fixed, "fixed_interest_rate_annual_percent"),
        (c.variable_base, "variable_base_rate_annual_percent"),
        (c.variable_margin, "variable_margin_annual_percent"),
        (c.down_payment, "down_payment_percent"),
    ] {
        if let Some(v) = value {
            if v.is_negative() {
                errors.push(format!("{field} must be >= 0"));
            } else if v.cmp_int(100) == std::cmp::Ordering::Greater {
                errors.push(format!("{field} must be <= 100"));
            }
        }
    }
    if c.require_down_payment {
        match c.down_payment {
            None => errors.push(
                "down_payment_percent is required when require_down_payment is true".to_owned(),
            ),
            Some(v) if v.is_zero() || v.is_negative() => errors.push(
                "down_payment_percent must be > 0 when require_down_payment is true".to_owned(),
            ),
            Some(_) => {}
        }
    } else if c.down_payment.is_some() {
        errors.push(
            "down_payment_percent must be null when require_down_payment is false".to_owned(),
        );
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;

    #[test]
    fn decimals_parse_exactly() {
        let d = |s: &str| Decimal::parse(s).unwrap().to_plain();
        assert_eq!(d("12.5"), "12.5");
        assert_eq!(d("0.0000"), "0");
        assert_eq!(d("-0"), "0");
        assert_eq!(d("4.25"), "4.25");
        assert_eq!(d("1e2"), "100");
        assert_eq!(d("1.5E-3"), "0.0015");
        assert_eq!(d(".5"), "0.5");
        assert_eq!(d(" 007.10 "), "7.1");
        assert_eq!(d("-3.5"), "-3.5");
        for bad in [
            "", "abc", "1.2.3", "NaN", "Infinity", "1e", "--1", "1e99999", ".",
        ] {
            assert!(Decimal::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(Decimal::parse("100").unwrap().cmp_int(100), Ordering::Equal);
        assert_eq!(
            Decimal::parse("100.0001").unwrap().cmp_int(100),
            Ordering::Greater
        );
        assert_eq!(
            Decimal::parse("99.9999").unwrap().cmp_int(100),
            Ordering::Less
        );
        assert_eq!(Decimal::parse("-1").unwrap().cmp_int(0), Ordering::Less);
        assert_eq!(Decimal::parse("0.0").unwrap().cmp_int(0), Ordering::Equal);
        assert_eq!(Decimal::parse("12345.6").unwrap().whole_digits(), 5);
    }

    #[test]
    fn loan_rules_join_in_the_legacy_order() {
        let fixed = Decimal::parse("0").unwrap();
        let errors = loan_rule_errors(&LoanCandidate {
            repayment_methods: Some(&["BALLOON".to_owned()]),
            min_term: Some(24),
            max_term: Some(12),
            interest_types: Some(&[]),
            fixed: Some(&fixed),
            variable_base: None,
            variable_margin: None,
            require_down_payment: true,
            down_payment: None,
        });
        assert_eq!(
            errors.join("; "),
            "allowed_interest_types must include at least one interest type; min_loan_term_months must be <= max_loan_term_months; down_payment_percent is required when require_down_payment is true"
        );
    }
}
