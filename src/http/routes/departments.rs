//! `/departments/*`: department CRUD and membership (contract §3 "Departments").
//! `GET /departments/{department_id}/members` lives with the org-user listings.

use std::collections::HashSet;

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::domain::permissions::perm;
use crate::http::envelope::{Created, Envelope, NoContent};
use crate::http::error::{ApiError, ApiResult, FieldError};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::guard::Can;
use crate::http::state::AppState;
use crate::http::validate::{PageQuery, check_length};
use crate::services;
use crate::services::audit;
use crate::services::departments::{self as departments, Department};
use crate::timefmt;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_departments, create_department))
        .routes(routes!(update_department, delete_department))
        .routes(routes!(assign_members))
        .routes(routes!(unassign_members))
}

/// DepartmentOut (`member_count` is null except in the list).
#[derive(Serialize, utoipa::ToSchema)]
pub struct DepartmentOut {
    id: Uuid,
    org_id: String,
    name: String,
    code: String,
    is_archived: bool,
    member_count: Option<i64>,
    #[serde(with = "timefmt::z")]
    #[schema(value_type = String)]
    created_at: OffsetDateTime,
    #[serde(with = "timefmt::z")]
    #[schema(value_type = String)]
    updated_at: OffsetDateTime,
}

impl From<Department> for DepartmentOut {
    fn from(d: Department) -> Self {
        Self {
            id: d.id,
            org_id: d.org_id,
            name: d.name,
            code: d.code,
            is_archived: d.is_archived,
            member_count: d.member_count,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DepartmentList {
    items: Vec<DepartmentOut>,
    total: i64,
}

/// `page`, `page_size` and the frontend's `include_archived` switch.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(minimum = 1)]
    page: Option<i64>,
    #[param(minimum = 1, maximum = 100)]
    page_size: Option<i64>,
    /// Absent: every department (the legacy service ignored the switch); `false`: active only.
    #[param(value_type = Option<bool>)]
    include_archived: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct DepartmentCreate {
    #[schema(min_length = 1)]
    name: String,
    code: String,
    #[serde(default)]
    is_archived: Option<bool>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct DepartmentUpdate {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    is_archived: Option<bool>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct MembershipIds {
    membership_ids: Vec<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AssignResult {
    department: DepartmentOut,
    assigned: Vec<String>,
    skipped_inactive: Vec<String>,
    not_found: Vec<String>,
}

/// FastAPI's boolean query parsing.
fn parse_bool(field: &str, raw: &str) -> Result<bool, ApiError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "t" | "y" => Ok(true),
        "false" | "0" | "no" | "off" | "f" | "n" => Ok(false),
        _ => Err(ApiError::validation(vec![FieldError {
            kind: "bool_parsing",
            loc: vec![json!("query"), json!(field)],
            msg: "Input should be a valid boolean, unable to interpret input".into(),
            input: json!(raw),
            ctx: None,
        }])),
    }
}

fn normalized_name(raw: &str) -> Result<String, ApiError> {
    let name = services::roles::title_case(raw.trim());
    check_length("name", &name, 1, 255)?;
    Ok(name)
}

fn normalized_code(raw: &str) -> Result<String, ApiError> {
    let code = departments::normalize_code(raw);
    if !departments::code_is_valid(&code) {
        return Err(ApiError::validation(vec![FieldError::value_error(
            "body",
            "code",
            "Department code may only contain letters, numbers, '_' and '-'",
            json!(raw),
        )]));
    }
    check_length("code", &code, 1, 50)?;
    Ok(code)
}

fn not_found() -> ApiError {
    ApiError::not_found("Department not found")
}

fn exists() -> ApiError {
    ApiError::bad_request("Department name/code already exists")
}

/// Lists departments with their member counts.
#[utoipa::path(get, path = "/departments", tag = "departments", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = DepartmentList), (status = 403, description = "Missing permission: department.view"),
              (status = 422, description = "page/page_size out of range")))]
pub async fn list_departments(
    State(state): State<AppState>,
    user: Can<perm::DepartmentView>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Envelope<DepartmentList>> {
    let (offset, limit) = PageQuery {
        page: query.page,
        page_size: query.page_size,
    }
    .bounds()?;
    let include_archived = match query.include_archived.as_deref() {
        None => true,
        Some(raw) => parse_bool("include_archived", raw)?,
    };
    let ((rows, total), _conn) =
        crate::db::retry::read_retrying_once!(&state.db, |conn| departments::list(
            conn,
            &user.org_id,
            include_archived,
            offset,
            limit
        ))
        .await?;
    Ok(Envelope(DepartmentList {
        items: rows.into_iter().map(DepartmentOut::from).collect(),
        total,
    }))
}

/// Creates a department.
#[utoipa::path(post, path = "/departments", tag = "departments", request_body = DepartmentCreate, security(("bearer" = [])),
    responses((status = 201, body = DepartmentOut), (status = 400, description = "Department name/code already exists"),
              (status = 422, description = "Invalid code")))]
pub async fn create_department(
    State(state): State<AppState>,
    user: Can<perm::DepartmentManage>,
    ApiJson(req): ApiJson<DepartmentCreate>,
) -> ApiResult<Created<DepartmentOut>> {
    let name = normalized_name(&req.name)?;
    let code = normalized_code(&req.code)?;
    let org = &user.org_id;

    let mut tx = state.db.begin().await?;
    if departments::clash(&mut tx, org, &name, &code, None).await? {
        return Err(exists());
    }
    let dept = departments::create(&mut tx, org, &name, &code, req.is_archived.unwrap_or(false))
        .await
        .map_err(unique_to_exists)?;
    audit::record(
        &mut tx,
        user.audit(
            "department.created",
            "department",
            dept.id,
            None,
            Some(dept.snapshot()),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(Created(dept.into()))
}

/// Renames, re-codes, archives or restores a department.
#[utoipa::path(patch, path = "/departments/{department_id}", tag = "departments", request_body = DepartmentUpdate,
    params(("department_id" = uuid::Uuid, Path, description = "Department id")), security(("bearer" = [])),
    responses((status = 200, body = DepartmentOut), (status = 400, description = "Department name/code already exists"),
              (status = 404, description = "Department not found")))]
pub async fn update_department(
    State(state): State<AppState>,
    user: Can<perm::DepartmentManage>,
    ApiPath(department_id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<DepartmentUpdate>,
) -> ApiResult<Envelope<DepartmentOut>> {
    let name = req.name.as_deref().map(normalized_name).transpose()?;
    let code = req.code.as_deref().map(normalized_code).transpose()?;
    let org = &user.org_id;

    let mut tx = state.db.begin().await?;
    let before = departments::find(&mut tx, org, department_id)
        .await?
        .ok_or_else(not_found)?;
    let name = name.unwrap_or_else(|| before.name.clone());
    let code = code.unwrap_or_else(|| before.code.clone());
    if departments::clash(&mut tx, org, &name, &code, Some(department_id)).await? {
        return Err(exists());
    }
    let after = departments::update(
        &mut tx,
        department_id,
        &name,
        &code,
        req.is_archived.unwrap_or(before.is_archived),
    )
    .await
    .map_err(unique_to_exists)?;
    audit::record(
        &mut tx,
        user.audit(
            "department.updated",
            "department",
            department_id,
            Some(before.snapshot()),
            Some(after.snapshot()),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(Envelope(after.into()))
}

/// Either unique constraint (name or code) means "already exists".
fn unique_to_exists(err: sqlx::Error) -> ApiError {
    match &err {
        sqlx::Error::Database(db)
            if matches!(
                db.constraint(),
                Some("uq_departments_org_name" | "uq_departments_org_code")
            ) =>
        {
            exists()
        }
        _ => ApiError::from(err),
    }
}

/// Deletes a department; its members keep their membership without a department.
#[utoipa::path(delete, path = "/departments/{department_id}", tag = "departments",
    params(("department_id" = uuid::Uuid, Path, description = "Department id")), security(("bearer" = [])),
    responses((status = 200, description = "Deleted (data: null)"), (status = 404, description = "Department not found")))]
pub async fn delete_department(
    State(state): State<AppState>,
    user: Can<perm::DepartmentManage>,
    ApiPath(department_id): ApiPath<Uuid>,
) -> ApiResult<NoContent> {
    let org = &user.org_id;

    let mut tx = state.db.begin().await?;
    let before = departments::find(&mut tx, org, department_id)
        .await?
        .ok_or_else(not_found)?;
    departments::delete(&mut tx, org, department_id).await?;
    audit::record(
        &mut tx,
        user.audit(
            "department.deleted",
            "department",
            department_id,
            Some(before.snapshot()),
            None,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(NoContent)
}

/// Ids as sent, de-duplicated, in request order; `None` for the ones that are not UUIDs
/// (they can only be "not found").
fn parse_ids(raw: &[String]) -> Vec<(String, Option<Uuid>)> {
    let mut seen = HashSet::new();
    raw.iter()
        .filter(|s| seen.insert(s.as_str()))
        .map(|s| (s.clone(), Uuid::parse_str(s.trim()).ok()))
        .collect()
}

fn uuids(ids: &[(String, Option<Uuid>)]) -> Vec<Uuid> {
    ids.iter().filter_map(|(_, id)| *id).collect()
}

/// Puts members into a department; only ACTIVE (platform and employment) memberships move.
#[utoipa::path(post, path = "/departments/{department_id}/assign", tag = "departments", request_body = MembershipIds,
    params(("department_id" = uuid::Uuid, Path, description = "Department id")), security(("bearer" = [])),
    responses((status = 200, body = AssignResult), (status = 404, description = "Department not found")))]
pub async fn assign_members(
    State(state): State<AppState>,
    user: Can<(perm::DepartmentManage, perm::UserManage)>,
    ApiPath(department_id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<MembershipIds>,
) -> ApiResult<Envelope<AssignResult>> {
    let ids = parse_ids(&req.membership_ids);
    let org = &user.org_id;

    let mut tx = state.db.begin().await?;
    let dept = departments::find(&mut tx, org, department_id)
        .await?
        .ok_or_else(not_found)?;
    let members = departments::memberships(&mut tx, org, &uuids(&ids)).await?;
    let mut assigned = Vec::new();
    let mut skipped_inactive = Vec::new();
    let mut not_found_ids = Vec::new();
    for (sent, id) in &ids {
        let Some((id, member)) =
            id.and_then(|id| members.iter().find(|m| m.id == id).map(|m| (id, m)))
        else {
            not_found_ids.push(sent.clone());
            continue;
        };
        if !member.is_active() {
            skipped_inactive.push(id.to_string());
            continue;
        }
        if member.department_id != Some(department_id) {
            departments::set_department(&mut tx, org, id, Some(department_id)).await?;
            audit::record(
                &mut tx,
                user.audit(
                    "department.member_assigned",
                    "org_membership",
                    id,
                    Some(json!({"department_id": member.department_id.map(|d| d.to_string())})),
                    Some(json!({"department_id": department_id.to_string()})),
                ),
            )
            .await?;
        }
        assigned.push(id.to_string());
    }
    tx.commit().await?;
    Ok(Envelope(AssignResult {
        department: dept.into(),
        assigned,
        skipped_inactive,
        not_found: not_found_ids,
    }))
}

/// Takes members out of their department; unknown ids are ignored.
#[utoipa::path(post, path = "/departments/unassign", tag = "departments", request_body = MembershipIds, security(("bearer" = [])),
    responses((status = 200, description = "Done (data: null)")))]
pub async fn unassign_members(
    State(state): State<AppState>,
    user: Can<(perm::DepartmentManage, perm::UserManage)>,
    ApiJson(req): ApiJson<MembershipIds>,
) -> ApiResult<NoContent> {
    let ids = uuids(&parse_ids(&req.membership_ids));
    let org = &user.org_id;

    let mut tx = state.db.begin().await?;
    for member in departments::memberships(&mut tx, org, &ids).await? {
        let Some(old) = member.department_id else {
            continue;
        };
        departments::set_department(&mut tx, org, member.id, None).await?;
        audit::record(
            &mut tx,
            user.audit(
                "department.member_unassigned",
                "org_membership",
                member.id,
                Some(json!({"department_id": old.to_string()})),
                Some(json!({"department_id": null})),
            ),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(NoContent)
}
