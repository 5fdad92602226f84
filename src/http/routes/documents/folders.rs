//! `/org/documents/folders*` (contract §5.1–§5.4): the four system folders, custom folders.
//!
//! Changes from the legacy (§12 quirks 4, 5, 7): a duplicate name is a 400, not a 500; the
//! system folders are created idempotently (a custom folder that already carries a system name
//! no longer breaks every listing) and also before a create or rename, so a custom folder can
//! never take a system folder's name; a rename answers the folder's real template count; every
//! change writes an audit row.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use time::OffsetDateTime;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::domain::permissions::perm;
use crate::http::envelope::{Created, Envelope, NoContent};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{ApiJson, ApiPath};
use crate::http::guard::{Can, CurrentUser, OrgMember};
use crate::http::state::AppState;
use crate::http::validate::check_length;
use crate::services::audit;
use crate::services::documents::folders::{self, Folder};
use crate::timefmt;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_folders, create_folder))
        .routes(routes!(rename_folder, delete_folder))
}

/// OrgDocumentFolderDTO, keys in the legacy order.
#[derive(Serialize, utoipa::ToSchema)]
pub struct FolderOut {
    id: Uuid,
    org_id: String,
    name: String,
    system_key: Option<String>,
    is_system: bool,
    template_count: i64,
    #[serde(with = "timefmt::z")]
    #[schema(value_type = String)]
    created_at: OffsetDateTime,
}

impl From<Folder> for FolderOut {
    fn from(f: Folder) -> Self {
        Self {
            id: f.id,
            org_id: f.org_id,
            name: f.name,
            system_key: f.system_key,
            is_system: f.is_system,
            template_count: f.template_count,
            created_at: f.created_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct FolderList {
    items: Vec<FolderOut>,
    total: usize,
}

/// `{name}`: 1–255 characters, stored as sent (not trimmed).
#[derive(Deserialize, utoipa::ToSchema)]
pub struct FolderName {
    #[schema(min_length = 1)]
    name: String,
}

fn not_found() -> ApiError {
    ApiError::not_found("Folder not found")
}

fn name_taken() -> ApiError {
    ApiError::bad_request("A folder with this name already exists")
}

fn checked_name(req: FolderName) -> ApiResult<String> {
    check_length("name", &req.name, 1, 255)?;
    Ok(req.name)
}

/// The unique key on `(org_id, name)` (a concurrent create that passed the check).
fn unique_to_taken(err: sqlx::Error) -> ApiError {
    match &err {
        sqlx::Error::Database(db)
            if db.constraint() == Some("uq_org_document_folders_org_name") =>
        {
            name_taken()
        }
        _ => ApiError::from(err),
    }
}

/// Creates the org's missing system folders, with an audit row for each.
async fn ensure_system_folders(
    conn: &mut PgConnection,
    user: &CurrentUser<OrgMember>,
) -> ApiResult<()> {
    for folder in folders::ensure_system_folders(conn, user.org_id.as_str()).await? {
        audit::record(
            conn,
            user.audit(
                "org_document_folder.created",
                "org_document_folder",
                folder.id,
                None,
                Some(folder.snapshot()),
            ),
        )
        .await?;
    }
    Ok(())
}

/// Lists the org's folders (creating the system folders it lacks) with template counts.
#[utoipa::path(get, path = "/org/documents/folders", tag = "documents", security(("bearer" = [])),
    responses((status = 200, body = FolderList), (status = 403, description = "Missing permission: org.document.view")))]
pub async fn list_folders(
    State(state): State<AppState>,
    user: Can<perm::OrgDocumentView>,
) -> ApiResult<Envelope<FolderList>> {
    let mut tx = state.db.begin().await?;
    ensure_system_folders(&mut tx, &user).await?;
    let items: Vec<FolderOut> = folders::list(&mut tx, user.org_id.as_str())
        .await?
        .into_iter()
        .map(FolderOut::from)
        .collect();
    tx.commit().await?;
    Ok(Envelope(FolderList {
        total: items.len(),
        items,
    }))
}

/// Creates a custom folder.
#[utoipa::path(post, path = "/org/documents/folders", tag = "documents", request_body = FolderName, security(("bearer" = [])),
    responses((status = 201, body = FolderOut), (status = 400, description = "A folder with this name already exists"),
              (status = 422, description = "name: 1–255 characters")))]
pub async fn create_folder(
    State(state): State<AppState>,
    user: Can<perm::OrgDocumentManage>,
    ApiJson(req): ApiJson<FolderName>,
) -> ApiResult<Created<FolderOut>> {
    let name = checked_name(req)?;
    let org = user.org_id.as_str();

    let mut tx = state.db.begin().await?;
    ensure_system_folders(&mut tx, &user).await?;
    if folders::name_taken(&mut tx, org, &name, None).await? {
        return Err(name_taken());
    }
    let folder = folders::create(&mut tx, org, &name)
        .await
        .map_err(unique_to_taken)?;
    audit::record(
        &mut tx,
        user.audit(
            "org_document_folder.created",
            "org_document_folder",
            folder.id,
            None,
            Some(folder.snapshot()),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(Created(folder.into()))
}

/// Renames a custom folder.
#[utoipa::path(patch, path = "/org/documents/folders/{folder_id}", tag = "documents", request_body = FolderName,
    params(("folder_id" = uuid::Uuid, Path, description = "Folder id")), security(("bearer" = [])),
    responses((status = 200, body = FolderOut), (status = 400, description = "System folders cannot be renamed"),
              (status = 404, description = "Folder not found")))]
pub async fn rename_folder(
    State(state): State<AppState>,
    user: Can<perm::OrgDocumentManage>,
    ApiPath(folder_id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<FolderName>,
) -> ApiResult<Envelope<FolderOut>> {
    let name = checked_name(req)?;
    let org = user.org_id.as_str();

    let mut tx = state.db.begin().await?;
    let before = folders::find(&mut tx, org, folder_id)
        .await?
        .ok_or_else(not_found)?;
    if before.is_system {
        return Err(ApiError::bad_request("System folders cannot be renamed"));
    }
    ensure_system_folders(&mut tx, &user).await?;
    if folders::name_taken(&mut tx, org, &name, Some(folder_id)).await? {
        return Err(name_taken());
    }
    let mut after = folders::rename(&mut tx, org, folder_id, &name)
        .await
        .map_err(unique_to_taken)?;
    after.template_count = folders::template_count(&mut tx, org, folder_id).await?;
    audit::record(
        &mut tx,
        user.audit(
            "org_document_folder.updated",
            "org_document_folder",
            folder_id,
            Some(before.snapshot()),
            Some(after.snapshot()),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(Envelope(after.into()))
}

/// Deletes an empty custom folder.
#[utoipa::path(delete, path = "/org/documents/folders/{folder_id}", tag = "documents",
    params(("folder_id" = uuid::Uuid, Path, description = "Folder id")), security(("bearer" = [])),
    responses((status = 200, description = "Deleted (data: null)"),
              (status = 400, description = "System folders cannot be deleted / Folder contains templates"),
              (status = 404, description = "Folder not found")))]
pub async fn delete_folder(
    State(state): State<AppState>,
    user: Can<perm::OrgDocumentManage>,
    ApiPath(folder_id): ApiPath<Uuid>,
) -> ApiResult<NoContent> {
    let org = user.org_id.as_str();

    let mut tx = state.db.begin().await?;
    let before = folders::find(&mut tx, org, folder_id)
        .await?
        .ok_or_else(not_found)?;
    if before.is_system {
        return Err(ApiError::bad_request("System folders cannot be deleted"));
    }
    if folders::has_templates(&mut tx, org, folder_id).await? {
        return Err(ApiError::bad_request("Folder contains templates"));
    }
    folders::delete(&mut tx, org, folder_id).await?;
    audit::record(
        &mut tx,
        user.audit(
            "org_document_folder.deleted",
            "org_document_folder",
            folder_id,
            Some(before.snapshot()),
            None,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(NoContent)
}
