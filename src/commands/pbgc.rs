//! `sole pbgc refresh`: fetch the PBGC mid-term rates page and store the current UTC year's
//! rates, once (Cloud Scheduler job, laptops). Unlike the endpoint it has no cooldown; a page
//! that cannot be fetched or read stores nothing and exits 1 naming the problem.

use sqlx::{Connection, PgConnection};
use time::OffsetDateTime;

use crate::cli::{PbgcAction, PbgcArgs};
use crate::commands::Reported;
use crate::config::Settings;
use crate::db::{connect_once, direct_url};
use crate::services::loans::pbgc;

pub fn run(settings: Settings, args: &PbgcArgs) -> anyhow::Result<()> {
    match &args.action {
        PbgcAction::Refresh { url } => {
            let url = url
                .clone()
                .unwrap_or_else(|| settings.pbgc_mid_term_rates_url.clone());
            let stored = crate::commands::runtime()?.block_on(refresh(&settings, args, &url))?;
            println!(
                "stored {stored} PBGC rate row(s) for {} from {url}",
                OffsetDateTime::now_utc().year()
            );
            Ok(())
        }
    }
}

async fn refresh(settings: &Settings, args: &PbgcArgs, url: &str) -> anyhow::Result<u64> {
    let fetched_at = OffsetDateTime::now_utc();
    let parsed = pbgc::fetch_year(url, fetched_at.year())
        .await
        .map_err(|e| Reported::new(1, e.to_string()))?;
    let db_url = direct_url(settings, args.database_url.as_ref())
        .map_err(|e| Reported::new(2, e.to_string()))?;
    let mut conn: PgConnection = connect_once(&db_url, &settings.database)
        .await
        .map_err(|e| Reported::new(1, e.to_string()))?;
    let mut tx = conn.begin().await?;
    let stored = pbgc::store(&mut tx, &parsed, url, fetched_at).await?;
    tx.commit().await?;
    conn.close().await.ok();
    Ok(stored)
}
