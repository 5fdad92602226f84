//! The stock domain's database side (contract `domain-stock.md`): grants and their events,
//! memberships as the stock rules read them, reservations, the four stock settings, and the
//! summaries and dashboards built from them by `domain::stock`.
//!
//! Every function takes `&mut PgConnection` and never commits; the handler owns the
//! transaction. The loan side reuses [`grants::active_grants_of_member`] (with
//! [`grants::lock_active_grants_of_member`] at submission), [`reservations`] and
//! [`eligibility_of_member`].
//!
//! - [`grants`]: load, list, create and update grants.
//! - [`members`]: the membership facts the rules read; status counts.
//! - [`reservations`]: read and write `stock_grant_reservations`.
//! - [`policy`]: the stock rules of `org_settings`.
//! - [`summary`]: the member summary, the org dashboard, the self dashboard.
//! - [`cache`]: the legacy Redis keys of the cached summaries and their invalidation.

pub mod cache;
pub mod grants;
pub mod members;
pub mod policy;
pub mod reservations;
pub mod self_dashboard;
pub mod summary;

use sqlx::PgConnection;
use time::Date;
use uuid::Uuid;

use crate::domain::stock::eligibility::{Eligibility, evaluate};
use crate::domain::stock::vesting::vesting_totals;

/// Exercise eligibility (§5) of a membership at `as_of` over its ACTIVE grants, with the
/// org's rules; `None` when the membership is not in the org. The loan quote and submission
/// gate on this.
pub async fn eligibility_of_member(
    conn: &mut PgConnection,
    org_id: &str,
    membership_id: Uuid,
    as_of: Date,
) -> sqlx::Result<Option<Eligibility>> {
    let Some(member) = members::find(conn, org_id, membership_id).await? else {
        return Ok(None);
    };
    let policy = policy::stock_policy(conn, org_id).await?;
    let grants = grants::active_grants_of_member(conn, org_id, membership_id).await?;
    let totals = vesting_totals(&grants, as_of);
    Ok(Some(evaluate(&member, &policy, &totals, as_of)))
}
