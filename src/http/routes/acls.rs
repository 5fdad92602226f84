//! `/acls/*`: resource ACLs and direct permission assignments (contract §3 "ACLs and direct
//! permissions"). Every route needs `acl.manage`; every write also step-up `ACL_ASSIGNMENT`.
//! `user_id` is a `users.id`, never a membership id.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::domain::permissions::{perm, step};
use crate::http::envelope::{Created, Envelope, NoContent};
use crate::http::error::{ApiError, ApiResult, ConstraintExt, FieldError};
use crate::http::extract::{ApiJson, ApiPath};
use crate::http::guard::Can;
use crate::http::state::AppState;
use crate::http::step_up::StepUp;
use crate::http::validate::{body_uuid, check_length, known_permissions, tri_state};
use crate::services;
use crate::services::acls::{Acl, Assignment, Grant, GrantChange};
use crate::services::audit;
use crate::timefmt;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_acls, create_acl))
        .routes(routes!(update_acl, delete_acl))
        .routes(routes!(list_assignments, create_assignment))
        .routes(routes!(update_assignment, delete_assignment))
}

/// ACLOut.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AclOut {
    id: Uuid,
    org_id: String,
    user_id: Uuid,
    resource_type: String,
    resource_id: String,
    #[schema(value_type = Vec<String>)]
    permissions: Value,
    effect: String,
    #[serde(with = "timefmt::z::option")]
    #[schema(value_type = Option<String>)]
    expires_at: Option<OffsetDateTime>,
    #[serde(with = "timefmt::z")]
    #[schema(value_type = String)]
    created_at: OffsetDateTime,
    #[serde(with = "timefmt::z")]
    #[schema(value_type = String)]
    updated_at: OffsetDateTime,
}

impl From<Acl> for AclOut {
    fn from(a: Acl) -> Self {
        Self {
            id: a.id,
            org_id: a.org_id,
            user_id: a.user_id,
            resource_type: a.resource_type,
            resource_id: a.resource_id,
            permissions: a.permissions.0,
            effect: a.effect,
            expires_at: a.expires_at,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

/// A direct permission assignment with the member's name and e-mail.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AssignmentOut {
    id: Uuid,
    org_id: String,
    user_id: Uuid,
    full_name: Option<String>,
    email: String,
    #[schema(value_type = Vec<String>)]
    permissions: Value,
    effect: String,
    #[serde(with = "timefmt::z::option")]
    #[schema(value_type = Option<String>)]
    expires_at: Option<OffsetDateTime>,
    #[serde(with = "timefmt::z")]
    #[schema(value_type = String)]
    created_at: OffsetDateTime,
    #[serde(with = "timefmt::z")]
    #[schema(value_type = String)]
    updated_at: OffsetDateTime,
}

impl From<Assignment> for AssignmentOut {
    fn from(a: Assignment) -> Self {
        Self {
            id: a.id,
            org_id: a.org_id,
            user_id: a.user_id,
            full_name: a.full_name,
            email: a.email,
            permissions: a.permissions.0,
            effect: a.effect,
            expires_at: a.expires_at,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Items<T> {
    items: Vec<T>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct AclCreate {
    #[schema(value_type = Uuid)]
    user_id: String,
    resource_type: String,
    resource_id: String,
    permissions: Vec<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    effect: Option<Value>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    expires_at: Option<Value>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct AssignmentCreate {
    #[schema(value_type = Uuid)]
    user_id: String,
    permissions: Vec<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    effect: Option<Value>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    expires_at: Option<Value>,
}

/// PATCH body of both ACLs and assignments; `expires_at: null` clears the expiry.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct GrantUpdate {
    #[serde(default)]
    permissions: Option<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    effect: Option<Value>,
    #[serde(default, deserialize_with = "tri_state")]
    #[schema(value_type = Option<String>)]
    expires_at: Option<Option<Value>>,
}

impl GrantUpdate {
    /// The permission codes to set, each one known (checked first, as the legacy did).
    fn known_codes(&self) -> Result<Option<Vec<String>>, ApiError> {
        self.permissions
            .as_deref()
            .map(known_permissions)
            .transpose()
    }

    /// The validated change of an ACL or a direct assignment: `codes` from
    /// [`known_codes`](Self::known_codes), then the effect, then the expiry.
    fn change<'a>(&self, codes: Option<&'a [String]>) -> Result<GrantChange<'a>, ApiError> {
        Ok(GrantChange {
            permissions: codes,
            effect: effect(self.effect.as_ref())?,
            expires_at: match &self.expires_at {
                None => None,
                Some(v) => Some(expires_at(v.as_ref())?),
            },
        })
    }
}

/// `effect` is the literal `allow` or `deny` (pydantic's `literal_error` otherwise).
fn effect(value: Option<&Value>) -> Result<Option<&'static str>, ApiError> {
    match value {
        None => Ok(None),
        Some(Value::String(s)) if s == "allow" => Ok(Some("allow")),
        Some(Value::String(s)) if s == "deny" => Ok(Some("deny")),
        Some(other) => Err(ApiError::validation(vec![
            FieldError::body(
                &["effect"],
                "literal_error",
                "Input should be 'allow' or 'deny'",
                other.clone(),
            )
            .with_ctx(json!({"expected": "'allow' or 'deny'"})),
        ])),
    }
}

/// ISO 8601 datetime (offset or UTC `Z`; a naive value or a bare date is taken as UTC).
fn expires_at(value: Option<&Value>) -> Result<Option<OffsetDateTime>, ApiError> {
    use time::format_description::well_known::{Iso8601, Rfc3339};
    let Some(value) = value else {
        return Ok(None);
    };
    if value.is_null() {
        return Ok(None);
    }
    let parsed = value.as_str().map(str::trim).and_then(|s| {
        OffsetDateTime::parse(s, &Rfc3339)
            .or_else(|_| OffsetDateTime::parse(s, &Iso8601::DEFAULT))
            .ok()
            .or_else(|| {
                time::PrimitiveDateTime::parse(s, &Iso8601::DEFAULT)
                    .ok()
                    .map(time::PrimitiveDateTime::assume_utc)
            })
            .or_else(|| {
                time::Date::parse(s, &Iso8601::DEFAULT)
                    .ok()
                    .map(|d| d.midnight().assume_utc())
            })
    });
    match parsed {
        Some(dt) => Ok(Some(dt)),
        None => Err(ApiError::validation(vec![FieldError::body(
            &["expires_at"],
            "datetime_parsing",
            "Input should be a valid datetime",
            value.clone(),
        )])),
    }
}

/// `resource_type` / `resource_id`: trimmed, never blank.
fn non_blank(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(ApiError::validation(vec![FieldError::value_error(
            "body",
            field,
            "must not be empty",
            json!(value),
        )]));
    }
    check_length(field, trimmed, 1, max)?;
    Ok(trimmed.to_owned())
}

fn not_member() -> ApiError {
    ApiError::not_found("User is not a member of this organization")
}

fn acl_not_found() -> ApiError {
    ApiError::not_found("ACL not found")
}

fn acl_exists() -> ApiError {
    ApiError::bad_request("ACL already exists for this user/resource")
}

fn assignment_not_found() -> ApiError {
    ApiError::not_found("Assignment not found")
}

fn assignment_exists() -> ApiError {
    ApiError::bad_request("Direct permission assignment already exists for this user")
}

/// Lists the org's resource ACLs (no paging).
#[utoipa::path(get, path = "/acls", tag = "acls", security(("bearer" = [])),
    responses((status = 200, body = Items<AclOut>), (status = 403, description = "Missing permission: acl.manage")))]
pub async fn list_acls(
    State(state): State<AppState>,
    user: Can<perm::AclManage>,
) -> ApiResult<Envelope<Items<AclOut>>> {
    let mut conn = state.db.acquire().await?;
    let rows = services::acls::list_acls(&mut conn, &user.org_id).await?;
    Ok(Envelope(Items {
        items: rows.into_iter().map(AclOut::from).collect(),
    }))
}

/// Creates a resource ACL for a member.
#[utoipa::path(post, path = "/acls", tag = "acls", request_body = AclCreate, security(("bearer" = [])),
    responses((status = 201, body = AclOut), (status = 400, description = "ACL already exists for this user/resource"),
              (status = 404, description = "User is not a member of this organization"), (status = 422, description = "Unknown permission code")))]
pub async fn create_acl(
    State(state): State<AppState>,
    user: Can<perm::AclManage>,
    _: StepUp<step::AclAssignment>,
    ApiJson(req): ApiJson<AclCreate>,
) -> ApiResult<Created<AclOut>> {
    let user_id = body_uuid(&[json!("user_id")], &req.user_id)?;
    let resource_type = non_blank("resource_type", &req.resource_type, 100)?;
    let resource_id = non_blank("resource_id", &req.resource_id, 255)?;
    let codes = known_permissions(&req.permissions)?;
    let effect = effect(req.effect.as_ref())?.unwrap_or("allow");
    let expires_at = expires_at(req.expires_at.as_ref())?;
    let org = &user.org_id;

    let mut tx = state.db.begin().await?;
    if !services::acls::is_member(&mut tx, org, user_id).await? {
        return Err(not_member());
    }
    if services::acls::acl_exists(&mut tx, org, user_id, &resource_type, &resource_id).await? {
        return Err(acl_exists());
    }
    let grant = Grant {
        user_id,
        permissions: &codes,
        effect,
        expires_at,
    };
    let acl = services::acls::create_acl(&mut tx, org, &grant, &resource_type, &resource_id)
        .await
        .on_constraint("uq_acl_org_user_resource", acl_exists)?;
    audit::record(
        &mut tx,
        user.audit("acl.created", "acl", acl.id, None, Some(acl.snapshot())),
    )
    .await?;
    tx.commit().await?;
    Ok(Created(acl.into()))
}

/// Changes an ACL's permissions, effect or expiry.
#[utoipa::path(patch, path = "/acls/{acl_id}", tag = "acls", request_body = GrantUpdate,
    params(("acl_id" = uuid::Uuid, Path, description = "ACL id")), security(("bearer" = [])),
    responses((status = 200, body = AclOut), (status = 404, description = "ACL not found")))]
pub async fn update_acl(
    State(state): State<AppState>,
    user: Can<perm::AclManage>,
    _: StepUp<step::AclAssignment>,
    ApiPath(acl_id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<GrantUpdate>,
) -> ApiResult<Envelope<AclOut>> {
    let codes = req.known_codes()?;
    let change = req.change(codes.as_deref())?;
    let org = &user.org_id;

    let mut tx = state.db.begin().await?;
    let before = services::acls::find_acl(&mut tx, org, acl_id)
        .await?
        .ok_or_else(acl_not_found)?;
    let after = services::acls::update_acl(&mut tx, acl_id, &change).await?;
    audit::record(
        &mut tx,
        user.audit(
            "acl.updated",
            "acl",
            acl_id,
            Some(before.snapshot()),
            Some(after.snapshot()),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(Envelope(after.into()))
}

/// Deletes an ACL.
#[utoipa::path(delete, path = "/acls/{acl_id}", tag = "acls",
    params(("acl_id" = uuid::Uuid, Path, description = "ACL id")), security(("bearer" = [])),
    responses((status = 200, description = "Deleted (data: null)"), (status = 404, description = "ACL not found")))]
pub async fn delete_acl(
    State(state): State<AppState>,
    user: Can<perm::AclManage>,
    _: StepUp<step::AclAssignment>,
    ApiPath(acl_id): ApiPath<Uuid>,
) -> ApiResult<NoContent> {
    let org = &user.org_id;

    let mut tx = state.db.begin().await?;
    let before = services::acls::find_acl(&mut tx, org, acl_id)
        .await?
        .ok_or_else(acl_not_found)?;
    services::acls::delete_acl(&mut tx, org, acl_id).await?;
    audit::record(
        &mut tx,
        user.audit("acl.deleted", "acl", acl_id, Some(before.snapshot()), None),
    )
    .await?;
    tx.commit().await?;
    Ok(NoContent)
}

/// Lists the org's direct permission assignments, by member name.
#[utoipa::path(get, path = "/acls/assignments", tag = "acls", security(("bearer" = [])),
    responses((status = 200, body = Items<AssignmentOut>), (status = 403, description = "Missing permission: acl.manage")))]
pub async fn list_assignments(
    State(state): State<AppState>,
    user: Can<perm::AclManage>,
) -> ApiResult<Envelope<Items<AssignmentOut>>> {
    let mut conn = state.db.acquire().await?;
    let rows = services::acls::list_assignments(&mut conn, &user.org_id).await?;
    Ok(Envelope(Items {
        items: rows.into_iter().map(AssignmentOut::from).collect(),
    }))
}

/// Creates a member's direct permission assignment (one per member).
#[utoipa::path(post, path = "/acls/assignments", tag = "acls", request_body = AssignmentCreate, security(("bearer" = [])),
    responses((status = 201, body = AssignmentOut), (status = 400, description = "Direct permission assignment already exists for this user"),
              (status = 404, description = "User is not a member of this organization"), (status = 422, description = "Unknown permission code")))]
pub async fn create_assignment(
    State(state): State<AppState>,
    user: Can<perm::AclManage>,
    _: StepUp<step::AclAssignment>,
    ApiJson(req): ApiJson<AssignmentCreate>,
) -> ApiResult<Created<AssignmentOut>> {
    let user_id = body_uuid(&[json!("user_id")], &req.user_id)?;
    let codes = known_permissions(&req.permissions)?;
    let effect = effect(req.effect.as_ref())?.unwrap_or("allow");
    let expires_at = expires_at(req.expires_at.as_ref())?;
    let org = &user.org_id;

    let mut tx = state.db.begin().await?;
    if !services::acls::is_member(&mut tx, org, user_id).await? {
        return Err(not_member());
    }
    if services::acls::assignment_exists(&mut tx, org, user_id).await? {
        return Err(assignment_exists());
    }
    let grant = Grant {
        user_id,
        permissions: &codes,
        effect,
        expires_at,
    };
    let created = services::acls::create_assignment(&mut tx, org, &grant)
        .await
        .on_constraint("uq_user_permissions_org_user", assignment_exists)?;
    audit::record(
        &mut tx,
        user.audit(
            "user_permissions.created",
            "user_permissions",
            created.id,
            None,
            Some(created.snapshot()),
        ),
    )
    .await?;
    tx.commit().await?;
    crate::http::guard::user_changed(&state, org.as_str(), created.user_id).await;
    Ok(Created(created.into()))
}

/// Changes a direct assignment's permissions, effect or expiry.
#[utoipa::path(patch, path = "/acls/assignments/{assignment_id}", tag = "acls", request_body = GrantUpdate,
    params(("assignment_id" = uuid::Uuid, Path, description = "Assignment id")), security(("bearer" = [])),
    responses((status = 200, body = AssignmentOut), (status = 404, description = "Assignment not found")))]
pub async fn update_assignment(
    State(state): State<AppState>,
    user: Can<perm::AclManage>,
    _: StepUp<step::AclAssignment>,
    ApiPath(assignment_id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<GrantUpdate>,
) -> ApiResult<Envelope<AssignmentOut>> {
    let codes = req.known_codes()?;
    let change = req.change(codes.as_deref())?;
    let org = &user.org_id;

    let mut tx = state.db.begin().await?;
    let before = services::acls::find_assignment(&mut tx, org, assignment_id)
        .await?
        .ok_or_else(assignment_not_found)?;
    let after = services::acls::update_assignment(&mut tx, org, assignment_id, &change).await?;
    audit::record(
        &mut tx,
        user.audit(
            "user_permissions.updated",
            "user_permissions",
            assignment_id,
            Some(before.snapshot()),
            Some(after.snapshot()),
        ),
    )
    .await?;
    tx.commit().await?;
    crate::http::guard::user_changed(&state, org.as_str(), after.user_id).await;
    Ok(Envelope(after.into()))
}

/// Deletes a direct assignment.
#[utoipa::path(delete, path = "/acls/assignments/{assignment_id}", tag = "acls",
    params(("assignment_id" = uuid::Uuid, Path, description = "Assignment id")), security(("bearer" = [])),
    responses((status = 200, description = "Deleted (data: null)"), (status = 404, description = "Assignment not found")))]
pub async fn delete_assignment(
    State(state): State<AppState>,
    user: Can<perm::AclManage>,
    _: StepUp<step::AclAssignment>,
    ApiPath(assignment_id): ApiPath<Uuid>,
) -> ApiResult<NoContent> {
    let org = &user.org_id;

    let mut tx = state.db.begin().await?;
    let before = services::acls::find_assignment(&mut tx, org, assignment_id)
        .await?
        .ok_or_else(assignment_not_found)?;
    services::acls::delete_assignment(&mut tx, org, assignment_id).await?;
    audit::record(
        &mut tx,
        user.audit(
            "user_permissions.deleted",
            "user_permissions",
            assignment_id,
            Some(before.snapshot()),
            None,
        ),
    )
    .await?;
    tx.commit().await?;
    crate::http::guard::user_changed(&state, org.as_str(), before.user_id).await;
    Ok(NoContent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effect_is_a_literal() {
        assert_eq!(effect(Some(&json!("deny"))).unwrap(), Some("deny"));
        assert_eq!(effect(None).unwrap(), None);
        assert_eq!(
            effect(Some(&json!("maybe"))).unwrap_err().message,
            "effect: Input should be 'allow' or 'deny'"
        );
    }

    #[test]
    fn expiry_accepts_iso_forms() {
        let iso = |v: Value| expires_at(Some(&v)).unwrap().map(timefmt::iso_z);
        assert_eq!(
            iso(json!("2027-01-01T00:00:00Z")).as_deref(),
            Some("2027-01-01T00:00:00Z")
        );
        assert_eq!(
            iso(json!("2027-01-01T02:00:00+02:00")).as_deref(),
            Some("2027-01-01T00:00:00Z")
        );
        assert_eq!(
            iso(json!("2027-01-01T00:00:00")).as_deref(),
            Some("2027-01-01T00:00:00Z")
        );
        assert_eq!(iso(json!(null)), None);
        assert!(expires_at(Some(&json!("soon"))).is_err());
    }
}
