//! Datetime formats of the legacy wire: pydantic's `Z` form in REST bodies, Python's
//! `isoformat()` (`+00:00`) in health payloads, audit snapshots and SSE events. Both print
//! microseconds only when they are non-zero. Parsing follows pydantic's datetime-or-date input.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Appends `value` as exactly `width` decimal digits (zero-padded; `value` < 10^width).
fn push_digits(s: &mut String, value: u32, width: u32) {
    for place in (0..width).rev() {
        let digit = (value / 10u32.pow(place)) % 10;
        s.push(char::from(b'0' + digit as u8));
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.ffffff]` in UTC. Written digit by digit: list endpoints print
/// several timestamps per row, and `format!` was a visible share of their CPU.
fn base(dt: OffsetDateTime) -> (OffsetDateTime, String) {
    let dt = dt.to_offset(time::UtcOffset::UTC);
    let year = dt.year();
    let mut s = String::with_capacity(32);
    if (0..=9999).contains(&year) {
        push_digits(&mut s, year.unsigned_abs(), 4);
    } else {
        s.push_str(&format!("{year:04}"));
    }
    s.push('-');
    push_digits(&mut s, u32::from(u8::from(dt.month())), 2);
    s.push('-');
    push_digits(&mut s, u32::from(dt.day()), 2);
    s.push('T');
    push_digits(&mut s, u32::from(dt.hour()), 2);
    s.push(':');
    push_digits(&mut s, u32::from(dt.minute()), 2);
    s.push(':');
    push_digits(&mut s, u32::from(dt.second()), 2);
    let micros = dt.microsecond();
    if micros != 0 {
        s.push('.');
        push_digits(&mut s, micros, 6);
    }
    (dt, s)
}

/// `2026-02-12T10:00:00.123456Z` (pydantic v2 serialisation of an aware UTC datetime).
pub fn iso_z(dt: OffsetDateTime) -> String {
    let (_, mut s) = base(dt);
    s.push('Z');
    s
}

/// `2026-02-12T10:00:00.123456+00:00` (Python `datetime.isoformat()`).
pub fn iso_offset(dt: OffsetDateTime) -> String {
    let (_, mut s) = base(dt);
    s.push_str("+00:00");
    s
}

/// serde helpers for `#[serde(with = ...)]` on response structs.
pub mod z {
    use serde::Serializer;
    use time::OffsetDateTime;

    pub fn serialize<S: Serializer>(dt: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::iso_z(*dt))
    }

    pub mod option {
        use serde::Serializer;
        use time::OffsetDateTime;

        pub fn serialize<S: Serializer>(
            dt: &Option<OffsetDateTime>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match dt {
                Some(dt) => s.serialize_str(&super::super::iso_z(*dt)),
                None => s.serialize_none(),
            }
        }
    }
}

/// A parse failure: pydantic's error `type` and speedate's message.
pub type DtError = (&'static str, &'static str);

fn digits(b: &[u8], range: std::ops::Range<usize>, err: DtError) -> Result<u32, DtError> {
    let slice = b.get(range).ok_or(err)?;
    if !slice.iter().all(u8::is_ascii_digit) {
        return Err(err);
    }
    slice
        .iter()
        .try_fold(0u32, |acc, d| {
            acc.checked_mul(10)?.checked_add(u32::from(d - b'0'))
        })
        .ok_or(err)
}

/// pydantic's datetime-or-date input (speedate): `YYYY-MM-DD`, optionally followed by `T` (or a
/// space) and `HH:MM[:SS[.ffffff]]` with `Z` or `±HH:MM`; naive values are UTC; a bare number
/// is a Unix timestamp (milliseconds above 2·10¹⁰). Errors carry speedate's wording.
pub fn parse_datetime(raw: &str) -> Result<OffsetDateTime, DtError> {
    const DATE: &str = "datetime_from_date_parsing";
    const TIME: &str = "datetime_parsing";
    if let Ok(n) = raw.parse::<f64>()
        && raw
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        let secs = if n.abs() > 2e10 { n / 1000.0 } else { n };
        #[allow(clippy::cast_possible_truncation)]
        let nanos = (secs * 1e9).round() as i128;
        return OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .map_err(|_| (DATE, "input is out of range"));
    }
    let b = raw.as_bytes();
    if b.len() < 10 {
        return Err((DATE, "input is too short"));
    }
    let year = digits(b, 0..4, (DATE, "invalid character in year"))?;
    if b[4] != b'-' {
        return Err((DATE, "invalid date separator, expected `-`"));
    }
    let month = digits(b, 5..7, (DATE, "invalid character in month"))?;
    if b[7] != b'-' {
        return Err((DATE, "invalid date separator, expected `-`"));
    }
    let day = digits(b, 8..10, (DATE, "invalid character in day"))?;
    let month = u8::try_from(month)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .ok_or((DATE, "month value is outside expected range of 1-12"))?;
    let year = i32::try_from(year).map_err(|_| (DATE, "invalid character in year"))?;
    let day = u8::try_from(day).map_err(|_| (DATE, "day value is outside expected range"))?;
    let date = Date::from_calendar_date(year, month, day)
        .map_err(|_| (DATE, "day value is outside expected range"))?;
    if b.len() == 10 {
        return Ok(PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_utc());
    }
    if !matches!(b[10], b'T' | b't' | b' ' | b'_') {
        return Err((DATE, "unexpected extra characters at the end of the input"));
    }
    let t = &b[11..];
    let hour = digits(t, 0..2, (TIME, "invalid character in hour"))?;
    if t.get(2) != Some(&b':') {
        return Err((TIME, "invalid time separator, expected `:`"));
    }
    let minute = digits(t, 3..5, (TIME, "invalid character in minute"))?;
    let mut i = 5;
    let mut second = 0;
    let mut nanos = 0u32;
    if t.get(i) == Some(&b':') {
        second = digits(t, 6..8, (TIME, "invalid character in second"))?;
        i = 8;
        if matches!(t.get(i), Some(b'.' | b',')) {
            let start = i + 1;
            let mut end = start;
            while t.get(end).is_some_and(u8::is_ascii_digit) {
                end += 1;
            }
            if end == start || end - start > 9 {
                return Err((TIME, "second fraction value is more than 6 digits long"));
            }
            let frac = std::str::from_utf8(&t[start..end]).unwrap_or("0");
            nanos = format!("{frac:0<9}").parse().unwrap_or(0);
            i = end;
        }
    }
    let offset = match t.get(i) {
        None => UtcOffset::UTC,
        Some(b'Z' | b'z') if t.len() == i + 1 => UtcOffset::UTC,
        Some(sign @ (b'+' | b'-')) => {
            let h = digits(t, i + 1..i + 3, (TIME, "invalid timezone sign"))?;
            let rest = &t[i + 3..];
            let m = match rest {
                [] => 0,
                [b':', m1, m2] | [m1, m2] => {
                    digits(&[*m1, *m2], 0..2, (TIME, "invalid timezone sign"))?
                }
                _ => return Err((TIME, "unexpected extra characters at the end of the input")),
            };
            let secs =
                i32::try_from(h * 3600 + m * 60).map_err(|_| (TIME, "invalid timezone sign"))?;
            UtcOffset::from_whole_seconds(if *sign == b'-' { -secs } else { secs })
                .map_err(|_| (TIME, "timezone offset must be less than 24 hours"))?
        }
        Some(_) => return Err((TIME, "unexpected extra characters at the end of the input")),
    };
    let to_u8 = |v: u32, err: DtError| u8::try_from(v).map_err(|_| err);
    let time = Time::from_hms_nano(
        to_u8(hour, (TIME, "hour value is outside expected range of 0-23"))?,
        to_u8(
            minute,
            (TIME, "minute value is outside expected range of 0-59"),
        )?,
        to_u8(
            second,
            (TIME, "second value is outside expected range of 0-59"),
        )?,
        nanos,
    )
    .map_err(|_| (TIME, "hour value is outside expected range of 0-23"))?;
    Ok(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn microseconds_only_when_non_zero() {
        assert_eq!(
            iso_z(datetime!(2026-02-12 10:00:00.123456 UTC)),
            "2026-02-12T10:00:00.123456Z"
        );
        assert_eq!(
            iso_z(datetime!(2026-02-12 10:00:00 UTC)),
            "2026-02-12T10:00:00Z"
        );
        assert_eq!(
            iso_offset(datetime!(2026-02-12 10:00:00.000100 +02:00)),
            "2026-02-12T08:00:00.000100+00:00"
        );
    }

    #[test]
    fn every_field_is_zero_padded_and_matches_the_formatted_form() {
        for dt in [
            datetime!(0001-01-01 00:00:00.000001 UTC),
            datetime!(0999-09-09 09:09:09.090909 UTC),
            datetime!(2026-12-31 23:59:59.999999 UTC),
            datetime!(9999-12-31 23:59:59 UTC),
        ] {
            let micros = match dt.microsecond() {
                0 => String::new(),
                m => format!(".{m:06}"),
            };
            let expected = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{micros}Z",
                dt.year(),
                u8::from(dt.month()),
                dt.day(),
                dt.hour(),
                dt.minute(),
                dt.second()
            );
            assert_eq!(iso_z(dt), expected);
        }
    }

    #[test]
    fn datetimes_and_dates_parse_like_pydantic() {
        assert_eq!(
            parse_datetime("2026-11-24T06:21:44.709527+00:00").unwrap(),
            datetime!(2026-11-24 06:21:44.709527 UTC)
        );
        assert_eq!(
            parse_datetime("2026-11-24").unwrap(),
            datetime!(2026-11-24 00:00 UTC)
        );
        assert_eq!(
            parse_datetime("2026-11-24 08:00:00+02:00").unwrap(),
            datetime!(2026-11-24 06:00 UTC)
        );
        assert_eq!(
            parse_datetime("2026-11-24T06:00Z").unwrap(),
            datetime!(2026-11-24 06:00 UTC)
        );
        assert_eq!(
            parse_datetime("1700000000").unwrap(),
            datetime!(2023-11-14 22:13:20 UTC)
        );
        assert_eq!(
            parse_datetime("yesterday").unwrap_err().1,
            "input is too short"
        );
        assert_eq!(
            parse_datetime("2026-13-01").unwrap_err().1,
            "month value is outside expected range of 1-12"
        );
        assert!(parse_datetime("2026-11-24Tnope").is_err());
        assert!(parse_datetime("2026-02-30").is_err());
    }
}
