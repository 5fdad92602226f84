//! The loan list and the six review queues (loan-admin §3.3, §5.1, §5.6): one statement for
//! the page and one for the total, each filtered by tenant in SQL.

use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::domain::decimal::{at_column_scale, serde_py_str};
use crate::domain::loans::wire;
use crate::domain::loans::workflow::{LoanStatus, StageType};
use crate::timefmt;

/// `LoanApplicantSummary` (§3.1).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Applicant {
    pub org_membership_id: Uuid,
    pub user_id: Uuid,
    pub full_name: String,
    pub email: String,
    pub employee_id: Option<String>,
    pub department_id: Option<Uuid>,
    pub department_name: Option<String>,
}

/// `StageAssignee` (§3.2).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Assignee {
    pub user_id: Uuid,
    pub full_name: String,
    pub email: String,
}

/// `LoanSummary` (§3.3), in wire order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LoanSummary {
    pub id: Uuid,
    pub org_membership_id: Uuid,
    pub applicant: Applicant,
    pub status: String,
    pub version: i32,
    #[serde(with = "wire::date")]
    pub as_of_date: Date,
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
    pub interest_type: String,
    pub repayment_method: String,
    pub term_months: i32,
    pub current_stage_type: Option<String>,
    pub current_stage_status: Option<String>,
    pub current_stage_assignee: Option<Assignee>,
    #[serde(with = "timefmt::z::option")]
    pub current_stage_assigned_at: Option<OffsetDateTime>,
    /// Always null in lists and queues (§3.3).
    pub last_edit_note: Option<String>,
    #[serde(with = "timefmt::z::option")]
    pub last_edited_at: Option<OffsetDateTime>,
    pub last_edited_by: Option<String>,
    #[serde(with = "timefmt::z")]
    pub created_at: OffsetDateTime,
    #[serde(with = "timefmt::z")]
    pub updated_at: OffsetDateTime,
}

/// The filters of `GET /org/loans`.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub statuses: Vec<LoanStatus>,
    pub stage_type: Option<StageType>,
    pub created_from: Option<OffsetDateTime>,
    pub created_to: Option<OffsetDateTime>,
}

/// Which queue: the stage it lists and, for the `me` variants, the assignee.
#[derive(Clone, Copy, Debug)]
pub struct Queue {
    pub stage_type: StageType,
    pub assignee: Option<Uuid>,
}

/// The columns of a summary row, shared by the list and the queues. `cs` is the stage that
/// fills `current_stage_*`.
const SELECT: &str = "SELECT la.id, la.org_membership_id, m.user_id, \
     COALESCE(NULLIF(p.full_name, ''), u.email), u.email, m.employee_id, m.department_id, d.name, \
     la.status, la.version, la.as_of_date, la.shares_to_exercise, la.total_exercisable_shares_snapshot, \
     la.purchase_price, la.down_payment_amount, la.loan_principal, la.estimated_monthly_payment, \
     la.total_payable_amount, la.interest_type, la.repayment_method, la.term_months, \
     cs.stage_type, cs.status, au.id, COALESCE(NULLIF(ap.full_name, ''), au.email), au.email, \
     cs.assigned_at, la.created_at, la.updated_at";

const APPLICANT_JOINS: &str = "JOIN org_memberships m ON m.org_id = la.org_id AND m.id = la.org_membership_id \
     JOIN users u ON u.id = m.user_id \
     LEFT JOIN org_user_profiles p ON p.org_id = m.org_id AND p.membership_id = m.id \
     LEFT JOIN departments d ON d.id = m.department_id";

/// The assignee of `cs`, when that user belongs to the tenant.
const ASSIGNEE_JOINS: &str = "LEFT JOIN users au ON au.id = cs.assigned_to_user_id AND au.org_id = la.org_id \
     LEFT JOIN org_memberships am ON am.org_id = la.org_id AND am.user_id = au.id \
     LEFT JOIN org_user_profiles ap ON ap.org_id = am.org_id AND ap.membership_id = am.id";

/// Canonical stage rank, the tie-break of stages created together (quirk Q8).
pub(crate) const STAGE_RANK: &str = "array_position(ARRAY['HR_REVIEW','FINANCE_PROCESSING','LEGAL_EXECUTION',\
     'LEGAL_POST_ISSUANCE','BORROWER_83B_ELECTION']::varchar[], s.stage_type)";

const LIST_WHERE: &str = "WHERE la.org_id = $1 \
     AND ($2::text[] IS NULL OR la.status = ANY($2)) \
     AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM loan_workflow_stages st \
          WHERE st.org_id = la.org_id AND st.loan_application_id = la.id AND st.stage_type = $3)) \
     AND ($4::timestamptz IS NULL OR la.created_at >= $4) \
     AND ($5::timestamptz IS NULL OR la.created_at <= $5)";

/// A numeric(18,6) column with its scale (sqlx decodes a stored zero without it).
fn money(r: &PgRow, i: usize) -> sqlx::Result<Decimal> {
    r.try_get::<Decimal, _>(i).map(|d| at_column_scale(d, 6))
}

fn summary(r: &PgRow) -> sqlx::Result<LoanSummary> {
    let membership: Uuid = r.try_get(1)?;
    let assignee = match (
        r.try_get::<Option<Uuid>, _>(23)?,
        r.try_get::<Option<String>, _>(24)?,
        r.try_get::<Option<String>, _>(25)?,
    ) {
        (Some(user_id), Some(full_name), Some(email)) => Some(Assignee {
            user_id,
            full_name,
            email,
        }),
        _ => None,
    };
    Ok(LoanSummary {
        id: r.try_get(0)?,
        org_membership_id: membership,
        applicant: Applicant {
            org_membership_id: membership,
            user_id: r.try_get(2)?,
            full_name: r.try_get(3)?,
            email: r.try_get(4)?,
            employee_id: r.try_get(5)?,
            department_id: r.try_get(6)?,
            department_name: r.try_get(7)?,
        },
        status: r.try_get(8)?,
        version: r.try_get(9)?,
        as_of_date: r.try_get(10)?,
        shares_to_exercise: r.try_get(11)?,
        total_exercisable_shares_snapshot: r.try_get(12)?,
        purchase_price: money(r, 13)?,
        down_payment_amount: money(r, 14)?,
        loan_principal: money(r, 15)?,
        estimated_monthly_payment: money(r, 16)?,
        total_payable_amount: money(r, 17)?,
        interest_type: r.try_get(18)?,
        repayment_method: r.try_get(19)?,
        term_months: r.try_get(20)?,
        current_stage_type: r.try_get(21)?,
        current_stage_status: r.try_get(22)?,
        current_stage_assignee: assignee,
        current_stage_assigned_at: r.try_get(26)?,
        last_edit_note: None,
        last_edited_at: None,
        last_edited_by: None,
        created_at: r.try_get(27)?,
        updated_at: r.try_get(28)?,
    })
}

/// One page of the tenant's loans, newest first, and the total.
pub async fn list(
    conn: &mut PgConnection,
    org_id: &str,
    filter: &ListFilter,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<LoanSummary>, i64)> {
    let statuses: Option<Vec<&str>> =
        (!filter.statuses.is_empty()).then(|| filter.statuses.iter().map(|s| s.as_str()).collect());
    let stage_type = filter.stage_type.map(|s| s.as_str());
    let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM loan_applications la {LIST_WHERE}"
    )))
    .bind(org_id)
    .bind(&statuses)
    .bind(stage_type)
    .bind(filter.created_from)
    .bind(filter.created_to)
    .fetch_one(&mut *conn)
    .await?;
    let rows: Vec<PgRow> = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{SELECT} FROM loan_applications la {APPLICANT_JOINS} \
         LEFT JOIN LATERAL (SELECT s.stage_type, s.status, s.assigned_to_user_id, s.assigned_at \
              FROM loan_workflow_stages s WHERE s.org_id = la.org_id AND s.loan_application_id = la.id \
              AND s.status <> 'COMPLETED' ORDER BY s.created_at, {STAGE_RANK}, s.id LIMIT 1) cs ON true \
         {ASSIGNEE_JOINS} {LIST_WHERE} ORDER BY la.created_at DESC, la.id LIMIT $6 OFFSET $7"
    )))
    .bind(org_id)
    .bind(&statuses)
    .bind(stage_type)
    .bind(filter.created_from)
    .bind(filter.created_to)
    .bind(limit)
    .bind(offset)
    .fetch_all(conn)
    .await?;
    let items = rows.iter().map(summary).collect::<sqlx::Result<_>>()?;
    Ok((items, total))
}

const QUEUE_FROM: &str = "FROM loan_applications la \
     JOIN LATERAL (SELECT s.stage_type, s.status, s.assigned_to_user_id, s.assigned_at \
          FROM loan_workflow_stages s WHERE s.org_id = la.org_id AND s.loan_application_id = la.id \
          AND s.stage_type = $2 ORDER BY s.created_at, s.id LIMIT 1) cs ON true";

const QUEUE_WHERE: &str = "WHERE la.org_id = $1 AND la.status IN ('SUBMITTED', 'IN_REVIEW') \
     AND cs.status <> 'COMPLETED' AND ($3::uuid IS NULL OR cs.assigned_to_user_id = $3)";

/// One page of a review queue, newest loan first, and the total.
pub async fn queue(
    conn: &mut PgConnection,
    org_id: &str,
    queue: Queue,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<LoanSummary>, i64)> {
    let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) {QUEUE_FROM} {QUEUE_WHERE}"
    )))
    .bind(org_id)
    .bind(queue.stage_type.as_str())
    .bind(queue.assignee)
    .fetch_one(&mut *conn)
    .await?;
    let rows: Vec<PgRow> = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{SELECT} {QUEUE_FROM} {APPLICANT_JOINS} {ASSIGNEE_JOINS} {QUEUE_WHERE} \
         ORDER BY la.created_at DESC, la.id LIMIT $4 OFFSET $5"
    )))
    .bind(org_id)
    .bind(queue.stage_type.as_str())
    .bind(queue.assignee)
    .bind(limit)
    .bind(offset)
    .fetch_all(conn)
    .await?;
    let items = rows.iter().map(summary).collect::<sqlx::Result<_>>()?;
    Ok((items, total))
}

/// The applicant of a loan's membership (detail and stage views).
pub async fn applicant(
    conn: &mut PgConnection,
    org_id: &str,
    membership_id: Uuid,
) -> sqlx::Result<Option<Applicant>> {
    type ApplicantRow = (
        Uuid,
        String,
        String,
        Option<String>,
        Option<Uuid>,
        Option<String>,
    );
    let row: Option<ApplicantRow> = sqlx::query_as(
        "SELECT m.user_id, COALESCE(NULLIF(p.full_name, ''), u.email), u.email, m.employee_id, \
             m.department_id, d.name FROM org_memberships m JOIN users u ON u.id = m.user_id \
             LEFT JOIN org_user_profiles p ON p.org_id = m.org_id AND p.membership_id = m.id \
             LEFT JOIN departments d ON d.id = m.department_id WHERE m.org_id = $1 AND m.id = $2",
    )
    .bind(org_id)
    .bind(membership_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| Applicant {
        org_membership_id: membership_id,
        user_id: r.0,
        full_name: r.1,
        email: r.2,
        employee_id: r.3,
        department_id: r.4,
        department_name: r.5,
    }))
}
