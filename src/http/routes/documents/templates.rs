//! `/org/documents/templates*` (contract §5.5–§5.11): list, detail, download, delete, and the
//! two ways in: the signed-URL flow (upload-url, PUT, register) the SPA uses, and the multipart
//! upload.
//!
//! Changes from the legacy (§12): registration parses the key (no `..`, no other org, only
//! template keys the server mints), checks the object exists on the backend the row will name
//! and stores its real size; the multipart upload writes through the active backend, not
//! always to local disk; downloads and deletes both follow the row's own provider, and GCS rows
//! are streamed through the API instead of redirected; a failing object delete is logged, never
//! a 500; every change writes an audit row.

use axum::extract::State;
use axum::extract::multipart::{Field, Multipart, MultipartRejection};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::domain::permissions::perm;
use crate::http::envelope::{Created, Envelope, NoContent};
use crate::http::error::{ApiError, ApiResult, FieldError};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::files::{self, TEMPLATE_TEXTS, UploadUrlOut};
use crate::http::guard::{Can, CurrentUser, OrgMember};
use crate::http::multipart::{self, StoredFile};
use crate::http::state::AppState;
use crate::http::validate::{body_uuid, check_length, query_uuid, with_required};
use crate::services::audit;
use crate::services::documents::folders;
use crate::services::documents::templates::{self, NewTemplate, Template};
use crate::services::uploads::{self, RegisterError};
use crate::storage::content::{self, TEMPLATE_EXTENSIONS};
use crate::storage::key::{self, KeyKind};
use crate::timefmt;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_templates, register_template))
        .routes(routes!(upload_url))
        .routes(routes!(get_template, delete_template))
        .routes(routes!(download_template))
}

/// The multipart route, mounted without the JSON body limit (see `super::router`).
pub fn upload_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(upload_template))
}

/// OrgDocumentTemplateDTO, keys in the legacy order.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TemplateOut {
    id: Uuid,
    org_id: String,
    folder_id: Option<Uuid>,
    name: String,
    description: Option<String>,
    file_name: String,
    storage_path_or_url: String,
    storage_provider: Option<String>,
    storage_bucket: Option<String>,
    storage_object_key: Option<String>,
    content_type: Option<String>,
    size_bytes: Option<i64>,
    checksum: Option<String>,
    uploaded_by_name: Option<String>,
    #[serde(with = "timefmt::z")]
    #[schema(value_type = String)]
    created_at: OffsetDateTime,
}

impl From<Template> for TemplateOut {
    fn from(t: Template) -> Self {
        Self {
            id: t.id,
            org_id: t.org_id,
            folder_id: t.folder_id,
            name: t.name,
            description: t.description,
            file_name: t.file_name,
            storage_path_or_url: t.storage_path_or_url,
            storage_provider: t.storage_provider,
            storage_bucket: t.storage_bucket,
            storage_object_key: t.storage_object_key,
            content_type: t.content_type,
            size_bytes: t.size_bytes,
            checksum: t.checksum,
            uploaded_by_name: t.uploaded_by_name,
            created_at: t.created_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TemplateList {
    items: Vec<TemplateOut>,
    total: usize,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only the templates of this folder.
    #[param(value_type = Option<Uuid>)]
    folder_id: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct UploadUrlRequest {
    #[serde(default)]
    folder_id: Option<Uuid>,
    #[schema(min_length = 1)]
    file_name: String,
    content_type: String,
    size_bytes: i64,
    #[serde(default)]
    #[allow(dead_code)]
    checksum: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RegisterRequest {
    #[serde(default)]
    folder_id: Option<Uuid>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[schema(min_length = 1)]
    file_name: String,
    storage_key: String,
    #[serde(default)]
    storage_provider: Option<String>,
    #[serde(default)]
    storage_bucket: Option<String>,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    size_bytes: Option<i64>,
    #[serde(default)]
    checksum: Option<String>,
}

fn not_found() -> ApiError {
    ApiError::not_found("Template not found")
}

fn folder_not_found() -> ApiError {
    ApiError::not_found("Folder not found")
}

/// `<field>: String should have at most N characters` for the optional column-bound fields
/// (the legacy let the database fail with a 500).
fn check_max(field: &str, value: Option<&str>, max: usize) -> ApiResult<()> {
    match value {
        Some(v) => check_length(field, v, 0, max),
        None => Ok(()),
    }
}

/// Lists the org's templates, newest first, optionally of one folder.
#[utoipa::path(get, path = "/org/documents/templates", tag = "documents", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = TemplateList), (status = 422, description = "folder_id is not a UUID")))]
pub async fn list_templates(
    State(state): State<AppState>,
    user: Can<perm::OrgDocumentView>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Envelope<TemplateList>> {
    let folder_id = query
        .folder_id
        .as_deref()
        .map(|raw| query_uuid("folder_id", raw))
        .transpose()?;
    let mut conn = state.db.acquire().await?;
    let items: Vec<TemplateOut> = templates::list(&mut conn, user.org_id.as_str(), folder_id)
        .await?
        .into_iter()
        .map(TemplateOut::from)
        .collect();
    Ok(Envelope(TemplateList {
        total: items.len(),
        items,
    }))
}

/// One template.
#[utoipa::path(get, path = "/org/documents/templates/{template_id}", tag = "documents",
    params(("template_id" = uuid::Uuid, Path, description = "Template id")), security(("bearer" = [])),
    responses((status = 200, body = TemplateOut), (status = 404, description = "Template not found")))]
pub async fn get_template(
    State(state): State<AppState>,
    user: Can<perm::OrgDocumentView>,
    ApiPath(template_id): ApiPath<Uuid>,
) -> ApiResult<Envelope<TemplateOut>> {
    let mut conn = state.db.acquire().await?;
    let template = templates::find(&mut conn, user.org_id.as_str(), template_id)
        .await?
        .ok_or_else(not_found)?;
    Ok(Envelope(template.into()))
}

/// Streams the template's file as an attachment, from the backend its row names.
#[utoipa::path(get, path = "/org/documents/templates/{template_id}/download", tag = "documents",
    params(("template_id" = uuid::Uuid, Path, description = "Template id")), security(("bearer" = [])),
    responses((status = 200, description = "The file (application/octet-stream)"),
              (status = 404, description = "Template not found / document_missing")))]
pub async fn download_template(
    State(state): State<AppState>,
    user: Can<perm::OrgDocumentView>,
    ApiPath(template_id): ApiPath<Uuid>,
) -> ApiResult<Response> {
    let template = {
        let mut conn = state.db.acquire().await?;
        templates::find(&mut conn, user.org_id.as_str(), template_id)
            .await?
            .ok_or_else(not_found)?
    };
    files::attachment(
        &state.storage,
        template.storage_provider.as_deref(),
        template.storage_bucket.as_deref(),
        template.object_key(),
        &template.file_name,
        &TEMPLATE_TEXTS,
    )
    .await
}

/// Deletes the template and then its stored object.
///
/// Order: the row and its audit row are deleted and committed first, then the object is
/// deleted best-effort. A failed commit leaves row and object as they were; a failed object
/// delete leaves an orphan no user can reach (logged), never a row without its file.
#[utoipa::path(delete, path = "/org/documents/templates/{template_id}", tag = "documents",
    params(("template_id" = uuid::Uuid, Path, description = "Template id")), security(("bearer" = [])),
    responses((status = 200, description = "Deleted (data: null)"), (status = 404, description = "Template not found")))]
pub async fn delete_template(
    State(state): State<AppState>,
    user: Can<perm::OrgDocumentManage>,
    ApiPath(template_id): ApiPath<Uuid>,
) -> ApiResult<NoContent> {
    let org = user.org_id.as_str();

    let mut tx = state.db.begin().await?;
    let before = templates::find(&mut tx, org, template_id)
        .await?
        .ok_or_else(not_found)?;
    if !templates::delete(&mut tx, org, template_id).await? {
        return Err(not_found());
    }
    audit::record(
        &mut tx,
        user.audit(
            "org_document_template.deleted",
            "org_document_template",
            template_id,
            Some(before.snapshot()),
            None,
        ),
    )
    .await?;
    tx.commit().await?;
    uploads::delete_best_effort(
        &state.storage,
        before.storage_provider.as_deref(),
        before.storage_bucket.as_deref(),
        before.object_key(),
    )
    .await;
    Ok(NoContent)
}

/// Mints a key and an upload URL for a new template. Writes nothing.
#[utoipa::path(post, path = "/org/documents/templates/upload-url", tag = "documents", request_body = UploadUrlRequest,
    security(("bearer" = [])),
    responses((status = 200, body = UploadUrlOut), (status = 400, description = "File type not allowed / storage_not_configured"),
              (status = 404, description = "Folder not found")))]
pub async fn upload_url(
    State(state): State<AppState>,
    user: Can<perm::OrgDocumentManage>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Envelope<UploadUrlOut>> {
    let req: UploadUrlRequest = with_required(body, &["file_name", "content_type", "size_bytes"])?;
    check_length("file_name", &req.file_name, 1, 255)?;
    if let Some(folder_id) = req.folder_id {
        let mut conn = state.db.acquire().await?;
        if !folders::exists(&mut conn, user.org_id.as_str(), folder_id).await? {
            return Err(folder_not_found());
        }
    }
    let ext = content::extension(&req.file_name);
    content::check_extension(&ext, TEMPLATE_EXTENSIONS).map_err(files::content_error)?;
    uploads::check_declared_size(&state.storage, Some(req.size_bytes))
        .map_err(files::content_error)?;
    let key = key::template(&user.org_id, req.folder_id, &ext)
        .map_err(|e| ApiError::from_unexpected("minting a template key", &e))?;
    let ticket = uploads::mint_upload(&state.storage, key, &req.content_type)
        .await
        .map_err(files::upload_url_error)?;
    Ok(Envelope(UploadUrlOut::new(ticket, &req.file_name)))
}

/// Registers an uploaded object as a template.
///
/// Nothing is written to storage here: the object must already exist (checked with a HEAD on
/// the backend the row will name, whose real size is stored). The folder is share-locked in the
/// transaction, so it cannot disappear before the insert commits.
#[utoipa::path(post, path = "/org/documents/templates", tag = "documents", request_body = RegisterRequest,
    security(("bearer" = [])),
    responses((status = 201, body = TemplateOut),
              (status = 400, description = "invalid_storage_key / missing_storage_bucket / storage_object_missing / File type not allowed"),
              (status = 404, description = "Folder not found")))]
pub async fn register_template(
    State(state): State<AppState>,
    user: Can<perm::OrgDocumentManage>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Created<TemplateOut>> {
    let req: RegisterRequest = with_required(body, &["file_name", "storage_key"])?;
    check_length("file_name", &req.file_name, 1, 255)?;
    check_length("storage_key", &req.storage_key, 1, 1024)?;
    check_max("name", req.name.as_deref(), 255)?;
    check_max("storage_provider", req.storage_provider.as_deref(), 32)?;
    check_max("storage_bucket", req.storage_bucket.as_deref(), 255)?;
    check_max("content_type", req.content_type.as_deref(), 100)?;
    check_max("checksum", req.checksum.as_deref(), 128)?;
    let org = user.org_id.as_str();

    let mut tx = state.db.begin().await?;
    if let Some(folder_id) = req.folder_id
        && !folders::exists(&mut tx, org, folder_id).await?
    {
        return Err(folder_not_found());
    }
    let target = uploads::resolve_target(
        &state.storage,
        org,
        &req.storage_key,
        req.storage_provider.as_deref(),
        req.storage_bucket.as_deref(),
    )
    .map_err(files::register_error)?;
    let ext = content::extension(&req.file_name);
    content::check_extension(&ext, TEMPLATE_EXTENSIONS).map_err(files::content_error)?;
    if !matches!(target.key.kind(), KeyKind::Template { .. }) {
        return Err(files::register_error(RegisterError::WrongKind));
    }
    if templates::key_in_use(&mut tx, org, target.key.as_str()).await? {
        return Err(ApiError::coded(
            axum::http::StatusCode::BAD_REQUEST,
            "storage_key_in_use",
            "storage_key is already registered",
            json!({}),
        ));
    }
    let size = uploads::stored_size(&state.storage, &target)
        .await
        .map_err(files::register_error)?;
    let name = req
        .name
        .as_deref()
        .filter(|n| !n.is_empty())
        .unwrap_or(&req.file_name);
    let template = templates::insert(
        &mut tx,
        &NewTemplate {
            org_id: org,
            folder_id: req.folder_id,
            name,
            description: req.description.as_deref(),
            file_name: &req.file_name,
            object_key: target.key.as_str(),
            storage_provider: Some(target.provider.as_str()),
            storage_bucket: target.bucket.as_deref(),
            content_type: req.content_type.as_deref(),
            size_bytes: i64::try_from(size).ok(),
            checksum: req.checksum.as_deref(),
            uploaded_by_user_id: user.user_id,
        },
    )
    .await?;
    audit::record(
        &mut tx,
        user.audit(
            "org_document_template.created",
            "org_document_template",
            template.id,
            None,
            Some(template.snapshot()),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(Created(template.into()))
}

// ---------------------------------------------------------------------------------------------
// Multipart upload (#6)

/// More parts than this is not a template upload.
const MAX_PARTS: usize = 16;

/// The text form fields; an empty value counts as absent.
#[derive(Default)]
struct FormFields {
    folder_id: Option<String>,
    name: Option<String>,
    description: Option<String>,
}

/// The file part as stored, and the folder it was checked against.
struct Stored {
    file: StoredFile,
    folder_id: Option<Uuid>,
}

fn file_required() -> ApiError {
    ApiError::validation(vec![FieldError::body(
        &["file"],
        "missing",
        "Field required",
        Value::Null,
    )])
}

fn folder_uuid(raw: Option<&str>) -> ApiResult<Option<Uuid>> {
    raw.map(|r| body_uuid(&[json!("folder_id")], r)).transpose()
}

/// Uploads a template as `multipart/form-data` (`file`, optional `folder_id`, `name`,
/// `description`), streamed into the active backend.
///
/// The guard runs before a byte of the body is read, and so does the check of a declared
/// length that no valid upload can reach. The file is streamed straight into the
/// storage layer, which enforces the size cap and the magic bytes as the bytes arrive and
/// leaves no object behind when it refuses. Order: object first, then the row in one
/// transaction; if anything after the object was stored fails (a later field, the folder, the
/// insert or the commit), the object is deleted again, so no row ever points at a missing file
/// and no file outlives a failed upload (a failed clean-up is logged).
#[utoipa::path(post, path = "/org/documents/templates/upload", tag = "documents", security(("bearer" = [])),
    responses((status = 201, body = TemplateOut),
              (status = 400, description = "File type not allowed / content mismatch / File exceeds maximum allowed size"),
              (status = 404, description = "Folder not found"), (status = 422, description = "file: Field required")))]
pub async fn upload_template(
    State(state): State<AppState>,
    user: Can<perm::OrgDocumentManage>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Created<TemplateOut>> {
    multipart::refuse_oversized(&headers, state.storage.max_upload_bytes(), MAX_PARTS)?;
    let mut form = multipart.map_err(|_| file_required())?;
    let mut fields = FormFields::default();
    let mut stored: Option<Stored> = None;
    let result = receive(&state, &user, &mut form, &mut fields, &mut stored).await;
    let result = match result {
        Ok(()) => match stored.as_ref() {
            Some(s) => insert_uploaded(&state, &user, &fields, s).await,
            None => Err(file_required()),
        },
        Err(e) => Err(e),
    };
    if result.is_err()
        && let Some(s) = &stored
    {
        uploads::delete_best_effort(
            &state.storage,
            Some(s.file.provider.as_str()),
            s.file.bucket.as_deref(),
            s.file.key.as_str(),
        )
        .await;
    }
    result.map(|t| Created(t.into()))
}

/// Reads the parts in order, storing the file part as it streams in.
async fn receive(
    state: &AppState,
    user: &CurrentUser<OrgMember>,
    form: &mut Multipart,
    fields: &mut FormFields,
    stored: &mut Option<Stored>,
) -> ApiResult<()> {
    let mut parts = 0;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| multipart::parse_error(&e))?
    {
        parts += 1;
        if parts > MAX_PARTS {
            return Err(ApiError::bad_request("Too many form parts"));
        }
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" && field.file_name().is_some() && stored.is_none() {
            *stored = Some(store_file(state, user, fields, field).await?);
            continue;
        }
        let text = multipart::read_text(field).await?;
        let value = (!text.is_empty()).then_some(text);
        match name.as_str() {
            "folder_id" => {
                if let Some(s) = stored.as_ref()
                    && folder_uuid(value.as_deref())? != s.folder_id
                {
                    return Err(ApiError::validation(vec![FieldError::body(
                        &["folder_id"],
                        "value_error",
                        "Value error, folder_id must come before the file part",
                        json!(value),
                    )]));
                }
                fields.folder_id = value;
            }
            "name" => fields.name = value,
            "description" => fields.description = value,
            _ => {}
        }
    }
    Ok(())
}

/// Checks the folder and the file name, then streams the part into the active backend.
async fn store_file(
    state: &AppState,
    user: &CurrentUser<OrgMember>,
    fields: &FormFields,
    field: Field<'_>,
) -> ApiResult<Stored> {
    let folder_id = folder_uuid(fields.folder_id.as_deref())?;
    if let Some(id) = folder_id {
        let mut conn = state.db.acquire().await?;
        if !folders::exists(&mut conn, user.org_id.as_str(), id).await? {
            return Err(folder_not_found());
        }
    }
    let file = multipart::store_file(
        state,
        field,
        TEMPLATE_EXTENSIONS,
        "minting a template key",
        |ext| key::template(&user.org_id, folder_id, ext),
    )
    .await?;
    Ok(Stored { file, folder_id })
}

async fn insert_uploaded(
    state: &AppState,
    user: &CurrentUser<OrgMember>,
    fields: &FormFields,
    s: &Stored,
) -> ApiResult<Template> {
    if let Some(name) = &fields.name {
        check_length("name", name, 1, 255)?;
    }
    let org = user.org_id.as_str();
    let mut tx = state.db.begin().await?;
    if let Some(id) = s.folder_id
        && !folders::exists(&mut tx, org, id).await?
    {
        return Err(folder_not_found());
    }
    let template = templates::insert(
        &mut tx,
        &NewTemplate {
            org_id: org,
            folder_id: s.folder_id,
            name: fields.name.as_deref().unwrap_or(&s.file.file_name),
            description: fields.description.as_deref(),
            file_name: &s.file.file_name,
            object_key: s.file.key.as_str(),
            storage_provider: Some(s.file.provider.as_str()),
            storage_bucket: s.file.bucket.as_deref(),
            content_type: s.file.content_type.as_deref(),
            size_bytes: i64::try_from(s.file.size).ok(),
            checksum: None,
            uploaded_by_user_id: user.user_id,
        },
    )
    .await?;
    audit::record(
        &mut tx,
        user.audit(
            "org_document_template.created",
            "org_document_template",
            template.id,
            None,
            Some(template.snapshot()),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(template)
}
