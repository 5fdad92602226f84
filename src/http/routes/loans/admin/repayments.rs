//! Recording a repayment and its evidence upload URL (`POST /org/loans/{id}/repayments`,
//! `POST /org/loans/{id}/repayments/upload-url`, loan-admin §5.10). Both need
//! `loan.payment.record` and, when the org lists it, step-up `LOAN_PAYMENT_RECORD`.
//!
//! The record route takes the legacy form, multipart (what the SPA sends) or urlencoded. The
//! form is read whole first (an evidence file at most `MAX_UPLOAD_SIZE_MB`), then every check
//! runs, in the legacy order; an evidence file is stored only once everything passed, and is
//! deleted again if the transaction then fails, so a refused request leaves nothing behind
//! (the legacy wrote the file before its status check).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::multipart::{Field, Multipart, MultipartError};
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::header;
use serde_json::{Map, Value, json};
use time::Date;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::params::rule;
use super::views::LOAN_NOT_FOUND;
use crate::domain::decimal::PyDec;
use crate::domain::loans::LoanError;
use crate::domain::loans::repayments::RepaymentRequest;
use crate::domain::permissions::{perm, step};
use crate::http::envelope::{Created, Envelope};
use crate::http::error::{ApiError, ApiResult, FieldError};
use crate::http::extract::ApiPath;
use crate::http::files::{self, UploadUrlOut};
use crate::http::guard::{Can, Member};
use crate::http::state::AppState;
use crate::http::step_up::StepUp;
use crate::http::validate::params::{parse_date, path_uuid};
use crate::http::validate::{body_object, lax, too_long};
use crate::services::loan_admin::repayments::{
    self as service, Evidence, EvidenceKey, Recorded, RepaymentError,
};
use crate::services::loan_admin::workflow as flow;
use crate::services::stock::cache;
use crate::services::uploads;
use crate::storage::content::{self, LOAN_EXTENSIONS};
use crate::storage::key::{self as storage_key, ObjectKey};
use crate::storage::{Provider, PutOptions};

pub fn router() -> OpenApiRouter<AppState> {
    // The record route reads its form itself, with MAX_UPLOAD_SIZE_MB as the file's limit; the
    // global body limit is meant for JSON (which the input guard still bounds).
    OpenApiRouter::new()
        .routes(routes!(record_repayment))
        .routes(routes!(evidence_upload_url))
        .layer(DefaultBodyLimit::disable())
}

fn repayment_error(e: RepaymentError) -> ApiError {
    match e {
        RepaymentError::Rule(e) => rule(e),
        RepaymentError::NotFound => ApiError::not_found(LOAN_NOT_FOUND),
        RepaymentError::Db(e) => e.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// The form

/// The largest text field (Starlette's limit and text).
const MAX_FIELD_BYTES: usize = 1024 * 1024;
/// More parts than this is not a repayment form.
const MAX_PARTS: usize = 32;

/// An evidence file part, read whole.
struct EvidenceFile {
    file_name: String,
    content_type: Option<String>,
    bytes: Vec<u8>,
}

#[derive(Default)]
struct RawForm {
    text: HashMap<String, String>,
    file: Option<EvidenceFile>,
}

fn parse_error(err: &MultipartError) -> ApiError {
    tracing::debug!(error = %err, "malformed multipart body");
    ApiError::bad_request("There was an error parsing the body")
}

async fn read_field(
    mut field: Field<'_>,
    max: usize,
    too_big: impl Fn() -> ApiError,
) -> ApiResult<Vec<u8>> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| parse_error(&e))? {
        if buf.len() + chunk.len() > max {
            return Err(too_big());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

async fn read_multipart(mut multipart: Multipart, max_file: u64) -> ApiResult<RawForm> {
    let mut form = RawForm::default();
    let mut parts = 0;
    let max_file = usize::try_from(max_file).unwrap_or(usize::MAX);
    while let Some(field) = multipart.next_field().await.map_err(|e| parse_error(&e))? {
        parts += 1;
        if parts > MAX_PARTS {
            return Err(ApiError::bad_request("Too many form parts"));
        }
        let name = field.name().unwrap_or_default().to_owned();
        if name == "evidence_file"
            && let Some(file_name) = field.file_name().map(str::to_owned)
        {
            let content_type = field.content_type().map(str::to_owned);
            let bytes = read_field(field, max_file, || {
                files::content_error(content::ContentError::TooLarge {
                    max_mb: (max_file as u64) / content::MIB,
                })
            })
            .await?;
            // A browser sends an empty, nameless part for a file input left empty.
            if !(file_name.is_empty() && bytes.is_empty()) {
                form.file = Some(EvidenceFile {
                    file_name,
                    content_type,
                    bytes,
                });
            }
            continue;
        }
        let bytes = read_field(field, MAX_FIELD_BYTES, || {
            ApiError::bad_request("Part exceeded maximum size of 1024KB.")
        })
        .await?;
        let text = String::from_utf8(bytes)
            .map_err(|_| ApiError::bad_request("There was an error parsing the body"))?;
        form.text.insert(name, text);
    }
    Ok(form)
}

/// The body as a form: multipart, else urlencoded (anything else reads as an empty form, so
/// the missing `payment_date` is what the caller is told).
async fn read_form(state: &AppState, request: Request) -> ApiResult<RawForm> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        let multipart = Multipart::from_request(request, state)
            .await
            .map_err(|_| ApiError::bad_request("There was an error parsing the body"))?;
        return read_multipart(multipart, state.storage.max_upload_bytes()).await;
    }
    let mut form = RawForm::default();
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let bytes = axum::body::to_bytes(request.into_body(), MAX_FIELD_BYTES * 4)
            .await
            .map_err(|_| ApiError::bad_request("There was an error parsing the body"))?;
        form.text = url::form_urlencoded::parse(&bytes).into_owned().collect();
    }
    Ok(form)
}

/// The parsed form.
struct RepaymentForm {
    payment_date: Date,
    request: RepaymentRequest,
    evidence_file: Option<EvidenceFile>,
    storage_key: Option<String>,
    file_name: Option<String>,
    provider: Option<String>,
    bucket: Option<String>,
    size_bytes: Option<i64>,
    checksum: Option<String>,
    content_type: Option<String>,
}

/// Every field checked, every error listed (422 in pydantic's shape). Empty strings count as
/// absent. Deliberate difference (Q13): a non-numeric amount is a 422 `decimal_parsing` here
/// (the legacy answered 500), and an empty one is ignored.
fn parse_form(mut raw: RawForm) -> ApiResult<RepaymentForm> {
    let mut errors = Vec::new();
    let mut take = |name: &str| raw.text.remove(name).filter(|v| !v.is_empty());
    let payment_date = match take("payment_date") {
        None => {
            errors.push(FieldError::body(
                &["payment_date"],
                "missing",
                "Field required",
                Value::Null,
            ));
            None
        }
        Some(v) => match parse_date(&json!(v)) {
            Ok(d) => Some(d),
            Err((kind, msg, ctx)) => {
                errors.push(FieldError {
                    ctx,
                    ..FieldError::body(&["payment_date"], kind, msg, json!(v))
                });
                None
            }
        },
    };
    let mut decimal = |name: &str, errors: &mut Vec<FieldError>| -> Option<PyDec> {
        let v = take(name)?;
        let parsed = PyDec::parse(v.trim());
        if parsed.is_none() {
            errors.push(FieldError::body(
                &[name],
                "decimal_parsing",
                "Input should be a valid decimal",
                json!(v),
            ));
        }
        parsed
    };
    let request = RepaymentRequest {
        amount: decimal("amount", &mut errors),
        principal_amount: decimal("principal_amount", &mut errors),
        interest_amount: decimal("interest_amount", &mut errors),
        extra_principal_amount: decimal("extra_principal_amount", &mut errors),
        extra_interest_amount: decimal("extra_interest_amount", &mut errors),
    };
    let mut text = |name: &str, max: usize, errors: &mut Vec<FieldError>| -> Option<String> {
        let v = take(name)?;
        if v.chars().count() > max {
            errors.push(too_long(name, &v, max));
            return None;
        }
        Some(v)
    };
    let storage_key = text("evidence_storage_key", 1024, &mut errors);
    let file_name = text("evidence_file_name", 255, &mut errors);
    let provider = text("evidence_storage_provider", 32, &mut errors);
    let bucket = text("evidence_storage_bucket", 255, &mut errors);
    let checksum = text("evidence_checksum", 128, &mut errors);
    let content_type = text("evidence_content_type", 100, &mut errors);
    let size_bytes = match take("evidence_size_bytes") {
        None => None,
        Some(v) => match lax::py_int::<i64>(&json!(v), None, None) {
            Ok(n) => Some(n),
            Err((kind, msg, ctx)) => {
                errors.push(FieldError {
                    ctx,
                    ..FieldError::body(&["evidence_size_bytes"], kind, msg, json!(v))
                });
                None
            }
        },
    };
    match payment_date {
        Some(payment_date) if errors.is_empty() => Ok(RepaymentForm {
            payment_date,
            request,
            evidence_file: raw.file,
            storage_key,
            file_name,
            provider,
            bucket,
            size_bytes,
            checksum,
            content_type,
        }),
        _ => Err(ApiError::validation(errors)),
    }
}

/// The evidence file's checks (content type, then the multipart rules: extension, size,
/// magic bytes) and the key it will be stored under.
fn check_file(
    state: &AppState,
    org: &crate::domain::org::OrgId,
    loan_id: uuid::Uuid,
    file: &EvidenceFile,
) -> ApiResult<(ObjectKey, String)> {
    service::check_evidence_content_type(file.content_type.as_deref().unwrap_or_default())
        .map_err(|e| match file.content_type {
            Some(_) => rule(e),
            None => rule(LoanError::new(
                "invalid_evidence_type",
                "Evidence must be a PDF or image",
                json!({ "content_type": null }),
            )),
        })?;
    let file_name = content::file_name_or_fallback(Some(&file.file_name)).to_owned();
    let ext = content::extension(&file_name);
    content::check_extension(&ext, LOAN_EXTENSIONS).map_err(files::content_error)?;
    content::check_size(file.bytes.len() as u64, state.storage.max_upload_bytes())
        .map_err(files::content_error)?;
    content::check_magic(&ext, &file.bytes).map_err(files::content_error)?;
    let key = storage_key::repayment_evidence(org, loan_id, &ext)
        .map_err(|e| ApiError::from_unexpected("minting an evidence key", &e))?;
    Ok((key, file_name))
}

/// Records the next scheduled instalment plus any extras (`loan.payment.record`, step-up
/// `LOAN_PAYMENT_RECORD`): 201 with the row and the payment status after it. A repayment
/// that pays the loan off completes it.
#[utoipa::path(post, path = "/org/loans/{loan_id}/repayments", tag = "loan-admin",
    security(("bearer" = [])), params(("loan_id" = uuid::Uuid, Path)),
    request_body(content = Object, description = "multipart or urlencoded form: payment_date, amounts, evidence",
        content_type = "multipart/form-data"),
    responses((status = 201, description = "RepaymentRecorded"), (status = 400), (status = 401),
        (status = 403), (status = 404), (status = 422)))]
async fn record_repayment(
    State(state): State<AppState>,
    user: Can<perm::LoanPaymentRecord, Member>,
    _: StepUp<step::LoanPaymentRecord, Member>,
    ApiPath(raw_loan_id): ApiPath<String>,
    request: Request,
) -> ApiResult<Created<Recorded>> {
    let loan_id = path_uuid("loan_id", &raw_loan_id)?;
    let form = parse_form(read_form(&state, request).await?)?;
    let org = &user.org_id;
    let mut tx = state.db.begin().await?;
    let loan = service::lock(&mut tx, org, loan_id)
        .await
        .map_err(repayment_error)?;
    if form.evidence_file.is_some() && form.storage_key.is_some() {
        return Err(rule(LoanError::bare(
            "invalid_evidence_input",
            "Provide either evidence_file or evidence_storage_key, not both",
        )));
    }
    let plan = service::plan(&mut tx, &loan, form.payment_date, &form.request)
        .await
        .map_err(repayment_error)?;
    let mut to_store = None;
    let evidence = if let Some(file) = &form.evidence_file {
        let (key, file_name) = check_file(&state, org, loan.id, file)?;
        to_store = Some(key.clone());
        Evidence {
            file_name: Some(file_name),
            storage_path_or_url: Some(key.as_str().to_owned()),
            storage_provider: None,
            storage_bucket: None,
            storage_object_key: Some(key.into_string()),
            content_type: file.content_type.clone(),
            size_bytes: i64::try_from(file.bytes.len()).ok(),
            checksum: None,
        }
    } else if let Some(raw_key) = &form.storage_key {
        service::evidence_from_key(
            &state.storage,
            org,
            &EvidenceKey {
                key: raw_key,
                file_name: form.file_name.as_deref(),
                provider: form.provider.as_deref(),
                bucket: form.bucket.as_deref(),
                content_type: form.content_type.as_deref(),
                size_bytes: form.size_bytes,
                checksum: form.checksum.as_deref(),
            },
        )
        .map_err(rule)?
    } else {
        Evidence {
            file_name: form.file_name.clone(),
            ..Evidence::default()
        }
    };
    service::check_status(&loan).map_err(rule)?;
    let mut evidence = evidence;
    let mut stored: Option<(ObjectKey, Provider, Option<String>)> = None;
    if let (Some(key), Some(file)) = (to_store, form.evidence_file.as_ref()) {
        let backend = state
            .storage
            .default_backend()
            .map_err(files::storage_error)?;
        let ext = content::extension(&file.file_name);
        let mut opts = PutOptions::new(state.storage.max_upload_bytes()).sniff(ext);
        if let Some(ct) = &file.content_type {
            opts = opts.content_type(ct.clone());
        }
        let body = futures_util::stream::once(async {
            Ok::<Bytes, std::io::Error>(Bytes::copy_from_slice(&file.bytes))
        });
        backend
            .put_stream(&key, body, &opts)
            .await
            .map_err(files::put_error)?;
        let provider = backend.provider();
        // The legacy stored no bucket for local multipart uploads.
        let bucket = (provider == Provider::Gcs).then(|| backend.bucket().to_owned());
        evidence.storage_provider = Some(provider.as_str().to_owned());
        evidence.storage_bucket = bucket.clone();
        stored = Some((key, provider, bucket));
    }
    let result = async {
        let recorded = service::insert(
            &mut tx,
            user.actor(),
            org,
            &loan,
            form.payment_date,
            &plan,
            &evidence,
        )
        .await
        .map_err(repayment_error)?;
        tx.commit().await?;
        Ok::<_, ApiError>(recorded)
    }
    .await;
    let recorded = match result {
        Ok(r) => r,
        Err(e) => {
            if let Some((key, provider, bucket)) = &stored {
                uploads::delete_best_effort(
                    &state.storage,
                    Some(provider.as_str()),
                    bucket.as_deref(),
                    key.as_str(),
                )
                .await;
            }
            return Err(e);
        }
    };
    if recorded.completed {
        // Q15: the loan's status feeds the applicant's and the org's stock views.
        cache::invalidate_member(&state.cache, org.as_str(), recorded.org_membership_id).await;
        cache::invalidate_org(&state.cache, org.as_str()).await;
    }
    Ok(Created(recorded))
}

// ---------------------------------------------------------------------------------------------
// Upload URL

struct UploadUrlRequest {
    file_name: String,
    content_type: String,
}

/// `{file_name (min 1), content_type, size_bytes (int), checksum?}`, every error listed.
fn upload_url_request(body: &Map<String, Value>) -> ApiResult<(UploadUrlRequest, i64)> {
    let mut errors = Vec::new();
    let missing = |name: &str| {
        FieldError::body(
            &[name],
            "missing",
            "Field required",
            Value::Object(body.clone()),
        )
    };
    let string = |name: &str, min: usize, max: usize, errors: &mut Vec<FieldError>| {
        let Some(v) = body.get(name) else {
            errors.push(missing(name));
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
        if s.chars().count() < min {
            errors.push(
                FieldError::body(
                    &[name],
                    "string_too_short",
                    "String should have at least 1 character",
                    v.clone(),
                )
                .with_ctx(json!({"min_length": min})),
            );
            return None;
        }
        if s.chars().count() > max || s.contains('\0') {
            errors.push(too_long(name, s, max));
            return None;
        }
        Some(s.to_owned())
    };
    let file_name = string("file_name", 1, 255, &mut errors);
    let content_type = string("content_type", 0, 100, &mut errors);
    let size_bytes = match body.get("size_bytes") {
        None => {
            errors.push(missing("size_bytes"));
            None
        }
        Some(v) => match lax::py_int::<i64>(v, None, None) {
            Ok(n) => Some(n),
            Err((kind, msg, ctx)) => {
                errors.push(FieldError {
                    ctx,
                    ..FieldError::body(&["size_bytes"], kind, msg, v.clone())
                });
                None
            }
        },
    };
    if let Some(v) = body.get("checksum").filter(|v| !v.is_null()) {
        match v.as_str() {
            Some(s) if s.chars().count() > 128 => errors.push(too_long("checksum", s, 128)),
            Some(_) => {}
            None => errors.push(FieldError::body(
                &["checksum"],
                "string_type",
                "Input should be a valid string",
                v.clone(),
            )),
        }
    }
    match (file_name, content_type, size_bytes) {
        (Some(file_name), Some(content_type), Some(size)) if errors.is_empty() => Ok((
            UploadUrlRequest {
                file_name,
                content_type,
            },
            size,
        )),
        _ => Err(ApiError::validation(errors)),
    }
}

/// An upload URL for repayment evidence (`orgs/<org>/loans/<loan>/repayments/<hex><ext>`):
/// a signed `PUT` to GCS or a token-free signed `PUT /assets/local-content`. Nothing is
/// stored (`loan.payment.record`, step-up `LOAN_PAYMENT_RECORD`).
#[utoipa::path(post, path = "/org/loans/{loan_id}/repayments/upload-url", tag = "loan-admin",
    security(("bearer" = [])), params(("loan_id" = uuid::Uuid, Path)),
    request_body(content = Object, description = "{file_name, content_type, size_bytes, checksum?}"),
    responses((status = 200, description = "UploadUrl"), (status = 400), (status = 401),
        (status = 403), (status = 404), (status = 422)))]
async fn evidence_upload_url(
    State(state): State<AppState>,
    user: Can<perm::LoanPaymentRecord, Member>,
    _: StepUp<step::LoanPaymentRecord, Member>,
    ApiPath(raw_loan_id): ApiPath<String>,
    body: Bytes,
) -> ApiResult<Envelope<UploadUrlOut>> {
    let loan_id = path_uuid("loan_id", &raw_loan_id)?;
    let (req, size_bytes) = upload_url_request(&body_object(&body)?)?;
    let mut conn = state.db.acquire().await?;
    let loan = flow::find_loan(&mut conn, user.org_id.as_str(), loan_id)
        .await?
        .ok_or_else(|| ApiError::not_found(LOAN_NOT_FOUND))?;
    drop(conn);
    service::check_evidence_content_type(&req.content_type).map_err(rule)?;
    let ext = content::extension(&req.file_name);
    if !ext.is_empty() && !LOAN_EXTENSIONS.contains(&ext.as_str()) {
        return Err(rule(LoanError::new(
            "invalid_file_type",
            "File type not allowed",
            json!({ "extension": ext }),
        )));
    }
    uploads::check_declared_size(&state.storage, Some(size_bytes)).map_err(files::content_error)?;
    let key = storage_key::repayment_evidence(&user.org_id, loan.id, &ext).map_err(|_| {
        rule(LoanError::new(
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
