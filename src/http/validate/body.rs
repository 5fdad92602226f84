//! Request bodies: parsing after the guards, pydantic-shaped field errors, PATCH tri-states.

use std::collections::HashSet;

use axum::body::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use time::Date;
use uuid::Uuid;

use crate::domain::permissions;
use crate::domain::profile::Patch;
use crate::http::error::{ApiError, ApiResult, FieldError};
use crate::http::extract::{from_value, parse_json_body};

/// Parses the JSON body after the permission checks (FastAPI validated bodies after its
/// dependencies).
pub fn body<T: serde::de::DeserializeOwned>(raw: &Bytes) -> Result<T, ApiError> {
    parse_json_body(raw)
}

/// Deserialises an object body, reporting every absent field of `required` (in declaration
/// order) in one 422 as pydantic does; serde alone stops at the first missing field.
pub fn with_required<T: serde::de::DeserializeOwned>(
    value: Value,
    required: &[&str],
) -> Result<T, ApiError> {
    if let Value::Object(map) = &value {
        let missing: Vec<FieldError> = required
            .iter()
            .filter(|field| !map.contains_key(**field))
            .map(|field| FieldError {
                kind: "missing",
                loc: vec![json!("body"), json!(field)],
                msg: "Field required".into(),
                input: value.clone(),
                ctx: None,
            })
            .collect();
        if missing.len() > 1 {
            return Err(ApiError::validation(missing));
        }
    }
    from_value(value, "body")
}

/// 422 `permissions: Value error, Unknown permission: a, b` when any code is not in the
/// catalogue (DESIGN.md §4: rejected instead of silently dropped). Returns the codes
/// de-duplicated in request order.
pub fn known_permissions(codes: &[String]) -> Result<Vec<String>, ApiError> {
    let unknown = permissions::unknown_codes(codes.iter().map(String::as_str));
    if !unknown.is_empty() {
        let label = if unknown.len() == 1 {
            "Unknown permission"
        } else {
            "Unknown permissions"
        };
        return Err(ApiError::validation(vec![FieldError::value_error(
            "body",
            "permissions",
            &format!("{label}: {}", unknown.join(", ")),
            json!(codes),
        )]));
    }
    let mut seen = HashSet::new();
    Ok(codes
        .iter()
        .filter(|c| seen.insert(c.as_str()))
        .cloned()
        .collect())
}

/// 422 "<field>: String should have at least/most N characters".
pub fn check_length(field: &str, value: &str, min: usize, max: usize) -> Result<(), ApiError> {
    let len = value.chars().count();
    let (kind, msg, ctx) = if len < min {
        (
            "string_too_short",
            format!(
                "String should have at least {min} character{}",
                if min == 1 { "" } else { "s" }
            ),
            json!({"min_length": min}),
        )
    } else if len > max {
        (
            "string_too_long",
            format!("String should have at most {max} characters"),
            json!({"max_length": max}),
        )
    } else {
        return Ok(());
    };
    Err(ApiError::validation(vec![
        FieldError::body(&[field], kind, msg, json!(value)).with_ctx(ctx),
    ]))
}

/// A UUID inside the body, with pydantic's message (the one the uuid crate prints, which is
/// what pydantic-core uses): `role_ids.0: Input should be a valid UUID, invalid character: …`.
pub fn body_uuid(loc: &[Value], raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|e| {
        let text = pydantic_uuid_text(&e.to_string());
        let mut full = vec![json!("body")];
        full.extend(loc.iter().cloned());
        ApiError::validation(vec![FieldError {
            kind: "uuid_parsing",
            loc: full,
            msg: format!("Input should be a valid UUID, {text}"),
            input: json!(raw),
            ctx: Some(json!({"error": text})),
        }])
    })
}

/// A UUID query parameter, with pydantic's message (`folder_id: Input should be a valid UUID, …`).
pub fn query_uuid(field: &str, raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|e| {
        let text = pydantic_uuid_text(&e.to_string());
        ApiError::validation(vec![FieldError {
            kind: "uuid_parsing",
            loc: vec![json!("query"), json!(field)],
            msg: format!("Input should be a valid UUID, {text}"),
            input: json!(raw),
            ctx: Some(json!({"error": text})),
        }])
    })
}

/// The uuid crate pydantic-core was built with worded a bad character differently (and
/// counted from 1): "invalid character: expected an optional prefix of `urn:uuid:` followed
/// by [0-9a-fA-F-], found `n` at 1". Other messages are kept as they are.
pub fn pydantic_uuid_text(current: &str) -> String {
    let parsed = current
        .strip_prefix("invalid character: found `")
        .and_then(|rest| rest.split_once("` at "))
        .and_then(|(ch, at)| at.trim().parse::<usize>().ok().map(|i| (ch, i)));
    match parsed {
        Some((ch, index)) => format!(
            "invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-], found `{ch}` at {}",
            index + 1
        ),
        None => current.to_owned(),
    }
}

/// `Option<Option<T>>` for PATCH bodies: absent → `None`, `null` → `Some(None)`.
pub fn tri_state<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

/// 422 `string_too_long` like pydantic's `max_length`.
pub fn too_long(field: &str, value: &str, max: usize) -> FieldError {
    FieldError::body(
        &[field],
        "string_too_long",
        format!("String should have at most {max} characters"),
        json!(value),
    )
    .with_ctx(json!({"max_length": max}))
}

/// Pushes a `string_too_long` error when `value` is longer than `max` characters.
pub fn check_len(errors: &mut Vec<FieldError>, field: &str, value: Option<&str>, max: usize) {
    if let Some(v) = value
        && v.chars().count() > max
    {
        errors.push(too_long(field, v, max));
    }
}

/// A PATCH body field: absent (`None`), or present with a trimmed value (`Some(None)` when null
/// or blank); a value that is not a string is pydantic's `string_type` error.
pub fn patch_text(
    field: &str,
    value: Patch,
    errors: &mut Vec<FieldError>,
) -> Option<Option<String>> {
    value.cleaned().unwrap_or_else(|input| {
        errors.push(not_a_string(field, input));
        None
    })
}

/// pydantic's `string_type` error.
pub fn not_a_string(field: &str, input: Value) -> FieldError {
    FieldError::body(
        &[field],
        "string_type",
        "Input should be a valid string",
        input,
    )
}

/// The JSON body as an object, or pydantic's 422 for any other JSON value (hand-parsed bodies
/// read their fields from it).
pub fn body_object(bytes: &[u8]) -> ApiResult<Map<String, Value>> {
    let value: Value = parse_json_body(bytes)?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(ApiError::validation(vec![FieldError::body(
            &[],
            "model_attributes_type",
            "Input should be a valid dictionary or object to extract fields from",
            other,
        )])),
    }
}

/// Parses `YYYY-MM-DD` (anything after a `T` is ignored).
pub fn parse_iso_date(raw: &str) -> Option<Date> {
    let raw = raw.trim();
    let raw = raw.split('T').next().unwrap_or(raw);
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(raw, &format).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_permissions_are_listed() {
        let codes = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            known_permissions(&codes(&["user.view", "x", "y", "x"]))
                .unwrap_err()
                .message,
            "permissions: Value error, Unknown permissions: x, y"
        );
        assert_eq!(
            known_permissions(&codes(&["user.view", "role.view", "user.view"])).unwrap(),
            codes(&["user.view", "role.view"])
        );
    }
}
