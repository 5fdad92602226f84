//! `POST /orgs` (contract §3 "Orgs"): superusers create a tenant, in multi-tenant mode only.

use axum::body::Bytes;
use axum::extract::State;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::TenancyMode;
use crate::domain::org::OrgId;
use crate::http::envelope::Created;
use crate::http::error::{ApiError, ApiResult, FieldError};
use crate::http::extract::parse_json_body;
use crate::http::guard::CurrentUser;
use crate::http::state::AppState;
use crate::services;
use crate::services::orgs::{CreateError, Creator};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_org))
}

#[derive(Serialize, ToSchema)]
pub struct OrgOut {
    id: String,
    name: String,
    slug: String,
    status: String,
    #[serde(with = "crate::timefmt::z")]
    #[schema(value_type = String)]
    created_at: time::OffsetDateTime,
    #[serde(with = "crate::timefmt::z")]
    #[schema(value_type = String)]
    updated_at: time::OffsetDateTime,
}

struct NewOrg {
    id: OrgId,
    name: String,
    slug: String,
}

fn string_field<'a>(
    obj: &'a serde_json::Map<String, Value>,
    body: &Value,
    name: &str,
    errors: &mut Vec<FieldError>,
) -> Option<&'a str> {
    match obj.get(name) {
        None => {
            errors.push(FieldError::body(
                &[name],
                "missing",
                "Field required",
                body.clone(),
            ));
            None
        }
        Some(Value::String(s)) => Some(s),
        Some(other) => {
            errors.push(FieldError::body(
                &[name],
                "string_type",
                "Input should be a valid string",
                other.clone(),
            ));
            None
        }
    }
}

/// Trimmed, 2–255 characters (pydantic's `string_too_short` / `string_too_long`).
fn bounded_text(name: &str, raw: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    let value = raw.trim().to_owned();
    let len = value.chars().count();
    if len < 2 {
        errors.push(
            FieldError::body(
                &[name],
                "string_too_short",
                "String should have at least 2 characters",
                json!(value),
            )
            .with_ctx(json!({"min_length": 2})),
        );
        None
    } else if len > 255 {
        errors.push(
            FieldError::body(
                &[name],
                "string_too_long",
                "String should have at most 255 characters",
                json!(value),
            )
            .with_ctx(json!({"max_length": 255})),
        );
        None
    } else {
        Some(value)
    }
}

fn parse_new_org(body: &Value) -> ApiResult<NewOrg> {
    let Some(obj) = body.as_object() else {
        return Err(ApiError::validation(vec![FieldError::body(
            &[],
            "model_attributes_type",
            "Input should be a valid dictionary or object to extract fields from",
            body.clone(),
        )]));
    };
    let mut errors = Vec::new();
    let id =
        string_field(obj, body, "org_id", &mut errors).and_then(|raw| match OrgId::parse(raw) {
            Ok(id) => Some(id),
            Err(e) => {
                errors.push(FieldError::value_error(
                    "body",
                    "org_id",
                    &e.to_string(),
                    json!(raw),
                ));
                None
            }
        });
    let name = string_field(obj, body, "name", &mut errors)
        .and_then(|raw| bounded_text("name", raw, &mut errors));
    let slug = string_field(obj, body, "slug", &mut errors)
        .and_then(|raw| bounded_text("slug", &raw.to_lowercase(), &mut errors));
    match (id, name, slug) {
        (Some(id), Some(name), Some(slug)) if errors.is_empty() => Ok(NewOrg { id, name, slug }),
        _ => Err(ApiError::validation(errors)),
    }
}

/// Creates an org, its partitions, system roles and default settings, and makes the creator
/// an ORG ADMIN member of it, all in one transaction.
#[utoipa::path(post, path = "/orgs", tag = "orgs", security(("bearer" = [])),
    request_body(content = Object, description = "{org_id, name, slug}"),
    responses((status = 201, body = OrgOut), (status = 400, description = "Single-tenant mode, or id/slug taken"),
              (status = 403, description = "Super admin required"), (status = 422, description = "Invalid field")))]
pub async fn create_org(
    State(state): State<AppState>,
    user: CurrentUser,
    body: Bytes,
) -> ApiResult<Created<OrgOut>> {
    if !user.is_superuser {
        return Err(ApiError::forbidden("Super admin required"));
    }
    let raw: Value = parse_json_body(&body)?;
    let new = parse_new_org(&raw)?;
    if state.settings.tenancy_mode == TenancyMode::Single {
        return Err(ApiError::bad_request(
            "Org creation is disabled in single-tenant mode",
        ));
    }
    let creator = Creator {
        identity_id: user.user_identity_id,
        email: user.email.clone(),
    };
    let mut tx = state.db.begin().await?;
    let org = match services::orgs::create(&mut tx, new.id.as_str(), &new.name, &new.slug, &creator)
        .await
    {
        Ok(org) => org,
        Err(CreateError::Exists) => {
            return Err(ApiError::bad_request(
                "Org with same id or slug already exists",
            ));
        }
        Err(CreateError::Db(e)) => return Err(e.into()),
        Err(CreateError::Partitions(e)) => {
            return Err(ApiError::from_unexpected(
                "creating org partitions failed",
                e.as_ref(),
            ));
        }
    };
    tx.commit().await?;
    Ok(Created(OrgOut {
        id: org.id,
        name: org.name,
        slug: org.slug,
        status: org.status,
        created_at: org.created_at,
        updated_at: org.updated_at,
    }))
}
