//! The loan endpoints (contracts `domain-loans.md` and `domain-loan-admin.md`): quotes and the
//! borrower's applications (§2.1–§2.7), the PBGC mid-term rates (§2.17–§2.18), the loan
//! dashboard, and under `admin/` the org's `/org/loans` administration, which shares the
//! borrower side's request parsers. Handlers are thin: guards in the legacy order, then path/query/body validation;
//! they own the transaction and call `services::loans`.

pub mod admin;
pub mod applications;
pub mod borrower;
pub mod dashboard;
pub mod params;
pub mod pbgc;

use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;

use crate::domain::loans::LoanError;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::services::loans::LoanFailure;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(applications::router())
        .merge(pbgc::router())
        .merge(dashboard::router())
        .merge(borrower::router())
}

/// A domain refusal as the legacy envelope: 400 with its code, message and details.
pub fn domain_error(e: LoanError) -> ApiError {
    ApiError::coded(StatusCode::BAD_REQUEST, e.code, e.message, e.details)
}

impl From<LoanFailure> for ApiError {
    fn from(failure: LoanFailure) -> Self {
        match failure {
            LoanFailure::Domain(e) => domain_error(e),
            LoanFailure::NotFound => ApiError::not_found("Loan application not found"),
            LoanFailure::Conflict => ApiError::coded(
                StatusCode::CONFLICT,
                "concurrent_update",
                "The loan application was updated by another request. Please refresh and retry.",
                serde_json::json!({}),
            ),
            LoanFailure::Db(e) => e.into(),
        }
    }
}
