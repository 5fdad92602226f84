//! The PBGC mid-term rate table of the settings page (§2.17) and its refresh (§2.18).

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::loans::pbgc::{REFRESH_COOLDOWN_SECONDS, cooldown_message};
use crate::domain::permissions::perm;
use crate::http::envelope::Envelope;
use crate::http::error::{ApiError, ApiResult, FieldError};
use crate::http::extract::ApiQuery;
use crate::http::guard::Can;
use crate::http::state::AppState;
use crate::http::validate::lax;
use crate::services::loans::pbgc::{self, RateEntry};
use crate::timefmt;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_rates))
        .routes(routes!(refresh_rates))
}

#[derive(Debug, Default, Deserialize)]
struct YearQuery {
    year: Option<String>,
}

/// Every stored month (global table), newest first; `year` narrows it (`org.settings.view`).
#[utoipa::path(get, path = "/org/settings/pbgc-rates", tag = "loans", security(("bearer" = [])),
    params(("year" = Option<i32>, Query)),
    responses((status = 200, description = "[PbgcMidTermRateEntry]"), (status = 403), (status = 422)))]
async fn list_rates(
    State(state): State<AppState>,
    _user: Can<perm::OrgSettingsView>,
    ApiQuery(query): ApiQuery<YearQuery>,
) -> ApiResult<Envelope<Vec<RateEntry>>> {
    let year = match query.year.as_deref() {
        None => None,
        Some(raw) => Some(lax::py_int::<i32>(&json!(raw), None, None).map_err(
            |(kind, msg, ctx)| {
                ApiError::validation(vec![FieldError {
                    kind,
                    loc: vec![json!("query"), json!("year")],
                    msg,
                    input: json!(raw),
                    ctx,
                }])
            },
        )?),
    };
    let mut conn = state.db.acquire().await?;
    Ok(Envelope(pbgc::list(&mut conn, year).await?))
}

/// Fetches, parses and stores the current UTC year: the upserted row count and the fetch time.
async fn fetch_and_store(state: &AppState) -> ApiResult<(u64, OffsetDateTime)> {
    let url = state.settings.pbgc_mid_term_rates_url.clone();
    let fetched_at = OffsetDateTime::now_utc();
    let parsed = pbgc::fetch_year(&url, fetched_at.year())
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "PBGC rate refresh failed");
            ApiError::coded(
                StatusCode::BAD_GATEWAY,
                "pbgc_refresh_failed",
                e.to_string(),
                json!({ "source_url": url }),
            )
        })?;
    let mut tx = state.db.begin().await?;
    let updated_rows = pbgc::store(&mut tx, &parsed, &url, fetched_at).await?;
    tx.commit().await?;
    Ok((updated_rows, fetched_at))
}

/// The refresh answer.
#[derive(Debug, Serialize)]
struct Refreshed {
    /// Months of the current year written (12 for a full year; the legacy always said -1).
    updated_rows: u64,
    #[serde(with = "timefmt::z")]
    fetched_at: OffsetDateTime,
}

/// Fetches the PBGC page, stores the current UTC year's rates and starts the org's 24 h
/// cooldown (`org.settings.manage`). A page that cannot be fetched or read answers 502 naming
/// the problem, stores nothing and starts no cooldown.
#[utoipa::path(post, path = "/org/settings/pbgc-rates/refresh", tag = "loans", security(("bearer" = [])),
    responses((status = 200, description = "{updated_rows, fetched_at}"), (status = 403), (status = 429), (status = 502), (status = 503)))]
async fn refresh_rates(
    State(state): State<AppState>,
    user: Can<perm::OrgSettingsManage>,
) -> ApiResult<Envelope<Refreshed>> {
    // The cooldown is claimed atomically before the fetch, so two concurrent refreshes of one
    // org cannot both fetch (the legacy check-then-set let them); a failure releases it.
    let key = state.cache.key(&["pbgc_refresh", user.org_id.as_str()]);
    let claimed = state
        .cache
        .set_nx_ex(&key, "1", Duration::from_secs(REFRESH_COOLDOWN_SECONDS))
        .await
        .map_err(|_| ApiError::unavailable("Service temporarily unavailable"))?;
    if !claimed {
        let ttl = state.cache.ttl(&key).await.ok().flatten().unwrap_or(0);
        return Err(ApiError::too_many(cooldown_message(ttl)));
    }
    let stored = fetch_and_store(&state).await;
    if stored.is_err()
        && let Err(e) = state.cache.del(std::slice::from_ref(&key)).await
    {
        tracing::warn!(error = %e, "PBGC refresh cooldown not released after a failure");
    }
    let (updated_rows, fetched_at) = stored?;
    // The legacy cooldown started when a refresh succeeded: re-arm it now, so the wait the next
    // refresh is told ("24 hour(s)") does not shrink by however long the fetch took.
    if let Err(e) = state
        .cache
        .setex(&key, "1", Duration::from_secs(REFRESH_COOLDOWN_SECONDS))
        .await
    {
        tracing::warn!(error = %e, "PBGC refresh cooldown not re-armed after the refresh");
    }
    Ok(Envelope(Refreshed {
        updated_rows,
        fetched_at,
    }))
}
