//! `/roles/*`: role CRUD, role assignment and permission-cache invalidation (contract §3
//! "Roles", §6). `GET /roles/{role_id}/members` lives with the org-user listings.
//!
//! Checks run in the legacy dependency order: tenant, token, permissions, step-up, then the
//! request's own path/query/body validation (so a member without the permission gets 403, not
//! 422, for a malformed request).

use std::collections::HashSet;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::domain::permissions::{perm, step};
use crate::http::envelope::{Created, Envelope, NoContent};
use crate::http::error::{ApiError, ApiResult, ConstraintExt};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::guard::Can;
use crate::http::state::AppState;
use crate::http::step_up::StepUp;
use crate::http::validate::{PageQuery, body_uuid, check_length, known_permissions, tri_state};
use crate::services;
use crate::services::audit;
use crate::services::roles::Role;
use crate::timefmt;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_roles, create_role))
        .routes(routes!(update_role, delete_role))
        .routes(routes!(assign_roles, remove_roles))
        .routes(routes!(invalidate_user_permissions))
        .routes(routes!(invalidate_org_permissions))
}

/// RoleOut: the stored name title-cased ("ORG ADMIN" → "Org Admin").
#[derive(Serialize, utoipa::ToSchema)]
pub struct RoleOut {
    id: Uuid,
    org_id: String,
    name: String,
    description: Option<String>,
    is_system_role: bool,
    #[schema(value_type = Vec<String>)]
    permissions: Value,
    #[serde(with = "timefmt::z")]
    #[schema(value_type = String)]
    created_at: OffsetDateTime,
    #[serde(with = "timefmt::z")]
    #[schema(value_type = String)]
    updated_at: OffsetDateTime,
}

impl From<Role> for RoleOut {
    fn from(r: Role) -> Self {
        Self {
            id: r.id,
            org_id: r.org_id,
            name: services::roles::title_case(&r.name),
            description: r.description,
            is_system_role: r.is_system_role,
            permissions: r.permissions.0,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RoleList {
    items: Vec<RoleOut>,
    total: i64,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RoleCreate {
    #[schema(min_length = 1)]
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    permissions: Vec<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RoleUpdate {
    #[serde(default)]
    #[schema(min_length = 1)]
    name: Option<String>,
    #[serde(default, deserialize_with = "tri_state")]
    #[schema(value_type = Option<String>)]
    description: Option<Option<String>>,
    #[serde(default)]
    permissions: Option<Vec<String>>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RoleIds {
    #[schema(value_type = Vec<Uuid>)]
    role_ids: Vec<String>,
}

impl RoleIds {
    fn parse(&self) -> Result<Vec<Uuid>, ApiError> {
        let mut out = Vec::with_capacity(self.role_ids.len());
        for (i, raw) in self.role_ids.iter().enumerate() {
            out.push(body_uuid(&[json!("role_ids"), json!(i)], raw)?);
        }
        Ok(dedup(&out))
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Cleared {
    cleared: u64,
}

fn role_not_found() -> ApiError {
    ApiError::not_found("Role not found")
}

fn name_exists() -> ApiError {
    ApiError::bad_request("Role name already exists")
}

fn normalized_name(raw: &str) -> Result<String, ApiError> {
    let name = services::roles::normalize_name(raw);
    check_length("name", &name, 1, 100)?;
    Ok(name)
}

fn normalized_description(raw: Option<&str>) -> Result<Option<String>, ApiError> {
    let description = raw.and_then(services::roles::normalize_description);
    if let Some(d) = &description {
        check_length("description", d, 0, 255)?;
    }
    Ok(description)
}

/// Lists the org's roles.
#[utoipa::path(get, path = "/roles", tag = "roles", params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = RoleList), (status = 403, description = "Missing permission: role.view"),
              (status = 422, description = "page/page_size out of range")))]
pub async fn list_roles(
    State(state): State<AppState>,
    user: Can<perm::RoleView>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Envelope<RoleList>> {
    let (offset, limit) = query.bounds()?;
    let mut conn = state.db.acquire().await?;
    let (rows, total) =
        services::roles::list(&mut conn, user.org_id.as_str(), offset, limit).await?;
    Ok(Envelope(RoleList {
        items: rows.into_iter().map(RoleOut::from).collect(),
        total,
    }))
}

/// Creates a custom role.
#[utoipa::path(post, path = "/roles", tag = "roles", request_body = RoleCreate, security(("bearer" = [])),
    responses((status = 201, body = RoleOut), (status = 400, description = "Role name already exists"),
              (status = 403, description = "Missing permission: role.manage"), (status = 422, description = "Unknown permission codes")))]
pub async fn create_role(
    State(state): State<AppState>,
    user: Can<perm::RoleManage>,
    ApiJson(req): ApiJson<RoleCreate>,
) -> ApiResult<Created<RoleOut>> {
    let name = normalized_name(&req.name)?;
    let description = normalized_description(req.description.as_deref())?;
    let codes = known_permissions(&req.permissions)?;
    let org = user.org_id.as_str();

    let mut tx = state.db.begin().await?;
    if services::roles::name_taken(&mut tx, org, &name, None).await? {
        return Err(name_exists());
    }
    let role = services::roles::create(&mut tx, org, &name, description.as_deref(), &codes)
        .await
        .on_constraint("uq_roles_org_name", name_exists)?;
    audit::record(
        &mut tx,
        user.audit(
            "role.created",
            "role",
            role.id.to_string(),
            None,
            Some(role.snapshot()),
        ),
    )
    .await?;
    tx.commit().await?;
    crate::http::guard::org_changed(&state, org).await;
    Ok(Created(role.into()))
}

/// Edits a custom role (system roles are immutable).
#[utoipa::path(patch, path = "/roles/{role_id}", tag = "roles", request_body = RoleUpdate,
    params(("role_id" = uuid::Uuid, Path, description = "Role id")), security(("bearer" = [])),
    responses((status = 200, body = RoleOut), (status = 400, description = "System roles cannot be edited / Role name already exists"),
              (status = 404, description = "Role not found")))]
pub async fn update_role(
    State(state): State<AppState>,
    user: Can<perm::RoleManage>,
    ApiPath(role_id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<RoleUpdate>,
) -> ApiResult<Envelope<RoleOut>> {
    let name = req.name.as_deref().map(normalized_name).transpose()?;
    let description = match &req.description {
        None => None,
        Some(d) => Some(normalized_description(d.as_deref())?),
    };
    let codes = req
        .permissions
        .as_deref()
        .map(known_permissions)
        .transpose()?;
    let org = user.org_id.as_str();

    let mut tx = state.db.begin().await?;
    let before = services::roles::find(&mut tx, org, role_id)
        .await?
        .ok_or_else(role_not_found)?;
    if before.is_system_role {
        return Err(ApiError::bad_request("System roles cannot be edited"));
    }
    if let Some(name) = &name
        && services::roles::name_taken(&mut tx, org, name, Some(role_id)).await?
    {
        return Err(name_exists());
    }
    let after = services::roles::update(
        &mut tx,
        role_id,
        name.as_deref(),
        description.as_ref().map(Option::as_deref),
        codes.as_deref(),
    )
    .await
    .on_constraint("uq_roles_org_name", name_exists)?;
    audit::record(
        &mut tx,
        user.audit(
            "role.updated",
            "role",
            role_id.to_string(),
            Some(before.snapshot()),
            Some(after.snapshot()),
        ),
    )
    .await?;
    tx.commit().await?;
    crate::http::guard::org_changed(&state, org).await;
    Ok(Envelope(after.into()))
}

/// Deletes a custom role and its assignments.
#[utoipa::path(delete, path = "/roles/{role_id}", tag = "roles",
    params(("role_id" = uuid::Uuid, Path, description = "Role id")), security(("bearer" = [])),
    responses((status = 200, description = "Deleted (data: null)"), (status = 400, description = "System roles cannot be deleted"),
              (status = 404, description = "Role not found")))]
pub async fn delete_role(
    State(state): State<AppState>,
    user: Can<perm::RoleManage>,
    ApiPath(role_id): ApiPath<Uuid>,
) -> ApiResult<NoContent> {
    let org = user.org_id.as_str();

    let mut tx = state.db.begin().await?;
    let role = services::roles::find(&mut tx, org, role_id)
        .await?
        .ok_or_else(role_not_found)?;
    if role.is_system_role {
        return Err(ApiError::bad_request("System roles cannot be deleted"));
    }
    services::roles::delete(&mut tx, org, role_id).await?;
    audit::record(
        &mut tx,
        user.audit(
            "role.deleted",
            "role",
            role_id.to_string(),
            Some(role.snapshot()),
            None,
        ),
    )
    .await?;
    tx.commit().await?;
    crate::http::guard::org_changed(&state, org).await;
    Ok(NoContent)
}

fn membership_not_found() -> ApiError {
    ApiError::coded(
        StatusCode::NOT_FOUND,
        "membership_not_found",
        "Membership not found",
        json!({"detail": "Membership not found"}),
    )
}

fn coded(status: StatusCode, code: &str, message: String) -> ApiError {
    ApiError::coded(status, code, message.clone(), json!({ "detail": message }))
}

fn dedup(ids: &[Uuid]) -> Vec<Uuid> {
    let mut seen = HashSet::new();
    ids.iter().copied().filter(|id| seen.insert(*id)).collect()
}

/// Assigns roles to a member; answers every requested role.
#[utoipa::path(post, path = "/roles/org/users/{membership_id}/roles", tag = "roles", request_body = RoleIds,
    params(("membership_id" = uuid::Uuid, Path, description = "Membership id")), security(("bearer" = [])),
    responses((status = 200, body = Vec<RoleOut>), (status = 400, description = "user_inactive / membership_inactive"),
              (status = 403, description = "Missing permission or step-up required"),
              (status = 404, description = "membership_not_found / role_not_found")))]
pub async fn assign_roles(
    State(state): State<AppState>,
    user: Can<(perm::RoleManage, perm::UserManage)>,
    _: StepUp<step::RoleAssignment>,
    ApiPath(membership_id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<RoleIds>,
) -> ApiResult<Envelope<Vec<RoleOut>>> {
    let role_ids = req.parse()?;
    if role_ids.is_empty() {
        return Ok(Envelope(Vec::new()));
    }
    let org = user.org_id.as_str();

    let mut tx = state.db.begin().await?;
    let member = services::roles::membership(&mut tx, org, membership_id)
        .await?
        .ok_or_else(membership_not_found)?;
    if !member.user_is_active {
        return Err(coded(
            StatusCode::BAD_REQUEST,
            "user_inactive",
            "User is inactive".into(),
        ));
    }
    let found = services::roles::find_many(&mut tx, org, &role_ids).await?;
    let missing: Vec<String> = role_ids
        .iter()
        .filter(|id| !found.iter().any(|r| r.id == **id))
        .map(|id| format!("UUID('{id}')"))
        .collect();
    if !missing.is_empty() {
        // The legacy message printed a Python set of UUIDs; keep that shape.
        return Err(coded(
            StatusCode::NOT_FOUND,
            "role_not_found",
            format!("Roles not found: {{{}}}", missing.join(", ")),
        ));
    }
    if !member.employment_status.eq_ignore_ascii_case("ACTIVE") {
        return Err(coded(
            StatusCode::BAD_REQUEST,
            "membership_inactive",
            "Cannot assign role when employment status is not ACTIVE".into(),
        ));
    }
    if !member.platform_status.eq_ignore_ascii_case("ACTIVE")
        && found.iter().any(|r| r.name != "EMPLOYEE")
    {
        return Err(coded(
            StatusCode::BAD_REQUEST,
            "membership_inactive",
            "Cannot assign role when platform status is not ACTIVE".into(),
        ));
    }
    let mut ordered = Vec::with_capacity(role_ids.len());
    for id in &role_ids {
        let Some(role) = found.iter().find(|r| r.id == *id) else {
            continue;
        };
        if services::roles::assign(&mut tx, org, member.user_id, role.id).await? {
            audit::record(
                &mut tx,
                user.audit("role.assigned",
                    "user_role",
                    format!("{}:{}", member.user_id, role.id),
                    None,
                    Some(json!({"user_id": member.user_id.to_string(), "role_id": role.id.to_string()})),
                ),
            )
            .await?;
        }
        ordered.push(RoleOut::from(role.clone()));
    }
    tx.commit().await?;
    crate::http::guard::user_changed(&state, org, member.user_id).await;
    Ok(Envelope(ordered))
}

/// Removes roles from a member (the frontend sends the ids in the DELETE body).
#[utoipa::path(delete, path = "/roles/org/users/{membership_id}/roles", tag = "roles", request_body = RoleIds,
    params(("membership_id" = uuid::Uuid, Path, description = "Membership id")), security(("bearer" = [])),
    responses((status = 200, description = "Removed (data: null)"), (status = 404, description = "Membership not found")))]
pub async fn remove_roles(
    State(state): State<AppState>,
    user: Can<(perm::RoleManage, perm::UserManage)>,
    ApiPath(membership_id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<RoleIds>,
) -> ApiResult<NoContent> {
    let org = user.org_id.as_str();

    let mut tx = state.db.begin().await?;
    let member = services::roles::membership(&mut tx, org, membership_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Membership not found"))?;
    let role_ids = req.parse()?;
    for role_id in role_ids {
        if services::roles::unassign(&mut tx, org, member.user_id, role_id).await? {
            audit::record(
                &mut tx,
                user.audit("role.removed",
                    "user_role",
                    format!("{}:{}", member.user_id, role_id),
                    Some(json!({"user_id": member.user_id.to_string(), "role_id": role_id.to_string()})),
                    None,
                ),
            )
            .await?;
        }
    }
    tx.commit().await?;
    crate::http::guard::user_changed(&state, org, member.user_id).await;
    Ok(NoContent)
}

/// Drops one member's cached permissions.
#[utoipa::path(post, path = "/roles/org/users/{membership_id}/permissions/invalidate", tag = "roles",
    params(("membership_id" = uuid::Uuid, Path, description = "Membership id")), security(("bearer" = [])),
    responses((status = 200, description = "Invalidated (data: null)"), (status = 404, description = "Membership not found")))]
pub async fn invalidate_user_permissions(
    State(state): State<AppState>,
    user: Can<(perm::RoleManage, perm::UserManage)>,
    ApiPath(membership_id): ApiPath<Uuid>,
) -> ApiResult<NoContent> {
    let org = user.org_id.as_str();
    let member = {
        let mut conn = state.db.acquire().await?;
        services::roles::membership(&mut conn, org, membership_id)
            .await?
            .ok_or_else(|| ApiError::not_found("Membership not found"))?
    };
    crate::http::guard::user_changed(&state, org, member.user_id).await;
    Ok(NoContent)
}

/// Drops every cached permission list of the org.
#[utoipa::path(post, path = "/roles/org/permissions/invalidate", tag = "roles", security(("bearer" = [])),
    responses((status = 200, body = Cleared)))]
pub async fn invalidate_org_permissions(
    State(state): State<AppState>,
    user: Can<(perm::RoleManage, perm::UserManage)>,
) -> ApiResult<Envelope<Cleared>> {
    let cleared = crate::http::guard::org_changed(&state, user.org_id.as_str()).await;
    Ok(Envelope(Cleared { cleared }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_collapsed_and_title_cased() {
        assert_eq!(
            services::roles::normalize_name("  golden   AUDITOR "),
            "Golden Auditor"
        );
        assert_eq!(services::roles::title_case("ORG ADMIN"), "Org Admin");
        assert_eq!(services::roles::title_case("o'neil hr2go"), "O'Neil Hr2Go");
        assert_eq!(
            services::roles::normalize_description("reads audit logs").as_deref(),
            Some("Reads audit logs")
        );
    }
}
