//! People enums and normalisation rules of the onboarding and profile endpoints (contract §3
//! "Org users / onboarding"): employment and marital status with their aliases, and the
//! Python `str.title()` rule used for names, the column limits, and country/state resolution.

/// The eight employment statuses, in the contract's order.
pub const EMPLOYMENT_STATUSES: [&str; 8] = [
    "ACTIVE",
    "ON_LEAVE",
    "FURLOUGHED",
    "SUSPENDED",
    "PROBATIONARY",
    "TERMINATED",
    "RETIRED",
    "RESIGNED",
];

/// The seven marital statuses.
pub const MARITAL_STATUSES: [&str; 7] = [
    "SINGLE",
    "MARRIED",
    "DOMESTIC_PARTNER",
    "DIVORCED",
    "SEPARATED",
    "WIDOWED",
    "UNKNOWN",
];

/// Upper-cases and turns `-` and spaces into `_` (the legacy input normalisation).
fn canonical(raw: &str) -> String {
    raw.trim()
        .to_uppercase()
        .chars()
        .map(|c| if c == '-' || c == ' ' { '_' } else { c })
        .collect()
}

/// Parses an employment status with its aliases; `None` for anything else.
pub fn employment_status(raw: &str) -> Option<&'static str> {
    let value = canonical(raw);
    let aliased = match value.as_str() {
        "ONLEAVE" | "LEAVE" | "MATERNITY_LEAVE" | "PATERNITY_LEAVE" | "MEDICAL_LEAVE" => "ON_LEAVE",
        "FURLOUGH" => "FURLOUGHED",
        "PROBATION" => "PROBATIONARY",
        "SUSPEND" => "SUSPENDED",
        other => other,
    };
    EMPLOYMENT_STATUSES.iter().copied().find(|s| *s == aliased)
}

/// Parses a marital status with its aliases; `None` for anything else.
pub fn marital_status(raw: &str) -> Option<&'static str> {
    let value = canonical(raw);
    let aliased = match value.as_str() {
        "DOMESTICPARTNER" | "DOMESTIC_PARTNERSHIP" | "PARTNER" => "DOMESTIC_PARTNER",
        "UNSPECIFIED" | "N/A" | "NA" | "NONE" => "UNKNOWN",
        other => other,
    };
    MARITAL_STATUSES.iter().copied().find(|s| *s == aliased)
}

/// The 422 texts (after "Value error, ").
pub const INVALID_EMPLOYMENT_STATUS: &str = "Invalid employment_status value";
pub const INVALID_MARITAL_STATUS: &str = "Invalid marital_status value";

/// Python's `str.title()`: a letter following a letter is lower-cased, any other letter
/// upper-cased ("o'neil" → "O'Neil", "mary-jane" → "Mary-Jane").
pub fn title_case(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut previous_cased = false;
    for c in raw.chars() {
        if c.is_alphabetic() {
            if previous_cased {
                out.extend(c.to_lowercase());
            } else {
                out.extend(c.to_uppercase());
            }
            previous_cased = true;
        } else {
            out.push(c);
            previous_cased = false;
        }
    }
    out
}

/// Trims; an empty result is `None` (the "empty string clears the field" rule).
pub fn clean(raw: Option<&str>) -> Option<String> {
    raw.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Column limits of `org_user_profiles` (contract §7), checked before writing so an over-long
/// value is a 4xx instead of a database error.
pub mod limits {
    pub const FIRST_NAME: usize = 100;
    pub const MIDDLE_NAME: usize = 100;
    pub const LAST_NAME: usize = 100;
    pub const FULL_NAME: usize = 255;
    pub const PREFERRED_NAME: usize = 255;
    pub const TIMEZONE: usize = 50;
    pub const PHONE_NUMBER: usize = 50;
    pub const COUNTRY: usize = 2;
    pub const STATE: usize = 10;
    pub const ADDRESS_LINE: usize = 255;
    pub const POSTAL_CODE: usize = 32;
    pub const EMPLOYEE_ID: usize = 255;
    pub const EMAIL: usize = 255;
    pub const STATUS: usize = 50;
}

/// A country as stored: a value of at most two characters is kept as given (the legacy rule);
/// a longer one is resolved by name or alias to its code, else refused.
pub fn resolve_country(value: &str) -> Result<String, String> {
    if value.chars().count() <= 2 {
        return Ok(value.to_owned());
    }
    super::geo::find_country(value)
        .map(|c| c.code.to_owned())
        .ok_or_else(|| format!("Unsupported country: {value}"))
}

/// A state as stored: a subdivision name of `country` becomes its code; anything else of at
/// most ten characters is kept as given; a longer unknown value is refused.
pub fn resolve_state(country: Option<&str>, value: &str) -> Result<String, String> {
    let known = country.and_then(|c| super::geo::find_subdivision(c, value));
    if let Some(sub) = known
        && !sub.name.eq_ignore_ascii_case(value.trim())
    {
        // Given as a code: stored as typed (the legacy kept "on" for Ontario).
        return Ok(value.to_owned());
    }
    if let Some(sub) = known {
        return Ok(sub.code.to_owned());
    }
    if value.chars().count() <= limits::STATE {
        return Ok(value.to_owned());
    }
    None.ok_or_else(|| {
        format!(
            "Unsupported state '{value}' for country {}",
            country.unwrap_or("None")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn employment_aliases() {
        assert_eq!(employment_status("on leave"), Some("ON_LEAVE"));
        assert_eq!(employment_status("maternity-leave"), Some("ON_LEAVE"));
        assert_eq!(employment_status("probation"), Some("PROBATIONARY"));
        assert_eq!(employment_status(" active "), Some("ACTIVE"));
        assert_eq!(employment_status("suspend"), Some("SUSPENDED"));
        assert_eq!(employment_status("furlough"), Some("FURLOUGHED"));
        assert_eq!(employment_status("working"), None);
        assert_eq!(employment_status(""), None);
    }

    #[test]
    fn marital_aliases() {
        assert_eq!(
            marital_status("domestic partnership"),
            Some("DOMESTIC_PARTNER")
        );
        assert_eq!(marital_status("unspecified"), Some("UNKNOWN"));
        assert_eq!(marital_status("n/a"), Some("UNKNOWN"));
        assert_eq!(marital_status("Married"), Some("MARRIED"));
        assert_eq!(marital_status("complicated"), None);
    }

    #[test]
    fn title_case_like_python() {
        assert_eq!(title_case("golden"), "Golden");
        assert_eq!(title_case("ONE-updated"), "One-Updated");
        assert_eq!(title_case("o'neil mc donald"), "O'Neil Mc Donald");
        assert_eq!(title_case("q"), "Q");
    }

    #[test]
    fn clean_trims_and_empties() {
        assert_eq!(clean(Some("  Ev ")), Some("Ev".into()));
        assert_eq!(clean(Some("   ")), None);
        assert_eq!(clean(None), None);
    }
}
