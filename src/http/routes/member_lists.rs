//! Member lists of one role and one department (contract §3 "Roles" / "Departments"):
//! `GET /roles/{role_id}/members` and `GET /departments/{department_id}/members`. Both return
//! the users-list shape `{items:[{user, membership, roles}], total}` with the legacy quirk of
//! these two lists: the org name and the profile fields of `user` are null.

use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::domain::permissions::perm;
use crate::http::envelope::Envelope;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{ApiPath, ApiQuery};
use crate::http::guard::Can;
use crate::http::state::AppState;
use crate::services;
use crate::services::members::{self, Filter, ListItem, Page, Shape};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(role_members))
        .routes(routes!(department_members))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page number (values below 1 become 1).
    page: Option<i64>,
    /// Page size (values below 1 become 20; capped at 200).
    page_size: Option<i64>,
}

/// Members holding a role.
#[utoipa::path(get, path = "/roles/{role_id}/members", tag = "roles", params(("role_id" = uuid::Uuid, Path, description = "Role id"), PageQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "`{items, total}`"), (status = 404, description = "Role not found")))]
pub async fn role_members(
    State(state): State<AppState>,
    user: Can<(perm::RoleView, perm::UserView)>,
    ApiPath(role_id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Envelope<Page<ListItem>>> {
    let org = user.org_id.as_str();
    let mut conn = state.db.acquire().await?;
    if !services::roles::exists(&mut conn, org, role_id).await? {
        return Err(ApiError::not_found("Role not found"));
    }
    let (page, page_size) = members::paging(query.page, query.page_size);
    let filter = Filter {
        role_id: Some(role_id),
        ..Filter::default()
    };
    let result = members::list(&mut conn, org, &filter, page, page_size, Shape::Bare).await?;
    Ok(Envelope(result))
}

/// Members of a department.
#[utoipa::path(get, path = "/departments/{department_id}/members", tag = "departments",
    params(("department_id" = uuid::Uuid, Path, description = "Department id"), PageQuery), security(("bearer" = [])),
    responses((status = 200, description = "`{items, total}`"), (status = 400, description = "Archived department"), (status = 404, description = "Department not found")))]
pub async fn department_members(
    State(state): State<AppState>,
    user: Can<perm::DepartmentView>,
    ApiPath(department_id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Envelope<Page<ListItem>>> {
    let org = user.org_id.as_str();
    let mut conn = state.db.acquire().await?;
    let archived =
        services::departments::is_archived(&mut conn, &user.org_id, department_id).await?;
    match archived {
        None => return Err(ApiError::not_found("Department not found")),
        // The legacy message, although this is a listing.
        Some(true) => {
            return Err(ApiError::bad_request(
                "Cannot assign members to an archived department",
            ));
        }
        Some(false) => {}
    }
    let (page, page_size) = members::paging(query.page, query.page_size);
    let filter = Filter {
        department_id: Some(department_id),
        ..Filter::default()
    };
    let result = members::list(&mut conn, org, &filter, page, page_size, Shape::Bare).await?;
    Ok(Envelope(result))
}
