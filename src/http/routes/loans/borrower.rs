//! The borrower's views of an own loan (loans contract §2.8–§2.15): repayments, the
//! remaining and what-if schedules, the CSV export, the document list and downloads, and the
//! 83(b) election upload. The user guard runs first (401 before any tenant error), then the
//! route's permission, then the path, query and body.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::decimal::PyDec;
use crate::domain::loans::LoanError;
use crate::domain::loans::export::{self, ExportLoan, LOAN_EXPORT_HEADER};
use crate::domain::loans::schedule::{Schedule, WhatIfRequest};
use crate::domain::loans::terms::RepaymentMethod;
use crate::domain::loans::workflow::DocumentType;
use crate::domain::permissions::perm;
use crate::http::envelope::{Created, Envelope};
use crate::http::error::{ApiError, ApiResult, FieldError};
use crate::http::extract::{ApiPath, ApiQuery};
use crate::http::files::{self, UploadUrlOut};
use crate::http::guard::{Can, Member};
use crate::http::state::AppState;
use crate::http::validate::params::{parse_date, path_uuid};
use crate::http::validate::{body_object, lax};
use crate::services::audit;
use crate::services::loans::borrower::{self, RepaymentList, ViewError};
use crate::services::loans::documents::{self, DocumentList, Election, LoanDocumentOut};
use crate::services::uploads::{self, RegisterError};
use crate::storage::key::{self as storage_key, KeyKind};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(repayments))
        .routes(routes!(schedule))
        .routes(routes!(what_if))
        .routes(routes!(export_csv))
        .routes(routes!(documents))
        .routes(routes!(download))
        .routes(routes!(register_election))
        .routes(routes!(election_upload_url))
}

/// A domain refusal as the legacy 400 envelope.
pub(crate) fn rule(e: LoanError) -> ApiError {
    ApiError::coded(StatusCode::BAD_REQUEST, e.code, e.message, e.details)
}

pub(crate) fn view_error(e: ViewError) -> ApiError {
    match e {
        ViewError::NotFound(detail) => ApiError::not_found(detail),
        ViewError::Rule(e) => rule(e),
        ViewError::Db(e) => e.into(),
    }
}

/// `?as_of=&include_paid=` of the schedule and the export, raw until the guards passed.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ScheduleQuery {
    as_of: Option<String>,
    include_paid: Option<String>,
}

impl ScheduleQuery {
    /// `(as_of, include_paid)` (defaults today and false), both errors listed when both are
    /// bad.
    pub(crate) fn parse(&self, today: time::Date) -> ApiResult<(time::Date, bool)> {
        let mut errors = Vec::new();
        let query_error = |name: &str, raw: &str, (kind, msg, ctx): lax::Invalid| FieldError {
            kind,
            loc: vec![json!("query"), json!(name)],
            msg,
            input: json!(raw),
            ctx,
        };
        let mut as_of = today;
        if let Some(raw) = self.as_of.as_deref() {
            match parse_date(&json!(raw)) {
                Ok(d) => as_of = d,
                Err(e) => errors.push(query_error("as_of", raw, e)),
            }
        }
        let mut include_paid = false;
        if let Some(raw) = self.include_paid.as_deref() {
            match lax::py_bool(&json!(raw)) {
                Ok(b) => include_paid = b,
                Err(e) => errors.push(query_error("include_paid", raw, e)),
            }
        }
        if errors.is_empty() {
            Ok((as_of, include_paid))
        } else {
            Err(ApiError::validation(errors))
        }
    }
}

/// Every repayment of the loan, newest payment date first (`loan.payment.self.view`).
#[utoipa::path(get, path = "/me/loans/{loan_id}/repayments", tag = "loans", security(("bearer" = [])),
    params(("loan_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "LoanRepaymentListResponse"), (status = 401), (status = 403), (status = 404), (status = 422)))]
async fn repayments(
    State(state): State<AppState>,
    user: Can<perm::LoanPaymentSelfView, Member>,
    ApiPath(raw_id): ApiPath<String>,
) -> ApiResult<Envelope<RepaymentList>> {
    let loan_id = path_uuid("loan_id", &raw_id)?;
    let mut conn = state.db.acquire().await?;
    let loan = borrower::own_loan(&mut conn, &user.org_id, user.user_id, loan_id)
        .await
        .map_err(view_error)?;
    let list = borrower::repayments(&mut conn, &user.org_id, loan.id).await?;
    Ok(Envelope(list))
}

/// What is still due at `as_of` (default today), instalment by instalment, after the
/// repayments dated on or before it; `include_paid` lists paid instalments as zeros
/// (`loan.schedule.self.view`; any loan status).
#[utoipa::path(get, path = "/me/loans/{loan_id}/schedule", tag = "loans", security(("bearer" = [])),
    params(("loan_id" = uuid::Uuid, Path), ("as_of" = inline(Option<crate::http::validate::params::DateQuery>), Query), ("include_paid" = Option<bool>, Query)),
    responses((status = 200, description = "LoanScheduleResponse"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 422)))]
async fn schedule(
    State(state): State<AppState>,
    user: Can<perm::LoanScheduleSelfView, Member>,
    ApiPath(raw_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<ScheduleQuery>,
) -> ApiResult<Envelope<Schedule>> {
    let loan_id = path_uuid("loan_id", &raw_id)?;
    let (as_of, include_paid) = query.parse(state.clock.today())?;
    let mut conn = state.db.acquire().await?;
    let loan = borrower::own_loan(&mut conn, &user.org_id, user.user_id, loan_id)
        .await
        .map_err(view_error)?;
    let schedule = borrower::remaining(&mut conn, &user.org_id, &loan, as_of, include_paid)
        .await
        .map_err(view_error)?;
    Ok(Envelope(schedule))
}

fn decimal_field(
    body: &Map<String, Value>,
    name: &str,
    errors: &mut Vec<FieldError>,
) -> Option<PyDec> {
    let v = body.get(name).filter(|v| !v.is_null())?;
    let parsed = match v {
        Value::Number(n) => PyDec::parse(&n.to_string()),
        Value::String(s) => PyDec::parse(s.trim()),
        _ => {
            errors.push(FieldError::body(
                &[name],
                "decimal_type",
                "Decimal input should be an integer, float, string or Decimal object",
                v.clone(),
            ));
            return None;
        }
    };
    match parsed {
        None => {
            errors.push(FieldError::body(
                &[name],
                "decimal_parsing",
                "Input should be a valid decimal",
                v.clone(),
            ));
            None
        }
        Some(d) if d.is_negative() && !d.is_zero() => {
            errors.push(
                FieldError::body(
                    &[name],
                    "greater_than_equal",
                    "Input should be greater than or equal to 0",
                    v.clone(),
                )
                .with_ctx(json!({"ge": 0})),
            );
            None
        }
        Some(d) => Some(d),
    }
}

/// The what-if body (`LoanScheduleWhatIfRequest`): every field optional, every error listed.
pub(crate) fn what_if_request(body: &Map<String, Value>) -> ApiResult<WhatIfRequest> {
    let mut errors = Vec::new();
    let mut request = WhatIfRequest::default();
    if let Some(v) = body.get("as_of_date").filter(|v| !v.is_null()) {
        match parse_date(v) {
            Ok(d) => request.as_of_date = Some(d),
            Err((kind, msg, ctx)) => errors.push(FieldError {
                ctx,
                ..FieldError::body(&["as_of_date"], kind, msg, v.clone())
            }),
        }
    }
    if let Some(v) = body.get("repayment_method").filter(|v| !v.is_null()) {
        match v.as_str().and_then(RepaymentMethod::parse) {
            Some(m) => request.repayment_method = Some(m),
            None => errors.push(
                FieldError::body(
                    &["repayment_method"],
                    "enum",
                    RepaymentMethod::expected_message(),
                    v.clone(),
                )
                .with_ctx(
                    json!({"expected": lax::quoted_or(&["BALLOON", "PRINCIPAL_AND_INTEREST"])}),
                ),
            ),
        }
    }
    if let Some(v) = body.get("term_months").filter(|v| !v.is_null()) {
        match lax::py_int::<i32>(v, Some(1), None) {
            Ok(n) => request.term_months = Some(n),
            Err((kind, msg, ctx)) => errors.push(FieldError {
                ctx,
                ..FieldError::body(&["term_months"], kind, msg, v.clone())
            }),
        }
    }
    request.annual_rate_percent = decimal_field(body, "annual_rate_percent", &mut errors);
    request.principal = decimal_field(body, "principal", &mut errors);
    if errors.is_empty() {
        Ok(request)
    } else {
        Err(ApiError::validation(errors))
    }
}

/// A schedule from the loan's terms with the body's overrides; the principal defaults to what
/// is left after the repayments (`loan.what_if.self.simulate`; nothing is stored).
#[utoipa::path(post, path = "/me/loans/{loan_id}/schedule/what-if", tag = "loans", security(("bearer" = [])),
    params(("loan_id" = uuid::Uuid, Path)), request_body(content = Object, description = "LoanScheduleWhatIfRequest"),
    responses((status = 200, description = "LoanScheduleResponse"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 422)))]
async fn what_if(
    State(state): State<AppState>,
    user: Can<perm::LoanWhatIfSelfSimulate, Member>,
    ApiPath(raw_id): ApiPath<String>,
    body: Bytes,
) -> ApiResult<Envelope<Schedule>> {
    let loan_id = path_uuid("loan_id", &raw_id)?;
    let request = what_if_request(&body_object(&body)?)?;
    let mut conn = state.db.acquire().await?;
    let loan = borrower::own_loan(&mut conn, &user.org_id, user.user_id, loan_id)
        .await
        .map_err(view_error)?;
    let schedule = borrower::what_if(
        &mut conn,
        &user.org_id,
        &loan,
        &request,
        state.clock.today(),
    )
    .await
    .map_err(view_error)?;
    Ok(Envelope(schedule))
}

/// The remaining schedule as CSV (§8): one row per instalment with the loan and schedule
/// values repeated, streamed record by record (`loan.export.self`).
#[utoipa::path(get, path = "/me/loans/{loan_id}/export", tag = "loans", security(("bearer" = [])),
    params(("loan_id" = uuid::Uuid, Path), ("as_of" = inline(Option<crate::http::validate::params::DateQuery>), Query), ("include_paid" = Option<bool>, Query)),
    responses((status = 200, description = "CSV", content_type = "text/csv"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 422)))]
async fn export_csv(
    State(state): State<AppState>,
    user: Can<perm::LoanExportSelf, Member>,
    ApiPath(raw_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<ScheduleQuery>,
) -> ApiResult<Response> {
    let loan_id = path_uuid("loan_id", &raw_id)?;
    let (as_of, include_paid) = query.parse(state.clock.today())?;
    let mut conn = state.db.acquire().await?;
    let loan = borrower::own_loan(&mut conn, &user.org_id, user.user_id, loan_id)
        .await
        .map_err(view_error)?;
    let schedule = borrower::remaining(&mut conn, &user.org_id, &loan, as_of, include_paid)
        .await
        .map_err(view_error)?;
    drop(conn);
    let head = ExportLoan {
        loan_id: loan.id,
        status: loan.status,
        decision_reason: loan.decision_reason.as_deref(),
    };
    // Each record is encoded on its own and sent as one chunk.
    let mut chunks: Vec<Result<Bytes, std::io::Error>> =
        Vec::with_capacity(schedule.entries.len() + 1);
    chunks.push(encode(LOAN_EXPORT_HEADER));
    for row in export::loan_export_rows(head, &schedule) {
        chunks.push(encode(row));
    }
    let mut resp = Response::new(Body::from_stream(futures_util::stream::iter(chunks)));
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    let disposition = format!(
        "attachment; filename=\"{}\"",
        export::loan_export_filename(loan_id)
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

fn encode<I, T>(fields: I) -> Result<Bytes, std::io::Error>
where
    I: IntoIterator<Item = T>,
    T: AsRef<[u8]>,
{
    export::encode_record(fields)
        .map(Bytes::from)
        .map_err(std::io::Error::other)
}

// ---------------------------------------------------------------------------------------------
// Documents and the 83(b) election
// ---------------------------------------------------------------------------------------------

/// Every document of the loan, grouped by stage (`loan.document.self_view`; any status).
#[utoipa::path(get, path = "/me/loans/{loan_id}/documents", tag = "loans", security(("bearer" = [])),
    params(("loan_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "LoanDocumentListResponse"), (status = 401), (status = 403), (status = 404), (status = 422)))]
async fn documents(
    State(state): State<AppState>,
    user: Can<perm::LoanDocumentSelfView, Member>,
    ApiPath(raw_id): ApiPath<String>,
) -> ApiResult<Envelope<DocumentList>> {
    let loan_id = path_uuid("loan_id", &raw_id)?;
    let mut conn = state.db.acquire().await?;
    let loan = borrower::own_loan(&mut conn, &user.org_id, user.user_id, loan_id)
        .await
        .map_err(view_error)?;
    let list = documents::list(&mut conn, &user.org_id, loan.id).await?;
    Ok(Envelope(list))
}

/// The bytes of a document of one of the caller's loans, as an attachment, from the backend
/// its row names (`loan.document.self_view`).
#[utoipa::path(get, path = "/me/loans/documents/{document_id}/download", tag = "loans", security(("bearer" = [])),
    params(("document_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The file", content_type = "application/octet-stream"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 422)))]
async fn download(
    State(state): State<AppState>,
    user: Can<perm::LoanDocumentSelfView, Member>,
    ApiPath(raw_id): ApiPath<String>,
) -> ApiResult<Response> {
    let document_id = path_uuid("document_id", &raw_id)?;
    let mut conn = state.db.acquire().await?;
    let membership = borrower::membership_of(&mut conn, &user.org_id, user.user_id)
        .await
        .map_err(view_error)?;
    let file = documents::own_file(&mut conn, &user.org_id, membership, document_id)
        .await?
        .ok_or_else(|| ApiError::not_found(documents::DOCUMENT_NOT_FOUND))?;
    drop(conn);
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

fn missing(body: &Map<String, Value>, name: &str) -> FieldError {
    FieldError::body(
        &[name],
        "missing",
        "Field required",
        Value::Object(body.clone()),
    )
}

/// A string field: `None` when absent or null (an error when `required`), at least `min`
/// characters and at most `max`.
fn text_field(
    body: &Map<String, Value>,
    name: &str,
    required: bool,
    (min, max): (usize, usize),
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let Some(v) = body.get(name).filter(|v| !v.is_null() || required) else {
        if required {
            errors.push(missing(body, name));
        }
        return None;
    };
    let Some(s) = v.as_str() else {
        errors.push(FieldError::body(
            &[name],
            "string_type",
            "Input should be a valid string",
            v.clone(),
        ));
        return None;
    };
    let chars = s.chars().count();
    if chars < min {
        errors.push(
            FieldError::body(
                &[name],
                "string_too_short",
                format!(
                    "String should have at least {min} character{}",
                    if min == 1 { "" } else { "s" }
                ),
                v.clone(),
            )
            .with_ctx(json!({"min_length": min})),
        );
        return None;
    }
    if s.contains('\0') {
        errors.push(FieldError::body(
            &[name],
            "string_pattern_mismatch",
            "String should not contain NUL characters",
            v.clone(),
        ));
        return None;
    }
    if chars > max {
        errors.push(crate::http::validate::too_long(name, s, max));
        return None;
    }
    Some(s.to_owned())
}

fn int_field(
    body: &Map<String, Value>,
    name: &str,
    required: bool,
    errors: &mut Vec<FieldError>,
) -> Option<i64> {
    let Some(v) = body.get(name).filter(|v| !v.is_null() || required) else {
        if required {
            errors.push(missing(body, name));
        }
        return None;
    };
    match lax::py_int::<i64>(v, None, None) {
        Ok(n) => Some(n),
        Err((kind, msg, ctx)) => {
            errors.push(FieldError {
                ctx,
                ..FieldError::body(&[name], kind, msg, v.clone())
            });
            None
        }
    }
}

fn document_type_field(
    body: &Map<String, Value>,
    errors: &mut Vec<FieldError>,
) -> Option<DocumentType> {
    let Some(v) = body.get("document_type") else {
        errors.push(missing(body, "document_type"));
        return None;
    };
    match v.as_str().and_then(DocumentType::parse) {
        Some(t) => Some(t),
        None => {
            let names: Vec<&str> = DocumentType::ALL.iter().map(|t| t.as_str()).collect();
            errors.push(
                FieldError::body(
                    &["document_type"],
                    "enum",
                    DocumentType::expected_message(),
                    v.clone(),
                )
                .with_ctx(json!({"expected": lax::quoted_or(&names)})),
            );
            None
        }
    }
}

/// `LoanDocumentUploadUrlRequest` (also the admin upload URL's body).
pub(crate) struct UploadUrlRequest {
    pub(crate) document_type: DocumentType,
    pub(crate) file_name: String,
    pub(crate) content_type: String,
    pub(crate) size_bytes: i64,
}

pub(crate) fn upload_url_request(body: &Map<String, Value>) -> ApiResult<UploadUrlRequest> {
    let mut errors = Vec::new();
    let document_type = document_type_field(body, &mut errors);
    let file_name = text_field(body, "file_name", true, (1, 255), &mut errors);
    let content_type = text_field(body, "content_type", true, (0, 100), &mut errors);
    let size_bytes = int_field(body, "size_bytes", true, &mut errors);
    text_field(body, "checksum", false, (0, 128), &mut errors);
    match (document_type, file_name, content_type, size_bytes) {
        (Some(document_type), Some(file_name), Some(content_type), Some(size_bytes))
            if errors.is_empty() =>
        {
            Ok(UploadUrlRequest {
                document_type,
                file_name,
                content_type,
                size_bytes,
            })
        }
        _ => Err(ApiError::validation(errors)),
    }
}

/// `LoanDocumentCreateRequest` (also the admin register routes' body).
pub(crate) struct RegisterRequest {
    pub(crate) document_type: DocumentType,
    pub(crate) file_name: String,
    pub(crate) storage_path_or_url: Option<String>,
    pub(crate) storage_provider: Option<String>,
    pub(crate) storage_bucket: Option<String>,
    pub(crate) storage_key: Option<String>,
    pub(crate) content_type: Option<String>,
    pub(crate) checksum: Option<String>,
}

pub(crate) fn register_request(body: &Map<String, Value>) -> ApiResult<RegisterRequest> {
    let mut errors = Vec::new();
    let document_type = document_type_field(body, &mut errors);
    let file_name = text_field(body, "file_name", true, (1, 255), &mut errors);
    let storage_path_or_url =
        text_field(body, "storage_path_or_url", false, (0, 1024), &mut errors);
    let storage_provider = text_field(body, "storage_provider", false, (0, 32), &mut errors);
    let storage_bucket = text_field(body, "storage_bucket", false, (0, 255), &mut errors);
    let storage_key = text_field(body, "storage_key", false, (0, 1024), &mut errors);
    let content_type = text_field(body, "content_type", false, (0, 100), &mut errors);
    int_field(body, "size_bytes", false, &mut errors);
    let checksum = text_field(body, "checksum", false, (0, 128), &mut errors);
    match (document_type, file_name) {
        (Some(document_type), Some(file_name)) if errors.is_empty() => Ok(RegisterRequest {
            document_type,
            file_name,
            storage_path_or_url,
            storage_provider,
            storage_bucket,
            storage_key,
            content_type,
            checksum,
        }),
        _ => Err(ApiError::validation(errors)),
    }
}

/// Registers the borrower's uploaded 83(b) election: the key must be one this route minted
/// for this loan and the object must exist; the BORROWER_83B_ELECTION stage is completed
/// (`loan.document.self_upload_83b`; ACTIVE loans only).
#[utoipa::path(post, path = "/me/loans/{loan_id}/documents/83b", tag = "loans", security(("bearer" = [])),
    params(("loan_id" = uuid::Uuid, Path)), request_body(content = Object, description = "LoanDocumentCreateRequest"),
    responses((status = 201, description = "LoanDocumentDTO"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 422)))]
async fn register_election(
    State(state): State<AppState>,
    user: Can<perm::LoanDocumentSelfUpload83b, Member>,
    ApiPath(raw_id): ApiPath<String>,
    body: Bytes,
) -> ApiResult<Created<LoanDocumentOut>> {
    let loan_id = path_uuid("loan_id", &raw_id)?;
    let req = register_request(&body_object(&body)?)?;
    let mut tx = state.db.begin().await?;
    let loan = borrower::own_loan(&mut tx, &user.org_id, user.user_id, loan_id)
        .await
        .map_err(view_error)?;
    documents::check_election(loan.status, req.document_type).map_err(rule)?;
    let raw_key = req
        .storage_key
        .as_deref()
        .or(req.storage_path_or_url.as_deref())
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            rule(LoanError::bare(
                "missing_storage_key",
                "storage_key is required for uploads",
            ))
        })?;
    let target = uploads::resolve_target(
        &state.storage,
        user.org_id.as_str(),
        raw_key,
        req.storage_provider.as_deref(),
        req.storage_bucket.as_deref(),
    )
    .map_err(files::register_error)?;
    if target.key.kind() != (KeyKind::LoanDocument { loan_id: loan.id }) {
        return Err(files::register_error(RegisterError::WrongKind));
    }
    let size = uploads::stored_size(&state.storage, &target)
        .await
        .map_err(files::register_error)?;
    let registered = documents::register_election(
        &mut tx,
        &user.org_id,
        loan.id,
        &Election {
            key: target.key.as_str(),
            provider: target.provider.as_str(),
            bucket: target.bucket.as_deref(),
            file_name: &req.file_name,
            content_type: req.content_type.as_deref(),
            size_bytes: i64::try_from(size).ok(),
            checksum: req.checksum.as_deref(),
            uploaded_by: user.user_id,
        },
        time::OffsetDateTime::now_utc(),
    )
    .await?;
    audit::record(
        &mut tx,
        user.audit(
            "loan_workflow_stage.updated",
            "loan_workflow_stage",
            registered.stage_id,
            Some(registered.stage_before),
            Some(registered.stage_after),
        ),
    )
    .await?;
    audit::record(
        &mut tx,
        user.audit(
            "loan_document.created",
            "loan_document",
            registered.document.id,
            None,
            Some(registered.document_snapshot),
        ),
    )
    .await?;
    tx.commit().await?;
    // The legacy answer carried no uploader name (the list shows the e-mail).
    let mut document = registered.document;
    document.uploaded_by_name = None;
    Ok(Created(document))
}

/// An upload URL for the borrower's 83(b) election (`orgs/<org>/loans/<loan>/documents/<hex>
/// <ext>`): a signed `PUT` to GCS, or a token-free signed `PUT /assets/local-content`
/// (`loan.document.self_upload_83b`; ACTIVE loans only; nothing is stored).
#[utoipa::path(post, path = "/me/loans/{loan_id}/documents/83b/upload-url", tag = "loans", security(("bearer" = [])),
    params(("loan_id" = uuid::Uuid, Path)), request_body(content = Object, description = "LoanDocumentUploadUrlRequest"),
    responses((status = 200, description = "UploadUrl"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 422)))]
async fn election_upload_url(
    State(state): State<AppState>,
    user: Can<perm::LoanDocumentSelfUpload83b, Member>,
    ApiPath(raw_id): ApiPath<String>,
    body: Bytes,
) -> ApiResult<Envelope<UploadUrlOut>> {
    let loan_id = path_uuid("loan_id", &raw_id)?;
    let req = upload_url_request(&body_object(&body)?)?;
    let mut conn = state.db.acquire().await?;
    let loan = borrower::own_loan(&mut conn, &user.org_id, user.user_id, loan_id)
        .await
        .map_err(view_error)?;
    drop(conn);
    documents::check_election(loan.status, req.document_type).map_err(rule)?;
    let ext = documents::election_extension(&req.file_name).map_err(rule)?;
    uploads::check_declared_size(&state.storage, Some(req.size_bytes))
        .map_err(files::content_error)?;
    let key = storage_key::loan_document(&user.org_id, loan.id, &ext).map_err(|_| {
        rule(LoanError::new(
            "invalid_file_type",
            "File type not allowed",
            json!({"extension": ext}),
        ))
    })?;
    let ticket = uploads::mint_upload(&state.storage, key, &req.content_type)
        .await
        .map_err(files::upload_url_error)?;
    Ok(Envelope(UploadUrlOut::new(ticket, &req.file_name)))
}
