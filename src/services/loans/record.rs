//! The shared loan row model: one `loan_applications` row as a typed [`LoanRecord`], its
//! loaders, the stage and document rows the borrower views read, and the borrower's wire shape
//! [`SelfLoan`] (loans contract §3.1).
//!
//! Every loader filters on the org: a loan of another org is "not found". Money columns keep
//! their column scale (`numeric(18,6)` → `2500.000000`), and the JSONB snapshots are kept as
//! PostgreSQL returns them (its key order is the legacy wire order, §3.1).

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::domain::decimal::{at_column_scale, py_str, serde_py_str};
use crate::domain::loans::terms::{InterestType, RepaymentMethod, SelectionMode};
use crate::domain::loans::wire;
use crate::domain::loans::workflow::{
    DocumentType, LoanStatus, StageSnapshot, StageStatus, StageType, current_stage, workflow_flags,
};
use crate::domain::org::OrgId;
use crate::timefmt;

/// One `loan_applications` row, every column.
#[derive(Clone, Debug, PartialEq)]
pub struct LoanRecord {
    pub id: Uuid,
    pub org_id: String,
    pub org_membership_id: Uuid,
    pub status: LoanStatus,
    pub decision_reason: Option<String>,
    /// The optimistic-lock counter (§7.7): every update adds `AND version = <loaded>`.
    pub version: i32,
    pub create_idempotency_key: Option<String>,
    pub submit_idempotency_key: Option<String>,
    pub as_of_date: Date,
    pub selection_mode: SelectionMode,
    pub selection_value_snapshot: Decimal,
    pub shares_to_exercise: i64,
    pub total_exercisable_shares_snapshot: i64,
    pub purchase_price: Decimal,
    pub down_payment_amount: Decimal,
    pub loan_principal: Decimal,
    pub policy_version_snapshot: Option<i32>,
    pub interest_type: InterestType,
    pub repayment_method: RepaymentMethod,
    pub term_months: i32,
    /// numeric(10,4): the quote's rate rounded to cents (quirk 5).
    pub nominal_annual_rate_percent: Decimal,
    pub estimated_monthly_payment: Decimal,
    pub total_payable_amount: Decimal,
    pub total_interest_amount: Decimal,
    pub quote_inputs_snapshot: Value,
    pub quote_option_snapshot: Value,
    pub allocation_strategy: String,
    pub allocation_snapshot: Value,
    pub org_settings_snapshot: Value,
    pub eligibility_result_snapshot: Value,
    pub activation_date: Option<OffsetDateTime>,
    pub election_83b_due_date: Option<Date>,
    pub marital_status_snapshot: Option<String>,
    pub spouse_first_name: Option<String>,
    pub spouse_middle_name: Option<String>,
    pub spouse_last_name: Option<String>,
    pub spouse_email: Option<String>,
    pub spouse_phone: Option<String>,
    pub spouse_address: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// Every column, in table order, for `SELECT {COLUMNS}` and `RETURNING {COLUMNS}`.
pub const COLUMNS: &str = "id, org_id, org_membership_id, status, decision_reason, version, \
    create_idempotency_key, submit_idempotency_key, as_of_date, selection_mode, \
    selection_value_snapshot, shares_to_exercise, total_exercisable_shares_snapshot, \
    purchase_price, down_payment_amount, loan_principal, policy_version_snapshot, interest_type, \
    repayment_method, term_months, nominal_annual_rate_percent, estimated_monthly_payment, \
    total_payable_amount, total_interest_amount, quote_inputs_snapshot, quote_option_snapshot, \
    allocation_strategy, allocation_snapshot, org_settings_snapshot, eligibility_result_snapshot, \
    activation_date, election_83b_due_date, marital_status_snapshot, spouse_first_name, \
    spouse_middle_name, spouse_last_name, spouse_email, spouse_phone, spouse_address, \
    created_at, updated_at";

/// The row as the database hands it over; [`LoanRecord`] types its value sets.
#[derive(sqlx::FromRow)]
pub struct RawLoanRow {
    id: Uuid,
    org_id: String,
    org_membership_id: Uuid,
    status: String,
    decision_reason: Option<String>,
    version: i32,
    create_idempotency_key: Option<String>,
    submit_idempotency_key: Option<String>,
    as_of_date: Date,
    selection_mode: String,
    selection_value_snapshot: Decimal,
    shares_to_exercise: i64,
    total_exercisable_shares_snapshot: i64,
    purchase_price: Decimal,
    down_payment_amount: Decimal,
    loan_principal: Decimal,
    policy_version_snapshot: Option<i32>,
    interest_type: String,
    repayment_method: String,
    term_months: i32,
    nominal_annual_rate_percent: Decimal,
    estimated_monthly_payment: Decimal,
    total_payable_amount: Decimal,
    total_interest_amount: Decimal,
    quote_inputs_snapshot: Value,
    quote_option_snapshot: Value,
    allocation_strategy: String,
    allocation_snapshot: Value,
    org_settings_snapshot: Value,
    eligibility_result_snapshot: Value,
    activation_date: Option<OffsetDateTime>,
    election_83b_due_date: Option<Date>,
    marital_status_snapshot: Option<String>,
    spouse_first_name: Option<String>,
    spouse_middle_name: Option<String>,
    spouse_last_name: Option<String>,
    spouse_email: Option<String>,
    spouse_phone: Option<String>,
    spouse_address: Option<String>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

/// A stored value outside its value set (the CHECK constraints make this unreachable).
fn bad_value(column: &'static str, value: &str) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: format!("unexpected value {value:?}").into(),
    }
}

fn typed<T>(column: &'static str, value: &str, parse: fn(&str) -> Option<T>) -> sqlx::Result<T> {
    parse(value).ok_or_else(|| bad_value(column, value))
}

/// A numeric(18,6) value at its column scale (the driver hands a stored zero over as `0`).
fn money(d: Decimal) -> Decimal {
    at_column_scale(d, 6)
}

impl TryFrom<RawLoanRow> for LoanRecord {
    type Error = sqlx::Error;

    fn try_from(r: RawLoanRow) -> sqlx::Result<Self> {
        Ok(Self {
            status: typed("status", &r.status, LoanStatus::parse)?,
            selection_mode: typed("selection_mode", &r.selection_mode, SelectionMode::parse)?,
            interest_type: typed("interest_type", &r.interest_type, InterestType::parse)?,
            repayment_method: typed(
                "repayment_method",
                &r.repayment_method,
                RepaymentMethod::parse,
            )?,
            id: r.id,
            org_id: r.org_id,
            org_membership_id: r.org_membership_id,
            decision_reason: r.decision_reason,
            version: r.version,
            create_idempotency_key: r.create_idempotency_key,
            submit_idempotency_key: r.submit_idempotency_key,
            as_of_date: r.as_of_date,
            selection_value_snapshot: money(r.selection_value_snapshot),
            shares_to_exercise: r.shares_to_exercise,
            total_exercisable_shares_snapshot: r.total_exercisable_shares_snapshot,
            purchase_price: money(r.purchase_price),
            down_payment_amount: money(r.down_payment_amount),
            loan_principal: money(r.loan_principal),
            policy_version_snapshot: r.policy_version_snapshot,
            term_months: r.term_months,
            nominal_annual_rate_percent: at_column_scale(r.nominal_annual_rate_percent, 4),
            estimated_monthly_payment: money(r.estimated_monthly_payment),
            total_payable_amount: money(r.total_payable_amount),
            total_interest_amount: money(r.total_interest_amount),
            quote_inputs_snapshot: r.quote_inputs_snapshot,
            quote_option_snapshot: r.quote_option_snapshot,
            allocation_strategy: r.allocation_strategy,
            allocation_snapshot: r.allocation_snapshot,
            org_settings_snapshot: r.org_settings_snapshot,
            eligibility_result_snapshot: r.eligibility_result_snapshot,
            activation_date: r.activation_date,
            election_83b_due_date: r.election_83b_due_date,
            marital_status_snapshot: r.marital_status_snapshot,
            spouse_first_name: r.spouse_first_name,
            spouse_middle_name: r.spouse_middle_name,
            spouse_last_name: r.spouse_last_name,
            spouse_email: r.spouse_email,
            spouse_phone: r.spouse_phone,
            spouse_address: r.spouse_address,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

async fn fetch(
    conn: &mut PgConnection,
    org_id: &OrgId,
    id: Uuid,
    lock: bool,
) -> sqlx::Result<Option<LoanRecord>> {
    let suffix = if lock { " FOR UPDATE" } else { "" };
    let row: Option<RawLoanRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM loan_applications WHERE org_id = $1 AND id = $2{suffix}"
    )))
    .bind(org_id.as_str())
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(LoanRecord::try_from).transpose()
}

/// The loan `id` of the org, or `None`.
pub async fn load(
    conn: &mut PgConnection,
    org_id: &OrgId,
    id: Uuid,
) -> sqlx::Result<Option<LoanRecord>> {
    fetch(conn, org_id, id, false).await
}

/// [`load`] with the row locked (`FOR UPDATE`) until the transaction ends: writers that must
/// not race each other (submit, cancel, stage completion) take this.
pub async fn load_for_update(
    conn: &mut PgConnection,
    org_id: &OrgId,
    id: Uuid,
) -> sqlx::Result<Option<LoanRecord>> {
    fetch(conn, org_id, id, true).await
}

impl LoanRecord {
    /// The audit snapshot (`LoanSnapshot` of contract §12): every column except the two
    /// idempotency keys, decimals as strings at the column scale, datetimes `+00:00`.
    pub fn audit_snapshot(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "org_id": self.org_id,
            "org_membership_id": self.org_membership_id.to_string(),
            "status": self.status.as_str(),
            "decision_reason": self.decision_reason,
            "activation_date": self.activation_date.map(timefmt::iso_offset),
            "election_83b_due_date": self.election_83b_due_date.map(wire::iso_date),
            "version": self.version,
            "as_of_date": wire::iso_date(self.as_of_date),
            "selection_mode": self.selection_mode.as_str(),
            "selection_value_snapshot": py_str(&self.selection_value_snapshot),
            "shares_to_exercise": self.shares_to_exercise,
            "total_exercisable_shares_snapshot": self.total_exercisable_shares_snapshot,
            "purchase_price": py_str(&self.purchase_price),
            "down_payment_amount": py_str(&self.down_payment_amount),
            "loan_principal": py_str(&self.loan_principal),
            "policy_version_snapshot": self.policy_version_snapshot,
            "interest_type": self.interest_type.as_str(),
            "repayment_method": self.repayment_method.as_str(),
            "term_months": self.term_months,
            "nominal_annual_rate_percent": py_str(&self.nominal_annual_rate_percent),
            "estimated_monthly_payment": py_str(&self.estimated_monthly_payment),
            "total_payable_amount": py_str(&self.total_payable_amount),
            "total_interest_amount": py_str(&self.total_interest_amount),
            "quote_inputs_snapshot": self.quote_inputs_snapshot,
            "quote_option_snapshot": self.quote_option_snapshot,
            "allocation_strategy": self.allocation_strategy,
            "allocation_snapshot": self.allocation_snapshot,
            "org_settings_snapshot": self.org_settings_snapshot,
            "eligibility_result_snapshot": self.eligibility_result_snapshot,
            "marital_status_snapshot": self.marital_status_snapshot,
            "spouse_first_name": self.spouse_first_name,
            "spouse_middle_name": self.spouse_middle_name,
            "spouse_last_name": self.spouse_last_name,
            "spouse_email": self.spouse_email,
            "spouse_phone": self.spouse_phone,
            "spouse_address": self.spouse_address,
            "created_at": timefmt::iso_offset(self.created_at),
            "updated_at": timefmt::iso_offset(self.updated_at),
        })
    }
}

/// One `loan_workflow_stages` row as the borrower sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StageRow {
    pub stage_type: StageType,
    pub status: StageStatus,
    #[serde(with = "timefmt::z")]
    pub created_at: OffsetDateTime,
    #[serde(with = "timefmt::z")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "timefmt::z::option")]
    pub completed_at: Option<OffsetDateTime>,
}

/// The loan's stages in creation order, ties by the canonical stage order (the legacy order
/// was the database's, insertion order in practice).
pub async fn stages_of(
    conn: &mut PgConnection,
    org_id: &OrgId,
    loan_id: Uuid,
) -> sqlx::Result<Vec<StageRow>> {
    let rows: Vec<(
        String,
        String,
        OffsetDateTime,
        OffsetDateTime,
        Option<OffsetDateTime>,
    )> = sqlx::query_as(
        "SELECT stage_type, status, created_at, updated_at, completed_at \
             FROM loan_workflow_stages WHERE org_id = $1 AND loan_application_id = $2",
    )
    .bind(org_id.as_str())
    .bind(loan_id)
    .fetch_all(conn)
    .await?;
    let mut stages = rows
        .into_iter()
        .map(|(t, s, created_at, updated_at, completed_at)| {
            Ok(StageRow {
                stage_type: typed("stage_type", &t, StageType::parse)?,
                status: typed("status", &s, StageStatus::parse)?,
                created_at,
                updated_at,
                completed_at,
            })
        })
        .collect::<sqlx::Result<Vec<_>>>()?;
    stages.sort_by_key(|s| (s.created_at, s.stage_type.canonical_rank()));
    Ok(stages)
}

/// One `loan_documents` row as SelfLoan lists it (exactly these four keys, quirk 3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DocumentRow {
    pub document_type: DocumentType,
    pub file_name: String,
    pub storage_path_or_url: String,
    #[serde(with = "timefmt::z")]
    pub uploaded_at: OffsetDateTime,
}

/// The loan's documents, oldest upload first.
pub async fn documents_of(
    conn: &mut PgConnection,
    org_id: &OrgId,
    loan_id: Uuid,
) -> sqlx::Result<Vec<DocumentRow>> {
    let rows: Vec<(String, String, String, OffsetDateTime)> = sqlx::query_as(
        "SELECT document_type, file_name, storage_path_or_url, uploaded_at FROM loan_documents \
         WHERE org_id = $1 AND loan_application_id = $2 ORDER BY uploaded_at, created_at, id",
    )
    .bind(org_id.as_str())
    .bind(loan_id)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|(t, file_name, storage_path_or_url, uploaded_at)| {
            Ok(DocumentRow {
                document_type: typed("document_type", &t, DocumentType::parse)?,
                file_name,
                storage_path_or_url,
                uploaded_at,
            })
        })
        .collect()
}

/// `last_edited_by` of the views: the admin who edited the loan last.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Editor {
    pub user_id: Uuid,
    /// The editor's profile full name in this org, else the user's email.
    pub full_name: String,
    pub email: String,
}

/// The newest admin edit of the loan (`loan_application.admin_edit` audit row): its note, its
/// time and its author; all `None` without one (§2.3).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LastEdit {
    pub note: Option<String>,
    pub at: Option<OffsetDateTime>,
    pub by: Option<Editor>,
}

/// [`LastEdit`] of a loan.
pub async fn last_edit(
    conn: &mut PgConnection,
    org_id: &OrgId,
    loan_id: Uuid,
) -> sqlx::Result<LastEdit> {
    let row: Option<(Option<Value>, OffsetDateTime, Option<Uuid>)> = sqlx::query_as(
        "SELECT new_value::jsonb, created_at, actor_id FROM audit_logs WHERE org_id = $1 \
         AND action = 'loan_application.admin_edit' AND resource_type = 'loan_application' \
         AND resource_id = $2 ORDER BY created_at DESC LIMIT 1",
    )
    .bind(org_id.as_str())
    .bind(loan_id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    let Some((new_value, at, actor_id)) = row else {
        return Ok(LastEdit::default());
    };
    let note = new_value
        .as_ref()
        .and_then(|v| v.get("edit_note"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let by = match actor_id {
        Some(user_id) => sqlx::query_as::<_, (String, Option<String>)>(
            "SELECT u.email, p.full_name FROM users u \
             LEFT JOIN org_memberships m ON m.user_id = u.id AND m.org_id = $1 \
             LEFT JOIN org_user_profiles p ON p.org_id = m.org_id AND p.membership_id = m.id \
             WHERE u.id = $2",
        )
        .bind(org_id.as_str())
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?
        .map(|(email, full_name)| Editor {
            user_id,
            full_name: full_name.unwrap_or_else(|| email.clone()),
            email,
        }),
        None => None,
    };
    Ok(LastEdit {
        note,
        at: Some(at),
        by,
    })
}

/// `LoanApplicationSelfDTO` (§3.1): the borrower's view of one application, keys in wire
/// order. The legacy key set is kept exactly (quirk 2): the admin-only columns are not shown.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SelfLoan {
    pub id: Uuid,
    pub status: LoanStatus,
    #[serde(with = "wire::date")]
    pub as_of_date: Date,
    pub selection_mode: SelectionMode,
    #[serde(with = "serde_py_str")]
    pub selection_value_snapshot: Decimal,
    pub shares_to_exercise: i64,
    pub total_exercisable_shares_snapshot: i64,
    #[serde(with = "serde_py_str")]
    pub purchase_price: Decimal,
    #[serde(with = "serde_py_str")]
    pub down_payment_amount: Decimal,
    #[serde(with = "serde_py_str")]
    pub loan_principal: Decimal,
    #[serde(with = "serde_py_str")]
    pub estimated_monthly_payment: Decimal,
    #[serde(with = "serde_py_str")]
    pub total_payable_amount: Decimal,
    #[serde(with = "serde_py_str")]
    pub total_interest_amount: Decimal,
    pub interest_type: InterestType,
    pub repayment_method: RepaymentMethod,
    pub term_months: i32,
    pub allocation_strategy: String,
    pub allocation_snapshot: Value,
    pub eligibility_result_snapshot: Value,
    pub current_stage_type: Option<StageType>,
    pub current_stage_status: Option<StageStatus>,
    pub last_edit_note: Option<String>,
    #[serde(with = "timefmt::z::option")]
    pub last_edited_at: Option<OffsetDateTime>,
    pub last_edited_by: Option<Editor>,
    pub workflow_stages: Vec<StageRow>,
    pub documents: Vec<DocumentRow>,
    pub has_share_certificate: Option<bool>,
    pub has_83b_election: Option<bool>,
    pub days_until_83b_due: Option<i64>,
    #[serde(with = "timefmt::z")]
    pub created_at: OffsetDateTime,
    #[serde(with = "timefmt::z")]
    pub updated_at: OffsetDateTime,
}

impl SelfLoan {
    /// The view of `loan` with its stages, documents and last admin edit, on `today`.
    pub fn build(
        loan: &LoanRecord,
        stages: Vec<StageRow>,
        documents: Vec<DocumentRow>,
        last_edit: LastEdit,
        today: Date,
    ) -> Self {
        let snapshots: Vec<StageSnapshot<OffsetDateTime>> = stages
            .iter()
            .map(|s| StageSnapshot {
                stage_type: s.stage_type,
                status: s.status,
                created_at: s.created_at,
            })
            .collect();
        let current = current_stage(&snapshots);
        let types: Vec<DocumentType> = documents.iter().map(|d| d.document_type).collect();
        let (has_share_certificate, has_83b_election, days_until_83b_due) = workflow_flags(
            loan.activation_date,
            loan.election_83b_due_date,
            &types,
            today,
        );
        Self {
            id: loan.id,
            status: loan.status,
            as_of_date: loan.as_of_date,
            selection_mode: loan.selection_mode,
            selection_value_snapshot: loan.selection_value_snapshot,
            shares_to_exercise: loan.shares_to_exercise,
            total_exercisable_shares_snapshot: loan.total_exercisable_shares_snapshot,
            purchase_price: loan.purchase_price,
            down_payment_amount: loan.down_payment_amount,
            loan_principal: loan.loan_principal,
            estimated_monthly_payment: loan.estimated_monthly_payment,
            total_payable_amount: loan.total_payable_amount,
            total_interest_amount: loan.total_interest_amount,
            interest_type: loan.interest_type,
            repayment_method: loan.repayment_method,
            term_months: loan.term_months,
            allocation_strategy: loan.allocation_strategy.clone(),
            allocation_snapshot: loan.allocation_snapshot.clone(),
            eligibility_result_snapshot: loan.eligibility_result_snapshot.clone(),
            current_stage_type: current.map(|s| s.stage_type),
            current_stage_status: current.map(|s| s.status),
            last_edit_note: last_edit.note,
            last_edited_at: last_edit.at,
            last_edited_by: last_edit.by,
            workflow_stages: stages,
            documents,
            has_share_certificate,
            has_83b_election,
            days_until_83b_due,
            created_at: loan.created_at,
            updated_at: loan.updated_at,
        }
    }
}

/// The [`SelfLoan`] of a loaded loan: reads its stages, documents and last admin edit.
pub async fn self_loan(
    conn: &mut PgConnection,
    org_id: &OrgId,
    loan: &LoanRecord,
    today: Date,
) -> sqlx::Result<SelfLoan> {
    let stages = stages_of(conn, org_id, loan.id).await?;
    let documents = documents_of(conn, org_id, loan.id).await?;
    let edit = last_edit(conn, org_id, loan.id).await?;
    Ok(SelfLoan::build(loan, stages, documents, edit, today))
}
