//! Python `decimal.Decimal` semantics on [`rust_decimal::Decimal`], for every amount, price, rate
//! and percentage the legacy service puts on the wire.
//!
//! The legacy service computes with Python's `Decimal` (default context: 28 significant digits,
//! `ROUND_HALF_EVEN` for every intermediate result) and serializes with `str()`. What this module
//! reproduces, and where it cannot:
//!
//! - [`py_str`]: `str(Decimal)` exactly, including the exponent forms (`"0E-8"`, `"1E-7"`) Python
//!   prints for tiny values. A [`Decimal`] keeps its scale, so a value read from a `numeric(18,6)`
//!   column prints `"16.000000"` like the legacy service.
//! - [`quantize`] / [`round2`]: `Decimal.quantize` with the rounding modes the contracts name
//!   (always pads to the requested places: `17` → `"17.00"`).
//! - [`at_column_scale`]: what PostgreSQL stores in a `numeric(p, s)` column.
//! - [`ctx`]: `+ − × ÷` and integer powers rounded like the default context. Division is exact
//!   Python semantics (28 significant digits, half-even, ideal exponent) whenever the result fits
//!   28 decimal places; [`Decimal`] cannot hold more than 28 places nor a positive exponent, so
//!   values below 0.1 keep fewer than 28 significant digits and `Decimal('0')/Decimal('0.25')`
//!   (Python `0E+2`) prints `"0"`. No wire value of the contracts is affected.
//! - [`DecimalInput`]: a request value parsed as pydantic v2 parses a `Decimal` field (strings,
//!   JSON integers exactly, JSON floats through their shortest text), keeping the exact Python
//!   `str()` of the input for the fields the legacy service echoes (stock quirk Q1).
//! - [`serde_py_str`] / [`serde_py_str_opt`]: serde adapters writing the `str()` form and reading
//!   strings or numbers back (the Redis cache entries the legacy service also reads).

use std::fmt;

pub use rust_decimal::Decimal;
use rust_decimal::RoundingStrategy;

/// Significant digits of Python's default decimal context.
pub const PY_PRECISION: u32 = 28;

/// Largest scale a [`Decimal`] can hold.
const MAX_SCALE: u32 = 28;

/// Largest coefficient a [`Decimal`] can hold (2^96 − 1).
const MAX_MANTISSA: u128 = 79_228_162_514_264_337_593_543_950_335;

/// Python's rounding modes (`decimal.ROUND_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    /// `ROUND_HALF_UP`: ties away from zero (also PostgreSQL's `numeric` rounding).
    HalfUp,
    /// `ROUND_HALF_EVEN`: ties to even (the default context).
    HalfEven,
    /// `ROUND_HALF_DOWN`: ties toward zero.
    HalfDown,
    /// `ROUND_DOWN`: toward zero (truncation).
    Down,
    /// `ROUND_UP`: away from zero.
    Up,
    /// `ROUND_FLOOR`: toward −∞.
    Floor,
    /// `ROUND_CEILING`: toward +∞.
    Ceiling,
}

impl Rounding {
    fn strategy(self) -> RoundingStrategy {
        match self {
            Self::HalfUp => RoundingStrategy::MidpointAwayFromZero,
            Self::HalfEven => RoundingStrategy::MidpointNearestEven,
            Self::HalfDown => RoundingStrategy::MidpointTowardZero,
            Self::Down => RoundingStrategy::ToZero,
            Self::Up => RoundingStrategy::AwayFromZero,
            Self::Floor => RoundingStrategy::ToNegativeInfinity,
            Self::Ceiling => RoundingStrategy::ToPositiveInfinity,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// str()
// ---------------------------------------------------------------------------------------------

/// Python's `str(Decimal)` (`Decimal.__str__`, scientific notation, capital `E`).
///
/// `Decimal('16.000000')` → `"16.000000"`, `0` at scale 8 → `"0E-8"`, `0.0000001` → `"1E-7"`,
/// `-0.00` → `"-0.00"`.
pub fn py_str(d: &Decimal) -> String {
    let digits = d.mantissa().unsigned_abs().to_string();
    python_str(d.is_sign_negative(), &digits, -i64::from(d.scale()))
}

/// `Decimal.__str__` for a coefficient (ASCII digits, no leading zeros, `"0"` for zero) and an
/// exponent.
fn python_str(negative: bool, digits: &str, exponent: i64) -> String {
    let len = i64::try_from(digits.len()).unwrap_or(i64::MAX);
    let left_digits = exponent.saturating_add(len);
    let dot_place = if exponent <= 0 && left_digits > -6 {
        left_digits
    } else {
        1
    };
    let mut out = String::with_capacity(digits.len() + 8);
    if negative {
        out.push('-');
    }
    if dot_place <= 0 {
        out.push_str("0.");
        push_zeros(&mut out, dot_place.unsigned_abs());
        out.push_str(digits);
    } else if dot_place >= len {
        out.push_str(digits);
        push_zeros(&mut out, (dot_place - len).unsigned_abs());
    } else {
        // `digits` is ASCII, so every byte offset is a char boundary.
        let (int_part, frac_part) = digits.split_at(usize::try_from(dot_place).unwrap_or(0));
        out.push_str(int_part);
        out.push('.');
        out.push_str(frac_part);
    }
    if left_digits != dot_place {
        out.push_str(&format!("E{:+}", left_digits - dot_place));
    }
    out
}

fn push_zeros(out: &mut String, n: u64) {
    out.extend(std::iter::repeat_n('0', usize::try_from(n).unwrap_or(0)));
}

// ---------------------------------------------------------------------------------------------
// Rounding to places
// ---------------------------------------------------------------------------------------------

/// `d.quantize(Decimal('1E-places'), rounding=…)`: rounds to `places` decimals and pads with
/// zeros to exactly that scale (`quantize(17, 2, HalfUp)` → `17.00`). The sign of a value that
/// rounds to zero is kept, as Python does (`-0.001` → `-0.00`). `places` above 28 is treated as 28.
pub fn quantize(d: Decimal, places: u32, rounding: Rounding) -> Decimal {
    let places = places.min(MAX_SCALE);
    let mut out = d.round_dp_with_strategy(places, rounding.strategy());
    out.rescale(places);
    if d.is_sign_negative() && out.is_zero() {
        out.set_sign_negative(true);
    }
    out
}

/// The contracts' `round2`: `quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)`.
pub fn round2(d: Decimal) -> Decimal {
    quantize(d, 2, Rounding::HalfUp)
}

/// The value PostgreSQL stores in a `numeric(p, scale)` column: rounded half away from zero and
/// padded to the column scale, never a negative zero (`"1.25"` in `numeric(18,6)` →
/// `1.250000`). What the legacy service reads back and prints after a write.
pub fn at_column_scale(d: Decimal, scale: u32) -> Decimal {
    let mut out = quantize(d, scale, Rounding::HalfUp);
    if out.is_zero() {
        out.set_sign_negative(false);
    }
    out
}

/// Python's `min(a, b)`: `a` unless `b < a` (on a tie the **first** argument, with its scale).
pub fn py_min(a: Decimal, b: Decimal) -> Decimal {
    if b < a { b } else { a }
}

/// Python's `max(a, b)`: `a` unless `b > a` (on a tie the **first** argument, unlike
/// `Ord::max`, which returns the second).
pub fn py_max(a: Decimal, b: Decimal) -> Decimal {
    if b > a { b } else { a }
}

// ---------------------------------------------------------------------------------------------
// Arithmetic in Python's default context
// ---------------------------------------------------------------------------------------------

/// `+ − × ÷ **` rounded like Python's default context (28 significant digits, half-even).
///
/// `None` means the result does not fit a [`Decimal`] (or a division by zero). Python keeps 28
/// significant digits for any magnitude; a [`Decimal`] keeps at most 28 decimal places, so a
/// result below 0.1 keeps fewer significant digits here (e.g. `6.5/1200` is
/// `0.0054166666666666666666666667` instead of `0.005416666666666666666666666667`). A following
/// operation that rounds to 28 significant digits again (`1 + rate`) usually gives Python's
/// value back exactly.
pub mod ctx {
    use super::{Decimal, MAX_MANTISSA, MAX_SCALE, PY_PRECISION, Rounding};

    /// Rounds to 28 significant digits, half-even (what Python does to every result).
    pub fn round(d: Decimal) -> Decimal {
        let digits = digit_count(d.mantissa().unsigned_abs());
        if digits <= PY_PRECISION {
            return d;
        }
        let excess = digits - PY_PRECISION;
        if excess > d.scale() {
            // Only integers of 29 digits get here; Python would switch to an exponent.
            return d;
        }
        let mut out = d.round_dp_with_strategy(d.scale() - excess, Rounding::HalfEven.strategy());
        if d.is_sign_negative() && out.is_zero() {
            out.set_sign_negative(true);
        }
        out
    }

    /// `a + b`.
    pub fn add(a: Decimal, b: Decimal) -> Option<Decimal> {
        a.checked_add(b).map(round)
    }

    /// `a - b`.
    pub fn sub(a: Decimal, b: Decimal) -> Option<Decimal> {
        a.checked_sub(b).map(round)
    }

    /// `a * b`. Exact when the product fits a [`Decimal`], then rounded to 28 digits.
    pub fn mul(a: Decimal, b: Decimal) -> Option<Decimal> {
        a.checked_mul(b).map(round)
    }

    /// `base ** n` for an integer `n ≥ 0` as Python computes it: left-to-right binary
    /// exponentiation with every product rounded half-even to `28 + digits(n) + 2` digits, then
    /// the result rounded to 28 (libmpdec's integer power). `(1 + 6.5/1200) ** 12` →
    /// `1.066971852002543818038223969`. `None` when the result does not fit a [`Decimal`].
    pub fn powi(base: Decimal, n: u32) -> Option<Decimal> {
        if n == 0 {
            return Some(Decimal::ONE);
        }
        let working = PY_PRECISION + digit_count(u128::from(n)) + 2;
        let start = Digits::of(base);
        let mut acc = start.clone();
        let top = 31 - n.leading_zeros();
        for bit in (0..top).rev() {
            acc = acc.times(&acc).rounded(working);
            if n & (1 << bit) != 0 {
                acc = acc.times(&start).rounded(working);
            }
        }
        let negative = base.is_sign_negative() && n % 2 == 1;
        acc.rounded(PY_PRECISION).into_decimal(negative)
    }

    /// An exact non-negative decimal `digits × 10^exponent` of any length (for [`powi`]).
    #[derive(Clone, Debug)]
    struct Digits {
        /// Most significant first, no leading zeros (empty for zero).
        digits: Vec<u8>,
        exponent: i64,
    }

    impl Digits {
        fn of(d: Decimal) -> Self {
            let digits = d
                .mantissa()
                .unsigned_abs()
                .to_string()
                .bytes()
                .map(|b| b - b'0')
                .skip_while(|&b| b == 0)
                .collect();
            Self {
                digits,
                exponent: -i64::from(d.scale()),
            }
        }

        fn times(&self, other: &Self) -> Self {
            let (a, b) = (&self.digits, &other.digits);
            let mut acc = vec![0u32; a.len() + b.len()];
            for (i, &x) in a.iter().enumerate().rev() {
                for (j, &y) in b.iter().enumerate().rev() {
                    acc[i + j + 1] += u32::from(x) * u32::from(y);
                }
            }
            for k in (1..acc.len()).rev() {
                let carry = acc[k] / 10;
                acc[k] %= 10;
                acc[k - 1] += carry;
            }
            let digits = acc
                .into_iter()
                .map(|v| u8::try_from(v).unwrap_or(0))
                .skip_while(|&v| v == 0)
                .collect();
            Self {
                digits,
                exponent: self.exponent + other.exponent,
            }
        }

        /// Rounded half-even to `precision` significant digits.
        fn rounded(mut self, precision: u32) -> Self {
            let keep = precision as usize;
            if self.digits.len() <= keep {
                return self;
            }
            let dropped = self.digits.split_off(keep);
            self.exponent += i64::try_from(dropped.len()).unwrap_or(0);
            let guard = dropped.first().copied().unwrap_or(0);
            let sticky = dropped.iter().skip(1).any(|&d| d != 0);
            let odd = self.digits.last().is_some_and(|&d| d % 2 == 1);
            if guard > 5 || (guard == 5 && (sticky || odd)) {
                self.increment();
            }
            if self.digits.len() > keep {
                self.digits.pop();
                self.exponent += 1;
            }
            self
        }

        fn increment(&mut self) {
            for d in self.digits.iter_mut().rev() {
                if *d == 9 {
                    *d = 0;
                } else {
                    *d += 1;
                    return;
                }
            }
            self.digits.insert(0, 1);
        }

        /// The [`Decimal`], rounded half-even to 28 places when Python's exponent is smaller.
        fn into_decimal(mut self, negative: bool) -> Option<Decimal> {
            let min_exponent = -i64::from(MAX_SCALE);
            if self.exponent < min_exponent {
                let drop = usize::try_from(min_exponent - self.exponent).ok()?;
                let precision = self.digits.len().saturating_sub(drop);
                if precision == 0 {
                    return Some(Decimal::new(0, MAX_SCALE));
                }
                self = self.rounded(u32::try_from(precision).ok()?);
            }
            let mut coefficient: u128 = 0;
            for &d in &self.digits {
                coefficient = coefficient.checked_mul(10)?.checked_add(u128::from(d))?;
            }
            from_parts(negative, coefficient, self.exponent)
        }
    }

    /// `a / b` as Python computes it: the exact quotient when it has at most 28 significant
    /// digits, shown at the ideal exponent `exp(a) − exp(b)` when possible (`1.00/4` → `0.25`,
    /// `6.0/2` → `3.0`, `6/2.0` → `3`); otherwise rounded half-even to 28 significant digits
    /// (`2000/13000` → `0.1538461538461538461538461538`). `None` for a zero divisor or a
    /// quotient too large for a [`Decimal`].
    pub fn div(a: Decimal, b: Decimal) -> Option<Decimal> {
        if b.is_zero() {
            return None;
        }
        let negative = a.is_sign_negative() != b.is_sign_negative();
        let (ma, mb) = (a.mantissa().unsigned_abs(), b.mantissa().unsigned_abs());
        // a / b = (ma / mb) × 10^shift
        let shift = i64::from(b.scale()) - i64::from(a.scale());
        let ideal = shift;
        if ma == 0 {
            return from_parts(negative, 0, ideal.max(-i64::from(MAX_SCALE)));
        }
        let q = LongDivision::run(ma, mb, shift);
        let (coefficient, exponent) = q.rounded();
        let (coefficient, exponent) = if q.exact_at(exponent) {
            strip_to_ideal(coefficient, exponent, ideal)
        } else {
            (coefficient, exponent)
        };
        from_parts(negative, coefficient, exponent)
    }

    /// The digits of `ma / mb`, enough for 28 significant digits plus a guard digit, or for the
    /// 28th decimal place plus a guard digit, whichever comes first.
    struct LongDivision {
        /// Decimal digits, most significant first (no leading zeros).
        digits: Vec<u8>,
        /// Exponent (in the final value, `shift` applied) of the last digit in `digits`.
        last_exponent: i64,
        /// A non-zero remainder is left after the last digit.
        remainder: bool,
    }

    impl LongDivision {
        fn run(ma: u128, mb: u128, shift: i64) -> Self {
            let whole = ma / mb;
            let mut rem = ma % mb;
            let mut digits: Vec<u8> = if whole == 0 {
                Vec::new()
            } else {
                whole.to_string().bytes().map(|b| b - b'0').collect()
            };
            let mut last_exponent = shift;
            let enough = |digits: &Vec<u8>, last_exponent: i64| {
                digits.len() > PY_PRECISION as usize || last_exponent < -i64::from(MAX_SCALE)
            };
            while rem != 0 && !enough(&digits, last_exponent) {
                // rem < mb < 2^96, so rem × 10 cannot overflow.
                rem *= 10;
                let digit = u8::try_from(rem / mb).unwrap_or(0);
                rem %= mb;
                last_exponent -= 1;
                if !(digits.is_empty() && digit == 0) {
                    digits.push(digit);
                }
            }
            Self {
                digits,
                last_exponent,
                remainder: rem != 0,
            }
        }

        /// Exponent of the digit at `index` (0 = most significant).
        fn exponent_of(&self, index: usize) -> i64 {
            let from_end = i64::try_from(self.digits.len() - 1 - index).unwrap_or(0);
            self.last_exponent + from_end
        }

        /// The exponent the result keeps: the 28th significant digit, or the 28th decimal place
        /// if that comes first.
        fn kept_exponent(&self) -> i64 {
            let by_precision = if self.digits.len() >= PY_PRECISION as usize {
                self.exponent_of(PY_PRECISION as usize - 1)
            } else {
                self.last_exponent
            };
            by_precision.max(-i64::from(MAX_SCALE))
        }

        /// Coefficient and exponent rounded half-even at [`Self::kept_exponent`].
        fn rounded(&self) -> (u128, i64) {
            let keep_exp = self.kept_exponent();
            let mut coefficient: u128 = 0;
            let mut guard: Option<u8> = None;
            let mut sticky = self.remainder;
            for (i, &digit) in self.digits.iter().enumerate() {
                let e = self.exponent_of(i);
                if e >= keep_exp {
                    coefficient = coefficient * 10 + u128::from(digit);
                } else if e == keep_exp - 1 {
                    guard = Some(digit);
                } else if digit != 0 {
                    sticky = true;
                }
            }
            let round_up = match guard.unwrap_or(0) {
                g if g > 5 => true,
                5 => sticky || coefficient % 2 == 1,
                _ => false,
            };
            if round_up {
                coefficient += 1;
            }
            let mut exponent = keep_exp;
            if digit_count(coefficient) > PY_PRECISION {
                coefficient /= 10;
                exponent += 1;
            }
            (coefficient, exponent)
        }

        /// Nothing below `exponent` was dropped: the quotient is exact at that exponent.
        fn exact_at(&self, exponent: i64) -> bool {
            !self.remainder && self.last_exponent >= exponent
        }
    }

    /// Python's ideal exponent for an exact quotient: drop trailing zeros while the exponent is
    /// below `ideal` (a positive exponent becomes scale 0: a [`Decimal`] has no positive ones).
    fn strip_to_ideal(mut coefficient: u128, mut exponent: i64, ideal: i64) -> (u128, i64) {
        while exponent < ideal.min(0) && coefficient != 0 && coefficient.is_multiple_of(10) {
            coefficient /= 10;
            exponent += 1;
        }
        (coefficient, exponent)
    }

    fn from_parts(negative: bool, coefficient: u128, exponent: i64) -> Option<Decimal> {
        let (coefficient, scale) = if exponent >= 0 {
            let factor = 10u128.checked_pow(u32::try_from(exponent).ok()?)?;
            (coefficient.checked_mul(factor)?, 0)
        } else {
            (coefficient, u32::try_from(-exponent).ok()?)
        };
        if coefficient > MAX_MANTISSA || scale > MAX_SCALE {
            return None;
        }
        let mut out =
            Decimal::try_from_i128_with_scale(i128::try_from(coefficient).ok()?, scale).ok()?;
        out.set_sign_negative(negative);
        Some(out)
    }

    pub(super) fn digit_count(mut n: u128) -> u32 {
        let mut count = 1;
        while n >= 10 {
            n /= 10;
            count += 1;
        }
        count
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing request values (pydantic v2 `Decimal` fields)
// ---------------------------------------------------------------------------------------------

/// Why a request value is not a decimal, with pydantic's error `type` and message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecimalError {
    /// Not a string or number (bool, null, list, object).
    Type,
    /// A string that is not a decimal literal.
    Parsing,
    /// `NaN`, `Infinity` and their variants.
    NotFinite,
    /// A valid decimal too large in magnitude for [`Decimal`] (about 7.9e28). No pydantic
    /// equivalent: the legacy service accepted it and failed in the database (500); callers
    /// report their own upper bound instead (`negative` says which side).
    OutOfRange { negative: bool },
}

impl DecimalError {
    /// pydantic's error `type`.
    pub fn error_type(self) -> &'static str {
        match self {
            Self::Type => "decimal_type",
            Self::Parsing => "decimal_parsing",
            Self::NotFinite => "finite_number",
            Self::OutOfRange { .. } => "decimal_out_of_range",
        }
    }

    /// pydantic's message.
    pub fn message(self) -> &'static str {
        match self {
            Self::Type => "Decimal input should be an integer, float, string or Decimal object",
            Self::Parsing => "Input should be a valid decimal",
            Self::NotFinite => "Input should be a finite number",
            Self::OutOfRange { .. } => "Decimal input is out of range",
        }
    }
}

impl fmt::Display for DecimalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for DecimalError {}

/// A decimal request value: its numeric value and the exact Python `str()` of what was sent
/// (`"1.25"`, `3.5` → `"3.5"`, `"1e2"` → `"1E+2"`, `" +01.50 "` → `"1.50"`), which the legacy
/// service echoes on grant create/update responses (stock quirk Q1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecimalInput {
    value: Decimal,
    text: String,
    exact: bool,
}

impl DecimalInput {
    /// Parses a string as `Decimal(str)` does, after pydantic: surrounding whitespace ignored,
    /// underscores ignored anywhere, `[sign] digits [. digits] [e [sign] digits]` with digits on
    /// at least one side of the point; `NaN`/`Infinity` refused as non-finite. Only ASCII
    /// digits are accepted (Python also takes other Unicode decimal digits).
    pub fn parse(raw: &str) -> Result<Self, DecimalError> {
        let cleaned: String = raw.trim().chars().filter(|&c| c != '_').collect();
        let (negative, body) = match cleaned.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, cleaned.strip_prefix('+').unwrap_or(&cleaned)),
        };
        if is_special(body) {
            return Err(DecimalError::NotFinite);
        }
        let (mantissa, exponent) = match body.find(['e', 'E']) {
            Some(at) => {
                let (m, e) = body.split_at(at);
                (m, parse_exponent(e.get(1..).unwrap_or(""))?)
            }
            None => (body, 0),
        };
        let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (int_part.is_empty() && frac_part.is_empty())
            || !all_digits(int_part)
            || !all_digits(frac_part)
        {
            return Err(DecimalError::Parsing);
        }
        let frac_len = i64::try_from(frac_part.len()).map_err(|_| DecimalError::Parsing)?;
        let joined = format!("{int_part}{frac_part}");
        let coefficient = match joined.trim_start_matches('0') {
            "" => "0",
            significant => significant,
        };
        Self::from_parts(negative, coefficient, exponent.saturating_sub(frac_len))
    }

    /// Parses a JSON value as pydantic v2 does for a `Decimal` field: strings as [`Self::parse`],
    /// integers exactly, floats through their shortest round-trip text (`3.5` → `"3.5"`,
    /// `100.0` → `"100"`, `1e-7` → `"1E-7"`), anything else [`DecimalError::Type`].
    pub fn from_json(value: &serde_json::Value) -> Result<Self, DecimalError> {
        match value {
            serde_json::Value::String(s) => Self::parse(s),
            serde_json::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Self::parse(&i.to_string())
                } else if let Some(u) = n.as_u64() {
                    Self::parse(&u.to_string())
                } else {
                    match n.as_f64() {
                        Some(f) if f.is_finite() => Self::parse(&f.to_string()),
                        _ => Err(DecimalError::NotFinite),
                    }
                }
            }
            _ => Err(DecimalError::Type),
        }
    }

    /// From a coefficient (ASCII digits without leading zeros) and an exponent.
    fn from_parts(negative: bool, coefficient: &str, exponent: i64) -> Result<Self, DecimalError> {
        let text = python_str(negative, coefficient, exponent);
        let (value, exact) = to_decimal(negative, coefficient, exponent)?;
        Ok(Self { value, text, exact })
    }

    /// The value. Exact unless the input had more than 28 decimal places or more than 29
    /// significant digits: then the extra digits are truncated, which rounds to any column
    /// scale exactly as the full input would (see [`Self::is_exact`]).
    pub fn value(&self) -> Decimal {
        self.value
    }

    /// Python's `str()` of the input, as the legacy service echoes it.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether [`Self::value`] equals the input exactly.
    pub fn is_exact(&self) -> bool {
        self.exact
    }
}

impl fmt::Display for DecimalInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl serde::Serialize for DecimalInput {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

/// `inf`, `infinity`, `nan`, `snan` (any case), NaN with a payload (`nan12`).
fn is_special(body: &str) -> bool {
    let lower = body.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return true;
    }
    let payload = lower
        .strip_prefix("snan")
        .or_else(|| lower.strip_prefix("nan"));
    payload.is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

/// `[sign] digits`; absurdly long exponents saturate (the value is then out of range or zero).
fn parse_exponent(text: &str) -> Result<i64, DecimalError> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DecimalError::Parsing);
    }
    let magnitude = digits.trim_start_matches('0').parse::<i64>().unwrap_or(
        if digits.trim_start_matches('0').is_empty() {
            0
        } else {
            i64::MAX / 4
        },
    );
    Ok(if negative { -magnitude } else { magnitude })
}

/// The [`Decimal`] of `±coefficient × 10^exponent`, truncating digits beyond what it can hold,
/// and whether nothing was truncated.
fn to_decimal(
    negative: bool,
    coefficient: &str,
    exponent: i64,
) -> Result<(Decimal, bool), DecimalError> {
    let out_of_range = DecimalError::OutOfRange { negative };
    if coefficient == "0" {
        let scale = u32::try_from((-exponent).clamp(0, i64::from(MAX_SCALE))).unwrap_or(0);
        return Ok((Decimal::new(0, scale), true));
    }
    let len = i64::try_from(coefficient.len()).map_err(|_| out_of_range)?;
    if exponent >= 0 {
        // The integer has len + exponent digits; the largest mantissa has 29.
        if len.saturating_add(exponent) > 29 {
            return Err(out_of_range);
        }
        let base: u128 = coefficient.parse().map_err(|_| out_of_range)?;
        let factor = 10u128.pow(u32::try_from(exponent).map_err(|_| out_of_range)?);
        let mantissa = base.checked_mul(factor).ok_or(out_of_range)?;
        return signed_decimal(negative, mantissa, 0).map(|d| (d, true));
    }
    // Keep at most 28 decimals and at most a 29-digit coefficient below the maximum, by
    // dropping trailing digits (truncation toward zero).
    let mut scale = -exponent;
    let mut keep = len;
    if scale > i64::from(MAX_SCALE) {
        keep -= scale - i64::from(MAX_SCALE);
        scale = i64::from(MAX_SCALE);
    }
    if keep > 29 {
        scale -= keep - 29;
        keep = 29;
    }
    if keep <= 0 {
        return Ok((Decimal::new(0, u32::try_from(scale).unwrap_or(0)), false));
    }
    let kept = coefficient
        .get(..usize::try_from(keep).map_err(|_| out_of_range)?)
        .ok_or(out_of_range)?;
    let mut mantissa: u128 = kept.parse().map_err(|_| out_of_range)?;
    if mantissa > MAX_MANTISSA {
        mantissa /= 10;
        scale -= 1;
        keep -= 1;
    }
    if scale < 0 {
        return Err(out_of_range);
    }
    let exact = keep == len
        || coefficient
            .get(usize::try_from(keep).unwrap_or(0)..)
            .is_some_and(|rest| rest.bytes().all(|b| b == b'0'));
    let value = signed_decimal(negative, mantissa, u32::try_from(scale).unwrap_or(0))
        .map_err(|_| out_of_range)?;
    Ok((value, exact))
}

fn signed_decimal(negative: bool, mantissa: u128, scale: u32) -> Result<Decimal, DecimalError> {
    let out_of_range = DecimalError::OutOfRange { negative };
    if mantissa > MAX_MANTISSA {
        return Err(out_of_range);
    }
    let signed = i128::try_from(mantissa).map_err(|_| out_of_range)?;
    let mut d = Decimal::try_from_i128_with_scale(signed, scale).map_err(|_| out_of_range)?;
    d.set_sign_negative(negative);
    Ok(d)
}

// ---------------------------------------------------------------------------------------------
// serde
// ---------------------------------------------------------------------------------------------

/// `#[serde(with = "serde_py_str")]`: a [`Decimal`] as its Python `str()` (`"16.000000"`); reads
/// a decimal string or a JSON number back with its scale.
pub mod serde_py_str {
    use super::{Decimal, DecimalInput, py_str};
    use serde::{Deserialize, Deserializer, Serializer, de};

    pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&py_str(value))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        let raw = serde_json::Value::deserialize(deserializer)?;
        DecimalInput::from_json(&raw)
            .map(|d| d.value())
            .map_err(de::Error::custom)
    }
}

/// `#[serde(with = "serde_py_str_opt")]`: like [`serde_py_str`], `None` as `null`.
pub mod serde_py_str_opt {
    use super::{Decimal, DecimalInput, py_str};
    use serde::{Deserialize, Deserializer, Serializer, de};

    pub fn serialize<S: Serializer>(
        value: &Option<Decimal>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => serializer.serialize_str(&py_str(d)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Decimal>, D::Error> {
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::Null => Ok(None),
            raw => DecimalInput::from_json(&raw)
                .map(|d| Some(d.value()))
                .map_err(de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn py_str_matches_python_for_every_scale() {
        // python3: str(Decimal((sign, digits, -scale)))
        let cases: [(i128, u32, &str); 16] = [
            (0, 0, "0"),
            (0, 2, "0.00"),
            (0, 6, "0.000000"),
            (0, 7, "0E-7"),
            (0, 8, "0E-8"),
            (1, 7, "1E-7"),
            (1, 6, "0.000001"),
            (16_000_000, 6, "16.000000"),
            (-125, 2, "-1.25"),
            (12345, 10, "0.0000012345"),
            (5, 28, "5E-28"),
            (123, 0, "123"),
            (-1, 1, "-0.1"),
            (
                79_228_162_514_264_337_593_543_950_335,
                0,
                "79228162514264337593543950335",
            ),
            (
                79_228_162_514_264_337_593_543_950_335,
                28,
                "7.9228162514264337593543950335",
            ),
            (1_000_000, 6, "1.000000"),
        ];
        for (mantissa, scale, expected) in cases {
            let value = Decimal::from_i128_with_scale(mantissa, scale);
            assert_eq!(py_str(&value), expected, "{mantissa}e-{scale}");
        }
    }

    #[test]
    fn py_str_keeps_the_sign_of_a_negative_zero() {
        // python3: str(Decimal('-0.00'))
        let mut zero = Decimal::new(0, 2);
        zero.set_sign_negative(true);
        assert_eq!(py_str(&zero), "-0.00");
    }

    #[test]
    fn quantize_matches_python_rounding_modes() {
        // python3: str(Decimal(v).quantize(Decimal(1).scaleb(-places), rounding=mode))
        let cases = [
            ("17", 2, Rounding::HalfUp, "17.00"),
            ("12.4230769", 2, Rounding::HalfUp, "12.42"),
            ("2.675", 2, Rounding::HalfUp, "2.68"),
            ("2.665", 2, Rounding::HalfEven, "2.66"),
            ("2.675", 2, Rounding::HalfEven, "2.68"),
            ("-2.675", 2, Rounding::HalfUp, "-2.68"),
            ("-0.001", 2, Rounding::HalfUp, "-0.00"),
            ("15.38461538", 2, Rounding::HalfUp, "15.38"),
            ("1.9999", 0, Rounding::Down, "1"),
            ("-1.5", 0, Rounding::Floor, "-2"),
            ("0.125", 2, Rounding::Down, "0.12"),
            (
                "825.2094871826910064565595649",
                2,
                Rounding::HalfUp,
                "825.21",
            ),
            ("6.805", 2, Rounding::HalfUp, "6.81"),
        ];
        for (value, places, rounding, expected) in cases {
            assert_eq!(
                py_str(&quantize(d(value), places, rounding)),
                expected,
                "{value} to {places} {rounding:?}"
            );
        }
        assert_eq!(py_str(&round2(d("10.28125"))), "10.28");
        assert_eq!(py_str(&round2(d("27.0833333"))), "27.08");
    }

    #[test]
    fn column_scale_is_what_postgresql_stores() {
        // SELECT '1.25'::numeric(18,6), '3.1234565'::numeric(18,6), '-0.0000001'::numeric(18,6)
        assert_eq!(py_str(&at_column_scale(d("1.25"), 6)), "1.250000");
        assert_eq!(py_str(&at_column_scale(d("3.1234565"), 6)), "3.123457");
        assert_eq!(py_str(&at_column_scale(d("-0.0000001"), 6)), "0.000000");
        assert_eq!(py_str(&at_column_scale(d("2.5"), 2)), "2.50");
    }

    #[test]
    fn py_min_and_max_return_the_first_argument_on_a_tie() {
        // python3: str(max(Decimal('0.000000'), Decimal('0'))) == '0.000000'
        assert_eq!(py_str(&py_max(d("0.000000"), d("0"))), "0.000000");
        assert_eq!(py_str(&py_min(d("5.00"), d("5"))), "5.00");
        assert_eq!(py_max(d("1"), d("2")), d("2"));
        assert_eq!(py_min(d("1"), d("2")), d("1"));
    }

    #[test]
    fn division_matches_python_context() {
        // python3: str(Decimal(a) / Decimal(b))
        let cases = [
            ("2000", "13000", "0.1538461538461538461538461538"),
            ("913", "365.25", "2.499657768651608487337440110"),
            ("914", "365.25", "2.502395619438740588637919233"),
            ("1.00", "4", "0.25"),
            ("10", "4", "2.5"),
            ("6.0", "2", "3.0"),
            ("6", "2.0", "3"),
            ("120000.000000", "7500", "16.000000"),
            ("153000.000000", "9000", "17.000000"),
            ("161500.000000", "13000", "12.42307692307692307692307692"),
            ("1", "3", "0.3333333333333333333333333333"),
            ("2", "3", "0.6666666666666666666666666667"),
            ("-2", "3", "-0.6666666666666666666666666667"),
            ("1000", "7125", "0.1403508771929824561403508772"),
            ("1", "7", "0.1428571428571428571428571429"),
            ("22", "7", "3.142857142857142857142857143"),
            ("0.00", "3", "0.00"),
            ("1", "0.0003", "3333.333333333333333333333333"),
            ("5.5", "0.5", "11"),
        ];
        for (a, b, expected) in cases {
            let q = ctx::div(d(a), d(b)).unwrap();
            assert_eq!(py_str(&q), expected, "{a} / {b}");
        }
    }

    #[test]
    fn division_beyond_what_a_decimal_holds() {
        // Python: 6.5/1200 = 0.005416666666666666666666666667 (30 places); 28 places here.
        let rate = ctx::div(d("6.5"), d("1200")).unwrap();
        assert_eq!(py_str(&rate), "0.0054166666666666666666666667");
        // ... and 1 + rate rounds back to Python's 1.005416666666666666666666667.
        let one_plus = ctx::add(Decimal::ONE, rate).unwrap();
        assert_eq!(py_str(&one_plus), "1.005416666666666666666666667");
        // Python: 1.2345678901234567890E+22 (a positive exponent); the same number here.
        let big = ctx::div(d("12345678901234567890"), d("0.001")).unwrap();
        assert_eq!(big, d("12345678901234567890000"));
        assert_eq!(ctx::div(Decimal::ONE, Decimal::ZERO), None);
    }

    #[test]
    fn power_reproduces_the_loan_factor() {
        // domain-loans.md §4.6 A: factor = (1 + 6.5/1200) ** 12 = 1.066971852002543818038223969
        let rate = ctx::div(d("6.5"), d("1200")).unwrap();
        let base = ctx::add(Decimal::ONE, rate).unwrap();
        let factor = ctx::powi(base, 12).unwrap();
        assert_eq!(py_str(&factor), "1.066971852002543818038223969");
        assert_eq!(ctx::powi(base, 0), Some(Decimal::ONE));
        // python3: str(Decimal(b) ** n)
        let cases = [
            (
                "1.005416666666666666666666667",
                12,
                "1.066971852002543818038223969",
            ),
            (
                "1.005416666666666666666666667",
                6,
                "1.032943295637540704803048176",
            ),
            ("1.0041125", 24, "1.103511759097844228470897938"),
            (
                "1.005833333333333333333333333",
                360,
                "8.116497475359608361636057877",
            ),
            ("0.99", 7, "0.93206534790699"),
            ("-1.5", 3, "-3.375"),
            ("1.1", 5, "1.61051"),
            (
                "1.000583333333333333333333333",
                1,
                "1.000583333333333333333333333",
            ),
            (
                "1.004116666666666666666666667",
                60,
                "1.279530204302006979948699027",
            ),
            (
                "1.0054166666666666666666666667",
                12,
                "1.066971852002543818038223965",
            ),
        ];
        for (b, n, expected) in cases {
            assert_eq!(py_str(&ctx::powi(d(b), n).unwrap()), expected, "{b} ** {n}");
        }
        assert_eq!(ctx::powi(d("2"), 100), None);
    }

    #[test]
    fn context_rounding_keeps_28_significant_digits() {
        // python3: str(Decimal('1.23456789012345678901234567891') + 0)
        assert_eq!(
            py_str(&ctx::round(d("1.2345678901234567890123456789"))),
            "1.234567890123456789012345679"
        );
        assert_eq!(py_str(&ctx::round(d("12.50"))), "12.50");
        // python3: str(Decimal('1.50') - Decimal('1.50')), str(Decimal('-1.50') + Decimal('1.50'))
        assert_eq!(py_str(&ctx::sub(d("1.50"), d("1.50")).unwrap()), "0.00");
        assert_eq!(py_str(&ctx::add(d("-1.50"), d("1.50")).unwrap()), "0.00");
        // python3: str(Decimal('16.000000') * 7500)
        assert_eq!(
            py_str(&ctx::mul(d("16.000000"), Decimal::from(7500)).unwrap()),
            "120000.000000"
        );
    }

    #[test]
    fn parses_strings_and_numbers_as_pydantic_does() {
        // pydantic 2.12: class M(BaseModel): d: Decimal; str(M.model_validate_json('{"d": X}').d)
        // or the error type.
        let cases: [(&str, Result<&str, &str>); 44] = [
            (r#""1.25""#, Ok("1.25")),
            (r#""3.5""#, Ok("3.5")),
            (r#"" +01.50 ""#, Ok("1.50")),
            (r#""1e2""#, Ok("1E+2")),
            (r#""1E+2""#, Ok("1E+2")),
            (r#""-0""#, Ok("-0")),
            (r#""0.000000""#, Ok("0.000000")),
            (r#""0.00000001""#, Ok("1E-8")),
            (r#""1_000""#, Ok("1000")),
            (r#""_1""#, Ok("1")),
            (r#""1.""#, Ok("1")),
            (r#"".5""#, Ok("0.5")),
            (r#""+.5e-3""#, Ok("0.0005")),
            (r#""12.500""#, Ok("12.500")),
            (r#""1e-7""#, Ok("1E-7")),
            (r#""-12.34e-3""#, Ok("-0.01234")),
            (r#""0E-30""#, Ok("0E-30")),
            (
                r#""1.0000000000000000000000000000001""#,
                Ok("1.0000000000000000000000000000001"),
            ),
            (r#""abc""#, Err("decimal_parsing")),
            (r#""""#, Err("decimal_parsing")),
            (r#""1e""#, Err("decimal_parsing")),
            (r#""e5""#, Err("decimal_parsing")),
            (r#"".""#, Err("decimal_parsing")),
            (r#""1 000""#, Err("decimal_parsing")),
            (r#""NaN""#, Err("finite_number")),
            (r#""-Infinity""#, Err("finite_number")),
            (r#""inf""#, Err("finite_number")),
            (r#""sNaN""#, Err("finite_number")),
            (r#"3.5"#, Ok("3.5")),
            (r#"2"#, Ok("2")),
            (r#"100.0"#, Ok("100")),
            (r#"1e-7"#, Ok("1E-7")),
            (r#"1e20"#, Ok("100000000000000000000")),
            (r#"0.1"#, Ok("0.1")),
            (r#"-0.0"#, Ok("-0")),
            (r#"12345678901234567.89"#, Ok("12345678901234568")),
            (r#"1.10"#, Ok("1.1")),
            (r#"true"#, Err("decimal_type")),
            (r#"null"#, Err("decimal_type")),
            (r#"[1]"#, Err("decimal_type")),
            (r#"{}"#, Err("decimal_type")),
            (r#"0.000001"#, Ok("0.000001")),
            (r#"9007199254740993"#, Ok("9007199254740993")),
            (r#"-5"#, Ok("-5")),
        ];
        for (json, expected) in cases {
            let value: serde_json::Value = serde_json::from_str(json).unwrap();
            let parsed = DecimalInput::from_json(&value);
            match expected {
                Ok(text) => assert_eq!(parsed.unwrap().text(), text, "{json}"),
                Err(kind) => assert_eq!(parsed.unwrap_err().error_type(), kind, "{json}"),
            }
        }
    }

    #[test]
    fn parsed_values_are_exact_or_truncated() {
        let p = DecimalInput::parse(" +01.50 ").unwrap();
        assert_eq!(p.value(), d("1.50"));
        assert_eq!(p.value().scale(), 2);
        assert!(p.is_exact());
        assert_eq!(DecimalInput::parse("1e2").unwrap().value(), d("100"));
        assert_eq!(DecimalInput::parse("-0").unwrap().value(), Decimal::ZERO);
        // More than 28 places: truncated, which rounds to a column scale like the full value.
        let long = DecimalInput::parse("0.00000049999999999999999999999999").unwrap();
        assert!(!long.is_exact());
        assert_eq!(py_str(&at_column_scale(long.value(), 6)), "0.000000");
        let long = DecimalInput::parse("2.0000005000000000000000000000001").unwrap();
        assert_eq!(py_str(&at_column_scale(long.value(), 6)), "2.000001");
        assert!(
            DecimalInput::parse("1.000000000000000000000000000000000")
                .unwrap()
                .is_exact()
        );
        // Too large for a Decimal: the caller reports its bound.
        assert_eq!(
            DecimalInput::parse("1e30").unwrap_err(),
            DecimalError::OutOfRange { negative: false }
        );
        assert_eq!(
            DecimalInput::parse("-123456789012345678901234567890.5").unwrap_err(),
            DecimalError::OutOfRange { negative: true }
        );
        assert_eq!(
            DecimalInput::parse("1e-999999999999999999999")
                .unwrap()
                .value(),
            Decimal::ZERO
        );
        assert_eq!(
            DecimalInput::parse("79228162514264337593543950335")
                .unwrap()
                .value(),
            Decimal::MAX
        );
    }

    #[test]
    fn error_messages_are_pydantic_texts() {
        assert_eq!(
            DecimalError::Parsing.message(),
            "Input should be a valid decimal"
        );
        assert_eq!(
            DecimalError::NotFinite.message(),
            "Input should be a finite number"
        );
        assert_eq!(
            DecimalError::Type.message(),
            "Decimal input should be an integer, float, string or Decimal object"
        );
    }

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Priced {
        #[serde(with = "serde_py_str")]
        price: Decimal,
        #[serde(with = "serde_py_str_opt")]
        min: Option<Decimal>,
    }

    #[test]
    fn serde_writes_the_python_string_and_reads_it_back() {
        let row = Priced {
            price: d("16.000000"),
            min: None,
        };
        let json = serde_json::to_string(&row).unwrap();
        assert_eq!(json, r#"{"price":"16.000000","min":null}"#);
        let back: Priced = serde_json::from_str(&json).unwrap();
        assert_eq!(back, row);
        assert_eq!(back.price.scale(), 6);
        let from_number: Priced = serde_json::from_str(r#"{"price":2.5,"min":"0E-8"}"#).unwrap();
        assert_eq!(from_number.price, d("2.5"));
        assert_eq!(py_str(&from_number.min.unwrap()), "0E-8");
        assert!(serde_json::from_str::<Priced>(r#"{"price":"abc","min":null}"#).is_err());
        let echoed = serde_json::to_string(&DecimalInput::parse("3.50").unwrap()).unwrap();
        assert_eq!(echoed, r#""3.50""#);
    }
}

// ---------------------------------------------------------------------------------------------
// Python's context at any magnitude
// ---------------------------------------------------------------------------------------------

/// A decimal number with Python's default-context arithmetic at every magnitude.
///
/// [`ctx`] works on [`Decimal`], which holds at most 28 decimal places: below 0.1 it keeps
/// fewer than Python's 28 significant digits. Loan arithmetic lives there (a monthly rate is
/// `annual / 1200 ≈ 0.005`), and the missing digits decide real cents: `450.00 × 7/1200` is
/// exactly 2.625, Python's `0.005833333333333333333333333333` (30 places) gives a product that
/// rounds back to `2.625000…` and then half-up to 2.63, while a 28-place rate gives 2.62.
///
/// `PyDec` keeps a coefficient and an exponent like Python's `Decimal`, so every result has
/// its 28 significant digits. Each operation is exact in 256 bits and then rounded once to
/// the precision (half-even), as libmpdec does; [`PyDec::powi`] follows libmpdec's integer
/// power (left-to-right binary powering at a working precision of `28 + digits(n) + 2`, one
/// final rounding). `str()` and the ideal exponents of exact results are Python's
/// (`6.0 / 2` → `3.0`, `2.50 × 333` → `832.50`, `202.20 − 202.200000` → `0.000000`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PyDec {
    negative: bool,
    coefficient: u128,
    exponent: i32,
}

/// A 256-bit unsigned integer (little-endian 64-bit limbs): room for the exact product of two
/// 38-digit coefficients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Wide([u64; 4]);

impl Wide {
    const ZERO: Self = Self([0; 4]);

    fn from_u128(v: u128) -> Self {
        // Splitting into limbs: the truncations are the point.
        Self([v as u64, (v >> 64) as u64, 0, 0])
    }

    fn to_u128(self) -> Option<u128> {
        (self.0[2] == 0 && self.0[3] == 0)
            .then(|| u128::from(self.0[0]) | (u128::from(self.0[1]) << 64))
    }

    fn product(a: u128, b: u128) -> Self {
        let a = [a as u64, (a >> 64) as u64];
        let b = [b as u64, (b >> 64) as u64];
        let mut out = [0u64; 4];
        for (i, &ai) in a.iter().enumerate() {
            let mut carry = 0u128;
            for (j, &bj) in b.iter().enumerate() {
                let t = u128::from(ai) * u128::from(bj) + u128::from(out[i + j]) + carry;
                out[i + j] = t as u64;
                carry = t >> 64;
            }
            out[i + 2] = carry as u64;
        }
        Self(out)
    }

    fn mul_small(self, m: u64) -> Option<Self> {
        let mut out = [0u64; 4];
        let mut carry = 0u128;
        for (o, &limb) in out.iter_mut().zip(self.0.iter()) {
            let t = u128::from(limb) * u128::from(m) + carry;
            *o = t as u64;
            carry = t >> 64;
        }
        (carry == 0).then_some(Self(out))
    }

    fn mul_pow10(self, mut k: u32) -> Option<Self> {
        let mut v = self;
        while k > 0 {
            let step = k.min(19);
            v = v.mul_small(10u64.pow(step))?;
            k -= step;
        }
        Some(v)
    }

    fn checked_add(self, o: Self) -> Option<Self> {
        let mut out = [0u64; 4];
        let mut carry = 0u128;
        for (i, slot) in out.iter_mut().enumerate() {
            let t = u128::from(self.0[i]) + u128::from(o.0[i]) + carry;
            *slot = t as u64;
            carry = t >> 64;
        }
        (carry == 0).then_some(Self(out))
    }

    /// `self − o` for `self ≥ o`.
    fn minus(self, o: Self) -> Self {
        let mut out = [0u64; 4];
        let mut borrow = false;
        for (i, slot) in out.iter_mut().enumerate() {
            let (d, b1) = self.0[i].overflowing_sub(o.0[i]);
            let (d, b2) = d.overflowing_sub(u64::from(borrow));
            *slot = d;
            borrow = b1 || b2;
        }
        Self(out)
    }

    fn compare(self, o: Self) -> std::cmp::Ordering {
        self.0.iter().rev().cmp(o.0.iter().rev())
    }

    fn divrem_small(self, d: u64) -> (Self, u64) {
        let mut out = [0u64; 4];
        let mut rem = 0u128;
        for i in (0..4).rev() {
            let cur = (rem << 64) | u128::from(self.0[i]);
            out[i] = (cur / u128::from(d)) as u64;
            rem = cur % u128::from(d);
        }
        (Self(out), rem as u64)
    }

    /// Decimal digits (1 for zero, as Python counts a zero coefficient).
    fn digits(self) -> u32 {
        let mut v = self;
        let mut extra = 0;
        loop {
            if let Some(small) = v.to_u128() {
                return extra + u128_digits(small);
            }
            v = v.divrem_small(10u64.pow(19)).0;
            extra += 19;
        }
    }

    /// `self / 10^k`, the first discarded digit, and whether anything after it is non-zero.
    fn split(self, k: u32) -> (Self, u8, bool) {
        if k == 0 {
            return (self, 0, false);
        }
        let mut v = self;
        let mut sticky = false;
        let mut left = k - 1;
        while left > 0 {
            let step = left.min(19);
            let (q, r) = v.divrem_small(10u64.pow(step));
            sticky |= r != 0;
            v = q;
            left -= step;
        }
        let (q, digit) = v.divrem_small(10);
        (q, u8::try_from(digit).unwrap_or(9), sticky)
    }
}

fn u128_digits(v: u128) -> u32 {
    v.checked_ilog10().map_or(1, |d| d + 1)
}

/// Whether dropping `digit` (the first discarded digit) and a tail (`sticky`: anything
/// non-zero after it) rounds the kept magnitude up by one unit.
fn rounds_away(rounding: Rounding, negative: bool, odd: bool, digit: u8, sticky: bool) -> bool {
    let above_zero = digit > 0 || sticky;
    match rounding {
        Rounding::HalfUp => digit >= 5,
        Rounding::HalfEven => digit > 5 || (digit == 5 && (sticky || odd)),
        Rounding::HalfDown => digit > 5 || (digit == 5 && sticky),
        Rounding::Down => false,
        Rounding::Up => above_zero,
        Rounding::Floor => negative && above_zero,
        Rounding::Ceiling => !negative && above_zero,
    }
}

impl PyDec {
    pub const ZERO: Self = Self {
        negative: false,
        coefficient: 0,
        exponent: 0,
    };
    pub const ONE: Self = Self {
        negative: false,
        coefficient: 1,
        exponent: 0,
    };

    /// The exact value of a [`Decimal`], scale included (Python builds a `Decimal` from a
    /// string exactly).
    pub fn from_decimal(d: Decimal) -> Self {
        Self {
            negative: d.is_sign_negative(),
            coefficient: d.mantissa().unsigned_abs(),
            exponent: -i32::try_from(d.scale()).unwrap_or(0),
        }
    }

    pub fn from_i64(v: i64) -> Self {
        Self {
            negative: v < 0,
            coefficient: u128::from(v.unsigned_abs()),
            exponent: 0,
        }
    }

    /// Python's decimal text (`"-12.50"`, `"8.333E-8"`, `"1E+3"`), exactly; `None` for other
    /// text or a coefficient beyond 38 digits.
    pub fn parse(text: &str) -> Option<Self> {
        let (negative, rest) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (mantissa, exponent) = match rest.split_once(['e', 'E']) {
            Some((m, e)) => (m, e.parse::<i32>().ok()?),
            None => (rest, 0),
        };
        let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        let mut coefficient: u128 = 0;
        for b in int_part.bytes().chain(frac_part.bytes()) {
            if !b.is_ascii_digit() {
                return None;
            }
            coefficient = coefficient
                .checked_mul(10)?
                .checked_add(u128::from(b - b'0'))?;
        }
        Some(Self {
            negative,
            coefficient,
            exponent: exponent.checked_sub(i32::try_from(frac_part.len()).ok()?)?,
        })
    }

    pub fn is_zero(self) -> bool {
        self.coefficient == 0
    }

    /// The sign bit (`-0.00` is negative and zero, as in Python).
    pub fn is_negative(self) -> bool {
        self.negative
    }

    /// `self > 0`.
    pub fn is_positive(self) -> bool {
        !self.negative && self.coefficient != 0
    }

    /// Whether the value is a whole number (`10.0` is, `10.5` is not).
    pub fn is_integral(self) -> bool {
        if self.exponent >= 0 || self.coefficient == 0 {
            return true;
        }
        match 10u128.checked_pow(self.exponent.unsigned_abs()) {
            Some(p) => self.coefficient.is_multiple_of(p),
            None => false,
        }
    }

    /// Rounds an exact `coefficient × 10^exponent` to at most `prec` digits, half-even;
    /// `tail` marks a non-zero remainder below the coefficient (inexact division).
    fn round(negative: bool, coefficient: Wide, exponent: i32, tail: bool, prec: u32) -> Self {
        let digits = coefficient.digits();
        if digits <= prec {
            return Self {
                negative,
                coefficient: coefficient.to_u128().unwrap_or(0),
                exponent,
            };
        }
        let drop = digits - prec;
        let (kept, digit, sticky) = coefficient.split(drop);
        let mut kept = kept.to_u128().unwrap_or(0);
        let mut exponent = exponent.saturating_add(i32::try_from(drop).unwrap_or(0));
        if rounds_away(
            Rounding::HalfEven,
            negative,
            kept & 1 == 1,
            digit,
            sticky || tail,
        ) {
            kept += 1;
            if u128_digits(kept) > prec {
                kept /= 10;
                exponent += 1;
            }
        }
        Self {
            negative,
            coefficient: kept,
            exponent,
        }
    }

    fn mul_prec(self, other: Self, prec: u32) -> Self {
        Self::round(
            self.negative != other.negative,
            Wide::product(self.coefficient, other.coefficient),
            self.exponent + other.exponent,
            false,
            prec,
        )
    }

    fn add_prec(a: Self, b: Self, prec: u32) -> Self {
        let (high, low) = if a.exponent >= b.exponent {
            (a, b)
        } else {
            (b, a)
        };
        let shift =
            u32::try_from(i64::from(high.exponent) - i64::from(low.exponent)).unwrap_or(u32::MAX);
        let high_digits = u128_digits(high.coefficient);
        // Exact alignment fits 256 bits (77 digits) whenever the lower operand can still reach
        // the digits of the result. Further down it can only decide the rounding, and a single
        // unit just below the result's last digit decides it the same way.
        let (high_c, low_c, exponent) = if high_digits.saturating_add(shift) <= 76 {
            let high_c = Wide::from_u128(high.coefficient)
                .mul_pow10(shift)
                .unwrap_or(Wide::ZERO);
            (high_c, Wide::from_u128(low.coefficient), low.exponent)
        } else if high.coefficient == 0 {
            (Wide::ZERO, Wide::from_u128(low.coefficient), low.exponent)
        } else {
            let places = prec + 2;
            let high_c = Wide::from_u128(high.coefficient)
                .mul_pow10(places)
                .unwrap_or(Wide::ZERO);
            let low_c = Wide::from_u128(u128::from(low.coefficient != 0));
            (
                high_c,
                low_c,
                high.exponent - i32::try_from(places).unwrap_or(0),
            )
        };
        let (negative, magnitude) = if high.negative == low.negative {
            (
                high.negative,
                high_c.checked_add(low_c).unwrap_or(Wide::ZERO),
            )
        } else {
            match high_c.compare(low_c) {
                std::cmp::Ordering::Greater => (high.negative, high_c.minus(low_c)),
                std::cmp::Ordering::Less => (low.negative, low_c.minus(high_c)),
                // x + (−x) is +0 under every rounding but FLOOR.
                std::cmp::Ordering::Equal => (false, Wide::ZERO),
            }
        };
        Self::round(negative, magnitude, exponent, false, prec)
    }

    /// `self / other`: the exact quotient at the ideal exponent (`exp(a) − exp(b)`, or as
    /// close as its digits allow) when it has at most 28 digits, else rounded half-even to 28
    /// digits. `None` for a zero divisor.
    pub fn checked_div(self, other: Self) -> Option<Self> {
        if other.coefficient == 0 {
            return None;
        }
        let negative = self.negative != other.negative;
        let ideal = self.exponent - other.exponent;
        let divisor = other.coefficient;
        let mut q = self.coefficient / divisor;
        let mut r = self.coefficient % divisor;
        let mut exponent = ideal;
        // Digits until the quotient is exact or has one more than the precision.
        while r != 0 && u128_digits(q) <= PY_PRECISION {
            // r < divisor < 2^128 / 10 for every coefficient a Decimal or PyDec holds.
            r *= 10;
            q = q * 10 + r / divisor;
            r %= divisor;
            exponent -= 1;
        }
        if r != 0 {
            return Some(Self::round(
                negative,
                Wide::from_u128(q),
                exponent,
                true,
                PY_PRECISION,
            ));
        }
        let exact_digits = u128_digits(q);
        let mut out = Self::round(negative, Wide::from_u128(q), exponent, false, PY_PRECISION);
        if out.coefficient != 0 && exact_digits <= PY_PRECISION {
            while out.exponent < ideal && out.coefficient.is_multiple_of(10) {
                out.coefficient /= 10;
                out.exponent += 1;
            }
        }
        Some(out)
    }

    /// `self ** n` for an integer `n ≥ 0`, computed as libmpdec computes it.
    pub fn powi(self, n: u32) -> Self {
        if n == 0 {
            return Self::ONE;
        }
        let sign = self.negative && n % 2 == 1;
        if let Some(one) = self.power_of_one(n) {
            return Self {
                negative: sign,
                ..one
            };
        }
        let working = PY_PRECISION + u128_digits(u128::from(n)) + 2;
        let mut result = self;
        for bit in (0..n.ilog2()).rev() {
            result = result.mul_prec(result, working);
            if n & (1 << bit) != 0 {
                result = result.mul_prec(self, working);
            }
        }
        let rounded = Self::round(
            sign,
            Wide::from_u128(result.coefficient),
            result.exponent,
            false,
            PY_PRECISION,
        );
        Self {
            negative: sign,
            ..rounded
        }
    }

    /// libmpdec's shortcut for a base of exactly one: `1.000 ** 3` is `1.000000000` (the
    /// digits of the exact power, at most 28).
    fn power_of_one(self, n: u32) -> Option<Self> {
        let places = u32::try_from(-i64::from(self.exponent)).ok()?;
        if self.coefficient != 10u128.checked_pow(places)? {
            return None;
        }
        let shift = places.saturating_mul(n).min(PY_PRECISION - 1);
        Some(Self {
            negative: false,
            coefficient: 10u128.pow(shift),
            exponent: -i32::try_from(shift).unwrap_or(0),
        })
    }

    /// `self.quantize(Decimal('1E-places'), rounding=…)`: the value rounded to `places`
    /// decimals and padded to exactly that many (`17` → `17.00`); the sign of a value that
    /// rounds to zero is kept (`-0.001` → `-0.00`).
    pub fn quantize(self, places: u32, rounding: Rounding) -> Self {
        let target = -i32::try_from(places).unwrap_or(i32::MAX);
        let coefficient = if self.exponent >= target {
            let pad = u32::try_from(i64::from(self.exponent) - i64::from(target)).unwrap_or(0);
            Wide::from_u128(self.coefficient)
                .mul_pow10(pad)
                .and_then(Wide::to_u128)
                .unwrap_or(u128::MAX)
        } else {
            let drop = u32::try_from(i64::from(target) - i64::from(self.exponent)).unwrap_or(0);
            let (kept, digit, sticky) = Wide::from_u128(self.coefficient).split(drop);
            let kept = kept.to_u128().unwrap_or(0);
            if rounds_away(rounding, self.negative, kept & 1 == 1, digit, sticky) {
                kept + 1
            } else {
                kept
            }
        };
        Self {
            negative: self.negative,
            coefficient,
            exponent: target,
        }
    }

    /// The same value as a [`Decimal`] (digits and scale kept), when one can hold it.
    pub fn to_decimal(self) -> Option<Decimal> {
        let (coefficient, scale) = if self.exponent > 0 {
            let whole = Wide::from_u128(self.coefficient)
                .mul_pow10(self.exponent.unsigned_abs())?
                .to_u128()?;
            (whole, 0)
        } else {
            (self.coefficient, self.exponent.unsigned_abs())
        };
        if scale > MAX_SCALE || coefficient > MAX_MANTISSA {
            return None;
        }
        let mut out = Decimal::from_i128_with_scale(i128::try_from(coefficient).ok()?, scale);
        out.set_sign_negative(self.negative);
        Some(out)
    }

    /// The value of a whole number (after `quantize(0, …)`), when it fits an `i128`.
    pub fn to_integer(self) -> Option<i128> {
        if !self.is_integral() {
            return None;
        }
        let magnitude = if self.exponent >= 0 {
            Wide::from_u128(self.coefficient)
                .mul_pow10(self.exponent.unsigned_abs())?
                .to_u128()?
        } else {
            self.coefficient / 10u128.checked_pow(self.exponent.unsigned_abs())?
        };
        let value = i128::try_from(magnitude).ok()?;
        Some(if self.negative { -value } else { value })
    }

    /// Numeric comparison (`Decimal('1.0') == Decimal('1.00')`, `-0 == 0`).
    pub fn cmp_value(self, other: Self) -> std::cmp::Ordering {
        let diff = self - other;
        if diff.is_zero() {
            std::cmp::Ordering::Equal
        } else if diff.negative {
            std::cmp::Ordering::Less
        } else {
            std::cmp::Ordering::Greater
        }
    }
}

impl std::ops::Add for PyDec {
    type Output = Self;

    /// Exact at the smaller exponent, then 28 digits.
    fn add(self, other: Self) -> Self {
        Self::add_prec(self, other, PY_PRECISION)
    }
}

impl std::ops::Sub for PyDec {
    type Output = Self;

    fn sub(self, other: Self) -> Self {
        self + (-other)
    }
}

impl std::ops::Neg for PyDec {
    type Output = Self;

    fn neg(self) -> Self {
        Self {
            negative: !self.negative,
            ..self
        }
    }
}

impl std::ops::Mul for PyDec {
    type Output = Self;

    /// Exact, then 28 digits.
    fn mul(self, other: Self) -> Self {
        self.mul_prec(other, PY_PRECISION)
    }
}

impl fmt::Display for PyDec {
    /// Python's `str(Decimal)`. Amounts (no exponent form) are written without allocating,
    /// since schedules print hundreds of them per answer.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 40];
        let mut start = buf.len();
        let mut rest = self.coefficient;
        loop {
            start -= 1;
            buf[start] = b'0' + u8::try_from(rest % 10).unwrap_or(0);
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        // ASCII digits only, so this cannot fail.
        let digits = std::str::from_utf8(&buf[start..]).unwrap_or("0");
        let exponent = i64::from(self.exponent);
        let left_digits = exponent + i64::try_from(digits.len()).unwrap_or(0);
        if exponent > 0 || left_digits <= -6 {
            return f.write_str(&python_str(self.negative, digits, exponent));
        }
        if self.negative {
            f.write_str("-")?;
        }
        if left_digits <= 0 {
            f.write_str("0.")?;
            for _ in 0..-left_digits {
                f.write_str("0")?;
            }
            f.write_str(digits)
        } else {
            let (int_part, frac_part) =
                digits.split_at(usize::try_from(left_digits).unwrap_or(digits.len()));
            f.write_str(int_part)?;
            if frac_part.is_empty() {
                Ok(())
            } else {
                f.write_str(".")?;
                f.write_str(frac_part)
            }
        }
    }
}

/// A fixed buffer for the `str()` of a [`PyDec`]: amounts serialize without allocating.
struct StrBuf {
    bytes: [u8; 96],
    len: usize,
}

impl fmt::Write for StrBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let slot = self.bytes.get_mut(self.len..end).ok_or(fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl serde::Serialize for PyDec {
    /// The wire form of a decimal: its `str()` as a JSON string.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use fmt::Write as _;
        let mut buf = StrBuf {
            bytes: [0; 96],
            len: 0,
        };
        if write!(buf, "{self}").is_ok()
            && let Ok(text) = std::str::from_utf8(&buf.bytes[..buf.len])
        {
            return serializer.serialize_str(text);
        }
        // Only an exponent form longer than the buffer gets here.
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod py_dec_tests {
    use super::*;
    use std::cmp::Ordering;

    fn d(s: &str) -> PyDec {
        PyDec::parse(s).unwrap()
    }

    /// Results printed by CPython 3.11 (`decimal`, libmpdec 2.5.1, default context).
    #[test]
    fn arithmetic_matches_cpython() {
        let cases: [(&str, PyDec, &str); 24] = [
            (
                "6.5/1200",
                d("6.5").checked_div(d("1200")).unwrap(),
                "0.005416666666666666666666666667",
            ),
            (
                "7/1200",
                d("7").checked_div(d("1200")).unwrap(),
                "0.005833333333333333333333333333",
            ),
            (
                "4.9350/1200",
                d("4.9350").checked_div(d("1200")).unwrap(),
                "0.0041125",
            ),
            (
                "0.0001/1200",
                d("0.0001").checked_div(d("1200")).unwrap(),
                "8.333333333333333333333333333E-8",
            ),
            ("6.0/2", d("6.0").checked_div(d("2")).unwrap(), "3.0"),
            ("6/2.0", d("6").checked_div(d("2.0")).unwrap(), "3"),
            ("1.00/4", d("1.00").checked_div(d("4")).unwrap(), "0.25"),
            ("0.00/7", d("0.00").checked_div(d("7")).unwrap(), "0.00"),
            (
                "2500.000000/7",
                d("2500.000000").checked_div(d("7")).unwrap(),
                "357.1428571428571428571428571",
            ),
            (
                "100000/3000",
                d("100000").checked_div(d("3000")).unwrap(),
                "33.33333333333333333333333333",
            ),
            ("2E+1/8", d("2E+1").checked_div(d("8")).unwrap(), "2.5"),
            (
                "(1+6.5/1200)**12",
                (PyDec::ONE + d("0.005416666666666666666666666667")).powi(12),
                "1.066971852002543818038223969",
            ),
            ("1.000**3", d("1.000").powi(3), "1.000000000"),
            ("2.5**0", d("2.5").powi(0), "1"),
            ("-2**3", d("-2").powi(3), "-8"),
            (
                "450.00*7/1200",
                d("450.00") * d("0.005833333333333333333333333333"),
                "2.625000000000000000000000000",
            ),
            ("2.50*333", d("2.50") * d("333"), "832.50"),
            (
                "12.00*(6.5/1200)",
                d("12.00") * d("0.005416666666666666666666666667"),
                "0.06500000000000000000000000000",
            ),
            (
                "202.20-202.200000",
                d("202.20") - d("202.200000"),
                "0.000000",
            ),
            (
                "1+rate",
                PyDec::ONE + d("0.005416666666666666666666666667"),
                "1.005416666666666666666666667",
            ),
            (
                "5+0E-50",
                d("5") + d("0E-50"),
                "5.000000000000000000000000000",
            ),
            (
                "1-1E-40",
                d("1") - d("1E-40"),
                "1.000000000000000000000000000",
            ),
            ("0.1+0.2", d("0.1") + d("0.2"), "0.3"),
            (
                "-0.001 q2",
                d("-0.001").quantize(2, Rounding::HalfUp),
                "-0.00",
            ),
        ];
        for (label, got, want) in cases {
            assert_eq!(got.to_string(), want, "{label}");
        }
    }

    #[test]
    fn quantize_modes_and_conversions() {
        assert_eq!(d("17").quantize(2, Rounding::HalfUp).to_string(), "17.00");
        assert_eq!(d("2.675").quantize(2, Rounding::HalfUp).to_string(), "2.68");
        assert_eq!(
            d("2.665").quantize(2, Rounding::HalfEven).to_string(),
            "2.66"
        );
        assert_eq!(
            d("999.9999999999999999999999999")
                .quantize(0, Rounding::Floor)
                .to_string(),
            "999"
        );
        assert_eq!(d("-1.5").quantize(0, Rounding::Floor).to_string(), "-2");
        assert_eq!(d("-1.5").quantize(0, Rounding::Down).to_integer(), Some(-1));
        assert_eq!(d("1E+3").to_integer(), Some(1000));
        assert_eq!(d("10.5").to_integer(), None);
        assert!(d("10.0").is_integral() && !d("10.5").is_integral());
        let dec = d("2500.000000").to_decimal().unwrap();
        assert_eq!(py_str(&dec), "2500.000000");
        assert_eq!(PyDec::from_decimal(dec), d("2500.000000"));
        assert_eq!(d("0.005416666666666666666666666667").to_decimal(), None);
        assert_eq!(
            d("1E+2").to_decimal().map(|v| py_str(&v)),
            Some("100".to_owned())
        );
        assert_eq!(PyDec::parse("1.2.3"), None);
        assert_eq!(PyDec::parse(""), None);
        assert_eq!(PyDec::parse("abc"), None);
    }

    #[test]
    fn str_matches_python_for_every_form() {
        let cases = [
            ("0", "0"),
            ("-0", "-0"),
            ("0.00", "0.00"),
            ("-0.00", "-0.00"),
            ("0.000001", "0.000001"),
            ("0.0000001", "1E-7"),
            ("0E-7", "0E-7"),
            ("0E-6", "0.000000"),
            ("1E+3", "1E+3"),
            ("2500.000000", "2500.000000"),
            ("-12.5", "-12.5"),
            (
                "0.005416666666666666666666666667",
                "0.005416666666666666666666666667",
            ),
            (
                "8.333333333333333333333333333E-8",
                "8.333333333333333333333333333E-8",
            ),
            (
                "123456789012345678901234567890123456",
                "123456789012345678901234567890123456",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(d(text).to_string(), want, "{text}");
        }
    }

    #[test]
    fn comparisons_are_numeric() {
        assert_eq!(d("1.0").cmp_value(d("1.00")), Ordering::Equal);
        assert_eq!(d("-0").cmp_value(d("0.000")), Ordering::Equal);
        assert_eq!(d("215.74").cmp_value(d("215.740000")), Ordering::Equal);
        assert_eq!(d("0.000001").cmp_value(d("0")), Ordering::Greater);
        assert_eq!(d("-5").cmp_value(d("3")), Ordering::Less);
        assert!(d("0.01").is_positive() && !d("-0.00").is_positive() && d("-0.00").is_negative());
        assert_eq!(PyDec::ONE.checked_div(PyDec::ZERO), None);
        assert_eq!(
            serde_json::to_value(d("6.5000")).unwrap(),
            serde_json::json!("6.5000")
        );
    }
}
