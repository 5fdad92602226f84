//! The borrower's loan documents (loans contract §2.8, §2.9, §2.14, §2.15): the grouped list,
//! the lookup of an own document for download, the 83(b) rules, and the registration of an
//! uploaded 83(b) election, which completes the loan's BORROWER_83B_ELECTION stage.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::loans::LoanError;
use crate::domain::loans::workflow::{DocumentType, LoanStatus, StageType};
use crate::domain::org::OrgId;
use crate::storage::content;
use crate::timefmt;

pub const DOCUMENT_NOT_FOUND: &str = "Loan document not found";

/// The extensions an 83(b) election may have (a name without one passes, as in the legacy).
pub const ELECTION_EXTENSIONS: [&str; 6] = [".pdf", ".png", ".jpg", ".jpeg", ".webp", ".gif"];

/// `LoanDocumentDTO`, keys in wire order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct LoanDocumentOut {
    pub id: Uuid,
    pub org_id: String,
    pub loan_application_id: Uuid,
    pub stage_type: String,
    pub document_type: String,
    pub file_name: String,
    pub storage_path_or_url: String,
    pub storage_provider: Option<String>,
    pub storage_bucket: Option<String>,
    pub storage_object_key: Option<String>,
    pub content_type: Option<String>,
    pub size_bytes: Option<i64>,
    pub checksum: Option<String>,
    /// The uploader's e-mail (the legacy profile lookup never found a name); null when the
    /// uploader's user was deleted.
    pub uploaded_by_name: Option<String>,
    #[serde(with = "timefmt::z")]
    pub uploaded_at: OffsetDateTime,
    #[serde(with = "timefmt::z")]
    pub created_at: OffsetDateTime,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DocumentGroup {
    pub stage_type: String,
    pub documents: Vec<LoanDocumentOut>,
}

/// `LoanDocumentListResponse`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DocumentList {
    pub loan_id: Uuid,
    pub total: usize,
    pub groups: Vec<DocumentGroup>,
}

const SELECT: &str = "SELECT d.id, d.org_id, d.loan_application_id, d.stage_type, d.document_type, \
    d.file_name, d.storage_path_or_url, d.storage_provider, d.storage_bucket, d.storage_object_key, \
    d.content_type, d.size_bytes, d.checksum, u.email AS uploaded_by_name, d.uploaded_at, \
    d.created_at FROM loan_documents d LEFT JOIN users u ON u.id = d.uploaded_by_user_id";

/// Every document of the loan (all stages), newest upload first within each stage, the
/// stages in name order.
pub async fn list(
    conn: &mut PgConnection,
    org: &OrgId,
    loan_id: Uuid,
) -> sqlx::Result<DocumentList> {
    let rows: Vec<LoanDocumentOut> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE d.org_id = $1 AND d.loan_application_id = $2 \
         ORDER BY d.uploaded_at DESC, d.created_at DESC, d.id"
    )))
    .bind(org.as_str())
    .bind(loan_id)
    .fetch_all(conn)
    .await?;
    let total = rows.len();
    let mut grouped: BTreeMap<String, Vec<LoanDocumentOut>> = BTreeMap::new();
    for doc in rows {
        grouped.entry(doc.stage_type.clone()).or_default().push(doc);
    }
    Ok(DocumentList {
        loan_id,
        total,
        groups: grouped
            .into_iter()
            .map(|(stage_type, documents)| DocumentGroup {
                stage_type,
                documents,
            })
            .collect(),
    })
}

/// Where a document's bytes are.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredFile {
    pub file_name: String,
    pub storage_path_or_url: String,
    pub storage_provider: Option<String>,
    pub storage_bucket: Option<String>,
    pub storage_object_key: Option<String>,
}

impl StoredFile {
    /// The object key to read: the object key column on GCS rows (as the legacy signed it),
    /// the path column otherwise.
    pub fn key(&self) -> &str {
        match (self.storage_provider.as_deref(), &self.storage_object_key) {
            (Some("gcs"), Some(key)) => key,
            _ => &self.storage_path_or_url,
        }
    }
}

/// A document of one of `membership_id`'s loans in the org, or `None`.
pub async fn own_file(
    conn: &mut PgConnection,
    org: &OrgId,
    membership_id: Uuid,
    document_id: Uuid,
) -> sqlx::Result<Option<StoredFile>> {
    sqlx::query_as(
        "SELECT d.file_name, d.storage_path_or_url, d.storage_provider, d.storage_bucket, \
         d.storage_object_key FROM loan_documents d JOIN loan_applications a \
         ON a.id = d.loan_application_id AND a.org_id = d.org_id \
         WHERE d.org_id = $1 AND d.id = $2 AND a.org_membership_id = $3",
    )
    .bind(org.as_str())
    .bind(document_id)
    .bind(membership_id)
    .fetch_optional(conn)
    .await
}

/// The first two checks of both 83(b) routes: the loan is ACTIVE, the document an election.
pub fn check_election(status: LoanStatus, document_type: DocumentType) -> Result<(), LoanError> {
    if status != LoanStatus::Active {
        return Err(LoanError::new(
            "invalid_status",
            "Loan must be ACTIVE before uploading 83(b) documents",
            json!({"status": status.as_str()}),
        ));
    }
    if document_type != DocumentType::Section83bElection {
        return Err(LoanError::new(
            "invalid_document_type",
            "Borrower documents must be SECTION_83B_ELECTION",
            json!({"document_type": document_type.as_str()}),
        ));
    }
    Ok(())
}

/// The lower-cased extension of an election's file name (`""` without one), refused unless
/// it is an allowed one.
pub fn election_extension(file_name: &str) -> Result<String, LoanError> {
    let ext = content::extension(file_name);
    if ext.is_empty() || ELECTION_EXTENSIONS.contains(&ext.as_str()) {
        Ok(ext)
    } else {
        Err(LoanError::new(
            "invalid_file_type",
            "File type not allowed",
            json!({"extension": ext}),
        ))
    }
}

/// An uploaded election to register, its key checked and its object found.
#[derive(Clone, Debug)]
pub struct Election<'a> {
    pub key: &'a str,
    pub provider: &'a str,
    pub bucket: Option<&'a str>,
    pub file_name: &'a str,
    pub content_type: Option<&'a str>,
    pub size_bytes: Option<i64>,
    pub checksum: Option<&'a str>,
    pub uploaded_by: Uuid,
}

/// What registering an election changed, for the audit rows.
#[derive(Clone, Debug)]
pub struct Registered {
    pub document: LoanDocumentOut,
    pub document_snapshot: Value,
    pub stage_id: Uuid,
    pub stage_before: Value,
    pub stage_after: Value,
}

async fn stage_snapshot(conn: &mut PgConnection, stage_id: Uuid) -> sqlx::Result<Value> {
    sqlx::query_scalar("SELECT to_json(s) FROM loan_workflow_stages s WHERE s.id = $1")
        .bind(stage_id)
        .fetch_one(conn)
        .await
}

/// Registers the election: the loan's BORROWER_83B_ELECTION stage (created when missing)
/// becomes COMPLETED by the uploader, and a document row is added to that stage. Repeating it
/// adds another document.
pub async fn register_election(
    conn: &mut PgConnection,
    org: &OrgId,
    loan_id: Uuid,
    election: &Election<'_>,
    now: OffsetDateTime,
) -> sqlx::Result<Registered> {
    let stage_type = StageType::Borrower83bElection;
    let existing: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM loan_workflow_stages WHERE org_id = $1 AND loan_application_id = $2 \
         AND stage_type = $3 ORDER BY created_at, id LIMIT 1 FOR UPDATE",
    )
    .bind(org.as_str())
    .bind(loan_id)
    .bind(stage_type.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let stage_id = match existing {
        Some(id) => id,
        None => {
            let id = Uuid::new_v4();
            sqlx::query(
                "INSERT INTO loan_workflow_stages (id, org_id, loan_application_id, stage_type, \
                 status, assigned_role_hint) VALUES ($1, $2, $3, $4, 'PENDING', $5)",
            )
            .bind(id)
            .bind(org.as_str())
            .bind(loan_id)
            .bind(stage_type.as_str())
            .bind(stage_type.role_hint())
            .execute(&mut *conn)
            .await?;
            id
        }
    };
    let stage_before = stage_snapshot(conn, stage_id).await?;
    sqlx::query(
        "UPDATE loan_workflow_stages SET status = 'COMPLETED', completed_at = $2, \
         completed_by_user_id = $3, updated_at = $2 WHERE id = $1",
    )
    .bind(stage_id)
    .bind(now)
    .bind(election.uploaded_by)
    .execute(&mut *conn)
    .await?;
    let stage_after = stage_snapshot(conn, stage_id).await?;
    let document_id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO loan_documents (id, org_id, loan_application_id, stage_type, document_type, \
         file_name, storage_path_or_url, storage_provider, storage_bucket, storage_object_key, \
         content_type, size_bytes, checksum, uploaded_by_user_id, uploaded_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $7, $10, $11, $12, $13, $14, $14)",
    )
    .bind(document_id)
    .bind(org.as_str())
    .bind(loan_id)
    .bind(stage_type.as_str())
    .bind(DocumentType::Section83bElection.as_str())
    .bind(election.file_name)
    .bind(election.key)
    .bind(election.provider)
    .bind(election.bucket)
    .bind(election.content_type)
    .bind(election.size_bytes)
    .bind(election.checksum)
    .bind(election.uploaded_by)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let document_snapshot: Value =
        sqlx::query_scalar("SELECT to_json(d) FROM loan_documents d WHERE d.id = $1")
            .bind(document_id)
            .fetch_one(&mut *conn)
            .await?;
    let document: LoanDocumentOut =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE d.id = $1")))
            .bind(document_id)
            .fetch_one(&mut *conn)
            .await?;
    Ok(Registered {
        document,
        document_snapshot,
        stage_id,
        stage_before,
        stage_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn election_rules_come_in_the_legacy_order() {
        let e =
            check_election(LoanStatus::Cancelled, DocumentType::PaymentInstructions).unwrap_err();
        assert_eq!(
            (e.code, e.details),
            ("invalid_status", json!({"status": "CANCELLED"}))
        );
        let e = check_election(LoanStatus::Active, DocumentType::PaymentInstructions).unwrap_err();
        assert_eq!(e.code, "invalid_document_type");
        assert!(check_election(LoanStatus::Active, DocumentType::Section83bElection).is_ok());
    }

    #[test]
    fn election_files_are_images_or_pdfs() {
        assert_eq!(election_extension("My 83b Election.PDF").unwrap(), ".pdf");
        assert_eq!(election_extension("scan").unwrap(), "");
        let e = election_extension("election.exe").unwrap_err();
        assert_eq!(
            (e.code, e.details),
            ("invalid_file_type", json!({"extension": ".exe"}))
        );
    }
}
