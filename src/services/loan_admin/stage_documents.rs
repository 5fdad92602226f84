//! The admin side of stage documents (loan-admin §5.9): registering an uploaded object or a
//! multipart upload under a stage, share certificates that complete the post-issuance stage,
//! and the lookup behind the download.
//!
//! Every `loan_document.created` audit row carries the document's real id and a snapshot with
//! its real timestamps (quirk Q6: the legacy wrote "None" and nulls).

use serde_json::Value;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::documents::{self, LoanDocument, Row};
use super::stages;
use super::workflow::{WorkflowError, lock_loan};
use crate::domain::loans::stage_documents;
use crate::domain::loans::workflow::{self, DocumentType, StageAction, StageEffect, StageType};
use crate::services::audit::{self, Actor};
use crate::services::loans::documents::StoredFile;

/// A document to add: its object is stored (or checked to exist) by the caller.
#[derive(Clone, Debug)]
pub struct NewDocument<'a> {
    pub loan_id: Uuid,
    pub stage_type: StageType,
    pub document_type: DocumentType,
    pub file_name: &'a str,
    /// Stored as both `storage_path_or_url` and `storage_object_key`.
    pub key: &'a str,
    pub provider: Option<&'a str>,
    pub bucket: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub size_bytes: Option<i64>,
    pub checksum: Option<&'a str>,
}

/// The row as JSON in column order, which is the legacy model's field order (`to_jsonb`
/// would reorder the keys).
async fn snapshot(conn: &mut PgConnection, document_id: Uuid) -> sqlx::Result<Value> {
    sqlx::query_scalar("SELECT to_json(d) FROM loan_documents d WHERE d.id = $1")
        .bind(document_id)
        .fetch_one(conn)
        .await
}

/// Inserts the document row, uploaded by the actor now, and its `loan_document.created` audit
/// row. Returns the document as the create routes answer it (`uploaded_by_name` null, Q12).
pub async fn create(
    conn: &mut PgConnection,
    actor: Actor<'_>,
    doc: &NewDocument<'_>,
    now: OffsetDateTime,
) -> sqlx::Result<LoanDocument> {
    let row: Row = sqlx::query_as(
        "INSERT INTO loan_documents (id, org_id, loan_application_id, stage_type, document_type, \
         file_name, storage_path_or_url, storage_provider, storage_bucket, storage_object_key, \
         content_type, size_bytes, checksum, uploaded_by_user_id, uploaded_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $7, $10, $11, $12, $13, $14, $14) \
         RETURNING id, org_id, loan_application_id, stage_type, document_type, file_name, \
         storage_path_or_url, storage_provider, storage_bucket, storage_object_key, content_type, \
         size_bytes, checksum, NULL::varchar, uploaded_at, created_at",
    )
    .bind(Uuid::new_v4())
    .bind(actor.org_id)
    .bind(doc.loan_id)
    .bind(doc.stage_type.as_str())
    .bind(doc.document_type.as_str())
    .bind(doc.file_name)
    .bind(doc.key)
    .bind(doc.provider)
    .bind(doc.bucket)
    .bind(doc.content_type)
    .bind(doc.size_bytes)
    .bind(doc.checksum)
    .bind(actor.user_id)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    let document = documents::document(row)?;
    let new = snapshot(conn, document.id).await?;
    audit::record(
        conn,
        actor.entry(
            "loan_document.created",
            "loan_document",
            document.id,
            None,
            Some(new),
        ),
    )
    .await?;
    Ok(document)
}

/// Adds a SHARE_CERTIFICATE and completes the loan's LEGAL_POST_ISSUANCE stage (created when
/// missing), under the loan's row lock: the loan must still be ACTIVE. Every call adds another
/// certificate and stamps the completion again, as in the legacy service. The caller checked
/// the step-up before anything was stored (quirk Q5).
pub async fn issue_certificate(
    conn: &mut PgConnection,
    actor: Actor<'_>,
    doc: &NewDocument<'_>,
    now: OffsetDateTime,
) -> Result<LoanDocument, WorkflowError> {
    let org_id = actor.org_id;
    let loan = lock_loan(conn, org_id, doc.loan_id)
        .await?
        .ok_or(WorkflowError::NotFound("Loan application not found"))?;
    stage_documents::check_certificate(loan.status, doc.document_type)?;
    let stage_type = StageType::LegalPostIssuance;
    stages::ensure(conn, org_id, loan.id, &[stage_type]).await?;
    let stage = stages::find(conn, org_id, loan.id, stage_type, true)
        .await?
        .ok_or(WorkflowError::NotFound("Workflow stage not found"))?;
    let step = workflow::stage_transition(
        stage_type,
        stage.status,
        loan.status,
        StageAction::ShareCertificate,
    )?;
    let document = create(conn, actor, doc, now).await?;
    let mut current = stage.clone();
    for effect in &step.effects {
        match effect {
            StageEffect::StampCompletion => {
                current = stages::complete(conn, stage.id, actor.user_id, now).await?;
            }
            StageEffect::Audit(action) => {
                audit::record(
                    conn,
                    actor.entry(
                        action,
                        "loan_workflow_stage",
                        stage.id,
                        Some(stage.snapshot()),
                        Some(current.snapshot()),
                    ),
                )
                .await?;
            }
            _ => {}
        }
    }
    Ok(document)
}

/// Where a document of any loan of the org keeps its bytes, or `None`.
pub async fn file(
    conn: &mut PgConnection,
    org_id: &str,
    document_id: Uuid,
) -> sqlx::Result<Option<StoredFile>> {
    sqlx::query_as(
        "SELECT file_name, storage_path_or_url, storage_provider, storage_bucket, \
         storage_object_key FROM loan_documents WHERE org_id = $1 AND id = $2",
    )
    .bind(org_id)
    .bind(document_id)
    .fetch_optional(conn)
    .await
}
