//! The member summary (§3.6) and the org dashboard (§9.1) from the database.

use sqlx::PgConnection;
use time::Date;
use uuid::Uuid;

use crate::domain::stock::dashboard::{OrgStock, StockDashboard, org_dashboard};
use crate::domain::stock::eligibility::MemberFacts;
use crate::domain::stock::summary::{MemberStock, StockSummary, member_summary};

use super::{grants, members, policy, reservations};

/// The member summary of a known membership at `as_of`.
pub async fn summary_of(
    conn: &mut PgConnection,
    org_id: &str,
    membership_id: Uuid,
    member: &MemberFacts,
    as_of: Date,
) -> sqlx::Result<StockSummary> {
    let policy = policy::stock_policy(conn, org_id).await?;
    let grants = grants::active_grants_of_member(conn, org_id, membership_id).await?;
    // The legacy service skipped the reservation lookup without ACTIVE grants.
    let reservations = if grants.is_empty() {
        Vec::new()
    } else {
        reservations::holding_of_member(conn, org_id, membership_id).await?
    };
    Ok(member_summary(&MemberStock {
        membership_id,
        member,
        policy: &policy,
        grants: &grants,
        reservations: &reservations,
        as_of,
    }))
}

/// The member summary of `membership_id` at `as_of`, or `None` when the membership is not in
/// the org.
pub async fn member_summary_of(
    conn: &mut PgConnection,
    org_id: &str,
    membership_id: Uuid,
    as_of: Date,
) -> sqlx::Result<Option<StockSummary>> {
    let Some(member) = members::find(conn, org_id, membership_id).await? else {
        return Ok(None);
    };
    summary_of(conn, org_id, membership_id, &member, as_of)
        .await
        .map(Some)
}

/// The org stock dashboard at `as_of`.
pub async fn org_dashboard_of(
    conn: &mut PgConnection,
    org_id: &str,
    as_of: Date,
) -> sqlx::Result<StockDashboard> {
    let grants = grants::active_grants_of_org(conn, org_id).await?;
    let members = members::with_active_grants(conn, org_id).await?;
    let policy = policy::stock_policy(conn, org_id).await?;
    let reservations = reservations::all_of_org(conn, org_id).await?;
    let grant_mix = grants::grant_mix(conn, org_id).await?;
    let memberships = members::status_counts(conn, org_id).await?;
    Ok(org_dashboard(&OrgStock {
        org_id,
        as_of,
        grants: &grants,
        members: &members,
        policy: &policy,
        reservations: &reservations,
        grant_mix: &grant_mix,
        memberships: &memberships,
    }))
}
