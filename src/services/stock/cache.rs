//! The cached member summaries and org dashboards (§7), under the legacy keys and JSON so a
//! legacy service sharing the Redis reads what `sole` writes and the other way round:
//! `<prefix>:stock_summary:<org>:<membership>:<YYYY-MM-DD>` and
//! `<prefix>:stock_dashboard:<org>:<YYYY-MM-DD>`, 300 s.
//!
//! Differences from the legacy service: the membership is checked before the cache is read
//! (Q21), and invalidation runs after the commit (Q9), so a read between the two cannot
//! re-cache the old state. Every cache failure is logged and ignored: the cache never makes an
//! endpoint fail.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use time::Date;
use uuid::Uuid;

use crate::cache::Cache;
use crate::domain::stock::dashboard::StockDashboard;
use crate::domain::stock::summary::StockSummary;
use crate::domain::stock::wire::iso_date;

pub const TTL: Duration = Duration::from_secs(300);

pub fn summary_key(cache: &Cache, org_id: &str, membership_id: Uuid, as_of: Date) -> String {
    cache.key(&[
        "stock_summary",
        org_id,
        &membership_id.to_string(),
        &iso_date(as_of),
    ])
}

pub fn dashboard_key(cache: &Cache, org_id: &str, as_of: Date) -> String {
    cache.key(&["stock_dashboard", org_id, &iso_date(as_of)])
}

async fn read<T: DeserializeOwned>(cache: &Cache, key: &str) -> Option<T> {
    match cache.get(key).await {
        Ok(Some(raw)) => match serde_json::from_str(&raw) {
            Ok(value) => Some(value),
            Err(e) => {
                tracing::warn!(key, error = %e, "ignoring an unreadable cached stock figure");
                None
            }
        },
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(key, error = %e, "stock cache read failed");
            None
        }
    }
}

async fn write<T: Serialize>(cache: &Cache, key: &str, value: &T) {
    let Ok(json) = serde_json::to_string(value) else {
        return;
    };
    if let Err(e) = cache.setex(key, &json, TTL).await {
        tracing::warn!(key, error = %e, "stock cache write failed");
    }
}

pub async fn get_summary(
    cache: &Cache,
    org_id: &str,
    membership_id: Uuid,
    as_of: Date,
) -> Option<StockSummary> {
    read(cache, &summary_key(cache, org_id, membership_id, as_of)).await
}

pub async fn put_summary(cache: &Cache, org_id: &str, summary: &StockSummary) {
    let key = summary_key(cache, org_id, summary.org_membership_id, summary.as_of_date);
    write(cache, &key, summary).await;
}

pub async fn get_dashboard(cache: &Cache, org_id: &str, as_of: Date) -> Option<StockDashboard> {
    read(cache, &dashboard_key(cache, org_id, as_of)).await
}

pub async fn put_dashboard(cache: &Cache, dashboard: &StockDashboard) {
    let key = dashboard_key(cache, &dashboard.org_id, dashboard.as_of);
    write(cache, &key, dashboard).await;
}

async fn drop_prefix(cache: &Cache, prefix: String) {
    if let Err(e) = cache.delete_by_prefix(&prefix).await {
        tracing::warn!(prefix, error = %e, "stock cache invalidation failed");
    }
}

/// After a grant write or a reservation change of one member: that member's summaries and
/// the org dashboard.
pub async fn invalidate_member(cache: &Cache, org_id: &str, membership_id: Uuid) {
    let member = format!(
        "{}:",
        cache.key(&["stock_summary", org_id, &membership_id.to_string()])
    );
    drop_prefix(cache, member).await;
    drop_prefix(
        cache,
        format!("{}:", cache.key(&["stock_dashboard", org_id])),
    )
    .await;
}

/// After an org settings update: every summary of the org and its dashboard.
pub async fn invalidate_org(cache: &Cache, org_id: &str) {
    drop_prefix(cache, format!("{}:", cache.key(&["stock_summary", org_id]))).await;
    drop_prefix(
        cache,
        format!("{}:", cache.key(&["stock_dashboard", org_id])),
    )
    .await;
}
