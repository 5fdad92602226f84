//! serde helpers for the stock wire objects: dates as `YYYY-MM-DD`, timestamps in pydantic's
//! `Z` form, and count maps whose key order is part of the output.

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use time::Date;

/// `2025-01-01`.
pub fn iso_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn parse_date(s: &str) -> Result<Date, time::error::Parse> {
    Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
}

/// `#[serde(with = "wire::date")]`.
pub mod date {
    use super::{Date, Deserialize, Deserializer, Serializer, iso_date, parse_date};

    pub fn serialize<S: Serializer>(d: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&iso_date(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let raw = String::deserialize(d)?;
        parse_date(&raw).map_err(serde::de::Error::custom)
    }

    /// `Option<Date>`, `None` as `null`.
    pub mod option {
        use super::super::{Date, Deserialize, Deserializer, Serializer, iso_date, parse_date};

        pub fn serialize<S: Serializer>(d: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => s.serialize_str(&iso_date(*d)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|raw| parse_date(&raw).map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

/// `#[serde(with = "wire::timestamp")]`: `2026-12-07T00:37:02.589485Z`.
pub mod timestamp {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::timefmt::iso_z(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let raw = String::deserialize(d)?;
        OffsetDateTime::parse(&raw, &Rfc3339).map_err(serde::de::Error::custom)
    }
}

/// `{key: count}` in a given key order (`grant_mix`, `reserved_by_status`, membership
/// counts): first-seen order where the legacy service built the map itself, the database's
/// group order where it came from a `GROUP BY`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CountMap(Vec<(String, i64)>);

impl CountMap {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `n` under `key`, appending the key when it is new.
    pub fn add(&mut self, key: &str, n: i64) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some((_, total)) => *total = total.saturating_add(n),
            None => self.0.push((key.to_owned(), n)),
        }
    }

    pub fn get(&self, key: &str) -> Option<i64> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, n)| *n)
    }

    pub fn entries(&self) -> &[(String, i64)] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The same counts with the keys in ascending order: the deterministic stand-in for a
    /// `GROUP BY`'s unspecified order (the recorded samples show ascending keys).
    pub fn sorted(&self) -> Self {
        let mut entries = self.0.clone();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        Self(entries)
    }
}

impl FromIterator<(String, i64)> for CountMap {
    fn from_iter<I: IntoIterator<Item = (String, i64)>>(iter: I) -> Self {
        let mut map = Self::new();
        for (k, n) in iter {
            map.add(&k, n);
        }
        map
    }
}

impl Serialize for CountMap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, n) in &self.0 {
            map.serialize_entry(k, n)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for CountMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct CountMapVisitor;
        impl<'de> Visitor<'de> for CountMapVisitor {
            type Value = CountMap;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map of counts")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<CountMap, A::Error> {
                let mut map = CountMap::new();
                while let Some((k, n)) = access.next_entry::<String, i64>()? {
                    map.add(&k, n);
                }
                Ok(map)
            }
        }
        d.deserialize_map(CountMapVisitor)
    }
}
