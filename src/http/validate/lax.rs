//! pydantic's lax coercion of JSON values: bools from words, ints from strings and integral
//! floats, exact decimals from numbers or strings, `ge`/`le` bounds, enum wording. Each check
//! returns an [`Invalid`] the caller places at its own location (body field or query).

use serde_json::{Value, json};

use crate::domain::org_policy::Decimal;

/// A failed field check: pydantic `type`, message, `ctx`.
pub type Invalid = (&'static str, String, Option<Value>);

/// `'A', 'B' or 'C'`, pydantic's enum wording.
pub fn quoted_or(options: &[&str]) -> String {
    let quoted: Vec<String> = options.iter().map(|o| format!("'{o}'")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// pydantic's lax bool: JSON bools, 0/1, and the usual words.
pub fn py_bool(v: &Value) -> Result<bool, Invalid> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) => match n.as_i64() {
            Some(0) => Ok(false),
            Some(1) => Ok(true),
            _ => Err((
                "bool_parsing",
                "Input should be a valid boolean, unable to interpret input".into(),
                None,
            )),
        },
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "0" | "off" | "f" | "false" | "n" | "no" => Ok(false),
            "1" | "on" | "t" | "true" | "y" | "yes" => Ok(true),
            _ => Err((
                "bool_parsing",
                "Input should be a valid boolean, unable to interpret input".into(),
                None,
            )),
        },
        _ => Err(("bool_type", "Input should be a valid boolean".into(), None)),
    }
}

/// An integer in pydantic's lax sense, as a sign and digits (arbitrarily long).
pub enum BigInt {
    Fits(i64),
    /// Too large in magnitude for i64; `true` when negative.
    Huge(bool),
}

/// Parses an integer string (`" 42 "`, `"-7"`, `"+3"`), as Python's `int()` would.
pub fn parse_int_text(s: &str) -> Option<BigInt> {
    let t = s.trim().replace('_', "");
    let (neg, digits) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t.as_str()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(match t.parse::<i64>() {
        Ok(v) => BigInt::Fits(v),
        Err(_) => BigInt::Huge(neg),
    })
}

/// Checks `ge`/`le` bounds on an integer, then narrows it to the column type (values that fit
/// no column are reported as exceeding its range, never as a database error).
pub fn bounded<T: TryFrom<i64>>(
    value: BigInt,
    ge: Option<i64>,
    le: Option<i64>,
) -> Result<T, Invalid> {
    let too_small = |ge: i64| {
        (
            "greater_than_equal",
            format!("Input should be greater than or equal to {ge}"),
            Some(json!({"ge": ge})),
        )
    };
    let too_big = |le: i64| {
        (
            "less_than_equal",
            format!("Input should be less than or equal to {le}"),
            Some(json!({"le": le})),
        )
    };
    let v = match value {
        BigInt::Fits(v) => v,
        BigInt::Huge(true) => return Err(too_small(ge.unwrap_or(i64::MIN))),
        BigInt::Huge(false) => return Err(too_big(le.unwrap_or(i64::MAX))),
    };
    if let Some(ge) = ge
        && v < ge
    {
        return Err(too_small(ge));
    }
    if let Some(le) = le
        && v > le
    {
        return Err(too_big(le));
    }
    T::try_from(v).map_err(|_| {
        if v < 0 {
            too_small(i64::from(i32::MIN))
        } else {
            too_big(i64::from(i32::MAX))
        }
    })
}

/// pydantic's lax int: integers, floats without a fraction, integer strings.
pub fn py_int<T: TryFrom<i64>>(v: &Value, ge: Option<i64>, le: Option<i64>) -> Result<T, Invalid> {
    let parsed = match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                BigInt::Fits(i)
            } else if n.as_u64().is_some() {
                BigInt::Huge(false)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                if f.fract() != 0.0 || !f.is_finite() {
                    return Err((
                        "int_from_float",
                        "Input should be a valid integer, got a number with a fractional part"
                            .into(),
                        None,
                    ));
                }
                if f.abs() < 9.0e18 {
                    // Exact: an integral f64 below 2^63 converts without loss.
                    #[allow(clippy::cast_possible_truncation)]
                    BigInt::Fits(f as i64)
                } else {
                    BigInt::Huge(f < 0.0)
                }
            }
        }
        Value::String(s) => parse_int_text(s).ok_or((
            "int_parsing",
            "Input should be a valid integer, unable to parse string as an integer".into(),
            None,
        ))?,
        _ => return Err(("int_type", "Input should be a valid integer".into(), None)),
    };
    bounded(parsed, ge, le)
}

/// pydantic's Decimal: a JSON number (through its shortest text form, as Python's `str(float)`)
/// or a decimal string; never rounded here.
pub fn py_decimal(v: &Value, ge: Option<u64>, le: Option<u64>) -> Result<Decimal, Invalid> {
    let d = match v {
        Value::Number(n) => Decimal::parse(&n.to_string()),
        Value::String(s) => Decimal::parse(s),
        _ => {
            return Err((
                "decimal_type",
                "Decimal input should be an integer, float, string or Decimal object".into(),
                None,
            ));
        }
    }
    .ok_or((
        "decimal_parsing",
        "Input should be a valid decimal".into(),
        None,
    ))?;
    if let Some(ge) = ge
        && (d.is_negative() || d.cmp_int(ge) == std::cmp::Ordering::Less)
    {
        return Err((
            "greater_than_equal",
            format!("Input should be greater than or equal to {ge}"),
            Some(json!({"ge": ge.to_string()})),
        ));
    }
    if let Some(le) = le
        && d.cmp_int(le) == std::cmp::Ordering::Greater
    {
        return Err((
            "less_than_equal",
            format!("Input should be less than or equal to {le}"),
            Some(json!({"le": le.to_string()})),
        ));
    }
    Ok(d)
}
