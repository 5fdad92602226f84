//! The four stock columns of `org_settings` (§8); the defaults when the org has no row yet.

use rust_decimal::Decimal;
use sqlx::PgConnection;

use crate::domain::stock::policy::StockPolicy;

/// The org's stock rules (read-only: a missing settings row means the defaults, all off).
pub async fn stock_policy(conn: &mut PgConnection, org_id: &str) -> sqlx::Result<StockPolicy> {
    let row: Option<(Option<i64>, bool, Option<Decimal>, bool)> = sqlx::query_as(
        "SELECT min_vested_shares_to_exercise, enforce_min_vested_to_exercise, \
         min_service_duration_years, enforce_service_duration_rule \
         FROM org_settings WHERE org_id = $1",
    )
    .bind(org_id)
    .fetch_optional(conn)
    .await?;
    Ok(row
        .map(
            |(min_vested, enforce_vested, years, enforce_service)| StockPolicy {
                min_vested_shares_to_exercise: min_vested,
                enforce_min_vested_to_exercise: enforce_vested,
                min_service_duration_years: years,
                enforce_service_duration_rule: enforce_service,
            },
        )
        .unwrap_or_default())
}
