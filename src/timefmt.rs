//! Datetime formats of the legacy wire: pydantic's `Z` form in REST bodies, Python's
//! `isoformat()` (`+00:00`) in health payloads, audit snapshots and SSE events. Both print
//! microseconds only when they are non-zero.

use time::OffsetDateTime;

fn base(dt: OffsetDateTime) -> (OffsetDateTime, String) {
    let dt = dt.to_offset(time::UtcOffset::UTC);
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    let micros = dt.microsecond();
    if micros != 0 {
        s.push_str(&format!(".{micros:06}"));
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
}
