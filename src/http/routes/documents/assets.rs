//! `/assets/*` upload sessions (contract §5.12–§5.14): a pending `assets` row plus an upload
//! URL, finalize once the object exists, and a download URL. Member guard only (no permission
//! code), as the legacy.
//!
//! Changes from the legacy: owner references that would make an unsafe key segment (`..`,
//! `a/b`) are refused with 400 `Invalid object key` up front; a declared size over the cap is
//! refused; finalize stores the object's real size; every change writes an audit row.

use std::collections::BTreeMap;

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::http::envelope::Envelope;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{ApiJson, ApiPath};
use crate::http::files::{self, headers_object};
use crate::http::guard::{CurrentUser, Member};
use crate::http::state::AppState;
use crate::services::assets::{self, Asset, NewAsset, STATUS_UPLOADED};
use crate::services::audit;
use crate::services::uploads;
use crate::storage::key::ObjectKey;
use crate::timefmt;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_upload_session))
        .routes(routes!(finalize_asset))
        .routes(routes!(asset_download_url))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct UploadSessionRequest {
    org_id: String,
    kind: String,
    owner_refs: BTreeMap<String, String>,
    filename: String,
    content_type: String,
    size_bytes: i64,
    #[serde(default)]
    checksum: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UploadSessionOut {
    asset_id: Uuid,
    upload_url: String,
    storage_provider: String,
    storage_bucket: String,
    object_key: String,
    #[schema(value_type = Object)]
    required_headers_or_fields: Map<String, Value>,
}

/// AssetDTO, keys in the legacy order.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AssetOut {
    id: Uuid,
    org_id: String,
    owner_type: String,
    owner_id: String,
    kind: String,
    filename: String,
    content_type: Option<String>,
    size_bytes: Option<i64>,
    checksum: Option<String>,
    status: String,
    provider: Option<String>,
    bucket: Option<String>,
    object_key: String,
    #[serde(with = "timefmt::z")]
    #[schema(value_type = String)]
    created_at: OffsetDateTime,
    #[serde(with = "timefmt::z")]
    #[schema(value_type = String)]
    updated_at: OffsetDateTime,
}

impl From<Asset> for AssetOut {
    fn from(a: Asset) -> Self {
        Self {
            id: a.id,
            org_id: a.org_id,
            owner_type: a.owner_type,
            owner_id: a.owner_id,
            kind: a.kind,
            filename: a.filename,
            content_type: a.content_type,
            size_bytes: a.size_bytes,
            checksum: a.checksum,
            status: a.status,
            provider: a.provider,
            bucket: a.bucket,
            object_key: a.object_key,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DownloadUrlOut {
    download_url: String,
}

/// Opens an upload session: a pending asset and an upload URL for its key.
///
/// Order: the key and the URL are made first (no side effects: signing writes nothing), then
/// the row and its audit row are committed, so a signing failure leaves no row and a failed
/// commit leaves only a URL to an object nobody registered.
#[utoipa::path(post, path = "/assets/upload-sessions", tag = "assets", request_body = UploadSessionRequest,
    security(("bearer" = [])),
    responses((status = 200, body = UploadSessionOut), (status = 400, description = "Unknown asset kind / missing owner_refs"),
              (status = 403, description = "org_id does not match tenant context")))]
pub async fn create_upload_session(
    State(state): State<AppState>,
    user: CurrentUser<Member>,
    ApiJson(req): ApiJson<UploadSessionRequest>,
) -> ApiResult<Envelope<UploadSessionOut>> {
    if req.org_id != user.org_id.as_str() {
        return Err(ApiError::forbidden("org_id does not match tenant context"));
    }
    let refs = |name: &str| req.owner_refs.get(name).map(String::as_str);
    let (asset_id, _, key) = uploads::asset_key(&user.org_id, &req.kind, &req.filename, refs)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    uploads::check_declared_size(&state.storage, Some(req.size_bytes))
        .map_err(files::content_error)?;
    let ticket = uploads::mint_upload(&state.storage, key, &req.content_type)
        .await
        .map_err(files::storage_error)?;
    let owner_id = refs("user_id")
        .filter(|u| !u.is_empty())
        .unwrap_or(user.org_id.as_str());

    let mut tx = state.db.begin().await?;
    let asset = assets::insert(
        &mut tx,
        &NewAsset {
            id: asset_id,
            org_id: user.org_id.as_str(),
            owner_type: "user",
            owner_id,
            kind: &req.kind,
            filename: &req.filename,
            content_type: Some(&req.content_type),
            size_bytes: Some(req.size_bytes),
            checksum: req.checksum.as_deref(),
            provider: ticket.provider.as_str(),
            bucket: Some(&ticket.bucket),
            object_key: ticket.key.as_str(),
        },
    )
    .await?;
    audit::record(
        &mut tx,
        user.audit(
            "asset.created",
            "asset",
            asset.id,
            None,
            Some(asset.snapshot()),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(Envelope(UploadSessionOut {
        asset_id,
        upload_url: ticket.url,
        storage_provider: ticket.provider.as_str().to_owned(),
        storage_bucket: ticket.bucket,
        object_key: ticket.key.into_string(),
        required_headers_or_fields: headers_object(&ticket.required_headers),
    }))
}

/// Marks the asset uploaded once its object exists, with the object's real size.
#[utoipa::path(post, path = "/assets/{asset_id}/finalize", tag = "assets",
    params(("asset_id" = uuid::Uuid, Path, description = "Asset id")), security(("bearer" = [])),
    responses((status = 200, body = AssetOut), (status = 404, description = "Asset not found / Object not found in storage")))]
pub async fn finalize_asset(
    State(state): State<AppState>,
    user: CurrentUser<Member>,
    ApiPath(asset_id): ApiPath<Uuid>,
) -> ApiResult<Envelope<AssetOut>> {
    let org = user.org_id.as_str();
    let mut tx = state.db.begin().await?;
    let before = assets::find(&mut tx, org, asset_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Asset not found"))?;
    let missing = || ApiError::not_found("Object not found in storage");
    let key = ObjectKey::parse(&before.object_key).map_err(|_| missing())?;
    let backend = state
        .storage
        .backend_for(before.provider.as_deref(), before.bucket.as_deref())
        .map_err(files::storage_error)?;
    let info = backend
        .head(&key)
        .await
        .map_err(files::storage_error)?
        .ok_or_else(missing)?;
    let size = i64::try_from(info.size).unwrap_or(i64::MAX);
    let after = assets::mark_uploaded(&mut tx, org, asset_id, size).await?;
    if before.status != STATUS_UPLOADED || before.size_bytes != Some(size) {
        audit::record(
            &mut tx,
            user.audit(
                "asset.uploaded",
                "asset",
                asset_id,
                Some(before.snapshot()),
                Some(after.snapshot()),
            ),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Envelope(after.into()))
}

/// A download URL for an uploaded asset, from the backend its row names.
#[utoipa::path(get, path = "/assets/{asset_id}/download-url", tag = "assets",
    params(("asset_id" = uuid::Uuid, Path, description = "Asset id")), security(("bearer" = [])),
    responses((status = 200, body = DownloadUrlOut), (status = 404, description = "Asset not found or not uploaded")))]
pub async fn asset_download_url(
    State(state): State<AppState>,
    user: CurrentUser<Member>,
    ApiPath(asset_id): ApiPath<Uuid>,
) -> ApiResult<Envelope<DownloadUrlOut>> {
    let not_found = || ApiError::not_found("Asset not found or not uploaded");
    let asset = {
        let mut conn = state.db.acquire().await?;
        assets::find(&mut conn, user.org_id.as_str(), asset_id)
            .await?
            .filter(|a| a.status == STATUS_UPLOADED)
            .ok_or_else(not_found)?
    };
    let key = ObjectKey::parse(&asset.object_key).map_err(|_| not_found())?;
    let backend = state
        .storage
        .backend_for(asset.provider.as_deref(), asset.bucket.as_deref())
        .map_err(files::storage_error)?;
    let download_url = backend
        .presign_get(&key, state.storage.download_ttl())
        .await
        .map_err(files::storage_error)?;
    Ok(Envelope(DownloadUrlOut { download_url }))
}
