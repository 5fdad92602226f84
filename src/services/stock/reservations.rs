//! `stock_grant_reservations`: vested shares of one grant held for one loan application
//! (§6). The stock endpoints read them; the loan side writes them with [`reserve`] under the
//! grant locks of [`super::grants::lock_active_grants_of_member`].

use std::collections::HashMap;

use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::domain::stock::reservations::{
    Allocation, InsufficientShares, Reservation, check_reservation,
};
use crate::domain::stock::values::reservation_status;
use crate::domain::stock::vesting::StockGrant;

type Row = (Uuid, Uuid, Uuid, i64, String, OffsetDateTime);

fn reservation(
    (id, loan_application_id, grant_id, shares_reserved, status, created_at): Row,
) -> Reservation {
    Reservation {
        id,
        loan_application_id,
        grant_id,
        shares_reserved,
        status,
        created_at,
    }
}

const COLUMNS: &str = "id, loan_application_id, grant_id, shares_reserved, status, created_at";

/// The member's holding reservations (SUBMITTED, IN_REVIEW, ACTIVE), newest first (ties by
/// id), on any grant.
pub async fn holding_of_member(
    conn: &mut PgConnection,
    org_id: &str,
    membership_id: Uuid,
) -> sqlx::Result<Vec<Reservation>> {
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM stock_grant_reservations WHERE org_id = $1 AND org_membership_id = $2 \
         AND status = ANY($3) ORDER BY created_at DESC, id"
    )))
    .bind(org_id)
    .bind(membership_id)
    .bind(reservation_status::HOLDING.as_slice())
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(reservation).collect())
}

/// Every reservation row of the org, any status (the org dashboard's `reserved_by_status`,
/// Q8, kept).
pub async fn all_of_org(conn: &mut PgConnection, org_id: &str) -> sqlx::Result<Vec<Reservation>> {
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM stock_grant_reservations WHERE org_id = $1 ORDER BY created_at DESC, id"
    )))
    .bind(org_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(reservation).collect())
}

/// Σ holding `shares_reserved` per grant, for the given grants only.
pub async fn reserved_by_grant(
    conn: &mut PgConnection,
    org_id: &str,
    grant_ids: &[Uuid],
) -> sqlx::Result<HashMap<Uuid, i64>> {
    let rows: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT grant_id, COALESCE(sum(shares_reserved), 0)::bigint FROM stock_grant_reservations \
         WHERE org_id = $1 AND grant_id = ANY($2) AND status = ANY($3) GROUP BY grant_id",
    )
    .bind(org_id)
    .bind(grant_ids)
    .bind(reservation_status::HOLDING.as_slice())
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().collect())
}

/// Why [`reserve`] refused.
#[derive(Debug, thiserror::Error)]
pub enum ReserveError {
    /// An allocated grant is not one of the member's ACTIVE grants (400 `grant_not_found`).
    #[error("grant not found")]
    GrantNotFound(Uuid),
    /// 400 `insufficient_available_shares` with these details.
    #[error("insufficient available shares")]
    Insufficient(InsufficientShares),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Reserves `allocations` for a loan application: locks the member's ACTIVE grants
/// (`FOR UPDATE`), checks each allocated grant's shares vested `today` minus its holding
/// reservations against the request, then writes one row per allocation with `status`.
/// Under the lock, two concurrent reservations of one grant are serialized and the second
/// sees the first's row, so they can never oversubscribe it.
pub async fn reserve(
    conn: &mut PgConnection,
    org_id: &str,
    membership_id: Uuid,
    loan_application_id: Uuid,
    allocations: &[Allocation],
    status: &str,
    today: Date,
) -> Result<Vec<Reservation>, ReserveError> {
    let grants: Vec<StockGrant> =
        super::grants::lock_active_grants_of_member(conn, org_id, membership_id).await?;
    let ids: Vec<Uuid> = grants.iter().map(|g| g.id).collect();
    let reserved = reserved_by_grant(conn, org_id, &ids).await?;
    for allocation in allocations {
        let grant = grants
            .iter()
            .find(|g| g.id == allocation.grant_id)
            .ok_or(ReserveError::GrantNotFound(allocation.grant_id))?;
        let already = reserved.get(&grant.id).copied().unwrap_or(0);
        check_reservation(grant, already, allocation.shares, today)
            .map_err(ReserveError::Insufficient)?;
    }
    let mut out = Vec::with_capacity(allocations.len());
    for allocation in allocations {
        let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "INSERT INTO stock_grant_reservations (id, org_id, org_membership_id, grant_id, \
             loan_application_id, shares_reserved, status) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             RETURNING {COLUMNS}"
        )))
        .bind(Uuid::new_v4())
        .bind(org_id)
        .bind(membership_id)
        .bind(allocation.grant_id)
        .bind(loan_application_id)
        .bind(allocation.shares)
        .bind(status)
        .fetch_one(&mut *conn)
        .await?;
        out.push(reservation(row));
    }
    Ok(out)
}

/// Sets the status of every reservation of a loan application (IN_REVIEW, REJECTED, ACTIVE,
/// and COMPLETED when the loan is repaid, which releases the shares: Q11). Returns the rows
/// changed.
pub async fn set_status_for_application(
    conn: &mut PgConnection,
    org_id: &str,
    loan_application_id: Uuid,
    status: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "UPDATE stock_grant_reservations SET status = $3, updated_at = now() \
         WHERE org_id = $1 AND loan_application_id = $2",
    )
    .bind(org_id)
    .bind(loan_application_id)
    .bind(status)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Deletes every reservation of a loan application (an admin re-quote re-reserves).
pub async fn delete_for_application(
    conn: &mut PgConnection,
    org_id: &str,
    loan_application_id: Uuid,
) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "DELETE FROM stock_grant_reservations WHERE org_id = $1 AND loan_application_id = $2",
    )
    .bind(org_id)
    .bind(loan_application_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
