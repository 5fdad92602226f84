//! `loan_workflow_stages`: the HR, finance and legal review stages of a loan and the two
//! post-activation stages (loan-admin §3.5, §4.4, §5.7, §5.8).
//!
//! Stage rows are changed only under `SELECT … FOR UPDATE` on the loan row first
//! ([`super::loans::lock`]) and then on the stage, so two reviewers completing the same
//! stage, or two stages completing at once, are serialised and activation happens once.

use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::loans::workflow::{StageSnapshot, StageStatus, StageType};
use crate::timefmt;

/// One `loan_workflow_stages` row; serialises as the wire `WorkflowStage` (§3.5).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stage {
    pub id: Uuid,
    pub org_id: String,
    pub loan_application_id: Uuid,
    pub stage_type: StageType,
    pub status: StageStatus,
    pub assigned_role_hint: Option<String>,
    pub completed_by_user_id: Option<Uuid>,
    #[serde(with = "timefmt::z::option")]
    pub completed_at: Option<OffsetDateTime>,
    pub assigned_to_user_id: Option<Uuid>,
    pub assigned_by_user_id: Option<Uuid>,
    #[serde(with = "timefmt::z::option")]
    pub assigned_at: Option<OffsetDateTime>,
    pub notes: Option<String>,
    #[serde(with = "timefmt::z")]
    pub created_at: OffsetDateTime,
    #[serde(with = "timefmt::z")]
    pub updated_at: OffsetDateTime,
}

type Row = (
    Uuid,
    String,
    Uuid,
    String,
    String,
    Option<String>,
    Option<Uuid>,
    Option<OffsetDateTime>,
    Option<Uuid>,
    Option<Uuid>,
    Option<OffsetDateTime>,
    Option<String>,
    OffsetDateTime,
    OffsetDateTime,
);

pub(crate) const COLUMNS: &str = "id, org_id, loan_application_id, stage_type, status, assigned_role_hint, \
     completed_by_user_id, completed_at, assigned_to_user_id, assigned_by_user_id, assigned_at, notes, \
     created_at, updated_at";

fn stage(row: Row) -> sqlx::Result<Stage> {
    let bad = |what: &str, v: &str| {
        sqlx::Error::Decode(format!("loan_workflow_stages.{what} holds {v:?}").into())
    };
    Ok(Stage {
        id: row.0,
        org_id: row.1,
        loan_application_id: row.2,
        stage_type: StageType::parse(&row.3).ok_or_else(|| bad("stage_type", &row.3))?,
        status: StageStatus::parse(&row.4).ok_or_else(|| bad("status", &row.4))?,
        assigned_role_hint: row.5,
        completed_by_user_id: row.6,
        completed_at: row.7,
        assigned_to_user_id: row.8,
        assigned_by_user_id: row.9,
        assigned_at: row.10,
        notes: row.11,
        created_at: row.12,
        updated_at: row.13,
    })
}

impl Stage {
    /// The audit snapshot: every column, datetimes ISO with `+00:00`.
    pub fn snapshot(&self) -> Value {
        let ts = |t: Option<OffsetDateTime>| t.map(timefmt::iso_offset);
        json!({
            "id": self.id.to_string(),
            "org_id": self.org_id,
            "loan_application_id": self.loan_application_id.to_string(),
            "stage_type": self.stage_type.as_str(),
            "status": self.status.as_str(),
            "assigned_role_hint": self.assigned_role_hint,
            "completed_by_user_id": self.completed_by_user_id.map(|u| u.to_string()),
            "completed_at": ts(self.completed_at),
            "assigned_to_user_id": self.assigned_to_user_id.map(|u| u.to_string()),
            "assigned_by_user_id": self.assigned_by_user_id.map(|u| u.to_string()),
            "assigned_at": ts(self.assigned_at),
            "notes": self.notes,
            "created_at": timefmt::iso_offset(self.created_at),
            "updated_at": timefmt::iso_offset(self.updated_at),
        })
    }

    pub fn snapshot_for_rules(&self) -> StageSnapshot<(OffsetDateTime, Uuid)> {
        StageSnapshot {
            stage_type: self.stage_type,
            status: self.status,
            created_at: (self.created_at, self.id),
        }
    }
}

/// Every stage of a loan, by creation time then canonical order.
pub async fn of_loan(
    conn: &mut PgConnection,
    org_id: &str,
    loan_id: Uuid,
) -> sqlx::Result<Vec<Stage>> {
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM loan_workflow_stages WHERE org_id = $1 AND loan_application_id = $2 \
         ORDER BY created_at, array_position(ARRAY['HR_REVIEW','FINANCE_PROCESSING','LEGAL_EXECUTION',\
         'LEGAL_POST_ISSUANCE','BORROWER_83B_ELECTION']::varchar[], stage_type), id"
    )))
    .bind(org_id)
    .bind(loan_id)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(stage).collect()
}

/// The loan's stage of `stage_type` (the oldest, should duplicates exist in an adopted legacy
/// database), locked `FOR UPDATE` when `lock`.
pub async fn find(
    conn: &mut PgConnection,
    org_id: &str,
    loan_id: Uuid,
    stage_type: StageType,
    lock: bool,
) -> sqlx::Result<Option<Stage>> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM loan_workflow_stages WHERE org_id = $1 AND loan_application_id = $2 \
         AND stage_type = $3 ORDER BY created_at, id LIMIT 1{}",
        if lock { " FOR UPDATE" } else { "" }
    )))
    .bind(org_id)
    .bind(loan_id)
    .bind(stage_type.as_str())
    .fetch_optional(conn)
    .await?;
    row.map(stage).transpose()
}

/// Creates the stages of `types` the loan lacks, PENDING with their role hints, in order.
/// Returns the stages created.
pub async fn ensure(
    conn: &mut PgConnection,
    org_id: &str,
    loan_id: Uuid,
    types: &[StageType],
) -> sqlx::Result<Vec<Stage>> {
    let mut created = Vec::new();
    for stage_type in types {
        let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "INSERT INTO loan_workflow_stages (id, org_id, loan_application_id, stage_type, status, \
             assigned_role_hint) SELECT $1, $2, $3, $4, 'PENDING', $5 WHERE NOT EXISTS (SELECT 1 \
             FROM loan_workflow_stages WHERE org_id = $2 AND loan_application_id = $3 AND stage_type = $4) \
             RETURNING {COLUMNS}"
        )))
        .bind(Uuid::new_v4())
        .bind(org_id)
        .bind(loan_id)
        .bind(stage_type.as_str())
        .bind(stage_type.role_hint())
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(row) = row {
            created.push(stage(row)?);
        }
    }
    Ok(created)
}

/// Deletes every stage of the loan (admin edit with `reset_workflow`).
pub async fn delete_all(conn: &mut PgConnection, org_id: &str, loan_id: Uuid) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "DELETE FROM loan_workflow_stages WHERE org_id = $1 AND loan_application_id = $2",
    )
    .bind(org_id)
    .bind(loan_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Assigns the stage: assignee, assigner, `assigned_at = now`, status IN_PROGRESS.
pub async fn assign(
    conn: &mut PgConnection,
    stage_id: Uuid,
    assignee: Uuid,
    by: Uuid,
    now: OffsetDateTime,
) -> sqlx::Result<Stage> {
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE loan_workflow_stages SET assigned_to_user_id = $2, assigned_by_user_id = $3, \
         assigned_at = $4, status = 'IN_PROGRESS', updated_at = now() WHERE id = $1 RETURNING {COLUMNS}"
    )))
    .bind(stage_id)
    .bind(assignee)
    .bind(by)
    .bind(now)
    .fetch_one(conn)
    .await?;
    stage(row)
}

/// A review of a stage: the new status and notes; COMPLETED stamps `completed_at`/`_by`,
/// anything else clears them.
pub async fn review(
    conn: &mut PgConnection,
    stage_id: Uuid,
    status: StageStatus,
    notes: Option<&str>,
    by: Uuid,
    now: OffsetDateTime,
) -> sqlx::Result<Stage> {
    let completed = status == StageStatus::Completed;
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE loan_workflow_stages SET status = $2, notes = $3, \
         completed_at = CASE WHEN $4 THEN $5 ELSE NULL END, \
         completed_by_user_id = CASE WHEN $4 THEN $6 ELSE NULL END, updated_at = now() \
         WHERE id = $1 RETURNING {COLUMNS}"
    )))
    .bind(stage_id)
    .bind(status.as_str())
    .bind(notes)
    .bind(completed)
    .bind(now)
    .bind(by)
    .fetch_one(conn)
    .await?;
    stage(row)
}

/// Completes a stage without touching its notes (post-issuance certificate, backlog).
pub async fn complete(
    conn: &mut PgConnection,
    stage_id: Uuid,
    by: Uuid,
    now: OffsetDateTime,
) -> sqlx::Result<Stage> {
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE loan_workflow_stages SET status = 'COMPLETED', completed_at = $2, \
         completed_by_user_id = $3, updated_at = now() WHERE id = $1 RETURNING {COLUMNS}"
    )))
    .bind(stage_id)
    .bind(now)
    .bind(by)
    .fetch_one(conn)
    .await?;
    stage(row)
}
