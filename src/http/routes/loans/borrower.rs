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
use crate::domain::permissions::perm;
use crate::http::envelope::Envelope;
use crate::http::error::{ApiError, ApiResult, FieldError};
use crate::http::extract::{ApiPath, ApiQuery};
use crate::http::guard::{Can, Member};
use crate::http::routes::stock::params::{parse_date, path_uuid};
use crate::http::state::AppState;
use crate::http::validate::{body_object, lax};
use crate::services::loans::borrower::{self, RepaymentList, ViewError};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(repayments))
        .routes(routes!(schedule))
        .routes(routes!(what_if))
        .routes(routes!(export_csv))
}

/// A domain refusal as the legacy 400 envelope.
pub(super) fn rule(e: LoanError) -> ApiError {
    ApiError::coded(StatusCode::BAD_REQUEST, e.code, e.message, e.details)
}

pub(super) fn view_error(e: ViewError) -> ApiError {
    match e {
        ViewError::NotFound(detail) => ApiError::not_found(detail),
        ViewError::Rule(e) => rule(e),
        ViewError::Db(e) => e.into(),
    }
}

/// `?as_of=&include_paid=` of the schedule and the export, raw until the guards passed.
#[derive(Debug, Default, Deserialize)]
struct ScheduleQuery {
    as_of: Option<String>,
    include_paid: Option<String>,
}

impl ScheduleQuery {
    /// `(as_of, include_paid)` (defaults today and false), both errors listed when both are
    /// bad.
    fn parse(&self, today: time::Date) -> ApiResult<(time::Date, bool)> {
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
    params(("loan_id" = String, Path)),
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
    params(("loan_id" = String, Path), ("as_of" = Option<String>, Query), ("include_paid" = Option<bool>, Query)),
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
fn what_if_request(body: &Map<String, Value>) -> ApiResult<WhatIfRequest> {
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
    params(("loan_id" = String, Path)), request_body(content = Object, description = "LoanScheduleWhatIfRequest"),
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
    params(("loan_id" = String, Path), ("as_of" = Option<String>, Query), ("include_paid" = Option<bool>, Query)),
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
