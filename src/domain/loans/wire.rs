//! serde adapters for the loan wire shapes: dates as `YYYY-MM-DD` (pydantic's `date`).

/// `YYYY-MM-DD` of a date (what `date.isoformat()` and pydantic print).
pub fn iso_date(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// `#[serde(with = "wire::date")]` on a [`time::Date`] field.
pub mod date {
    use serde::Serializer;
    use time::Date;

    pub fn serialize<S: Serializer>(d: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!(
            "{:04}-{:02}-{:02}",
            d.year(),
            u8::from(d.month()),
            d.day()
        ))
    }
}

/// `#[serde(with = "wire::date_opt")]` on an `Option<Date>` field.
pub mod date_opt {
    use serde::Serializer;
    use time::Date;

    pub fn serialize<S: Serializer>(d: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&super::iso_date(*d)),
            None => s.serialize_none(),
        }
    }
}

/// `#[serde(with = "wire::dates")]` on a `Vec<Date>` field.
pub mod dates {
    use serde::Serializer;
    use serde::ser::SerializeSeq;
    use time::Date;

    pub fn serialize<S: Serializer>(ds: &[Date], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(ds.len()))?;
        for d in ds {
            seq.serialize_element(&super::iso_date(*d))?;
        }
        seq.end()
    }
}
