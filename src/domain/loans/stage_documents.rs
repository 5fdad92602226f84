//! Which documents the admin document routes accept (loan-admin §2, §5.9): the document type
//! each stage route takes with its legacy refusal, the upload-URL's stage resolution, and the
//! share-certificate rules. Pure rules; the services and handlers apply them in the legacy
//! order.

use serde_json::json;

use super::LoanError;
use super::workflow::{DocumentType, LoanStatus, StageType};

/// How a document reached the route: the JSON registration of an uploaded object, or the
/// multipart upload (the finance message differs between the two in the legacy service).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    Register,
    Multipart,
}

fn invalid_type(message: &'static str, document_type: DocumentType) -> LoanError {
    LoanError::new(
        "invalid_document_type",
        message,
        json!({ "document_type": document_type.as_str() }),
    )
}

/// Refuses a document type the stage route `stage` does not take (§5.9 step 2). The
/// post-issuance stage takes only SHARE_CERTIFICATE.
pub fn check_stage_type(
    stage: StageType,
    document_type: DocumentType,
    via: Via,
) -> Result<(), LoanError> {
    if document_type.stage() == stage && document_type != DocumentType::Section83bElection {
        return Ok(());
    }
    Err(invalid_type(
        match (stage, via) {
            (StageType::HrReview, _) => {
                "HR documents must be Notice of Stock Option Grant or Spouse/Partner Consent"
            }
            (StageType::FinanceProcessing, Via::Register) => {
                "Finance documents must be PAYMENT_INSTRUCTIONS or PAYMENT_CONFIRMATION"
            }
            (StageType::FinanceProcessing, Via::Multipart) => {
                "Finance documents must be Payment Instructions or Payment Confirmation"
            }
            (StageType::LegalExecution, _) => {
                "Legal documents must be execution documents for the loan"
            }
            (StageType::LegalPostIssuance, _) => {
                "Legal post-issuance documents must be SHARE_CERTIFICATE"
            }
            (StageType::Borrower83bElection, _) => {
                "Borrower documents must be uploaded via self-service endpoint"
            }
        },
        document_type,
    ))
}

fn certificate_needs_active(status: LoanStatus) -> LoanError {
    LoanError::new(
        "invalid_status",
        "Loan must be ACTIVE before uploading share certificates",
        json!({ "status": status.as_str() }),
    )
}

/// The upload URL's checks before the permission (§5.9 upload-url steps 2–3): the stage the
/// document type belongs to; 83(b) elections are the borrower's, and share certificates need
/// an ACTIVE loan.
pub fn upload_url_stage(
    document_type: DocumentType,
    loan: LoanStatus,
) -> Result<StageType, LoanError> {
    let stage = document_type.stage();
    match stage {
        StageType::Borrower83bElection => Err(invalid_type(
            "Borrower documents must be uploaded via self-service endpoint",
            document_type,
        )),
        StageType::LegalPostIssuance if loan != LoanStatus::Active => {
            Err(certificate_needs_active(loan))
        }
        _ => Ok(stage),
    }
}

/// The share-certificate routes' checks in the legacy order: the loan is ACTIVE, then the type
/// is SHARE_CERTIFICATE.
pub fn check_certificate(loan: LoanStatus, document_type: DocumentType) -> Result<(), LoanError> {
    if loan != LoanStatus::Active {
        return Err(certificate_needs_active(loan));
    }
    check_stage_type(StageType::LegalPostIssuance, document_type, Via::Register)
}

#[cfg(test)]
mod tests {
    use super::*;
    use DocumentType as D;
    use StageType as S;

    #[test]
    fn every_type_is_taken_only_by_its_own_stage_route() {
        for &d in D::ALL {
            for stage in [
                S::HrReview,
                S::FinanceProcessing,
                S::LegalExecution,
                S::LegalPostIssuance,
            ] {
                for via in [Via::Register, Via::Multipart] {
                    let ok = check_stage_type(stage, d, via).is_ok();
                    assert_eq!(ok, d.stage() == stage, "{d} on {stage} ({via:?})");
                }
            }
            assert!(check_stage_type(S::Borrower83bElection, d, Via::Register).is_err());
        }
    }

    #[test]
    fn refusals_carry_the_legacy_texts() {
        let e = check_stage_type(S::HrReview, D::PaymentInstructions, Via::Register).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_ref(), e.details),
            (
                "invalid_document_type",
                "HR documents must be Notice of Stock Option Grant or Spouse/Partner Consent",
                json!({"document_type": "PAYMENT_INSTRUCTIONS"})
            )
        );
        let register =
            check_stage_type(S::FinanceProcessing, D::ShareCertificate, Via::Register).unwrap_err();
        let multipart = check_stage_type(S::FinanceProcessing, D::ShareCertificate, Via::Multipart)
            .unwrap_err();
        assert_eq!(
            register.message,
            "Finance documents must be PAYMENT_INSTRUCTIONS or PAYMENT_CONFIRMATION"
        );
        assert_eq!(
            multipart.message,
            "Finance documents must be Payment Instructions or Payment Confirmation"
        );
        let e =
            check_stage_type(S::LegalExecution, D::ShareCertificate, Via::Multipart).unwrap_err();
        assert_eq!(
            e.message,
            "Legal documents must be execution documents for the loan"
        );
    }

    #[test]
    fn upload_urls_resolve_the_stage_and_guard_borrower_and_certificate_types() {
        assert_eq!(
            upload_url_stage(D::SpousePartnerConsent, LoanStatus::Submitted).unwrap(),
            S::HrReview
        );
        assert_eq!(
            upload_url_stage(D::ShareCertificate, LoanStatus::Active).unwrap(),
            S::LegalPostIssuance
        );
        let e = upload_url_stage(D::Section83bElection, LoanStatus::Active).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_ref()),
            (
                "invalid_document_type",
                "Borrower documents must be uploaded via self-service endpoint"
            )
        );
        for status in LoanStatus::ALL.iter().filter(|s| **s != LoanStatus::Active) {
            let e = upload_url_stage(D::ShareCertificate, *status).unwrap_err();
            assert_eq!(
                (e.code, e.details),
                ("invalid_status", json!({"status": status.as_str()}))
            );
        }
    }

    #[test]
    fn certificates_check_the_status_before_the_type() {
        let e = check_certificate(LoanStatus::Submitted, D::SecuredPromissoryNote).unwrap_err();
        assert_eq!(e.code, "invalid_status");
        let e = check_certificate(LoanStatus::Active, D::SecuredPromissoryNote).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_ref()),
            (
                "invalid_document_type",
                "Legal post-issuance documents must be SHARE_CERTIFICATE"
            )
        );
        assert!(check_certificate(LoanStatus::Active, D::ShareCertificate).is_ok());
    }
}
