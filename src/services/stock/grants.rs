//! `employee_stock_grants` and `vesting_events`: load, list, create, update.

use std::collections::HashMap;

use rust_decimal::Decimal;
use sqlx::PgConnection;
use time::Date;
use uuid::Uuid;

use crate::domain::decimal::DecimalInput;
use crate::domain::stock::dashboard::GrantMix;
use crate::domain::stock::record::{EventRecord, GrantRecord};
use crate::domain::stock::schedule::GrantPatch;
use crate::domain::stock::values::GrantStatus;
use crate::domain::stock::vesting::{Schedule, StockGrant};
use crate::domain::stock::wire::CountMap;

type GrantRow = (
    Uuid,
    String,
    Uuid,
    Date,
    i64,
    Decimal,
    String,
    String,
    Option<String>,
);

const COLUMNS: &str = "id, org_id, org_membership_id, grant_date, total_shares, exercise_price, \
    status, vesting_strategy, notes";

/// Loads the events of `rows` (ascending by date) and builds the records, keeping the rows'
/// order.
async fn with_events(
    conn: &mut PgConnection,
    rows: Vec<GrantRow>,
) -> sqlx::Result<Vec<GrantRecord>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
    let mut events: HashMap<Uuid, Vec<EventRecord>> = HashMap::new();
    if !ids.is_empty() {
        let found: Vec<(Uuid, Uuid, Date, i64)> = sqlx::query_as(
            "SELECT grant_id, id, vest_date, shares FROM vesting_events WHERE grant_id = ANY($1) \
             ORDER BY vest_date, id",
        )
        .bind(&ids)
        .fetch_all(conn)
        .await?;
        for (grant_id, id, vest_date, shares) in found {
            events.entry(grant_id).or_default().push(EventRecord {
                id,
                vest_date,
                shares,
            });
        }
    }
    Ok(rows
        .into_iter()
        .map(
            |(
                id,
                org_id,
                membership_id,
                grant_date,
                total_shares,
                price,
                status,
                strategy,
                notes,
            )| {
                GrantRecord {
                    events: events.remove(&id).unwrap_or_default(),
                    id,
                    org_id,
                    membership_id,
                    grant_date,
                    total_shares,
                    exercise_price: price,
                    status,
                    vesting_strategy: strategy,
                    notes,
                    price_echo: None,
                }
            },
        )
        .collect())
}

/// One page of a member's grants (every status), newest `grant_date` first with `id` as the
/// tie-breaker (Q20), and the member's grant count.
pub async fn list_for_member(
    conn: &mut PgConnection,
    org_id: &str,
    membership_id: Uuid,
    offset: i64,
    limit: i64,
) -> sqlx::Result<(Vec<GrantRecord>, i64)> {
    let total: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM employee_stock_grants WHERE org_id = $1 AND org_membership_id = $2",
    )
    .bind(org_id)
    .bind(membership_id)
    .fetch_one(&mut *conn)
    .await?;
    let rows: Vec<GrantRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM employee_stock_grants WHERE org_id = $1 AND org_membership_id = $2 \
         ORDER BY grant_date DESC, id OFFSET $3 LIMIT $4"
    )))
    .bind(org_id)
    .bind(membership_id)
    .bind(offset)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    Ok((with_events(conn, rows).await?, total))
}

/// A grant of the org (any status), or `None`. `lock` takes the row lock a PATCH needs, so
/// two concurrent edits of one grant queue instead of racing on its events.
pub async fn find(
    conn: &mut PgConnection,
    org_id: &str,
    grant_id: Uuid,
    lock: bool,
) -> sqlx::Result<Option<GrantRecord>> {
    let suffix = if lock { " FOR UPDATE" } else { "" };
    let row: Option<GrantRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM employee_stock_grants WHERE org_id = $1 AND id = $2{suffix}"
    )))
    .bind(org_id)
    .bind(grant_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(with_events(conn, vec![row]).await?.pop())
}

async fn active_grants(
    conn: &mut PgConnection,
    org_id: &str,
    membership_id: Option<Uuid>,
    lock: bool,
) -> sqlx::Result<Vec<StockGrant>> {
    let suffix = if lock { " FOR UPDATE" } else { "" };
    let rows: Vec<GrantRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM employee_stock_grants WHERE org_id = $1 AND status = 'ACTIVE' \
         AND ($2::uuid IS NULL OR org_membership_id = $2) ORDER BY grant_date DESC, id{suffix}"
    )))
    .bind(org_id)
    .bind(membership_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(with_events(conn, rows)
        .await?
        .iter()
        .map(GrantRecord::stock_grant)
        .collect())
}

/// A member's ACTIVE grants with their events, newest `grant_date` first (ties by id): what
/// the summaries, eligibility and the loan quote compute on.
pub async fn active_grants_of_member(
    conn: &mut PgConnection,
    org_id: &str,
    membership_id: Uuid,
) -> sqlx::Result<Vec<StockGrant>> {
    active_grants(conn, org_id, Some(membership_id), false).await
}

/// [`active_grants_of_member`] under `SELECT … FOR UPDATE`: the loan submission takes these
/// locks before it checks availability and writes reservations, so two submissions of one
/// member cannot both reserve the same vested shares.
pub async fn lock_active_grants_of_member(
    conn: &mut PgConnection,
    org_id: &str,
    membership_id: Uuid,
) -> sqlx::Result<Vec<StockGrant>> {
    active_grants(conn, org_id, Some(membership_id), true).await
}

/// Every ACTIVE grant of the org, newest first (the org dashboard).
pub async fn active_grants_of_org(
    conn: &mut PgConnection,
    org_id: &str,
) -> sqlx::Result<Vec<StockGrant>> {
    active_grants(conn, org_id, None, false).await
}

/// Counts of **all** grants of the org by status and by strategy (the org dashboard's mix).
pub async fn grant_mix(conn: &mut PgConnection, org_id: &str) -> sqlx::Result<GrantMix> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT status, vesting_strategy, count(*) FROM employee_stock_grants WHERE org_id = $1 \
         GROUP BY status, vesting_strategy",
    )
    .bind(org_id)
    .fetch_all(conn)
    .await?;
    let mut mix = GrantMix {
        by_status: CountMap::new(),
        by_vesting_strategy: CountMap::new(),
    };
    for (status, strategy, n) in rows {
        mix.by_status.add(&status, n);
        mix.by_vesting_strategy.add(&strategy, n);
    }
    Ok(mix)
}

async fn insert_events(
    conn: &mut PgConnection,
    org_id: &str,
    grant_id: Uuid,
    schedule: &Schedule,
) -> sqlx::Result<()> {
    let ids: Vec<Uuid> = schedule.events.iter().map(|_| Uuid::new_v4()).collect();
    let dates: Vec<Date> = schedule.events.iter().map(|e| e.vest_date).collect();
    let shares: Vec<i64> = schedule.events.iter().map(|e| e.shares).collect();
    sqlx::query(
        "INSERT INTO vesting_events (id, org_id, grant_id, vest_date, shares) \
         SELECT id, $2, $3, d, s FROM UNNEST($1::uuid[], $4::date[], $5::bigint[]) AS t(id, d, s)",
    )
    .bind(&ids)
    .bind(org_id)
    .bind(grant_id)
    .bind(&dates)
    .bind(&shares)
    .execute(conn)
    .await?;
    Ok(())
}

/// A grant to create: the checked schedule, the price as sent and the note.
#[derive(Clone, Debug)]
pub struct NewGrant<'a> {
    pub schedule: &'a Schedule,
    pub exercise_price: &'a DecimalInput,
    pub notes: Option<&'a str>,
}

/// Inserts an ACTIVE grant and its events; the record echoes the price text (Q1).
pub async fn create(
    conn: &mut PgConnection,
    org_id: &str,
    membership_id: Uuid,
    grant: &NewGrant<'_>,
) -> sqlx::Result<GrantRecord> {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO employee_stock_grants (id, org_id, org_membership_id, grant_date, total_shares, \
         exercise_price, status, vesting_strategy, notes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id)
    .bind(org_id)
    .bind(membership_id)
    .bind(grant.schedule.grant_date)
    .bind(grant.schedule.total_shares)
    .bind(grant.exercise_price.value())
    .bind(GrantStatus::Active.as_str())
    .bind(grant.schedule.strategy.as_str())
    .bind(grant.notes)
    .execute(&mut *conn)
    .await?;
    insert_events(conn, org_id, id, grant.schedule).await?;
    let mut record = find(conn, org_id, id, false)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    record.price_echo = Some(grant.exercise_price.text().to_owned());
    Ok(record)
}

/// Writes a resolved PATCH: every present key, the resulting schedule (new event rows when
/// the events were replaced), `updated_at`. The record echoes a price sent now (Q1).
pub async fn update(
    conn: &mut PgConnection,
    old: &GrantRecord,
    patch: &GrantPatch,
    schedule: &Schedule,
    events_replaced: bool,
) -> sqlx::Result<GrantRecord> {
    let price = patch
        .exercise_price
        .as_ref()
        .map_or(old.exercise_price, DecimalInput::value);
    let status: &str = match patch.status {
        Some(s) => s.as_str(),
        None => &old.status,
    };
    let strategy: &str = match patch.vesting_strategy {
        Some(s) => s.as_str(),
        None => &old.vesting_strategy,
    };
    let notes = match &patch.notes {
        Some(n) => n.as_deref(),
        None => old.notes.as_deref(),
    };
    sqlx::query(
        "UPDATE employee_stock_grants SET grant_date = $3, total_shares = $4, exercise_price = $5, \
         status = $6, vesting_strategy = $7, notes = $8, updated_at = now() \
         WHERE org_id = $1 AND id = $2",
    )
    .bind(&old.org_id)
    .bind(old.id)
    .bind(schedule.grant_date)
    .bind(schedule.total_shares)
    .bind(price)
    .bind(status)
    .bind(strategy)
    .bind(notes)
    .execute(&mut *conn)
    .await?;
    if events_replaced {
        sqlx::query("DELETE FROM vesting_events WHERE grant_id = $1")
            .bind(old.id)
            .execute(&mut *conn)
            .await?;
        insert_events(conn, &old.org_id, old.id, schedule).await?;
    }
    let mut record = find(conn, &old.org_id, old.id, false)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    record.price_echo = patch.exercise_price.as_ref().map(|p| p.text().to_owned());
    Ok(record)
}
