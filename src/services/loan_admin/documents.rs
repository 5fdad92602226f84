//! `loan_documents` as the admin views show them (`LoanDocument`, loan-admin §3.6).

use serde::Serialize;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::loans::workflow::{DocumentType, StageType};
use crate::timefmt;

/// One `loan_documents` row in wire order; `uploaded_by_name` is the uploader's e-mail in
/// lists (Q12).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LoanDocument {
    pub id: Uuid,
    pub org_id: String,
    pub loan_application_id: Uuid,
    pub stage_type: StageType,
    pub document_type: DocumentType,
    pub file_name: String,
    pub storage_path_or_url: String,
    pub storage_provider: Option<String>,
    pub storage_bucket: Option<String>,
    pub storage_object_key: Option<String>,
    pub content_type: Option<String>,
    pub size_bytes: Option<i64>,
    pub checksum: Option<String>,
    pub uploaded_by_name: Option<String>,
    #[serde(with = "timefmt::z")]
    pub uploaded_at: OffsetDateTime,
    #[serde(with = "timefmt::z")]
    pub created_at: OffsetDateTime,
}

pub(super) type Row = (
    Uuid,
    String,
    Uuid,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    OffsetDateTime,
    OffsetDateTime,
);

pub(super) fn document(r: Row) -> sqlx::Result<LoanDocument> {
    let bad = |what: &str, v: &str| {
        sqlx::Error::Decode(format!("loan_documents.{what} holds {v:?}").into())
    };
    Ok(LoanDocument {
        id: r.0,
        org_id: r.1,
        loan_application_id: r.2,
        stage_type: StageType::parse(&r.3).ok_or_else(|| bad("stage_type", &r.3))?,
        document_type: DocumentType::parse(&r.4).ok_or_else(|| bad("document_type", &r.4))?,
        file_name: r.5,
        storage_path_or_url: r.6,
        storage_provider: r.7,
        storage_bucket: r.8,
        storage_object_key: r.9,
        content_type: r.10,
        size_bytes: r.11,
        checksum: r.12,
        uploaded_by_name: r.13,
        uploaded_at: r.14,
        created_at: r.15,
    })
}

/// Every document of the loan with the uploader's e-mail, oldest first.
pub async fn of_loan(
    conn: &mut PgConnection,
    org_id: &str,
    loan_id: Uuid,
) -> sqlx::Result<Vec<LoanDocument>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT d.id, d.org_id, d.loan_application_id, d.stage_type, d.document_type, d.file_name, \
         d.storage_path_or_url, d.storage_provider, d.storage_bucket, d.storage_object_key, \
         d.content_type, d.size_bytes, d.checksum, u.email, d.uploaded_at, d.created_at \
         FROM loan_documents d LEFT JOIN users u ON u.id = d.uploaded_by_user_id \
         WHERE d.org_id = $1 AND d.loan_application_id = $2 ORDER BY d.created_at, d.id",
    )
    .bind(org_id)
    .bind(loan_id)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(document).collect()
}
