//! The global `pbgc_mid_term_rates` table (§9): the newest rate the quotes use, the list of
//! the settings page, and storing a parsed year.

use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgConnection;
use time::OffsetDateTime;

use crate::domain::decimal::serde_py_str_opt;
use crate::domain::loans::pbgc::PbgcYear;
use crate::timefmt;

/// The newest non-null annual rate by (year, month) (§9.5); placeholders are skipped.
pub async fn latest_annual_rate(conn: &mut PgConnection) -> sqlx::Result<Option<Decimal>> {
    sqlx::query_scalar(
        "SELECT annual_rate_percent FROM pbgc_mid_term_rates \
         WHERE annual_rate_percent IS NOT NULL ORDER BY year DESC, month DESC LIMIT 1",
    )
    .fetch_optional(conn)
    .await
}

/// One row as `GET /org/settings/pbgc-rates` shows it (`PbgcMidTermRateEntry`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct RateEntry {
    pub year: i32,
    pub month: i32,
    #[serde(with = "serde_py_str_opt")]
    pub annual_rate_percent: Option<Decimal>,
    #[serde(with = "serde_py_str_opt")]
    pub monthly_rate_percent: Option<Decimal>,
    pub source_url: String,
    #[serde(with = "timefmt::z")]
    pub fetched_at: OffsetDateTime,
}

/// Every row (or one year's), newest month first.
pub async fn list(conn: &mut PgConnection, year: Option<i32>) -> sqlx::Result<Vec<RateEntry>> {
    let rows: Vec<RateEntry> = sqlx::query_as(
        "SELECT year, month, annual_rate_percent, monthly_rate_percent, source_url, fetched_at \
         FROM pbgc_mid_term_rates WHERE ($1::int IS NULL OR year = $1) \
         ORDER BY year DESC, month DESC",
    )
    .bind(year)
    .fetch_all(conn)
    .await?;
    // numeric(10,4) at its scale (the driver hands a stored zero over as `0`).
    let scaled = |d: Option<Decimal>| d.map(|d| crate::domain::decimal::at_column_scale(d, 4));
    Ok(rows
        .into_iter()
        .map(|r| RateEntry {
            annual_rate_percent: scaled(r.annual_rate_percent),
            monthly_rate_percent: scaled(r.monthly_rate_percent),
            ..r
        })
        .collect())
}

/// Stores a parsed year (§9.3): each row upserted on (year, month), a missing rate keeping
/// the stored one; when the year is complete, next year's twelve placeholders are added if
/// absent. Returns the number of upserted rows (placeholders not counted).
pub async fn store(
    conn: &mut PgConnection,
    parsed: &PbgcYear,
    source_url: &str,
    fetched_at: OffsetDateTime,
) -> sqlx::Result<u64> {
    let mut upserted = 0;
    for row in &parsed.rows {
        let done = sqlx::query(
            "INSERT INTO pbgc_mid_term_rates (year, month, annual_rate_percent, \
             monthly_rate_percent, source_url, fetched_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (year, month) DO UPDATE SET \
             annual_rate_percent = COALESCE(EXCLUDED.annual_rate_percent, pbgc_mid_term_rates.annual_rate_percent), \
             monthly_rate_percent = COALESCE(EXCLUDED.monthly_rate_percent, pbgc_mid_term_rates.monthly_rate_percent), \
             source_url = EXCLUDED.source_url, fetched_at = EXCLUDED.fetched_at, updated_at = now()",
        )
        .bind(row.year)
        .bind(i32::from(row.month))
        .bind(row.annual_rate_percent)
        .bind(row.monthly_rate_percent)
        .bind(source_url)
        .bind(fetched_at)
        .execute(&mut *conn)
        .await?;
        upserted += done.rows_affected();
    }
    for row in parsed.next_year_placeholders() {
        sqlx::query(
            "INSERT INTO pbgc_mid_term_rates (year, month, source_url, fetched_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (year, month) DO NOTHING",
        )
        .bind(row.year)
        .bind(i32::from(row.month))
        .bind(source_url)
        .bind(fetched_at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(upserted)
}

/// Why a PBGC page could not be turned into rates. Nothing is stored in either case.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The page could not be fetched (connection, timeout, non-2xx answer).
    #[error("PBGC rates page {url} could not be fetched: {reason}")]
    Unreachable { url: String, reason: String },
    /// The page was fetched but its shape changed: the message names what is missing.
    #[error("PBGC rates page {url} has an unexpected shape: {source}")]
    Shape {
        url: String,
        #[source]
        source: crate::domain::loans::pbgc::PbgcParseError,
    },
}

/// Fetches the page (GET, 20 s timeout, redirects not followed, as the legacy service did)
/// and parses `year`'s table.
pub async fn fetch_year(url: &str, year: i32) -> Result<PbgcYear, FetchError> {
    let unreachable = |reason: String| FetchError::Unreachable {
        url: url.to_owned(),
        reason,
    };
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| unreachable(e.to_string()))?;
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| unreachable(e.without_url().to_string()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(unreachable(format!("HTTP status {status}")));
    }
    let html = response
        .text()
        .await
        .map_err(|e| unreachable(e.without_url().to_string()))?;
    crate::domain::loans::pbgc::parse_rates_page(&html, year).map_err(|source| FetchError::Shape {
        url: url.to_owned(),
        source,
    })
}

/// The settings row as `GET/PUT /org/settings` and `GET /self/policy` show it (§2.19): the
/// variable base rate replaced by the newest PBGC annual rate when there is one (`"3.8100"`).
/// Only the view changes; the stored column is left alone.
pub async fn shown_settings(
    conn: &mut PgConnection,
    mut settings: crate::services::org_settings::OrgSettings,
) -> sqlx::Result<crate::services::org_settings::OrgSettings> {
    if let Some(rate) = latest_annual_rate(conn).await? {
        let shown = crate::domain::loans::quote::shown_variable_base_rate(None, Some(rate));
        settings.variable_base_rate_annual_percent =
            shown.map(|r| crate::domain::decimal::py_str(&r));
    }
    Ok(settings)
}
