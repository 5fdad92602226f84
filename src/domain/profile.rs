//! The member profile (`org_user_profiles`, contract §3 "Org users / onboarding" and §7): its
//! twelve fields with their one table of column limits, and the one normaliser that onboarding
//! (single and CSV) and the admin and self profile PATCHes share.
//!
//! The field list lives here once. [`Profile`] is generic over what each field holds: a stored
//! value (`Option<String>`, the default) for rows and responses, or a [`Patch`] for a PATCH
//! body, so the rows, the wire types and the PATCH bodies cannot drift apart.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::people::{self, limits};

/// One profile field, in the legacy column order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    FirstName,
    MiddleName,
    LastName,
    PreferredName,
    Timezone,
    PhoneNumber,
    MaritalStatus,
    Country,
    State,
    AddressLine1,
    AddressLine2,
    PostalCode,
}

/// How onboarding writes a field's case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Case {
    AsGiven,
    /// Python's `str.title()`.
    Title,
    Upper,
}

impl Field {
    /// Every field, in column order (also the order errors are reported in).
    pub const ALL: [Field; 12] = [
        Field::FirstName,
        Field::MiddleName,
        Field::LastName,
        Field::PreferredName,
        Field::Timezone,
        Field::PhoneNumber,
        Field::MaritalStatus,
        Field::Country,
        Field::State,
        Field::AddressLine1,
        Field::AddressLine2,
        Field::PostalCode,
    ];

    /// The one table: column (and wire) name, column length limit, and onboarding case rule.
    const fn spec(self) -> (&'static str, usize, Case) {
        match self {
            Field::FirstName => ("first_name", limits::FIRST_NAME, Case::Title),
            Field::MiddleName => ("middle_name", limits::MIDDLE_NAME, Case::Title),
            Field::LastName => ("last_name", limits::LAST_NAME, Case::Title),
            Field::PreferredName => ("preferred_name", limits::PREFERRED_NAME, Case::AsGiven),
            Field::Timezone => ("timezone", limits::TIMEZONE, Case::AsGiven),
            Field::PhoneNumber => ("phone_number", limits::PHONE_NUMBER, Case::AsGiven),
            Field::MaritalStatus => ("marital_status", limits::STATUS, Case::AsGiven),
            Field::Country => ("country", limits::COUNTRY, Case::Upper),
            Field::State => ("state", limits::STATE, Case::Upper),
            Field::AddressLine1 => ("address_line1", limits::ADDRESS_LINE, Case::AsGiven),
            Field::AddressLine2 => ("address_line2", limits::ADDRESS_LINE, Case::AsGiven),
            Field::PostalCode => ("postal_code", limits::POSTAL_CODE, Case::Upper),
        }
    }

    /// The column and wire name.
    pub const fn name(self) -> &'static str {
        self.spec().0
    }

    /// The column's length limit in characters.
    pub const fn max_len(self) -> usize {
        self.spec().1
    }

    /// Onboarding requires first and last name: a blank one is kept (as an empty string)
    /// instead of becoming null, as the legacy did.
    fn required(self) -> bool {
        matches!(self, Field::FirstName | Field::LastName)
    }

    /// The names a self-service PATCH may not change.
    pub fn is_name(self) -> bool {
        matches!(self, Field::FirstName | Field::MiddleName | Field::LastName)
    }
}

/// The twelve profile fields. `T` is `Option<String>` for a stored profile and [`Patch`] for a
/// PATCH body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Profile<T = Option<String>> {
    pub first_name: T,
    pub middle_name: T,
    pub last_name: T,
    pub preferred_name: T,
    pub timezone: T,
    pub phone_number: T,
    pub marital_status: T,
    pub country: T,
    pub state: T,
    pub address_line1: T,
    pub address_line2: T,
    pub postal_code: T,
}

impl<T> Profile<T> {
    pub fn get(&self, field: Field) -> &T {
        match field {
            Field::FirstName => &self.first_name,
            Field::MiddleName => &self.middle_name,
            Field::LastName => &self.last_name,
            Field::PreferredName => &self.preferred_name,
            Field::Timezone => &self.timezone,
            Field::PhoneNumber => &self.phone_number,
            Field::MaritalStatus => &self.marital_status,
            Field::Country => &self.country,
            Field::State => &self.state,
            Field::AddressLine1 => &self.address_line1,
            Field::AddressLine2 => &self.address_line2,
            Field::PostalCode => &self.postal_code,
        }
    }

    pub fn get_mut(&mut self, field: Field) -> &mut T {
        match field {
            Field::FirstName => &mut self.first_name,
            Field::MiddleName => &mut self.middle_name,
            Field::LastName => &mut self.last_name,
            Field::PreferredName => &mut self.preferred_name,
            Field::Timezone => &mut self.timezone,
            Field::PhoneNumber => &mut self.phone_number,
            Field::MaritalStatus => &mut self.marital_status,
            Field::Country => &mut self.country,
            Field::State => &mut self.state,
            Field::AddressLine1 => &mut self.address_line1,
            Field::AddressLine2 => &mut self.address_line2,
            Field::PostalCode => &mut self.postal_code,
        }
    }
}

/// A value the normaliser refuses, for the caller to word in its own shape (a pydantic field
/// error for JSON bodies, a row error text for the CSV upload).
#[derive(Clone, Debug, PartialEq)]
pub enum Problem {
    /// A PATCH value that is neither a string nor null (pydantic's `string_type`).
    NotText { field: Field, input: Value },
    /// A value no rule accepts (pydantic's `value_error`); `text` follows "Value error, ".
    Invalid {
        field: Field,
        text: String,
        input: String,
    },
    /// Longer than the column (pydantic's `string_too_long`).
    TooLong { field: Field, value: String },
}

impl Problem {
    pub fn field(&self) -> Field {
        match self {
            Problem::NotText { field, .. }
            | Problem::Invalid { field, .. }
            | Problem::TooLong { field, .. } => *field,
        }
    }
}

fn invalid_marital(raw: &str) -> Problem {
    Problem::Invalid {
        field: Field::MaritalStatus,
        text: people::INVALID_MARITAL_STATUS.to_owned(),
        input: raw.to_owned(),
    }
}

impl Profile {
    /// The onboarding normaliser: every field trimmed, a blank optional field null, names
    /// title-cased, country, state and postal code upper-cased, and the marital status
    /// resolved through its aliases (an unknown one is a [`Problem`] and stored as null).
    pub fn normalised(mut self) -> (Profile, Vec<Problem>) {
        let mut problems = Vec::new();
        for field in Field::ALL {
            let slot = self.get_mut(field);
            let value = if field.required() {
                slot.as_deref().map(|v| v.trim().to_owned())
            } else {
                people::clean(slot.as_deref())
            };
            *slot = value.and_then(|v| match field.spec().2 {
                Case::Title => Some(people::title_case(&v)),
                Case::Upper => Some(v.to_uppercase()),
                Case::AsGiven if field == Field::MaritalStatus => {
                    match people::marital_status(&v) {
                        Some(status) => Some(status.to_owned()),
                        None => {
                            problems.push(invalid_marital(&v));
                            None
                        }
                    }
                }
                Case::AsGiven => Some(v),
            });
        }
        (self, problems)
    }

    /// The fields longer than their column, in column order.
    pub fn too_long(&self) -> Vec<Problem> {
        Field::ALL
            .into_iter()
            .filter_map(|field| {
                let value = self.get(field).as_deref()?;
                (value.chars().count() > field.max_len()).then(|| Problem::TooLong {
                    field,
                    value: value.to_owned(),
                })
            })
            .collect()
    }

    /// `full_name` as stored: "first last", trimmed, cut to its column.
    pub fn full_name(&self) -> String {
        format!(
            "{} {}",
            self.first_name.as_deref().unwrap_or(""),
            self.last_name.as_deref().unwrap_or("")
        )
        .trim()
        .chars()
        .take(limits::FULL_NAME)
        .collect()
    }
}

/// One field of a PATCH body. Absent leaves the field alone and null clears it; a value that
/// is not a string is kept so every wrong field is reported in one 422, as pydantic does
/// (a plain `Option<Option<String>>` would stop serde at the first one).
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Patch {
    #[default]
    Absent,
    Null,
    Text(String),
    NotText(Value),
}

impl<'de> Deserialize<'de> for Patch {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(de)? {
            Value::Null => Patch::Null,
            Value::String(s) => Patch::Text(s),
            other => Patch::NotText(other),
        })
    }
}

impl Patch {
    /// Absent → `None`; otherwise the trimmed value, `Some(None)` when null or blank (the
    /// "empty string clears the field" rule); `Err` with the input when it is not a string.
    pub fn cleaned(self) -> Result<Option<Option<String>>, Value> {
        match self {
            Patch::Absent => Ok(None),
            Patch::Null => Ok(Some(None)),
            Patch::Text(s) => Ok(Some(people::clean(Some(&s)))),
            Patch::NotText(v) => Err(v),
        }
    }
}

/// The profile changes of a PATCH: each present field with its new value (`None` clears it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfileChanges {
    fields: Vec<(Field, Option<String>)>,
}

impl ProfileChanges {
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Whether first or last name change (then `full_name` is recomputed).
    pub fn touches_names(&self) -> bool {
        self.fields
            .iter()
            .any(|(f, _)| matches!(f, Field::FirstName | Field::LastName))
    }

    /// `current` with the changes applied.
    pub fn applied_to(&self, current: &Profile) -> Profile {
        let mut next = current.clone();
        for (field, value) in &self.fields {
            *next.get_mut(*field) = value.clone();
        }
        next
    }
}

impl Profile<Patch> {
    /// A self-service PATCH may not change the names: they are ignored, as the legacy did.
    pub fn without_names(mut self) -> Self {
        for field in Field::ALL.into_iter().filter(|f| f.is_name()) {
            *self.get_mut(field) = Patch::Absent;
        }
        self
    }

    /// The PATCH normaliser: trims, clears on null or blank, resolves the marital status, the
    /// country (to its code) and the state (against the resulting country), and checks the
    /// column limits. Unlike onboarding it keeps the case as given (the legacy did).
    /// Problems come in the legacy order: per field, then the state, then the lengths.
    pub fn changes(self, current_country: Option<&str>) -> (ProfileChanges, Vec<Problem>) {
        let mut problems = Vec::new();
        let mut fields = Vec::new();
        for field in Field::ALL {
            let value = match self.get(field).clone().cleaned() {
                Ok(None) => continue,
                Ok(Some(value)) => value,
                Err(input) => {
                    problems.push(Problem::NotText { field, input });
                    continue;
                }
            };
            let resolved = match (field, value) {
                (Field::MaritalStatus, Some(v)) => match people::marital_status(&v) {
                    Some(m) => Ok(Some(m.to_owned())),
                    None => Err(invalid_marital(&v)),
                },
                (Field::Country, Some(v)) => match people::resolve_country(&v) {
                    Ok(c) => Ok(Some(c)),
                    Err(text) => Err(Problem::Invalid {
                        field,
                        text,
                        input: v,
                    }),
                },
                (_, v) => Ok(v),
            };
            match resolved {
                Ok(v) => fields.push((field, v)),
                Err(problem) => problems.push(problem),
            }
        }
        let country = fields
            .iter()
            .find(|(f, _)| *f == Field::Country)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| current_country.map(str::to_owned));
        for (field, value) in fields.iter_mut() {
            if *field == Field::State
                && let Some(v) = value.clone()
            {
                match people::resolve_state(country.as_deref(), &v) {
                    Ok(s) => *value = Some(s),
                    Err(text) => problems.push(Problem::Invalid {
                        field: Field::State,
                        text,
                        input: v,
                    }),
                }
            }
        }
        for (field, value) in &fields {
            if let Some(v) = value
                && v.chars().count() > field.max_len()
            {
                problems.push(Problem::TooLong {
                    field: *field,
                    value: v.clone(),
                });
            }
        }
        (ProfileChanges { fields }, problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn raw(first: &str, last: &str) -> Profile {
        Profile {
            first_name: Some(first.into()),
            last_name: Some(last.into()),
            ..Profile::default()
        }
    }

    #[test]
    fn the_table_names_every_column_once() {
        let names: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
        let serialized = serde_json::to_value(Profile::<Option<String>>::default()).unwrap();
        let keys: Vec<&str> = serialized
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        // The wire order of the struct is the column order of the table.
        assert_eq!(names, keys);
        assert_eq!(Field::FirstName.max_len(), 100);
        assert_eq!(Field::Country.max_len(), 2);
        assert_eq!(Field::State.max_len(), 10);
        assert_eq!(Field::PostalCode.max_len(), 32);
    }

    #[test]
    fn onboarding_title_cases_names_and_upper_cases_codes() {
        let (p, problems) = Profile {
            middle_name: Some("  mary-jane ".into()),
            preferred_name: Some(" ev ".into()),
            timezone: Some("   ".into()),
            marital_status: Some("domestic partnership".into()),
            country: Some("us".into()),
            state: Some("ny".into()),
            postal_code: Some("sw1a 1aa".into()),
            ..raw("  o'neil ", "MC DONALD")
        }
        .normalised();
        assert!(problems.is_empty());
        assert_eq!(p.first_name.as_deref(), Some("O'Neil"));
        assert_eq!(p.middle_name.as_deref(), Some("Mary-Jane"));
        assert_eq!(p.last_name.as_deref(), Some("Mc Donald"));
        // Only names change case; other text is kept as typed, and blank clears.
        assert_eq!(p.preferred_name.as_deref(), Some("ev"));
        assert_eq!(p.timezone, None);
        assert_eq!(p.marital_status.as_deref(), Some("DOMESTIC_PARTNER"));
        assert_eq!(p.country.as_deref(), Some("US"));
        assert_eq!(p.state.as_deref(), Some("NY"));
        assert_eq!(p.postal_code.as_deref(), Some("SW1A 1AA"));
        assert_eq!(p.full_name(), "O'Neil Mc Donald");
    }

    #[test]
    fn onboarding_keeps_a_blank_required_name_and_refuses_an_unknown_status() {
        let (p, problems) = Profile {
            marital_status: Some("complicated".into()),
            ..raw("  ", "x")
        }
        .normalised();
        assert_eq!(p.first_name.as_deref(), Some(""));
        assert_eq!(p.marital_status, None);
        assert_eq!(p.full_name(), "X");
        assert_eq!(
            problems,
            vec![Problem::Invalid {
                field: Field::MaritalStatus,
                text: "Invalid marital_status value".into(),
                input: "complicated".into(),
            }]
        );
    }

    #[test]
    fn too_long_fields_are_listed_in_column_order() {
        let p = Profile {
            postal_code: Some("9".repeat(33)),
            country: Some("USA".into()),
            ..raw(&"a".repeat(101), "b")
        };
        let fields: Vec<Field> = p.too_long().iter().map(Problem::field).collect();
        assert_eq!(
            fields,
            vec![Field::FirstName, Field::Country, Field::PostalCode]
        );
        assert!(raw(&"a".repeat(100), "b").too_long().is_empty());
    }

    #[test]
    fn full_name_is_cut_to_its_column() {
        let p = raw(&"é".repeat(200), &"b".repeat(200));
        assert_eq!(p.full_name().chars().count(), 255);
    }

    fn patch(body: Value) -> Profile<Patch> {
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn patch_tells_absent_from_null_and_blank() {
        let (changes, problems) =
            patch(json!({"timezone": null, "phone_number": "  "})).changes(None);
        assert!(problems.is_empty());
        let current = Profile {
            timezone: Some("UTC".into()),
            phone_number: Some("1".into()),
            postal_code: Some("K".into()),
            ..raw("a", "b")
        };
        let next = changes.applied_to(&current);
        assert_eq!(next.timezone, None);
        assert_eq!(next.phone_number, None);
        assert_eq!(next.postal_code.as_deref(), Some("K"));
        assert!(!changes.touches_names());
        assert!(patch(json!({})).changes(None).0.is_empty());
    }

    #[test]
    fn patch_keeps_case_and_resolves_places() {
        let (changes, problems) = patch(json!({
            "first_name": "ada", "country": "Canada", "state": "Ontario", "marital_status": "n/a"
        }))
        .changes(Some("US"));
        assert!(problems.is_empty());
        let next = changes.applied_to(&Profile::default());
        assert_eq!(next.first_name.as_deref(), Some("ada"));
        assert_eq!(next.country.as_deref(), Some("CA"));
        assert_eq!(next.state.as_deref(), Some("ON"));
        assert_eq!(next.marital_status.as_deref(), Some("UNKNOWN"));
        assert!(changes.touches_names());
    }

    #[test]
    fn patch_reports_every_problem_in_legacy_order() {
        let (_, problems) = patch(json!({
            "first_name": 5,
            "marital_status": "complicated",
            "country": "Atlantis",
            "state": "somewhere far away",
            "postal_code": "9".repeat(33),
        }))
        .changes(None);
        let texts: Vec<String> = problems
            .iter()
            .map(|p| match p {
                Problem::NotText { field, .. } => format!("{}: not text", field.name()),
                Problem::Invalid { field, text, .. } => format!("{}: {text}", field.name()),
                Problem::TooLong { field, .. } => format!("{}: too long", field.name()),
            })
            .collect();
        assert_eq!(
            texts,
            vec![
                "first_name: not text",
                "marital_status: Invalid marital_status value",
                "country: Unsupported country: Atlantis",
                "state: Unsupported state 'somewhere far away' for country None",
                // The legacy also measured the refused state.
                "state: too long",
                "postal_code: too long",
            ]
        );
    }

    #[test]
    fn self_service_cannot_touch_names() {
        let (changes, _) = patch(json!({"first_name": "x", "last_name": null, "timezone": "UTC"}))
            .without_names()
            .changes(None);
        let next = changes.applied_to(&raw("a", "b"));
        assert_eq!(next.first_name.as_deref(), Some("a"));
        assert_eq!(next.last_name.as_deref(), Some("b"));
        assert_eq!(next.timezone.as_deref(), Some("UTC"));
    }

    #[test]
    fn resolved_place_codes_are_already_upper_case() {
        // The CSV upload resolves country and state to codes before the normaliser
        // upper-cases them; that must not change a code.
        for country in super::super::geo::countries_with_subdivisions() {
            assert_eq!(country, country.to_uppercase());
            for sub in super::super::geo::subdivisions(country) {
                assert_eq!(sub.code, sub.code.to_uppercase(), "{country}");
            }
        }
    }
}
