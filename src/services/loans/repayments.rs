//! `loan_repayments` as both lists show them: the borrower's (`LoanRepaymentDTO`, loans §3.3)
//! and the admin's (`Repayment`, loan-admin §3.8) have the same keys in the same order.

use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::domain::decimal::{at_column_scale, serde_py_str};
use crate::domain::loans::wire;
use crate::timefmt;

/// One repayment in wire order; `recorded_by_name` is the recorder's e-mail (Q12).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RepaymentOut {
    pub id: Uuid,
    pub org_id: String,
    pub loan_application_id: Uuid,
    #[serde(with = "serde_py_str")]
    pub amount: Decimal,
    #[serde(with = "serde_py_str")]
    pub principal_amount: Decimal,
    #[serde(with = "serde_py_str")]
    pub interest_amount: Decimal,
    #[serde(with = "wire::date")]
    pub payment_date: Date,
    pub recorded_by_name: Option<String>,
    pub evidence_file_name: Option<String>,
    pub evidence_storage_path_or_url: Option<String>,
    pub evidence_storage_provider: Option<String>,
    pub evidence_storage_bucket: Option<String>,
    pub evidence_storage_object_key: Option<String>,
    pub evidence_content_type: Option<String>,
    pub evidence_size_bytes: Option<i64>,
    pub evidence_checksum: Option<String>,
    #[serde(with = "timefmt::z")]
    pub created_at: OffsetDateTime,
}

fn repayment(r: &PgRow) -> sqlx::Result<RepaymentOut> {
    let money = |i: usize| r.try_get::<Decimal, _>(i).map(|d| at_column_scale(d, 6));
    Ok(RepaymentOut {
        id: r.try_get(0)?,
        org_id: r.try_get(1)?,
        loan_application_id: r.try_get(2)?,
        amount: money(3)?,
        principal_amount: money(4)?,
        interest_amount: money(5)?,
        payment_date: r.try_get(6)?,
        recorded_by_name: r.try_get(7)?,
        evidence_file_name: r.try_get(8)?,
        evidence_storage_path_or_url: r.try_get(9)?,
        evidence_storage_provider: r.try_get(10)?,
        evidence_storage_bucket: r.try_get(11)?,
        evidence_storage_object_key: r.try_get(12)?,
        evidence_content_type: r.try_get(13)?,
        evidence_size_bytes: r.try_get(14)?,
        evidence_checksum: r.try_get(15)?,
        created_at: r.try_get(16)?,
    })
}

/// The loan's repayments, newest payment date first, then newest recorded first.
pub async fn of_loan(
    conn: &mut PgConnection,
    org_id: &str,
    loan_id: Uuid,
) -> sqlx::Result<Vec<RepaymentOut>> {
    let rows: Vec<PgRow> = sqlx::query(
        "SELECT r.id, r.org_id, r.loan_application_id, r.amount, r.principal_amount, \
         r.interest_amount, r.payment_date, u.email, r.evidence_file_name, \
         r.evidence_storage_path_or_url, r.evidence_storage_provider, r.evidence_storage_bucket, \
         r.evidence_storage_object_key, r.evidence_content_type, r.evidence_size_bytes, \
         r.evidence_checksum, r.created_at FROM loan_repayments r \
         LEFT JOIN users u ON u.id = r.recorded_by_user_id \
         WHERE r.org_id = $1 AND r.loan_application_id = $2 \
         ORDER BY r.payment_date DESC, r.created_at DESC, r.id",
    )
    .bind(org_id)
    .bind(loan_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(repayment).collect()
}
