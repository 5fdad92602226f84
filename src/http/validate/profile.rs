//! The profile fields of the admin and self PATCH bodies: read, normalised and checked.

use serde_json::{Map, Value, json};

use super::body::{check_len, patch_field};
use crate::domain::people::{self, ProfileChanges};
use crate::http::error::FieldError;

/// Reads, normalises and validates the given profile fields of a PATCH body.
pub fn profile_changes(
    body: &Map<String, Value>,
    allowed: &[&'static str],
    current_country: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> ProfileChanges {
    let mut fields = Vec::new();
    for field in allowed {
        let Some(value) = patch_field(body, field, errors) else {
            continue;
        };
        let value = match (*field, value) {
            ("marital_status", Some(v)) => match people::marital_status(&v) {
                Some(m) => Some(m.to_owned()),
                None => {
                    errors.push(FieldError::value_error(
                        "body",
                        "marital_status",
                        people::INVALID_MARITAL_STATUS,
                        json!(v),
                    ));
                    continue;
                }
            },
            ("country", Some(v)) => match people::resolve_country(&v) {
                Ok(c) => Some(c),
                Err(text) => {
                    errors.push(FieldError::value_error("body", "country", &text, json!(v)));
                    continue;
                }
            },
            (_, v) => v,
        };
        fields.push((*field, value));
    }
    // The state is resolved against the country of the result.
    let country = fields
        .iter()
        .find(|(f, _)| *f == "country")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| current_country.map(str::to_owned));
    for (field, value) in fields.iter_mut() {
        if *field == "state"
            && let Some(v) = value.clone()
        {
            match people::resolve_state(country.as_deref(), &v) {
                Ok(s) => *value = Some(s),
                Err(text) => errors.push(FieldError::value_error("body", "state", &text, json!(v))),
            }
        }
    }
    for (field, value) in &fields {
        if let Some((_, max)) = people::PROFILE_LIMITS.iter().find(|(f, _)| f == field) {
            check_len(errors, field, value.as_deref(), *max);
        }
    }
    ProfileChanges { fields }
}
