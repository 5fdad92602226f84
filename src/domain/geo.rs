//! Reference geography: countries (ISO 3166-1), their subdivisions (ISO 3166-2) and the curated
//! time-zone list, as the legacy `/meta/*` endpoints served them (contract §3).
//!
//! The ISO data comes from the `rust_iso3166` crate (generated from Debian's iso-codes, the same
//! source as Python's pycountry). The legacy service kept its own tables; to reproduce its
//! answers exactly, two small documented adjustments sit on top of the crate:
//!
//! - [`countries()`] lists the 193 UN member states ([`UN_MEMBERS`]), not all 249 ISO entries.
//! - [`NAME_OVERRIDES`] turns ten ISO names with a parenthesised qualifier into the comma form the
//!   legacy list used ("Bolivia (Plurinational State of)" → "Bolivia, Plurinational State of"),
//!   and "Netherlands (Kingdom of the)" into "Netherlands".
//!
//! Lists are sorted by name in code-point order (what Python's `sorted` did), so "Côte d'Ivoire"
//! follows "Czechia" and "Virgin Islands, U.S." precedes "Virginia".
//!
//! Subdivision codes drop the country prefix ("US-AL" → "AL"). The crate does not record which
//! subdivisions are first-level, so every ISO 3166-2 entry of the country is listed.
//!
//! Everything is built once, on first use, and handed out as `'static` slices.

use std::collections::HashMap;
use std::sync::LazyLock;

/// A country: ISO 3166-1 alpha-2 code and its display name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Country {
    pub code: &'static str,
    pub name: &'static str,
}

/// A subdivision: its ISO 3166-2 code without the country prefix ("AL" for "US-AL") and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subdivision {
    pub code: &'static str,
    pub name: &'static str,
}

/// The 193 UN member states, by alpha-2 code: the legacy country list.
pub const UN_MEMBERS: [&str; 193] = [
    "AD", "AE", "AF", "AG", "AL", "AM", "AO", "AR", "AT", "AU", "AZ", "BA", "BB", "BD", "BE", "BF",
    "BG", "BH", "BI", "BJ", "BN", "BO", "BR", "BS", "BT", "BW", "BY", "BZ", "CA", "CD", "CF", "CG",
    "CH", "CI", "CL", "CM", "CN", "CO", "CR", "CU", "CV", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO",
    "DZ", "EC", "EE", "EG", "ER", "ES", "ET", "FI", "FJ", "FM", "FR", "GA", "GB", "GD", "GE", "GH",
    "GM", "GN", "GQ", "GR", "GT", "GW", "GY", "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IN", "IQ",
    "IR", "IS", "IT", "JM", "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KZ",
    "LA", "LB", "LC", "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MG",
    "MH", "MK", "ML", "MM", "MN", "MR", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA", "NE", "NG",
    "NI", "NL", "NO", "NP", "NR", "NZ", "OM", "PA", "PE", "PG", "PH", "PK", "PL", "PT", "PW", "PY",
    "QA", "RO", "RS", "RU", "RW", "SA", "SB", "SC", "SD", "SE", "SG", "SI", "SK", "SL", "SM", "SN",
    "SO", "SR", "SS", "ST", "SV", "SY", "SZ", "TD", "TG", "TH", "TJ", "TL", "TM", "TN", "TO", "TR",
    "TT", "TV", "TZ", "UA", "UG", "US", "UY", "UZ", "VC", "VE", "VN", "VU", "WS", "YE", "ZA", "ZM",
    "ZW",
];

/// Legacy display names where the crate's ISO short name differs (alpha-2, legacy name).
pub const NAME_OVERRIDES: [(&str, &str); 10] = [
    ("BO", "Bolivia, Plurinational State of"),
    ("CD", "Congo, Democratic Republic of the"),
    ("FM", "Micronesia, Federated States of"),
    ("IR", "Iran, Islamic Republic of"),
    ("KP", "Korea, Democratic People's Republic of"),
    ("KR", "Korea, Republic of"),
    ("MD", "Moldova, Republic of"),
    ("NL", "Netherlands"),
    ("TZ", "Tanzania, United Republic of"),
    ("VE", "Venezuela, Bolivarian Republic of"),
];

/// Common names people type for a country (CSV onboarding), lower-case, to alpha-2.
const ALIASES: [(&str, &str); 30] = [
    ("usa", "US"),
    ("united states", "US"),
    ("uk", "GB"),
    ("united kingdom", "GB"),
    ("great britain", "GB"),
    ("britain", "GB"),
    ("russia", "RU"),
    ("south korea", "KR"),
    ("north korea", "KP"),
    ("iran", "IR"),
    ("syria", "SY"),
    ("vietnam", "VN"),
    ("laos", "LA"),
    ("bolivia", "BO"),
    ("venezuela", "VE"),
    ("tanzania", "TZ"),
    ("moldova", "MD"),
    ("micronesia", "FM"),
    ("turkey", "TR"),
    ("czech republic", "CZ"),
    ("ivory coast", "CI"),
    ("cote d'ivoire", "CI"),
    ("cape verde", "CV"),
    ("swaziland", "SZ"),
    ("macedonia", "MK"),
    ("brunei", "BN"),
    ("east timor", "TL"),
    ("dr congo", "CD"),
    ("democratic republic of the congo", "CD"),
    ("republic of the congo", "CG"),
];

/// The legacy curated IANA time-zone list (100 entries, in the legacy order).
pub const TIMEZONES: [&str; 100] = [
    "Africa/Abidjan",
    "Africa/Accra",
    "Africa/Addis_Ababa",
    "Africa/Algiers",
    "Africa/Cairo",
    "Africa/Casablanca",
    "Africa/Johannesburg",
    "Africa/Lagos",
    "Africa/Nairobi",
    "Africa/Tunis",
    "America/Anchorage",
    "America/Argentina/Buenos_Aires",
    "America/Bogota",
    "America/Caracas",
    "America/Chicago",
    "America/Denver",
    "America/Guatemala",
    "America/Halifax",
    "America/Havana",
    "America/Los_Angeles",
    "America/Mexico_City",
    "America/New_York",
    "America/Phoenix",
    "America/Santiago",
    "America/Sao_Paulo",
    "America/St_Johns",
    "America/Toronto",
    "America/Vancouver",
    "Asia/Almaty",
    "Asia/Amman",
    "Asia/Baghdad",
    "Asia/Bahrain",
    "Asia/Bangkok",
    "Asia/Beirut",
    "Asia/Colombo",
    "Asia/Dhaka",
    "Asia/Dubai",
    "Asia/Ho_Chi_Minh",
    "Asia/Hong_Kong",
    "Asia/Jakarta",
    "Asia/Jerusalem",
    "Asia/Karachi",
    "Asia/Kathmandu",
    "Asia/Kolkata",
    "Asia/Kuala_Lumpur",
    "Asia/Kuwait",
    "Asia/Manila",
    "Asia/Qatar",
    "Asia/Riyadh",
    "Asia/Seoul",
    "Asia/Shanghai",
    "Asia/Singapore",
    "Asia/Taipei",
    "Asia/Tashkent",
    "Asia/Tbilisi",
    "Asia/Tehran",
    "Asia/Tokyo",
    "Asia/Ulaanbaatar",
    "Asia/Yerevan",
    "Atlantic/Azores",
    "Atlantic/Cape_Verde",
    "Australia/Adelaide",
    "Australia/Brisbane",
    "Australia/Darwin",
    "Australia/Hobart",
    "Australia/Melbourne",
    "Australia/Perth",
    "Australia/Sydney",
    "Europe/Amsterdam",
    "Europe/Athens",
    "Europe/Belgrade",
    "Europe/Berlin",
    "Europe/Brussels",
    "Europe/Bucharest",
    "Europe/Budapest",
    "Europe/Copenhagen",
    "Europe/Dublin",
    "Europe/Geneva",
    "Europe/Helsinki",
    "Europe/Istanbul",
    "Europe/Kiev",
    "Europe/Lisbon",
    "Europe/London",
    "Europe/Luxembourg",
    "Europe/Madrid",
    "Europe/Monaco",
    "Europe/Moscow",
    "Europe/Oslo",
    "Europe/Paris",
    "Europe/Prague",
    "Europe/Rome",
    "Europe/Stockholm",
    "Europe/Vienna",
    "Europe/Warsaw",
    "Europe/Zurich",
    "Pacific/Auckland",
    "Pacific/Fiji",
    "Pacific/Honolulu",
    "Pacific/Port_Moresby",
    "Pacific/Tongatapu",
];

/// The curated time-zone list, in the legacy order.
pub fn timezones() -> &'static [&'static str] {
    &TIMEZONES
}

/// The display name of an ISO country: the legacy override, else the crate's ISO short name.
fn display_name(iso: &rust_iso3166::CountryCode) -> &'static str {
    NAME_OVERRIDES
        .iter()
        .find(|(code, _)| *code == iso.alpha2)
        .map_or(iso.name, |(_, name)| name)
}

static COUNTRIES: LazyLock<Vec<Country>> = LazyLock::new(|| {
    let mut out: Vec<Country> = rust_iso3166::ALL
        .iter()
        .filter(|c| UN_MEMBERS.contains(&c.alpha2))
        .map(|c| Country {
            code: c.alpha2,
            name: display_name(c),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(b.name).then(a.code.cmp(b.code)));
    out
});

/// The legacy country list: the 193 UN member states, sorted by name.
pub fn countries() -> &'static [Country] {
    &COUNTRIES
}

/// Looks a country up by alpha-2 code (any case), among all ISO 3166-1 entries.
pub fn country(code: &str) -> Option<Country> {
    let iso = rust_iso3166::from_alpha2(&code.trim().to_ascii_uppercase())?;
    Some(Country {
        code: iso.alpha2,
        name: display_name(&iso),
    })
}

/// The display name of the country with alpha-2 `code` (any case).
pub fn country_name(code: &str) -> Option<&'static str> {
    country(code).map(|c| c.name)
}

/// Lower-cased names, ISO names, alpha-3 codes and aliases, to alpha-2.
static COUNTRY_INDEX: LazyLock<HashMap<String, &'static str>> = LazyLock::new(|| {
    let mut index = HashMap::new();
    for iso in rust_iso3166::ALL {
        index.insert(iso.alpha3.to_lowercase(), iso.alpha2);
        index.insert(iso.name.to_lowercase(), iso.alpha2);
        index.insert(display_name(iso).to_lowercase(), iso.alpha2);
    }
    for (alias, code) in ALIASES {
        index.entry(alias.to_owned()).or_insert(code);
    }
    index
});

/// Finds a country by alpha-2 or alpha-3 code, legacy or ISO name, or a common alias
/// ("USA", "UK", "Russia"), ignoring case and surrounding whitespace.
pub fn find_country(query: &str) -> Option<Country> {
    let query = query.trim();
    if query.len() == 2
        && let Some(found) = country(query)
    {
        return Some(found);
    }
    COUNTRY_INDEX
        .get(&query.to_lowercase())
        .and_then(|code| country(code))
}

static SUBDIVISIONS: LazyLock<HashMap<&'static str, Vec<Subdivision>>> = LazyLock::new(|| {
    let mut out = HashMap::new();
    for (country, entries) in rust_iso3166::iso3166_2::SUBDIVISION_COUNTRY_MAP.entries() {
        let mut list: Vec<Subdivision> = entries
            .iter()
            .map(|s| Subdivision {
                code: strip_country_prefix(country, s.code),
                name: s.name,
            })
            .collect();
        list.sort_by(|a, b| a.name.cmp(b.name).then(a.code.cmp(b.code)));
        out.insert(*country, list);
    }
    out
});

/// "US-AL" → "AL" (the code unchanged when it lacks the prefix).
fn strip_country_prefix(country: &str, code: &'static str) -> &'static str {
    code.strip_prefix(country)
        .and_then(|rest| rest.strip_prefix('-'))
        .unwrap_or(code)
}

/// The subdivisions of the country with alpha-2 `country` (any case), sorted by name; empty
/// for an unknown country.
pub fn subdivisions(country: &str) -> &'static [Subdivision] {
    SUBDIVISIONS
        .get(country.trim().to_ascii_uppercase().as_str())
        .map_or(&[], Vec::as_slice)
}

/// The country codes that have subdivisions, in no particular order.
pub fn countries_with_subdivisions() -> impl Iterator<Item = &'static str> {
    SUBDIVISIONS.keys().copied()
}

/// "us-ca" → "ca" for country "US" (ASCII case-insensitive); anything else unchanged.
fn without_country_prefix<'a>(country: &str, code: &'a str) -> &'a str {
    match code.split_once('-') {
        Some((prefix, rest)) if prefix.eq_ignore_ascii_case(country) => rest,
        _ => code,
    }
}

/// Finds a subdivision of `country` by code (with or without the "CC-" prefix) or by name,
/// ignoring case and surrounding whitespace.
pub fn find_subdivision(country: &str, query: &str) -> Option<Subdivision> {
    let country = country.trim().to_ascii_uppercase();
    let query = query.trim();
    let list = subdivisions(&country);
    let code = without_country_prefix(&country, query);
    if let Some(found) = list.iter().find(|s| s.code.eq_ignore_ascii_case(code)) {
        return Some(*found);
    }
    let name = query.to_lowercase();
    list.iter().find(|s| s.name.to_lowercase() == name).copied()
}

/// The name of subdivision `code` (with or without the "CC-" prefix, any case) of `country`.
pub fn subdivision_name(country: &str, code: &str) -> Option<&'static str> {
    let country = country.trim().to_ascii_uppercase();
    let bare = without_country_prefix(&country, code.trim());
    subdivisions(&country)
        .iter()
        .find(|s| s.code.eq_ignore_ascii_case(bare))
        .map(|s| s.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_overrides_replace_the_parenthesised_iso_names() {
        for (code, legacy) in NAME_OVERRIDES {
            let iso = rust_iso3166::from_alpha2(code).unwrap();
            assert_ne!(iso.name, legacy, "{code}: override is redundant");
            assert_eq!(country_name(code), Some(legacy));
        }
        assert_eq!(
            rust_iso3166::from_alpha2("BO").unwrap().name,
            "Bolivia (Plurinational State of)"
        );
        assert_eq!(country_name("bo"), Some("Bolivia, Plurinational State of"));
        assert_eq!(country_name("NL"), Some("Netherlands"));
        assert_eq!(country_name("US"), Some("United States of America"));
        assert_eq!(
            country_name("GB"),
            Some("United Kingdom of Great Britain and Northern Ireland")
        );
        // Non-members keep the crate's name.
        assert_eq!(country_name("TW"), Some("Taiwan (Province of China)"));
        assert_eq!(country_name("ZZ"), None);
    }

    #[test]
    fn every_un_member_and_override_is_an_iso_code() {
        for code in UN_MEMBERS {
            assert!(rust_iso3166::from_alpha2(code).is_some(), "{code}");
        }
        for (code, _) in NAME_OVERRIDES {
            assert!(UN_MEMBERS.contains(&code), "{code}");
        }
        for (_, code) in ALIASES {
            assert!(rust_iso3166::from_alpha2(code).is_some(), "{code}");
        }
    }

    #[test]
    fn countries_are_the_un_members_sorted_by_code_point() {
        let list = countries();
        assert_eq!(list.len(), 193);
        assert!(list.windows(2).all(|w| w[0].name < w[1].name));
        let pos = |code: &str| list.iter().position(|c| c.code == code).unwrap();
        assert!(pos("CZ") < pos("CI"), "Côte d'Ivoire sorts after Czechia");
        assert!(pos("TV") < pos("TR"), "Türkiye sorts after Tuvalu");
    }

    #[test]
    fn find_country_accepts_codes_names_and_aliases() {
        let code = |q: &str| find_country(q).map(|c| c.code);
        assert_eq!(code("us"), Some("US"));
        assert_eq!(code(" USA "), Some("US"));
        assert_eq!(code("united states of america"), Some("US"));
        assert_eq!(code("UK"), Some("GB"));
        assert_eq!(code("gbr"), Some("GB"));
        assert_eq!(code("Korea (Republic of)"), Some("KR"));
        assert_eq!(code("korea, republic of"), Some("KR"));
        assert_eq!(code("Türkiye"), Some("TR"));
        assert_eq!(code("turkey"), Some("TR"));
        assert_eq!(code("Atlantis"), None);
        assert_eq!(code(""), None);
    }

    #[test]
    fn subdivisions_drop_the_prefix_and_sort_by_name() {
        let us = subdivisions("us");
        assert_eq!(us.len(), 57);
        assert_eq!(
            us[0],
            Subdivision {
                code: "AL",
                name: "Alabama"
            }
        );
        assert!(us.windows(2).all(|w| w[0].name <= w[1].name));
        assert!(subdivisions("ZZ").is_empty());
        assert!(subdivisions("").is_empty());
        assert!(subdivisions("ÿ").is_empty());
        assert!(countries_with_subdivisions().count() >= 190);
    }

    #[test]
    fn subdivision_lookups_accept_codes_with_or_without_prefix_and_names() {
        assert_eq!(subdivision_name("US", "ca"), Some("California"));
        assert_eq!(subdivision_name("us", "US-CA"), Some("California"));
        assert_eq!(subdivision_name("US", "ZZ"), None);
        assert_eq!(subdivision_name("ZZ", "CA"), None);
        assert_eq!(subdivision_name("US", "é"), None);
        assert_eq!(
            find_subdivision("us", "new york").map(|s| s.code),
            Some("NY")
        );
        assert_eq!(find_subdivision("US", "us-tx").map(|s| s.code), Some("TX"));
        assert_eq!(
            find_subdivision("IN", "MAHĀRĀSHTRA").map(|s| s.code),
            Some("MH")
        );
        assert_eq!(find_subdivision("US", "Atlantis"), None);
    }

    #[test]
    fn timezones_are_the_hundred_legacy_entries() {
        assert_eq!(timezones().len(), 100);
        assert_eq!(timezones()[0], "Africa/Abidjan");
        assert_eq!(timezones()[99], "Pacific/Tongatapu");
    }
}
