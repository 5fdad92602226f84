//! The typed bodies of the admin and self profile PATCHes, and the wording of the profile
//! normaliser's problems as pydantic field errors.

use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};

use super::body::{body_object, not_a_string, too_long};
use crate::domain::profile::{Field, Patch, Problem, Profile};
use crate::http::error::{ApiResult, FieldError};
use crate::http::extract::from_value;

/// `PATCH /org/users/{membership_id}/profile`: the login e-mail and every profile field; null
/// or an empty string clears a field.
#[derive(Debug, Default, Deserialize)]
pub struct ProfileUpdate {
    #[serde(default)]
    pub email: Patch,
    #[serde(flatten)]
    pub profile: Profile<Patch>,
}

/// `PATCH /self/profile`: the profile fields except the names (ignored when sent, as the
/// legacy did); null or an empty string clears a field.
#[derive(Debug, Default, Deserialize)]
#[serde(transparent)]
pub struct SelfProfileUpdate(Profile<Patch>);

impl SelfProfileUpdate {
    pub fn into_profile(self) -> Profile<Patch> {
        self.0.without_names()
    }
}

/// Reads a PATCH body after the guards (the legacy checked permissions before the body): a
/// body that is not a JSON object is pydantic's 422. Every field is a [`Patch`], so reading
/// never stops at a wrongly typed field; the normaliser reports them all.
pub fn patch_body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    from_value(Value::Object(body_object(bytes)?), "body")
}

/// A normaliser problem as the field error pydantic gave.
pub fn profile_error(problem: Problem) -> FieldError {
    match problem {
        Problem::NotText { field, input } => not_a_string(field.name(), input),
        Problem::Invalid { field, text, input } => {
            FieldError::value_error("body", field.name(), &text, json!(input))
        }
        Problem::TooLong { field, value } => too_long(field.name(), &value, field.max_len()),
    }
}

/// The OpenAPI object of a PATCH body, from the field table: each field an optional, nullable
/// string.
fn patch_schema(fields: impl Iterator<Item = &'static str>) -> RefOr<Schema> {
    let text = || {
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
            .build()
    };
    let mut object = ObjectBuilder::new();
    for name in fields {
        object = object.property(name, text());
    }
    RefOr::T(Schema::Object(object.build()))
}

impl utoipa::PartialSchema for ProfileUpdate {
    fn schema() -> RefOr<Schema> {
        patch_schema(std::iter::once("email").chain(Field::ALL.into_iter().map(Field::name)))
    }
}

impl utoipa::ToSchema for ProfileUpdate {}

impl utoipa::PartialSchema for SelfProfileUpdate {
    fn schema() -> RefOr<Schema> {
        patch_schema(
            Field::ALL
                .into_iter()
                .filter(|f| !f.is_name())
                .map(Field::name),
        )
    }
}

impl utoipa::ToSchema for SelfProfileUpdate {}
