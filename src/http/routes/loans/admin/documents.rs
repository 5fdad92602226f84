//! Stage documents as reviewers handle them (loan-admin §5.9, §8): the upload URL, the
//! registration of an uploaded object under the HR, finance or legal stage, the multipart
//! twins, the share certificates of the post-issuance stage, and the download.
//!
//! Changes from the legacy (§13): a registered key must be one minted for this loan's
//! documents and its object must exist (its real size is stored, Q3); share certificates check
//! the step-up before anything is stored (Q5); audit rows carry the real ids (Q6); multipart
//! uploads write through the active backend and every row names its provider; a GCS document
//! is streamed through the API like every other stored file.

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::params::{self, workflow_error};
use super::views::LOAN_NOT_FOUND;
use crate::domain::loans::LoanError;
use crate::domain::loans::stage_documents::{self, Via};
use crate::domain::loans::workflow::{DocumentType, LoanStatus, StageType};
use crate::domain::org::OrgId;
use crate::domain::permissions::{MfaAction, perm};
use crate::http::envelope::{Created, Envelope};
use crate::http::error::{ApiError, ApiResult, FieldError};
use crate::http::extract::ApiPath;
use crate::http::files::{self, UploadUrlOut};
use crate::http::guard::{Can, CurrentUser, Member};
use crate::http::multipart::{self, StoredFile};
use crate::http::routes::loans::borrower::{RegisterRequest, register_request, upload_url_request};
use crate::http::state::AppState;
use crate::http::step_up;
use crate::http::validate::params::path_uuid;
use crate::http::validate::{body_object, lax};
use crate::services::loan_admin::documents::LoanDocument;
use crate::services::loan_admin::stage_documents::{self as stage_docs, NewDocument};
use crate::services::loan_admin::workflow::{self as flow, LoanHead};
use crate::services::loans::documents::{DOCUMENT_NOT_FOUND, election_extension};
use crate::services::uploads::{self, RegisterError, Target};
use crate::storage::content::LOAN_EXTENSIONS;
use crate::storage::key::{self as storage_key, KeyKind};

pub fn router() -> OpenApiRouter<AppState> {
    // The multipart routes stream their files through the storage layer, which enforces
    // MAX_UPLOAD_SIZE_MB itself with the legacy message; the global JSON body limit would cut
    // them off first with another answer.
    let uploads = OpenApiRouter::new()
        .routes(routes!(upload_hr))
        .routes(routes!(upload_finance))
        .routes(routes!(upload_legal))
        .routes(routes!(upload_certificate))
        .layer(DefaultBodyLimit::disable());
    OpenApiRouter::new()
        .routes(routes!(upload_url))
        .routes(routes!(register_hr))
        .routes(routes!(register_finance))
        .routes(routes!(register_legal))
        .routes(routes!(register_certificate))
        .routes(routes!(download))
        .merge(uploads)
}

async fn loan_of(state: &AppState, org_id: &str, loan_id: Uuid) -> ApiResult<LoanHead> {
    let mut conn = state.db.acquire().await?;
    flow::find_loan(&mut conn, org_id, loan_id)
        .await?
        .ok_or_else(|| ApiError::not_found(LOAN_NOT_FOUND))
}

/// An upload URL for a stage document (`orgs/<org>/loans/<loan>/documents/<hex><ext>`): a
/// signed `PUT` to GCS, or a token-free signed `PUT /assets/local-content`. The permission
/// follows the document type (quirk Q2: share certificates need `loan.document.manage_legal`).
/// Nothing is stored.
#[utoipa::path(post, path = "/org/loans/{loan_id}/documents/upload-url", tag = "loan-admin",
    operation_id = "loan_admin_document_upload_url", security(("bearer" = [])), params(("loan_id" = uuid::Uuid, Path)),
    request_body(content = Object, description = "{document_type, file_name, content_type, size_bytes, checksum?}"),
    responses((status = 200, description = "UploadUrl"), (status = 400), (status = 401),
        (status = 403), (status = 404), (status = 422)))]
async fn upload_url(
    State(state): State<AppState>,
    user: CurrentUser<Member>,
    ApiPath(raw_loan_id): ApiPath<String>,
    body: Bytes,
) -> ApiResult<Envelope<UploadUrlOut>> {
    let loan_id = path_uuid("loan_id", &raw_loan_id)?;
    let req = upload_url_request(&body_object(&body)?)?;
    let loan = loan_of(&state, user.org_id.as_str(), loan_id).await?;
    let stage =
        stage_documents::upload_url_stage(req.document_type, loan.status).map_err(params::rule)?;
    let permission = stage
        .document_manage_permission()
        .ok_or_else(ApiError::internal)?;
    user.require(&state, permission).await?;
    let ext = election_extension(&req.file_name).map_err(params::rule)?;
    uploads::check_declared_size(&state.storage, Some(req.size_bytes))
        .map_err(files::content_error)?;
    let key = storage_key::loan_document(&user.org_id, loan.id, &ext).map_err(|_| {
        params::rule(LoanError::new(
            "invalid_file_type",
            "File type not allowed",
            json!({ "extension": ext }),
        ))
    })?;
    let ticket = uploads::mint_upload(&state.storage, key, &req.content_type)
        .await
        .map_err(files::upload_url_error)?;
    Ok(Envelope(UploadUrlOut::new(ticket, &req.file_name)))
}

/// The object a registration names, checked: a key (`storage_key`, else
/// `storage_path_or_url`), the legacy URL/org/provider/bucket checks, then a key minted for
/// this loan's documents (Q3) whose object exists. Returns it with its real size.
async fn uploaded_object(
    state: &AppState,
    org: &OrgId,
    loan_id: Uuid,
    req: &RegisterRequest,
) -> ApiResult<(Target, u64)> {
    let non_empty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
    let raw_key = non_empty(&req.storage_key)
        .or_else(|| non_empty(&req.storage_path_or_url))
        .ok_or_else(|| {
            params::rule(LoanError::bare(
                "missing_storage_key",
                "storage_key is required for non-file uploads",
            ))
        })?;
    let target = uploads::resolve_target(
        &state.storage,
        org.as_str(),
        &raw_key,
        req.storage_provider.as_deref(),
        req.storage_bucket.as_deref(),
    )
    .map_err(files::register_error)?;
    if target.key.kind() != (KeyKind::LoanDocument { loan_id }) {
        return Err(files::register_error(RegisterError::WrongKind));
    }
    let size = uploads::stored_size(&state.storage, &target)
        .await
        .map_err(files::register_error)?;
    Ok((target, size))
}

fn registered<'a>(
    loan_id: Uuid,
    stage_type: StageType,
    req: &'a RegisterRequest,
    target: &'a Target,
    size: u64,
) -> NewDocument<'a> {
    NewDocument {
        loan_id,
        stage_type,
        document_type: req.document_type,
        file_name: &req.file_name,
        key: target.key.as_str(),
        provider: Some(target.provider.as_str()),
        bucket: target.bucket.as_deref(),
        content_type: req.content_type.as_deref(),
        size_bytes: i64::try_from(size).ok(),
        checksum: req.checksum.as_deref(),
    }
}

async fn register(
    state: &AppState,
    user: &CurrentUser<Member>,
    raw_loan_id: &str,
    body: &[u8],
    stage: StageType,
) -> ApiResult<Created<LoanDocument>> {
    let loan_id = path_uuid("loan_id", raw_loan_id)?;
    let req = register_request(&body_object(body)?)?;
    let loan = loan_of(state, user.org_id.as_str(), loan_id).await?;
    stage_documents::check_stage_type(stage, req.document_type, Via::Register)
        .map_err(params::rule)?;
    let (target, size) = uploaded_object(state, &user.org_id, loan.id, &req).await?;
    let mut tx = state.db.begin().await?;
    let document = stage_docs::create(
        &mut tx,
        user.actor(),
        &registered(loan.id, stage, &req, &target, size),
        state.clock.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(Created(document))
}

macro_rules! register_route {
    ($name:ident, $path:literal, $perm:ty, $stage:expr, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "loan-admin", security(("bearer" = [])),
                    params(("loan_id" = uuid::Uuid, Path)),
                    request_body(content = Object, description = "LoanDocumentCreateRequest"),
                    responses((status = 201, description = "LoanDocument"), (status = 400),
                        (status = 401), (status = 403), (status = 404), (status = 422)))]
        async fn $name(
            State(state): State<AppState>,
            user: Can<$perm, Member>,
            ApiPath(raw_loan_id): ApiPath<String>,
            body: Bytes,
        ) -> ApiResult<Created<LoanDocument>> {
            register(&state, &user, &raw_loan_id, &body, $stage).await
        }
    };
}

register_route!(
    register_hr,
    "/org/loans/{loan_id}/documents/hr",
    perm::LoanDocumentManageHr,
    StageType::HrReview,
    "Registers an uploaded HR document (grant notice or spouse consent) of this loan."
);
register_route!(
    register_finance,
    "/org/loans/{loan_id}/documents/finance",
    perm::LoanDocumentManageFinance,
    StageType::FinanceProcessing,
    "Registers an uploaded finance document (payment instructions or confirmation)."
);
register_route!(
    register_legal,
    "/org/loans/{loan_id}/documents/legal",
    perm::LoanDocumentManageLegal,
    StageType::LegalExecution,
    "Registers an uploaded legal execution document of this loan."
);

/// Registers an uploaded share certificate of an ACTIVE loan and completes its post-issuance
/// stage (step-up `WORKFLOW_COMPLETE`, checked before anything is stored: quirk Q5).
#[utoipa::path(post, path = "/org/loans/{loan_id}/documents/legal-issuance", tag = "loan-admin",
    security(("bearer" = [])), params(("loan_id" = uuid::Uuid, Path)),
    request_body(content = Object, description = "LoanDocumentCreateRequest"),
    responses((status = 201, description = "LoanDocument"), (status = 400), (status = 401),
        (status = 403), (status = 404), (status = 422)))]
async fn register_certificate(
    State(state): State<AppState>,
    user: Can<perm::LoanWorkflowPostIssuanceManage, Member>,
    headers: HeaderMap,
    ApiPath(raw_loan_id): ApiPath<String>,
    body: Bytes,
) -> ApiResult<Created<LoanDocument>> {
    let loan_id = path_uuid("loan_id", &raw_loan_id)?;
    let req = register_request(&body_object(&body)?)?;
    let loan = loan_of(&state, user.org_id.as_str(), loan_id).await?;
    stage_documents::check_certificate(loan.status, req.document_type).map_err(params::rule)?;
    let (target, size) = uploaded_object(&state, &user.org_id, loan.id, &req).await?;
    step_up::require_action(&state, &user, &headers, MfaAction::WorkflowComplete).await?;
    let mut tx = state.db.begin().await?;
    let document = stage_docs::issue_certificate(
        &mut tx,
        user.actor(),
        &registered(loan.id, StageType::LegalPostIssuance, &req, &target, size),
        state.clock.now(),
    )
    .await
    .map_err(workflow_error)?;
    tx.commit().await?;
    Ok(Created(document))
}

/// Streams a document of any loan of the org as an attachment, from the backend its row
/// names (`loan.document.view`).
#[utoipa::path(get, path = "/org/loans/documents/{document_id}/download", tag = "loan-admin",
    operation_id = "loan_admin_document_download", security(("bearer" = [])), params(("document_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The file (application/octet-stream)"), (status = 400),
        (status = 401), (status = 403), (status = 404), (status = 422)))]
async fn download(
    State(state): State<AppState>,
    user: Can<perm::LoanDocumentView, Member>,
    ApiPath(raw_id): ApiPath<String>,
) -> ApiResult<Response> {
    let document_id = path_uuid("document_id", &raw_id)?;
    let file = {
        let mut conn = state.db.acquire().await?;
        stage_docs::file(&mut conn, user.org_id.as_str(), document_id)
            .await?
            .ok_or_else(|| ApiError::not_found(DOCUMENT_NOT_FOUND))?
    };
    files::attachment(
        &state.storage,
        file.storage_provider.as_deref(),
        file.storage_bucket.as_deref(),
        file.key(),
        &file.file_name,
        &files::LOAN_DOCUMENT_TEXTS,
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Multipart uploads (`document_type` and `file`)

/// More parts than this is not a document upload.
const MAX_PARTS: usize = 8;

fn field_required(name: &str) -> FieldError {
    FieldError::body(&[name], "missing", "Field required", Value::Null)
}

fn document_type_of(text: &str) -> ApiResult<DocumentType> {
    DocumentType::parse(text).ok_or_else(|| {
        let names: Vec<&str> = DocumentType::ALL.iter().map(|t| t.as_str()).collect();
        ApiError::validation(vec![
            FieldError::body(
                &["document_type"],
                "enum",
                DocumentType::expected_message(),
                json!(text),
            )
            .with_ctx(json!({ "expected": lax::quoted_or(&names) })),
        ])
    })
}

/// Reads the parts in order. The document type is checked as soon as it is read, so the
/// usual order (type, then file) refuses a wrong type before a byte of the file is stored.
async fn receive(
    state: &AppState,
    org: &OrgId,
    loan_id: Uuid,
    stage: StageType,
    form: &mut Multipart,
    stored: &mut Option<StoredFile>,
) -> ApiResult<DocumentType> {
    let mut document_type = None;
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
            *stored = Some(
                multipart::store_file(
                    state,
                    field,
                    LOAN_EXTENSIONS,
                    "minting a loan document key",
                    |ext| storage_key::loan_document(org, loan_id, ext),
                )
                .await?,
            );
            continue;
        }
        let text = multipart::read_text(field).await?;
        if name == "document_type" {
            let t = document_type_of(&text)?;
            stage_documents::check_stage_type(stage, t, Via::Multipart).map_err(params::rule)?;
            document_type = Some(t);
        }
    }
    let mut missing = Vec::new();
    if document_type.is_none() {
        missing.push(field_required("document_type"));
    }
    if stored.is_none() {
        missing.push(field_required("file"));
    }
    match document_type {
        Some(t) if missing.is_empty() => Ok(t),
        _ => Err(ApiError::validation(missing)),
    }
}

async fn insert_uploaded(
    state: &AppState,
    user: &CurrentUser<Member>,
    loan_id: Uuid,
    stage: StageType,
    document_type: DocumentType,
    s: &StoredFile,
) -> ApiResult<LoanDocument> {
    let doc = NewDocument {
        loan_id,
        stage_type: stage,
        document_type,
        file_name: &s.file_name,
        key: s.key.as_str(),
        provider: Some(s.provider.as_str()),
        bucket: s.bucket.as_deref(),
        content_type: s.content_type.as_deref(),
        size_bytes: i64::try_from(s.size).ok(),
        checksum: None,
    };
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let document = if stage == StageType::LegalPostIssuance {
        stage_docs::issue_certificate(&mut tx, user.actor(), &doc, now)
            .await
            .map_err(workflow_error)?
    } else {
        stage_docs::create(&mut tx, user.actor(), &doc, now).await?
    };
    tx.commit().await?;
    Ok(document)
}

/// One multipart upload under `stage`. Order: the guard, a declared length no upload can
/// reach, the loan (404), for certificates its status and the step-up, then the parts; the
/// file is streamed straight into storage. If anything fails after the object was stored, it
/// is deleted again, so no row points at a missing file and no file outlives a failed upload.
async fn upload(
    state: &AppState,
    user: &CurrentUser<Member>,
    headers: &HeaderMap,
    raw_loan_id: &str,
    multipart: Result<Multipart, MultipartRejection>,
    stage: StageType,
) -> ApiResult<Created<LoanDocument>> {
    let loan_id = path_uuid("loan_id", raw_loan_id)?;
    multipart::refuse_oversized(headers, state.storage.max_upload_bytes(), MAX_PARTS)?;
    let loan = loan_of(state, user.org_id.as_str(), loan_id).await?;
    if stage == StageType::LegalPostIssuance {
        if loan.status != LoanStatus::Active {
            stage_documents::check_certificate(loan.status, DocumentType::ShareCertificate)
                .map_err(params::rule)?;
        }
        step_up::require_action(state, user, headers, MfaAction::WorkflowComplete).await?;
    }
    let mut multipart = multipart.map_err(|_| {
        ApiError::validation(vec![
            field_required("document_type"),
            field_required("file"),
        ])
    })?;
    let mut stored = None;
    let result = match receive(
        state,
        &user.org_id,
        loan.id,
        stage,
        &mut multipart,
        &mut stored,
    )
    .await
    {
        Ok(document_type) => match stored.as_ref() {
            Some(s) => insert_uploaded(state, user, loan.id, stage, document_type, s).await,
            None => Err(ApiError::internal()),
        },
        Err(e) => Err(e),
    };
    if result.is_err()
        && let Some(s) = &stored
    {
        uploads::delete_best_effort(
            &state.storage,
            Some(s.provider.as_str()),
            s.bucket.as_deref(),
            s.key.as_str(),
        )
        .await;
    }
    result.map(Created)
}

macro_rules! upload_route {
    ($name:ident, $path:literal, $perm:ty, $stage:expr, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "loan-admin", security(("bearer" = [])),
                            params(("loan_id" = uuid::Uuid, Path)),
                            request_body(content = Object, content_type = "multipart/form-data",
                                description = "document_type, file"),
                            responses((status = 201, description = "LoanDocument"), (status = 400),
                                (status = 401), (status = 403), (status = 404), (status = 422)))]
        async fn $name(
            State(state): State<AppState>,
            user: Can<$perm, Member>,
            headers: HeaderMap,
            ApiPath(raw_loan_id): ApiPath<String>,
            multipart: Result<Multipart, MultipartRejection>,
        ) -> ApiResult<Created<LoanDocument>> {
            upload(&state, &user, &headers, &raw_loan_id, multipart, $stage).await
        }
    };
}

upload_route!(
    upload_hr,
    "/org/loans/{loan_id}/documents/hr/upload",
    perm::LoanDocumentManageHr,
    StageType::HrReview,
    "Uploads an HR document as `multipart/form-data` (`document_type`, `file`)."
);
upload_route!(
    upload_finance,
    "/org/loans/{loan_id}/documents/finance/upload",
    perm::LoanDocumentManageFinance,
    StageType::FinanceProcessing,
    "Uploads a finance document as `multipart/form-data` (`document_type`, `file`)."
);
upload_route!(
    upload_legal,
    "/org/loans/{loan_id}/documents/legal/upload",
    perm::LoanDocumentManageLegal,
    StageType::LegalExecution,
    "Uploads a legal execution document as `multipart/form-data` (`document_type`, `file`)."
);
upload_route!(
    upload_certificate,
    "/org/loans/{loan_id}/documents/legal-issuance/upload",
    perm::LoanWorkflowPostIssuanceManage,
    StageType::LegalPostIssuance,
    "Uploads a share certificate of an ACTIVE loan as `multipart/form-data` and completes the \
     post-issuance stage (step-up `WORKFLOW_COMPLETE`, checked before the body is read)."
);
