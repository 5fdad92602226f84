//! `GET /org/dashboard/loan-summary` (loans contract §10) from the org's loan tables, in one
//! statement: the same tables the write paths use, no cache.

use rust_decimal::Decimal;
use sqlx::PgConnection;
use time::Date;

use crate::domain::loans::dashboard::{LoanAggregates, LoanDashboard, window};
use crate::domain::org::OrgId;

type Row = (
    Vec<String>,
    Vec<i64>,
    Vec<String>,
    Vec<i64>,
    i64,
    i64,
    Decimal,
    i64,
    i64,
    Decimal,
    Decimal,
    Decimal,
    i64,
    i64,
    i64,
    i64,
);

const SUMMARY: &str = r#"
WITH apps AS (
    SELECT status, interest_type, repayment_method, loan_principal, shares_to_exercise,
           total_payable_amount, created_at, activation_date
    FROM loan_applications WHERE org_id = $1
),
by_status AS (SELECT status::text AS k, count(*) AS n FROM apps GROUP BY status),
by_stage AS (
    SELECT stage_type::text AS k, count(*) AS n FROM loan_workflow_stages
    WHERE org_id = $1 AND status <> 'COMPLETED' GROUP BY stage_type
),
paid AS (
    SELECT coalesce(sum(r.amount), 0) AS amount, coalesce(sum(r.interest_amount), 0) AS interest
    FROM loan_repayments r JOIN loan_applications a ON a.id = r.loan_application_id
    WHERE r.org_id = $1 AND a.status IN ('ACTIVE', 'COMPLETED')
),
agg AS (
    SELECT
        count(*) FILTER (WHERE created_at >= $2 AND created_at <= $3) AS created,
        count(*) FILTER (WHERE activation_date IS NOT NULL AND activation_date >= $2
                         AND activation_date <= $3) AS activated,
        coalesce(sum(loan_principal) FILTER (WHERE status = 'ACTIVE'), 0) AS principal,
        coalesce(sum(shares_to_exercise) FILTER (WHERE status = 'ACTIVE'), 0)::bigint AS active_shares,
        coalesce(sum(shares_to_exercise) FILTER (WHERE status = 'COMPLETED'), 0)::bigint AS completed_shares,
        coalesce(sum(total_payable_amount) FILTER (WHERE status IN ('ACTIVE', 'COMPLETED')), 0) AS payable,
        count(*) FILTER (WHERE status = 'ACTIVE' AND interest_type = 'FIXED') AS fixed,
        count(*) FILTER (WHERE status = 'ACTIVE' AND interest_type = 'VARIABLE') AS variable,
        count(*) FILTER (WHERE status = 'ACTIVE' AND repayment_method = 'BALLOON') AS balloon,
        count(*) FILTER (WHERE status = 'ACTIVE' AND repayment_method = 'PRINCIPAL_AND_INTEREST') AS pi
    FROM apps
)
SELECT
    coalesce((SELECT array_agg(k ORDER BY k COLLATE "C") FROM by_status), '{}'),
    coalesce((SELECT array_agg(n ORDER BY k COLLATE "C") FROM by_status), '{}'),
    coalesce((SELECT array_agg(k ORDER BY k COLLATE "C") FROM by_stage), '{}'),
    coalesce((SELECT array_agg(n ORDER BY k COLLATE "C") FROM by_stage), '{}'),
    agg.created, agg.activated, agg.principal, agg.active_shares, agg.completed_shares,
    agg.payable, paid.amount, paid.interest, agg.fixed, agg.variable, agg.balloon, agg.pi
FROM agg, paid
"#;

/// The loan dashboard of the org at `as_of` (only the 30-day windows depend on it).
pub async fn loan_summary(
    conn: &mut PgConnection,
    org: &OrgId,
    as_of: Date,
) -> sqlx::Result<LoanDashboard> {
    let (start, end) = window(as_of);
    let row: Row = sqlx::query_as(SUMMARY)
        .bind(org.as_str())
        .bind(start)
        .bind(end)
        .fetch_one(conn)
        .await?;
    let (
        status_keys,
        status_counts,
        stage_keys,
        stage_counts,
        created_in_window,
        activated_in_window,
        active_principal_sum,
        active_shares_sum,
        completed_shares_sum,
        payable_sum,
        paid_sum,
        interest_sum,
        active_fixed,
        active_variable,
        active_balloon,
        active_principal_and_interest,
    ) = row;
    let aggregates = LoanAggregates {
        status_counts: status_keys.into_iter().zip(status_counts).collect(),
        open_stage_counts: stage_keys.into_iter().zip(stage_counts).collect(),
        created_in_window,
        activated_in_window,
        active_principal_sum,
        active_shares_sum,
        completed_shares_sum,
        payable_sum,
        paid_sum,
        interest_sum,
        active_fixed,
        active_variable,
        active_balloon,
        active_principal_and_interest,
    };
    Ok(LoanDashboard::new(org.as_str(), as_of, &aggregates))
}
